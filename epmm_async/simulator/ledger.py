"""Records of what the simulator did: the state-change ledger and request statistics."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

__all__ = ["Ledger", "LedgerEntry", "Stats"]


@dataclass(slots=True, frozen=True)
class LedgerEntry:
    """One state change applied by the simulator.

    ``action`` is e.g. LOCK, UNLOCK, WIPE, RETIRE, WAKEUP, LOCATE_NOW, ROAMING, REPUSH, REGISTER
    or MESSAGE; ``via`` is ``"single"`` or ``"bulk"``.
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
