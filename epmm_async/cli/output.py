"""Command output: a rich table on a terminal; JSON, JSON lines or CSV for pipes."""

from __future__ import annotations

import csv
import enum
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TextIO

import msgspec
from rich.table import Table

from ..models import DeviceDetails
from .common import err, out

__all__ = [
    "Column",
    "OutputFormat",
    "RecordWriter",
    "choose_format",
    "encode_json",
    "to_plain",
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
        return value.value
    raise NotImplementedError(f"cannot encode {type(value).__name__}")


_encoder = msgspec.json.Encoder(enc_hook=_enc_hook)


def _by_attribute(value: object) -> Any:
    # Structs by their Python attribute names (snake_case), not their wire names.
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
    details as an object, enums as their values, datetimes in ISO 8601."""
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
    """A table or CSV cell: empty for None, enum values, JSON for lists and dicts."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, enum.Enum):
        return str(value.value) if not isinstance(value, int) else str(int(value))
    if isinstance(value, list | tuple | dict):
        return encode_json(value)
    return str(value)


class RecordWriter:
    """Writes records as they come: streamed for json/jsonl/csv, a table at :meth:`close`.

    ``columns`` pick the table's columns; JSON carries every field; CSV carries every
    top-level field (nested values as JSON), or ``columns`` when ``csv_columns`` is set.
    """

    def __init__(
        self,
        fmt: OutputFormat,
        columns: Sequence[Column],
        *,
        title: str | None = None,
        stream: TextIO | None = None,
        csv_all_fields: bool = True,
    ) -> None:
        """Prepare to write to ``stream`` (stdout by default)."""
        self.fmt = fmt
        self.columns = list(columns)
        self.title = title
        self.count = 0
        self._stream = stream
        self._csv_all = csv_all_fields
        self._csv: Any = None
        self._table: Table | None = None
        if fmt is OutputFormat.TABLE:
            self._table = Table(title=title, header_style="bold", expand=False)
            for header, _ in self.columns:
                self._table.add_column(header, overflow="fold")

    @property
    def stream(self) -> TextIO:
        """Where rows go (resolved late so redirections are followed)."""
        return self._stream if self._stream is not None else sys.stdout

    def write(self, record: object) -> None:
        """Write one record (a struct or a dict)."""
        if self.fmt is OutputFormat.TABLE:
            assert self._table is not None
            self._table.add_row(*(cell(get(record)) for _, get in self.columns))
        elif self.fmt is OutputFormat.JSONL:
            self.stream.write(encode_json(record) + "\n")
        elif self.fmt is OutputFormat.JSON:
            self.stream.write(("[\n" if self.count == 0 else ",\n") + encode_json(record))
        else:
            self._write_csv(record)
        self.count += 1

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

    def close(self) -> None:
        """Finish: print the table, close the JSON array."""
        if self.fmt is OutputFormat.TABLE:
            assert self._table is not None
            if self.count:
                out.print(self._table)
            else:
                err.print("[dim](nothing to show)[/]")
            if self.count > 20:
                err.print(f"[dim]{self.count} rows[/]")
        elif self.fmt is OutputFormat.JSON:
            self.stream.write("[]\n" if self.count == 0 else "\n]\n")
        self.stream.flush()


def write_all(
    records: Iterable[object],
    fmt: OutputFormat,
    columns: Sequence[Column],
    *,
    title: str | None = None,
) -> int:
    """Write a whole list of records; returns how many."""
    writer = RecordWriter(fmt, columns, title=title)
    for record in records:
        writer.write(record)
    writer.close()
    return writer.count
