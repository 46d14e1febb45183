"""Devices named in files: a list of uuids and MACs (``--from-file``), or the report of an
earlier run (``--from-report``).

A malformed entry is a usage error (``CliError``, exit 2) naming the file and the line.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from pathlib import Path

from ..errors import ValidationError
from ..validation import MacAddress, device_key
from .common import EXIT_USAGE, CliError

__all__ = [
    "DEFAULT_RETRY",
    "REPORT_STATUSES",
    "Target",
    "parse_only",
    "parse_target",
    "read_report_file",
    "read_targets_file",
]

Target = str | MacAddress
"""A device to act on: a lower-case uuid string or a :class:`MacAddress`."""

_UUID_COLUMNS = ("uuid", "device uuid", "device_uuid", "deviceuuid")
_MAC_COLUMNS = ("mac", "wifi_mac", "wi-fi mac address", "wifi mac address", "mac address")
_DELIMITERS = ("\t", ";", ",")


def parse_target(value: str) -> Target:
    """A uuid (8-4-4-4-12 hex) or a Wi-Fi MAC (any common notation); raises ValidationError."""
    text = value.strip()
    if text.count("-") == 4 and len(text) == 36:
        return device_key(text)
    try:
        return MacAddress(text)
    except ValidationError:
        raise ValidationError(
            f"malformed device {value!r}: expected a uuid (8-4-4-4-12 hex) or a Wi-Fi MAC"
        ) from None


def _read_text(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror}", EXIT_USAGE) from None
    # Excel writes "CSV UTF-8" with a byte-order mark, and "Unicode text" as UTF-16.
    encoding = "utf-16" if raw[:2] in (b"\xff\xfe", b"\xfe\xff") else "utf-8-sig"
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as exc:
        raise CliError(
            f"{path}: not UTF-8 text (byte {exc.start + 1}); save it as UTF-8 (in Excel: "
            "CSV UTF-8)", EXIT_USAGE,
        ) from None


def read_targets_file(path: Path) -> list[Target]:
    """Devices listed in a file: one uuid or MAC per line, or a CSV with a ``uuid`` column.

    Blank lines and lines starting with ``#`` are ignored. A byte-order mark (Excel's
    "CSV UTF-8") is skipped; tab- and semicolon-separated files are read like CSV. A
    malformed entry is a usage error that names the file and the line. An empty file (or a
    CSV with only its header) gives an empty list; :meth:`TargetSpec.explicit` refuses it.
    """
    lines = _read_text(path).splitlines()
    numbered = [
        (n, line) for n, line in enumerate(lines, 1)
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if not numbered:
        return []
    first = numbered[0][1]
    delimiter = next((d for d in _DELIMITERS if d in first), None)
    if delimiter is None and first.strip().strip('"').strip().lower() in (
        *_UUID_COLUMNS, *_MAC_COLUMNS
    ):
        delimiter = ","  # a one-column CSV (Excel saves a single column without commas)
    if delimiter is not None:
        return _read_csv(path, numbered, delimiter)
    targets: list[Target] = []
    for lineno, line in numbered:
        try:
            targets.append(parse_target(line))
        except ValidationError as exc:
            raise CliError(f"{path}, line {lineno}: {exc}", EXIT_USAGE) from None
    return targets


def _read_csv(path: Path, numbered: list[tuple[int, str]], delimiter: str) -> list[Target]:
    header = [h.strip().lower() for h in next(csv.reader([numbered[0][1]], delimiter=delimiter))]
    column = next((header.index(c) for c in _UUID_COLUMNS if c in header), None)
    mac_column = next((header.index(c) for c in _MAC_COLUMNS if c in header), None)
    if column is None and mac_column is None:
        raise CliError(
            f"{path}, line {numbered[0][0]}: a CSV needs a 'uuid' (or 'mac') column; "
            f"found {', '.join(header)}",
            EXIT_USAGE,
        )
    targets: list[Target] = []
    for lineno, line in numbered[1:]:
        row = next(csv.reader(io.StringIO(line), delimiter=delimiter), [])
        value = ""
        if column is not None and column < len(row):
            value = row[column].strip()
        if not value and mac_column is not None and mac_column < len(row):
            value = row[mac_column].strip()
        if not value:
            raise CliError(f"{path}, line {lineno}: no uuid in this row", EXIT_USAGE)
        try:
            targets.append(parse_target(value))
        except ValidationError as exc:
            raise CliError(f"{path}, line {lineno}: {exc}", EXIT_USAGE) from None
    return targets


REPORT_STATUSES = ("succeeded", "failed", "unknown", "invalid", "unsupported", "skipped",
                   "cancelled")
"""The outcome statuses a report holds (``OutcomeStatus`` values)."""
DEFAULT_RETRY = ("failed", "unknown", "cancelled")
"""``--from-report`` without ``--only``: the devices that did not succeed and may."""


def parse_only(values: Iterable[str] | None) -> list[str]:
    """``--only failed,unknown`` (comma-separated, repeatable): checked status names."""
    wanted: list[str] = []
    for value in values or ():
        for word in value.split(","):
            name = word.strip().lower()
            if not name:
                continue
            if name not in REPORT_STATUSES:
                raise CliError(f"--only: unknown outcome {word.strip()!r} (expected "
                               f"{', '.join(REPORT_STATUSES)})", EXIT_USAGE)
            wanted.append(name)
    return list(dict.fromkeys(wanted)) or list(DEFAULT_RETRY)


def read_report_file(path: Path, only: Iterable[str]) -> list[Target]:
    """The devices of an earlier ``--report`` / ``-o jsonl|csv`` report whose status is one
    of ``only``, in order, each once. JSON lines (one object per line, or a ``-o json``
    array) and CSV (a header with ``device`` and ``status``) are recognised by content. A
    device named by MAC in the report is targeted by that MAC."""
    wanted = set(only)
    text = _read_text(path)
    rows: list[tuple[int, dict[str, object]]] = []
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            items = json.loads(text)
        except ValueError as exc:
            raise CliError(f"{path}: not a JSON report ({exc})", EXIT_USAGE) from None
        rows = [(n, item) for n, item in enumerate(items, 1) if isinstance(item, dict)]
    elif stripped.startswith("{"):
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except ValueError as exc:
                raise CliError(f"{path}, line {n}: not a JSON record ({exc})",
                               EXIT_USAGE) from None
            if isinstance(item, dict) and "device" in item:
                rows.append((n, item))
    else:
        reader = csv.DictReader(io.StringIO(text))
        fields = [f.strip().lower() for f in reader.fieldnames or []]
        if "device" not in fields or "status" not in fields:
            raise CliError(f"{path}: not a report (a JSON-lines or CSV report of an earlier "
                           "run, with device and status fields)", EXIT_USAGE)
        for n, raw in enumerate(reader, 2):
            rows.append((n, {k.strip().lower(): v for k, v in raw.items() if k}))
    targets: list[Target] = []
    for n, row in rows:
        if str(row.get("status") or "").strip().lower() not in wanted:
            continue
        try:
            targets.append(parse_target(str(row.get("device") or "")))
        except ValidationError as exc:
            raise CliError(f"{path}, line {n}: {exc}", EXIT_USAGE) from None
    return list(dict.fromkeys(targets))
