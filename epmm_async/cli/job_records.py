"""A job's per-device records: ``-o`` on stdout as outcomes arrive, and the ``--report`` file.

Every format carries the same fields (:data:`RECORD_FIELDS`), in bulk and per device alike;
stdout carries these records and nothing else.
"""

from __future__ import annotations

import csv
import datetime as _dt
import sys
from pathlib import Path
from typing import IO, Any

import msgspec
from rich.table import Table

from ..ops import Outcome
from .common import EXIT_USAGE, CliError, cli_words, out
from .output import OutputFormat, encode_json

__all__ = ["RECORD_FIELDS", "SMALL_JOB", "DeviceRecord", "RecordSink", "ReportWriter"]

SMALL_JOB = 20
"""Without ``-o``, on a terminal, jobs of at most this many devices get a per-device table."""


class DeviceRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One device's outcome as ``-o`` writes it: the same fields in every format and mode."""

    device: str
    action: str
    """The registry's lower-case name (``lock``, ``locate_now``), bulk or per device."""
    status: str
    reason: str | None
    attempts: int
    from_journal: bool
    mac: str | None
    error: str | None
    detail: str | None
    passcode: str | None
    freshness: str | None
    latitude: float | None
    longitude: float | None
    captured_at: _dt.datetime | None

    @classmethod
    def of(cls, outcome: Outcome, action: str) -> DeviceRecord:
        """The record of one outcome, under the job's ``action`` name."""
        loc = outcome.location
        return cls(
            device=outcome.device,
            action=action,
            status=outcome.status.value,
            reason=outcome.reason,
            attempts=outcome.attempts,
            from_journal=outcome.from_journal,
            mac=outcome.mac,
            error=cli_words(outcome.error) if outcome.error else None,
            detail=outcome.detail,
            passcode=outcome.passcode,
            freshness=outcome.freshness.value if outcome.freshness else None,
            latitude=loc.latitude if loc is not None else None,
            longitude=loc.longitude if loc is not None else None,
            captured_at=loc.captured_at if loc is not None else None,
        )


RECORD_FIELDS = tuple(f.name for f in msgspec.structs.fields(DeviceRecord))


def _csv_cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, _dt.datetime):
        return value.isoformat()
    return str(value)


def _detail(record: DeviceRecord) -> str:
    bits = []
    if record.passcode:
        bits.append(f"passcode {record.passcode}")
    if record.freshness is not None:
        bits.append(record.freshness)
    if record.latitude is not None and record.longitude is not None:
        when = record.captured_at.isoformat() if record.captured_at else "?"
        bits.append(f"{record.latitude:.5f},{record.longitude:.5f} at {when}")
    if record.error:
        bits.append(record.error)
    elif record.detail:
        bits.append(record.detail)
    if record.from_journal:
        bits.append("from the journal")
    return "; ".join(bits)


class RecordSink:
    """Writes the per-device records on stdout as outcomes arrive (JSON lines, a JSON array,
    CSV with a fixed header), or a table at the end."""

    def __init__(self, fmt: OutputFormat | None, *, expected: int, enabled: bool = True) -> None:
        """``fmt`` None: a table of a small job on a terminal, JSON lines in a pipe."""
        self.table_rows: list[DeviceRecord] | None = None
        self.fmt: OutputFormat | None
        if not enabled:
            self.fmt = None
        elif fmt is not None:
            self.fmt = fmt
        elif out.is_terminal:
            self.fmt = OutputFormat.TABLE if expected <= SMALL_JOB else None
        else:
            self.fmt = OutputFormat.JSONL
        if self.fmt is OutputFormat.TABLE:
            self.table_rows = []
        self.count = 0
        self._csv: Any = None

    def write(self, record: DeviceRecord) -> None:
        """One device's record."""
        fmt = self.fmt
        if fmt is None:
            return
        stream = sys.stdout
        if fmt is OutputFormat.TABLE:
            assert self.table_rows is not None
            self.table_rows.append(record)
        elif fmt is OutputFormat.JSONL:
            stream.write(encode_json(record) + "\n")
        elif fmt is OutputFormat.JSON:
            stream.write(("[\n" if self.count == 0 else ",\n") + encode_json(record))
        else:
            if self._csv is None:
                self._csv = csv.writer(stream, lineterminator="\n")
                self._csv.writerow(RECORD_FIELDS)
            self._csv.writerow([_csv_cell(getattr(record, name)) for name in RECORD_FIELDS])
        self.count += 1

    def close(self) -> None:
        """Finish: the table, the end of the JSON array, the CSV header of an empty job."""
        fmt = self.fmt
        if fmt is OutputFormat.TABLE:
            assert self.table_rows is not None
            if self.table_rows:
                # The uuid is never folded (it must copy whole); an empty column is dropped.
                reasons = any(r.reason for r in self.table_rows)
                table = Table(show_header=True, header_style="bold")
                table.add_column("device", no_wrap=True)
                table.add_column("status", no_wrap=True)
                if reasons:
                    table.add_column("reason", overflow="fold")
                table.add_column("detail", overflow="fold")
                for r in self.table_rows:
                    cells = [r.device, r.status, *([r.reason or ""] if reasons else []),
                             _detail(r)]
                    table.add_row(*cells)
                out.print(table)
        elif fmt is OutputFormat.JSON:
            sys.stdout.write("[]\n" if self.count == 0 else "\n]\n")
        elif fmt is OutputFormat.CSV and self._csv is None:
            csv.writer(sys.stdout, lineterminator="\n").writerow(RECORD_FIELDS)
        if fmt is not None:
            sys.stdout.flush()


class ReportWriter:
    """``--report FILE``: one line per device, JSON lines (or CSV when it ends in .csv)."""

    CSV_FIELDS = ("device", "action", "status", "reason", "error", "error_type", "http_status",
                  "attempts", "elapsed", "passcode", "freshness", "latitude", "longitude",
                  "captured_at", "polls", "from_journal", "mac", "detail")

    def __init__(self, path: Path) -> None:
        """Open (truncate) the file."""
        self.path = path
        self.csv = path.suffix.lower() == ".csv"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file: IO[str] = path.open("w", encoding="utf-8", newline="")
        except OSError as exc:
            raise CliError(f"cannot write report {path}: {exc.strerror}", EXIT_USAGE) from None
        self._csv: Any = None
        if self.csv:
            self._csv = csv.writer(self._file, lineterminator="\n")
            self._csv.writerow(self.CSV_FIELDS)

    def write(self, outcome: Outcome) -> None:
        """Append one device's outcome."""
        if not self.csv:
            self._file.write(encode_json(outcome) + "\n")
            return
        loc = outcome.location
        self._csv.writerow([
            outcome.device, outcome.action, outcome.status.value, outcome.reason or "",
            cli_words(outcome.error or ""), outcome.error_type or "", outcome.http_status or "",
            outcome.attempts, f"{outcome.elapsed:.3f}", outcome.passcode or "",
            outcome.freshness.value if outcome.freshness else "",
            "" if loc is None or loc.latitude is None else loc.latitude,
            "" if loc is None or loc.longitude is None else loc.longitude,
            "" if loc is None or loc.captured_at is None else loc.captured_at.isoformat(),
            outcome.polls or "", "true" if outcome.from_journal else "false",
            outcome.mac or "", outcome.detail or "",
        ])

    def flush(self) -> None:
        """Push what was written to the file."""
        self._file.flush()

    def close(self) -> None:
        """Flush and close."""
        self._file.close()

