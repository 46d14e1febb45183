"""What a job did, told on stderr: the counts, the summary, and how to resume it.

:class:`JobResult` accounts for every outcome of a run; :func:`exit_code` turns it into the
command's exit code; :func:`print_summary` tells it, and :func:`print_resume_hint` how to
finish a job that was stopped or aborted.
"""

from __future__ import annotations

import shlex
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from rich.markup import escape

from ..core.redact import REDACTED, redact_url
from ..ops import Outcome, OutcomeStatus
from .common import (
    EXIT_CONNECTION,
    EXIT_OK,
    EXIT_PIPE_CLOSED,
    EXIT_SOME_FAILED,
    cli_words,
    err,
)
from .connection import profile_note
from .job_plan import ActionSpec, JobOptions
from .progress import STATUS_STYLE

__all__ = [
    "JobResult",
    "breakdown",
    "command_line",
    "exit_code",
    "outcomes_in_words",
    "print_resume_hint",
    "print_summary",
    "resume_hint",
]

_CONNECTION_ERRORS = frozenset({"ConnectError", "TlsError", "AuthenticationError",
                                "ForbiddenError"})


@dataclass(slots=True)
class JobResult:
    """What a job did, for the summary and the exit code."""

    action: str
    how: str
    total: int
    counts: Counter[str] = field(default_factory=Counter)
    freshness: Counter[str] = field(default_factory=Counter)
    reasons: dict[str, Counter[str]] = field(default_factory=dict)
    """Outcomes by status, then by reason code ("" for none)."""
    requests: int = 0
    elapsed: float = 0.0
    from_journal: int = 0
    aborted: str | None = None
    connection_failures: int = 0
    connection_error: str | None = None
    """The first connection or authentication failure's error, if any."""
    interrupted: bool = False
    pipe_closed: bool = False
    """stdout's reader went away mid-job: the job stopped sending (exit 141)."""
    report: Path | None = None
    server: str = ""

    @property
    def exit_code(self) -> int:
        """0 all succeeded, 3 aborted on connection/authentication, else 1."""
        return exit_code(self)

    @property
    def done(self) -> int:
        """Devices with a final outcome (succeeded or invalid): a resume does not redo them."""
        return self.counts.get("succeeded", 0) + self.counts.get("invalid", 0)

    def add(self, outcome: Outcome) -> None:
        """Count one device's outcome: its status and reason, the location's freshness, and
        whether it came from the journal or failed to connect."""
        status = outcome.status.value
        self.counts[status] += 1
        self.reasons.setdefault(status, Counter())[outcome.reason or ""] += 1
        if outcome.freshness is not None:
            self.freshness[outcome.freshness.value] += 1
        if outcome.from_journal:
            self.from_journal += 1
            return
        if outcome.status is OutcomeStatus.SKIPPED:
            self.aborted = self.aborted or (cli_words(outcome.error) if outcome.error else None)
        if outcome.error_type in _CONNECTION_ERRORS:
            self.connection_failures += 1
            self.connection_error = self.connection_error or (
                cli_words(outcome.error) if outcome.error else None)


def exit_code(result: JobResult) -> int:
    """The exit code of a job: 0 when every device succeeded, 3 when the job was aborted
    (or every failure was a connection or authentication failure and nothing succeeded),
    1 otherwise."""
    if result.pipe_closed:
        return EXIT_PIPE_CLOSED
    ok = result.counts.get(OutcomeStatus.SUCCEEDED.value, 0)
    if ok == result.total:
        return EXIT_OK
    if result.aborted is not None:
        return EXIT_CONNECTION
    if ok == 0 and result.connection_failures and result.connection_failures == (
        result.total - result.counts.get(OutcomeStatus.CANCELLED.value, 0)
    ):
        return EXIT_CONNECTION
    return EXIT_SOME_FAILED


_REASON_WORDS = {
    "not_found": "not found",
    "invalid_device": "listed invalid by the server",
    "invalid_id": "malformed id",
    "unlock_not_possible": "unlock not possible",
    "unlock_failed": "unlock failed",
    "lookup_failed": "MAC look-up failed",
    "not_sent": "not sent",
    "partly_sent": "partly sent",
    "call_raised": "call raised",
    "connect_error": "could not connect",
    "transport_error": "connection failed",
    "server_error": "server error",
    "rate_limited": "rate limited",
    "request_too_large": "request too large",
    "invalid_action": "action refused",
}


def breakdown(result: JobResult, status: str) -> str:
    """``31 wiped, 15 retired``: a status's outcomes by reason (locations by freshness for
    succeeded locate-now devices); empty when there is nothing to add."""
    if status == OutcomeStatus.SUCCEEDED.value and result.freshness:
        return ", ".join(f"{result.freshness[k]:,} {k}"
                         for k in ("fresh", "stale", "unsupported") if result.freshness.get(k))
    by = result.reasons.get(status, Counter())
    if not by or set(by) == {""}:
        return ""
    if len(by) == 1:
        (code,) = by
        return _REASON_WORDS.get(code, code.replace("_", " "))
    return ", ".join(f"{n:,} {_REASON_WORDS.get(code, code.replace('_', ' ')) or 'other'}"
                     for code, n in by.most_common())


def outcomes_in_words(result: JobResult, spec: ActionSpec) -> str:
    """``2,200 locked, 46 invalid (31 wiped, 15 retired)``; for locate-now the located
    devices by freshness (``150 fresh, 40 stale, 10 unsupported``)."""
    parts: list[str] = []
    for status in OutcomeStatus:
        n = result.counts.get(status.value, 0)
        if not n:
            continue
        detail = breakdown(result, status.value)
        if status is OutcomeStatus.SUCCEEDED:
            parts.append(detail if result.freshness else f"{n:,} {spec.past}")
        else:
            parts.append(f"{n:,} {status.value}" + (f" ({detail})" if detail else ""))
    return ", ".join(parts) or "no devices"


def print_summary(result: JobResult, opts: JobOptions | None = None) -> None:
    """The end-of-job summary on stderr: the server, counts by status and reason, requests,
    time, the journal, the report, why the job stopped and how to resume it."""
    opts = opts or JobOptions()
    quiet = opts.quiet
    if not quiet:
        where = f" on {result.server}{profile_note()}" if result.server else ""
        err.print(f"[bold]{escape(result.action.replace('_', '-'))} summary[/] "
                  f"({escape(result.how)}){escape(where)}", highlight=False)
        present = [s.value for s in OutcomeStatus if result.counts.get(s.value)]
        width = max((len(f"{result.counts[s]:,}") for s in present), default=1)
        for status in present:
            n = result.counts[status]
            detail = breakdown(result, status)
            err.print(f"  [{STATUS_STYLE[status]}]{status:<9}[/] {n:>{width},}"
                      + (f": {escape(detail)}" if detail else ""), highlight=False)
        line = (f"{result.total:,} device(s), {result.requests:,} request(s) in "
                f"{result.elapsed:.1f}s")
        if result.from_journal:
            line += f"; {result.from_journal:,} carried over from the journal (not resent)"
        err.print(line, highlight=False)
        if result.report is not None:
            err.print(f"report: {escape(str(result.report))}", highlight=False)
        if result.interrupted:
            err.print("[yellow]interrupted: devices not yet sent are reported cancelled[/]")
        if result.pipe_closed:
            err.print("[yellow]stdout was closed: the job stopped sending; devices not yet "
                      "sent are reported cancelled[/]")
    failed_to_connect = result.exit_code == EXIT_CONNECTION
    if result.aborted:
        err.print(f"[bold red]{escape(result.aborted)}[/]", highlight=False)
    elif failed_to_connect and result.connection_error:
        err.print(f"[bold red]every device failed: {escape(result.connection_error)}[/]",
                  highlight=False)
    if (result.interrupted or result.pipe_closed or failed_to_connect) and (
        result.done < result.total
    ):
        print_resume_hint(opts)


def command_line(opts: JobOptions) -> str:
    """The command as typed (``epmm`` and its arguments), shell-quoted, with any URL's
    credentials removed: what the resume hint shows."""
    words = list(opts.command) if opts.command is not None else sys.argv[1:]

    def no_user(url: str) -> str:
        # The user info goes altogether (the password may be anywhere before the last '@'),
        # so the command stays runnable: the password comes from its usual sources.
        return redact_url(url).replace(f"{REDACTED}@", "", 1)

    def clean(word: str) -> str:
        if "@" not in word or "//" not in word:
            return word
        if word.startswith("--") and "=" in word:
            option, _, value = word.partition("=")
            return f"{option}={no_user(value)}"
        return no_user(word)

    return shlex.join(["epmm", *(clean(w) for w in words)])


def resume_hint(opts: JobOptions) -> str:
    """How to finish a job that was stopped or aborted."""
    if opts.journal is not None:
        return ("to resume, run the same command; devices the journal records as done are "
                f"carried over, not resent:\n  {command_line(opts)}")
    return ("not resumable: this run had no --journal, so running it again sends every "
            "device again; pass --journal FILE to make a job resumable")


def print_resume_hint(opts: JobOptions) -> None:
    """:func:`resume_hint` on stderr; the command line is never folded, so it copies whole."""
    text, _, command = resume_hint(opts).partition("\n")
    err.print(escape(text), highlight=False)
    if command:
        err.print(escape(command), highlight=False, soft_wrap=True)
