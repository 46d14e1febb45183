"""Command output: a rich table on a terminal; JSON, JSON lines or CSV for pipes."""

from __future__ import annotations

import asyncio
import csv
import enum
import os
import stat
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from types import TracebackType
from typing import Any, TextIO

import msgspec
from rich.cells import cell_len
from rich.console import Console
from rich.live import Live
from rich.spinner import Spinner
from rich.table import Table

from ..enums import AsciiFlag
from ..models import DeviceDetails
from .common import err, out

__all__ = [
    "Column",
    "OutputFormat",
    "ReadProgress",
    "RecordWriter",
    "cell",
    "choose_format",
    "encode_json",
    "flag_names",
    "to_plain",
    "write_one",
]


class OutputFormat(enum.StrEnum):
    """What ``--output`` accepts."""

    TABLE = "table"
    JSON = "json"
    JSONL = "jsonl"
    CSV = "csv"


Column = tuple[str, Callable[[Any], object]]
"""A table column: its header and how to get its cell from a record."""


def _enc_hook(value: object) -> object:
    if isinstance(value, DeviceDetails):
        return dict(value)
    if isinstance(value, enum.Enum):
        return _enum_plain(value)
    raise NotImplementedError(f"cannot encode {type(value).__name__}")


_encoder = msgspec.json.Encoder(enc_hook=_enc_hook)


def flag_names(value: enum.IntFlag) -> list[str]:
    """The names of the bits set in a bitmap, lowest first (``[]`` when none); bits without a
    name read ``UNDOCUMENTED_0x...``."""
    bits = int(value)
    names: list[str] = []
    named = 0
    for member in type(value):
        if member.value and member.value & (member.value - 1) == 0:  # single bits only
            named |= member.value
            if bits & member.value:
                names.append(str(member.name))
    if bits & ~named:
        names.append(f"UNDOCUMENTED_0x{bits & ~named:06x}")
    return names


def _enum_plain(value: enum.Enum) -> object:
    """What machine output carries for an enum: a bitmap's names, an ASCII flag's boolean,
    a numeric code's name (``user_source``: LOCAL, LDAP), a text enum's value."""
    if isinstance(value, enum.IntFlag):
        return flag_names(value)
    if isinstance(value, AsciiFlag):
        return bool(value)
    if isinstance(value, enum.IntEnum):
        return value.name
    return value.value


def _by_attribute(value: object) -> Any:
    # Structs by their Python attribute names (snake_case), not their wire names; enums as
    # what they mean (msgspec would write an int enum's raw code).
    if isinstance(value, enum.Enum):
        return _enum_plain(value)
    if isinstance(value, msgspec.Struct):
        return {f.name: _by_attribute(getattr(value, f.name))
                for f in msgspec.structs.fields(value)}
    if isinstance(value, list | tuple):
        return [_by_attribute(v) for v in value]
    if isinstance(value, dict):
        return {k: _by_attribute(v) for k, v in value.items()}
    return value


def encode_json(value: object) -> str:
    """Compact JSON of a struct, list or dict: fields by attribute name (snake_case),
    details as an object, datetimes in ISO 8601, booleans as booleans, and enums as what they
    mean: text enums by value (``"ACTIVE"``), numeric codes by name (``"LOCAL"``), bitmaps as
    the list of their names (``["COMPROMISED", "OUT_OF_CONTACT"]``, ``[]`` when none)."""
    return _encoder.encode(_by_attribute(value)).decode()


def to_plain(value: object) -> Any:
    """Builtins (dict, list, str, int...) of a struct, keyed by attribute name."""
    return msgspec.to_builtins(_by_attribute(value), enc_hook=_enc_hook)


def choose_format(requested: OutputFormat | None) -> OutputFormat:
    """``--output`` if given; else a table on a terminal and JSON lines in a pipe."""
    if requested is not None:
        return requested
    return OutputFormat.TABLE if out.is_terminal else OutputFormat.JSONL


def cell(value: object) -> str:
    """A table or CSV cell: empty for None, ``true``/``false``, enums as in JSON (a bitmap's
    names joined by ``|``), JSON for lists and dicts."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, enum.Enum):
        plain = _enum_plain(value)
        if isinstance(plain, list):
            return "|".join(plain)
        return cell(plain)
    if isinstance(value, list | tuple | dict):
        return encode_json(value)
    return str(value)


def _stdout_is_a_file() -> bool:
    try:
        return stat.S_ISREG(os.fstat(sys.stdout.fileno()).st_mode)
    except (AttributeError, OSError, ValueError):  # no real descriptor (a test runner)
        return False


class ReadProgress:
    """Feedback while a long read runs, on stderr, so it is never silent for minutes.

    On a terminal, when nothing else writes to it meanwhile (the output is a table printed
    at the end, or goes to a file), a spinner with the running count; when the output goes
    to a pipe whose reader may write to the same terminal, a plain line every ``interval``
    seconds once the read has lasted that long. Nothing with ``-q`` or when stderr is not a
    terminal (cron). Use as a context manager and call :meth:`advance` per record.
    """

    def __init__(
        self,
        what: str,
        *,
        fmt: OutputFormat,
        quiet: bool = False,
        console: Console | None = None,
        interval: float = 5.0,
        to_file: bool = False,
    ) -> None:
        """Prepare feedback for reading ``what`` (a plural noun: "devices"); ``to_file``
        says the records go to a file of the command's own (``--to``), not to stdout."""
        self.what = what
        self.count = 0
        self.console = console if console is not None else err
        self.interval = interval
        self._live: Live | None = None
        self._spinner: Spinner | None = None
        self._started = time.monotonic()
        self._last = self._started
        self.mode = "off"
        if not quiet and self.console.is_terminal:
            alone = (to_file or (fmt is OutputFormat.TABLE and out.is_terminal)
                     or _stdout_is_a_file())
            self.mode = "spinner" if alone else "lines"

    def _text(self) -> str:
        if not self.count:
            return f"reading {self.what}..."
        return f"reading {self.what}: {self.count:,} so far"

    def __enter__(self) -> ReadProgress:
        if self.mode == "spinner":
            self._spinner = Spinner("dots", text=self._text())
            # No redirection: stdout keeps going where it goes (a file), not into the live.
            self._live = Live(self._spinner, console=self.console, transient=True,
                              refresh_per_second=8, redirect_stdout=False,
                              redirect_stderr=False)
            self._live.start()
        return self

    def advance(self, n: int = 1) -> None:
        """Count ``n`` more records."""
        self.count += n
        if self._spinner is not None:
            self._spinner.update(text=self._text())
        elif self.mode == "lines":
            now = time.monotonic()
            if now - self._last >= self.interval:
                self._last = now
                self.console.print(f"[dim]{self._text()}[/]", highlight=False)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None


class RecordWriter:
    """Writes records as they come: streamed for json/jsonl/csv, a table at :meth:`close`.

    ``columns`` pick the table's columns; JSON carries every field; CSV carries every
    top-level field (nested values as JSON), or ``columns`` when ``csv_all_fields`` is False.

    Streamed rows are flushed whenever the event loop waits (between two pages of a listing),
    so a reader at the other end of a pipe gets each page as it arrives, without a flush per
    row. In a table, columns named in ``no_wrap`` are never folded (a uuid split across lines
    cannot be copied); when the table is wider than the console, the columns of
    ``drop_order`` are left out, first named first, until it fits (stderr says which).
    """

    def __init__(
        self,
        fmt: OutputFormat,
        columns: Sequence[Column],
        *,
        title: str | None = None,
        stream: TextIO | None = None,
        csv_all_fields: bool = True,
        console: Console | None = None,
        quiet: bool = False,
        no_wrap: Sequence[str] = (),
        drop_order: Sequence[str] = (),
    ) -> None:
        """Prepare to write to ``stream`` (stdout by default; a table to ``console``)."""
        self.fmt = fmt
        self.columns = list(columns)
        self.title = title
        self.count = 0
        self.quiet = quiet
        self.no_wrap = frozenset(no_wrap)
        self.drop_order = list(drop_order)
        self.dropped: list[str] = []
        self._stream = stream
        self._console = console
        self._csv_all = csv_all_fields
        self._csv: Any = None
        self._rows: list[list[str]] = []
        self._flush_pending = False
        self._flush_error: BaseException | None = None

    @property
    def stream(self) -> TextIO:
        """Where rows go (resolved late so redirections are followed)."""
        return self._stream if self._stream is not None else sys.stdout

    @property
    def console(self) -> Console:
        """Where the table goes (the results console by default)."""
        return self._console if self._console is not None else out

    def write(self, record: object) -> None:
        """Write one record (a struct or a dict)."""
        if self._flush_error is not None:
            error, self._flush_error = self._flush_error, None
            raise error
        if self.fmt is OutputFormat.TABLE:
            self._rows.append([cell(get(record)) for _, get in self.columns])
        elif self.fmt is OutputFormat.JSONL:
            self.stream.write(encode_json(record) + "\n")
        elif self.fmt is OutputFormat.JSON:
            self.stream.write(("[\n" if self.count == 0 else ",\n") + encode_json(record))
        else:
            self._write_csv(record)
        self.count += 1
        if self.fmt is not OutputFormat.TABLE:
            self._schedule_flush()

    def _schedule_flush(self) -> None:
        if self._flush_pending:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # not in a loop: flushed at close
        self._flush_pending = True
        loop.call_soon(self._flush)

    def _flush(self) -> None:
        # Runs when the loop next waits: after the rows of one page, before the next page.
        self._flush_pending = False
        try:
            self.stream.flush()
        except (BrokenPipeError, ValueError, OSError) as exc:
            self._flush_error = exc  # raised by the next write (BrokenPipeError: exit 141)

    def _write_csv(self, record: object) -> None:
        if self._csv_all:
            plain = to_plain(record)
            row = {k: cell(v) for k, v in plain.items()} if isinstance(plain, dict) else {}
        else:
            row = {h: cell(get(record)) for h, get in self.columns}
        if self._csv is None:
            self._csv = csv.DictWriter(
                self.stream, fieldnames=list(row), extrasaction="ignore", lineterminator="\n"
            )
            self._csv.writeheader()
        self._csv.writerow(row)

    def table(self, width: int | None = None) -> Table:
        """The table of the rows written so far, fitted to ``width`` columns (the console's
        by default) by leaving out the columns of ``drop_order``."""
        width = width if width is not None else self.console.width
        headers = [h for h, _ in self.columns]
        natural = {
            h: max([cell_len(h), *(cell_len(row[i]) for row in self._rows)])
            for i, h in enumerate(headers)
        }
        shown = list(headers)

        # Columns are left out rather than folded: what is shown reads whole.
        def needed() -> int:  # content, one space of padding each side, the box lines
            return sum(natural[h] + 3 for h in shown) + 1

        self.dropped = []
        for header in self.drop_order:
            if needed() <= width:
                break
            if header in shown:
                shown.remove(header)
                self.dropped.append(header)
        table = Table(title=self.title, header_style="bold", expand=False,
                      title_justify="left")
        for header in shown:
            if header in self.no_wrap:
                table.add_column(header, no_wrap=True, min_width=natural[header])
            else:
                table.add_column(header, overflow="fold")
        keep = [headers.index(h) for h in shown]
        for row in self._rows:
            table.add_row(*(row[i] for i in keep))
        return table

    def close(self) -> None:
        """Finish: print the table, close the JSON array."""
        if self._flush_error is not None:
            error, self._flush_error = self._flush_error, None
            raise error
        if self.fmt is OutputFormat.TABLE:
            if self.count:
                self.console.print(self.table())
                if self.dropped and not self.quiet:
                    err.print(f"[dim]({', '.join(self.dropped)} left out to fit "
                              f"{self.console.width} columns: -o csv or a wider terminal "
                              "shows them)[/]", highlight=False)
            elif not self.quiet:
                err.print("[dim](nothing to show)[/]")
            if self.count > 20 and not self.quiet:
                err.print(f"[dim]{self.count:,} rows[/]")
        elif self.fmt is OutputFormat.JSON:
            self.stream.write("[]\n" if self.count == 0 else "\n]\n")
        self.stream.flush()


def write_all(
    records: Iterable[object],
    fmt: OutputFormat,
    columns: Sequence[Column],
    *,
    title: str | None = None,
    quiet: bool = False,
) -> int:
    """Write a whole list of records; returns how many."""
    writer = RecordWriter(fmt, columns, title=title, quiet=quiet)
    for record in records:
        writer.write(record)
    writer.close()
    return writer.count


def write_one(record: dict[str, Any], fmt: OutputFormat) -> bool:
    """One record (plain data) as ``-o json``/``jsonl`` (one object) or ``csv`` (a header
    and a row) on stdout; False for a table, which the caller lays out itself."""
    if fmt in (OutputFormat.JSON, OutputFormat.JSONL):
        out.file.write(encode_json(record) + "\n")
        return True
    if fmt is OutputFormat.CSV:
        writer = csv.DictWriter(out.file, fieldnames=list(record), lineterminator="\n")
        writer.writeheader()
        writer.writerow({k: cell(v) for k, v in record.items()})
        return True
    return False
