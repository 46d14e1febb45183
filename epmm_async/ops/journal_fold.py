"""What a journal's records mean: the fold that never downgrades one, and the resume decision.

A device's state is the *fold* of its lines in file order, and the fold never downgrades a
record (see :func:`replaces`): SUCCEEDED and INVALID are final; UNKNOWN (and a pending mark
left by an earlier run, which may have been applied) gives way only to SUCCEEDED or INVALID;
a pending mark of the current run gives way to any answer but never to CANCELLED or SKIPPED;
FAILED, CANCELLED and SKIPPED (certainly not applied) give way to anything. The fold decides
both what a run writes and what a load keeps, so a file edited by hand, or written by a
future bug, still cannot turn a wipe that may have happened into one that is sent again.

:func:`resume_decision` says what a resumed run does with a device the journal knows: report
its recorded outcome without acting, or act on it again.
"""

from __future__ import annotations

from collections import Counter

import msgspec

from .outcomes import Outcome, OutcomeStatus

__all__ = ["PENDING", "TERMINAL", "Fold", "JournalEntry", "replaces", "resume_decision"]

PENDING = "pending"
"""The status of a device whose request was sent (or about to be) and not yet answered."""

_SUCCEEDED = OutcomeStatus.SUCCEEDED.value
_INVALID = OutcomeStatus.INVALID.value
_UNKNOWN = OutcomeStatus.UNKNOWN.value
_FAILED = OutcomeStatus.FAILED.value
TERMINAL = frozenset(s.value for s in OutcomeStatus)
"""The statuses an outcome line may have."""
# Certainly not applied: anything may replace these, a new pending mark included.
_REPLACEABLE = frozenset(
    {_FAILED, OutcomeStatus.CANCELLED.value, OutcomeStatus.SKIPPED.value}
)
# What may replace this run's own pending mark: an answer. Not CANCELLED or SKIPPED: a
# request that may have left is never recorded as not attempted.
_AFTER_PENDING = frozenset({_SUCCEEDED, _INVALID, _UNKNOWN, _FAILED})
# What may replace UNKNOWN (or an earlier run's pending mark): a resend that was answered.
# A FAILED resend says nothing about the earlier attempt, which may have been applied.
_AFTER_UNKNOWN = frozenset({_SUCCEEDED, _INVALID})


def replaces(old: str | None, old_is_this_runs_pending: bool, new: str) -> bool:
    """Whether a ``new`` record replaces a device's ``old`` one: the fold's only rule."""
    if old is None or old in _REPLACEABLE:
        return True
    if old == PENDING and old_is_this_runs_pending:
        return new in _AFTER_PENDING
    if old in (PENDING, _UNKNOWN):  # an earlier run's pending mark is an UNKNOWN
        return new in _AFTER_UNKNOWN
    return False  # SUCCEEDED and INVALID are final


class JournalEntry(msgspec.Struct, frozen=True, gc=False):
    """A device's recorded state: a terminal outcome, or pending (sent, no answer yet)."""

    device: str
    status: str
    """An :class:`OutcomeStatus` value, or ``"pending"``."""
    outcome: Outcome | None
    """The recorded outcome; None for a pending device."""


class Fold:
    """The folded state: each device's status, the run of each pending mark, the counts."""

    __slots__ = ("counts", "pending_run", "status")

    def __init__(self) -> None:
        """No device yet."""
        self.status: dict[str, str] = {}
        self.pending_run: dict[str, str] = {}
        self.counts: Counter[str] = Counter()

    def accepts(self, device: str, new: str, current_run: str | None) -> bool:
        """Whether ``device``'s record may become ``new`` (:func:`replaces`), written by
        ``current_run``."""
        old = self.status.get(device)
        this_run = old == PENDING and self.pending_run.get(device) == current_run
        return replaces(old, this_run, new)

    def get(self, device: str) -> tuple[str | None, str | None]:
        """``device``'s status and the run of its pending mark (None: none)."""
        return self.status.get(device), self.pending_run.get(device)

    def set(self, device: str, status: str | None, pending_run: str | None) -> None:
        """Make ``device``'s record ``status`` (None: no record), counts kept."""
        old = self.status.get(device)
        if old is not None:
            self.counts[old] -= 1
        if status is None:
            self.status.pop(device, None)
        else:
            self.status[device] = status
            self.counts[status] += 1
        if pending_run is None:
            self.pending_run.pop(device, None)
        else:
            self.pending_run[device] = pending_run

    def count_map(self) -> dict[str, int]:
        """Devices per status, statuses no device has left out."""
        return {status: n for status, n in self.counts.items() if n}


def resume_decision(
    entry: JournalEntry, *, destructive: bool, resend_unknown: bool
) -> Outcome | None:
    """What a resumed run does with a device the journal knows.

    Returns the outcome to report without acting (carried over from the journal), or None
    to act on the device again.
    """
    status = entry.status
    if status == PENDING:
        if destructive and not resend_unknown:
            return Outcome(
                device=entry.device,
                action="",
                status=OutcomeStatus.UNKNOWN,
                from_journal=True,
                detail="sent by an earlier run that stopped before the answer; not resent",
            )
        return None
    if entry.outcome is None:
        return None
    if status in (OutcomeStatus.SUCCEEDED.value, OutcomeStatus.INVALID.value):
        return msgspec.structs.replace(entry.outcome, from_journal=True)
    if status == OutcomeStatus.UNKNOWN.value and destructive and not resend_unknown:
        return msgspec.structs.replace(entry.outcome, from_journal=True)
    return None  # failed, skipped, cancelled, or a harmless unknown: act again
