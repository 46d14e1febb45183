"""Records of what the simulator did: the state-change ledger, the log of every request it
received (refused ones included) and request statistics."""

from __future__ import annotations

import json
import re
import time
import urllib.parse
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "DestructiveRequest",
    "Ledger",
    "LedgerEntry",
    "ReceivedLog",
    "ReceivedRequest",
    "Stats",
]


_V2_MEMBERSHIP = re.compile(r"/api/v2/devices/labels/.+/(add|remove)/?", re.I)


@dataclass(slots=True, frozen=True)
class LedgerEntry:
    """One state change applied by the simulator.

    ``action`` is e.g. LOCK, UNLOCK, WIPE, RETIRE, WAKEUP, LOCATE_NOW, ROAMING, REPUSH, REGISTER,
    MESSAGE, or LABEL_ADD / LABEL_REMOVE (API v2 membership, ``detail`` the label's name);
    ``via`` is ``"single"``, ``"bulk"`` or ``"v2"``.
    """

    at: float
    uuid: str
    action: str
    via: str
    detail: str = ""


class Ledger:
    """Append-only list of every state change applied (single and bulk)."""

    def __init__(self) -> None:
        self.entries: list[LedgerEntry] = []

    def record(self, uuid: str, action: str, via: str = "single", detail: str = "") -> None:
        """Append an entry stamped with the wall-clock time."""
        self.entries.append(LedgerEntry(time.time(), uuid, action, via, detail))

    def count(self, uuid: str, action: str) -> int:
        """How many times ``action`` was applied to ``uuid``."""
        return sum(1 for e in self.entries if e.uuid == uuid and e.action == action)

    def actions(self, action: str) -> Counter[str]:
        """Per-uuid counts of ``action``."""
        return Counter(e.uuid for e in self.entries if e.action == action)

    def clear(self) -> None:
        """Forget every entry."""
        self.entries.clear()

    def __len__(self) -> int:
        return len(self.entries)


@dataclass
class Stats:
    """Request counters of a running simulator.

    ``by_path`` counts by route template (``/api/v1/dm/devices/lock/{uuid}``) or raw path for
    unknown paths; ``faults`` counts injected faults by kind (error, rate_limit, drop, slow,
    malformed, latency); ``request_lines`` holds each request line's length in bytes.
    """

    requests_total: int = 0
    by_path: Counter[str] = field(default_factory=Counter)
    by_status: Counter[int] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    in_flight: int = 0
    max_in_flight: int = 0
    request_lines: list[int] = field(default_factory=list)
    max_request_line: int = 0

    def reset(self) -> None:
        """Zero every counter (``in_flight`` keeps counting requests still running)."""
        self.requests_total = 0
        self.by_path.clear()
        self.by_status.clear()
        self.faults.clear()
        self.max_in_flight = self.in_flight
        self.request_lines.clear()
        self.max_request_line = 0


@dataclass(slots=True)
class ReceivedRequest:
    """One request as the simulator received it, recorded at arrival.

    ``at`` is ``time.monotonic()`` at arrival; ``path`` is the decoded path, ``query`` the raw
    (still percent-encoded) query string. ``status`` is filled in when the request is answered
    and stays ``None`` if the connection was cut before the answer (a ``drop`` fault, the
    client closing the connection, a restart); ``done`` tells a cut request from one still in
    flight. ``fault`` is the injected fault kind (``error``, ``rate_limit``, ``redirect``,
    ``applied_error``, ``drop``, ``slow``, ``malformed``) or ``None``; ``retry_after`` the
    answer's ``Retry-After`` header, if any. ``body`` is the text of a JSON body (any request
    with ``Content-Type: application/json``, and every ``/api/v2`` request with a body), else
    ``None``; :meth:`json` parses it.
    """

    seq: int
    at: float
    method: str
    path: str
    query: str
    status: int | None = None
    done: bool = False
    fault: str | None = None
    retry_after: str | None = None
    body: str | None = None

    def json(self) -> Any:
        """The JSON body parsed (``None`` without a body or when it is not JSON)."""
        if self.body is None:
            return None
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def query_pairs(self) -> list[tuple[str, str]]:
        """The query's parameters as sent: ``(name, value)`` pairs, percent-decoded, in
        order, a name sent twice (in any case) kept twice."""
        return urllib.parse.parse_qsl(self.query, keep_blank_values=True)

    def param_names(self) -> list[str]:
        """The query's parameter names as sent, in order (``["Reason", "reason"]``)."""
        return [name for name, _ in self.query_pairs()]


@dataclass(slots=True)
class DestructiveRequest:
    """One (request, device) pair of a request that asked for a wipe or a retire.

    ``device`` is the lower-case uuid, or for a MAC target the uuid of the device with that MAC
    if the simulator knows one, else ``"mac:XXXXXXXXXXXX"``; ``action`` is ``WIPE`` or
    ``RETIRE``; ``via`` is ``"single"`` or ``"bulk"``; ``seq`` and ``at`` are the request's.
    ``status``, ``fault`` and ``retry_after`` are the request's answer (see
    :class:`ReceivedRequest`); ``applied`` is True iff the simulator changed this device's
    state in this request.
    """

    seq: int
    at: float
    device: str
    action: str
    via: str
    status: int | None = None
    done: bool = False
    applied: bool = False
    fault: str | None = None
    retry_after: str | None = None

    @property
    def certainly_refused(self) -> bool:
        """Whether a client can know this request was not applied.

        True iff the simulator did not apply it and answered, without a ``drop``, ``slow`` or
        ``malformed`` fault, with a 3xx, a 4xx, or a 503 carrying ``Retry-After``.
        """
        if self.applied or not self.done or self.status is None:
            return False
        if self.fault in ("drop", "slow", "malformed"):
            return False
        if 300 <= self.status < 500:
            return True
        return self.status == 503 and self.retry_after is not None

    def describe(self) -> str:
        """One line: ``#seq ACTION via -> status (applied, fault ...)``."""
        if not self.done:
            answer = "in flight"
        elif self.status is None:
            answer = "cut"
        else:
            answer = str(self.status)
            if self.retry_after is not None:
                answer += f" Retry-After={self.retry_after}"
        notes = ["applied" if self.applied else "not applied"]
        if self.fault:
            notes.append(f"fault={self.fault}")
        return f"#{self.seq} {self.action} {self.via} -> {answer} ({', '.join(notes)})"


class ReceivedLog:
    """Every request the simulator received, recorded at arrival in the outermost middleware
    (before the request-line and header limits, authentication and fault injection), and
    every destructive request per device.

    ``requests`` and ``destructive`` are in arrival order. ``seq`` numbers keep counting
    across :meth:`clear`.
    """

    def __init__(self) -> None:
        self.requests: list[ReceivedRequest] = []
        self.destructive: list[DestructiveRequest] = []
        self._seq = 0
        self._open: dict[int, dict[str, DestructiveRequest]] = {}

    # ------------------------------------------------------------- recording (the server)
    def arrive(self, method: str, path: str, query: str) -> ReceivedRequest:
        """Record a request that has just arrived; returns its (still unanswered) record."""
        self._seq += 1
        rec = ReceivedRequest(self._seq, time.monotonic(), method, path, query)
        self.requests.append(rec)
        return rec

    def add_destructive(
        self, rec: ReceivedRequest, devices: list[str], action: str, via: str
    ) -> None:
        """Record that ``rec`` asks for ``action`` on each of ``devices`` (one record each)."""
        table = self._open.setdefault(rec.seq, {})
        for device in devices:
            if device not in table:
                entry = DestructiveRequest(rec.seq, rec.at, device, action, via)
                table[device] = entry
                self.destructive.append(entry)

    def mark_applied(self, rec: ReceivedRequest, device: str, action: str, via: str) -> None:
        """Record that ``rec`` changed ``device``'s state (adding a record if it had none)."""
        table = self._open.setdefault(rec.seq, {})
        entry = table.get(device)
        if entry is None:
            self.add_destructive(rec, [device], action, via)
            entry = table[device]
        entry.applied = True

    def answer(self, rec: ReceivedRequest, status: int | None, retry_after: str | None) -> None:
        """Record the answer of ``rec`` (``status`` None: the connection was cut)."""
        rec.status, rec.retry_after, rec.done = status, retry_after, True
        for entry in self._open.pop(rec.seq, {}).values():
            entry.status, entry.retry_after, entry.fault = status, retry_after, rec.fault
            entry.done = True

    # ------------------------------------------------------------- questions (the tests)
    def destructive_counts(self, action: str | None = None) -> Counter[str]:
        """Destructive requests received per device, refused ones included (``action``:
        only ``WIPE`` or only ``RETIRE``)."""
        return Counter(e.device for e in self.destructive if action is None or e.action == action)

    def destructive_for(self, device: str) -> list[DestructiveRequest]:
        """The destructive records of ``device`` (a lower-case uuid or ``mac:...`` key)."""
        return [e for e in self.destructive if e.device == device]

    def violations(self, action: str | None = None) -> list[str]:
        """One line per device that received a destructive request after an earlier one
        for it that was not certainly refused (see
        :attr:`DestructiveRequest.certainly_refused`); empty when the promise held."""
        first: dict[str, DestructiveRequest] = {}
        later: dict[str, list[DestructiveRequest]] = {}
        for e in sorted(self.destructive, key=lambda e: e.seq):
            if action is not None and e.action != action:
                continue
            if e.device in first:
                later[e.device].append(e)
            elif not e.certainly_refused:
                first[e.device] = e
                later[e.device] = []
        return [
            f"device {device}: {len(after)} destructive request(s) after "
            f"{first[device].describe()}, which may have applied: "
            + "; ".join(e.describe() for e in after)
            for device, after in later.items()
            if after
        ]

    def label_uuids(self, action: str | None = None) -> Counter[str]:
        """Device uuids received in API v2 label membership calls
        (``PUT /api/v2/devices/labels/{names}/add|remove``, any answer), lower-cased, one
        count per occurrence in a body; ``action``: only ``"add"`` or only ``"remove"``."""
        out: Counter[str] = Counter()
        for rec in self.requests:
            m = _V2_MEMBERSHIP.fullmatch(rec.path)
            if m is None or (action is not None and m.group(1).lower() != action.lower()):
                continue
            body = rec.json()
            uuids = body.get("deviceUuids") if isinstance(body, dict) else None
            if isinstance(uuids, list):
                out.update(u.strip().lower() for u in uuids if isinstance(u, str))
        return out

    def requests_after(self, t: float) -> list[ReceivedRequest]:
        """Requests that arrived after monotonic time ``t`` (e.g. a cancel's)."""
        return [r for r in self.requests if r.at > t]

    def clear(self) -> None:
        """Forget every record (requests still in flight are answered into the void)."""
        self.requests.clear()
        self.destructive.clear()
        self._open.clear()

    def __len__(self) -> int:
        return len(self.requests)
