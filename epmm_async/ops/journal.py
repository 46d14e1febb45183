"""A durable journal of outcomes (SQLite) that makes a job resumable.

Each outcome is committed as it arrives. Before a destructive request (wipe, retire) is sent,
its devices are committed as *pending*: a job killed between sending and recording leaves
them pending, and a resumed run reports them UNKNOWN instead of wiping them again. The
database runs in WAL mode with ``synchronous=NORMAL``: a commit survives the process being
killed (SIGKILL); a power cut may lose the last commits (``durable=True`` fsyncs each one).
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import msgspec

from .outcomes import Outcome, OutcomeStatus

__all__ = ["Journal", "JournalEntry"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    job TEXT PRIMARY KEY,
    action TEXT NOT NULL,
    params TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS outcomes (
    job TEXT NOT NULL,
    device TEXT NOT NULL,
    status TEXT NOT NULL,
    outcome TEXT,
    at REAL NOT NULL,
    PRIMARY KEY (job, device)
);
"""

PENDING = "pending"


class JournalEntry(msgspec.Struct, frozen=True):
    """A device's recorded state: a terminal outcome, or pending (sent, no answer yet)."""

    device: str
    status: str
    outcome: Outcome | None


class Journal:
    """Outcomes of one job, keyed by device, in a SQLite file.

    ``job`` names the job; the same journal file can hold several jobs. Re-opening a job
    with different ``params`` (another action, another reason) is refused, so a journal is
    never applied to a job it was not written for.
    """

    def __init__(
        self,
        path: str | Path,
        job: str,
        *,
        action: str,
        params: dict[str, str] | None = None,
        durable: bool = False,
    ) -> None:
        """Open (or create) the journal file and register the job."""
        from ..errors import ValidationError

        self.path = Path(path)
        self.job = job
        self.action = action
        self._db = sqlite3.connect(self.path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
        self._db.executescript(_SCHEMA)
        fingerprint = json.dumps({"action": action, **(params or {})}, sort_keys=True)
        row = self._db.execute("SELECT params FROM jobs WHERE job = ?", (job,)).fetchone()
        if row is None:
            self._db.execute(
                "INSERT INTO jobs (job, action, params, created) VALUES (?, ?, ?, ?)",
                (job, action, fingerprint, time.time()),
            )
        elif row[0] != fingerprint:
            self._db.close()
            raise ValidationError(
                f"journal {self.path} holds job {job!r} with other parameters ({row[0]}); "
                "use another journal file or job name"
            )
        self._encoder = msgspec.json.Encoder()
        self._decoder = msgspec.json.Decoder(Outcome)

    def __repr__(self) -> str:
        return f"Journal({str(self.path)!r}, job={self.job!r})"

    def load(self) -> dict[str, JournalEntry]:
        """Every device this job has a record for."""
        out: dict[str, JournalEntry] = {}
        for device, status, blob in self._db.execute(
            "SELECT device, status, outcome FROM outcomes WHERE job = ?", (self.job,)
        ):
            outcome = self._decoder.decode(blob) if blob else None
            out[device] = JournalEntry(device, status, outcome)
        return out

    def mark_pending(self, devices: Iterable[str]) -> None:
        """Commit ``devices`` as sent-but-unanswered, before the request goes out."""
        now = time.time()
        with self._tx():
            self._db.executemany(
                "INSERT OR REPLACE INTO outcomes (job, device, status, outcome, at) "
                "VALUES (?, ?, ?, NULL, ?)",
                [(self.job, d, PENDING, now) for d in devices],
            )

    def record(self, outcomes: Iterable[Outcome]) -> None:
        """Commit terminal outcomes (replacing pending marks)."""
        now = time.time()
        rows = [
            (self.job, o.device, o.status.value, self._encoder.encode(o), now)
            for o in outcomes
            if not o.from_journal
        ]
        if not rows:
            return
        with self._tx():
            self._db.executemany(
                "INSERT OR REPLACE INTO outcomes (job, device, status, outcome, at) "
                "VALUES (?, ?, ?, ?, ?)",
                rows,
            )

    def counts(self) -> dict[str, int]:
        """Devices per recorded status (``pending`` included)."""
        return dict(
            self._db.execute(
                "SELECT status, COUNT(*) FROM outcomes WHERE job = ? GROUP BY status", (self.job,)
            ).fetchall()
        )

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    @contextlib.contextmanager
    def _tx(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")


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
