"""Which devices a command is about: --uuid, --mac, --from-file, or a selection.

Targets add up: every ``--uuid``, ``--mac`` and ``--from-file`` and the devices of the
selection form one union, deduplicated by device. Inside the selection, the values of one
option are alternatives (``--label A --label B``: the devices of A or B) and different options
narrow each other (``--label A --status LOST``: the LOST devices of A).
"""

from __future__ import annotations

import csv
import datetime as _dt
import difflib
import io
import json
import operator
import re
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import typer

from ..client import EpmmClient
from ..enums import ComplianceReason, DeviceStatus
from ..errors import ValidationError
from ..models import Device
from ..validation import MacAddress, validate_uuid
from .common import EXIT_USAGE, CliError

__all__ = [
    "REPORT_STATUSES",
    "DeviceFilter",
    "Filters",
    "NoPreflightOpt",
    "Target",
    "TargetSpec",
    "check_given",
    "check_selection_exists",
    "parse_only",
    "parse_target",
    "phone_digits",
    "preflight_skips",
    "read_report_file",
    "read_targets_file",
    "resolve_targets",
    "select_devices",
]

Target = str | MacAddress
"""A device to act on: a lower-case uuid string or a :class:`MacAddress`."""

_UUID_COLUMNS = ("uuid", "device uuid", "device_uuid", "deviceuuid")
_MAC_COLUMNS = ("mac", "wifi_mac", "wi-fi mac address", "wifi mac address", "mac address")
_DELIMITERS = ("\t", ";", ",")
_NOT_DIGITS = re.compile(r"\D")


def parse_target(value: str) -> Target:
    """A uuid (8-4-4-4-12 hex) or a Wi-Fi MAC (any common notation); raises ValidationError."""
    text = value.strip()
    if text.count("-") == 4 and len(text) == 36:
        return validate_uuid(text)
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
    return _unique(wanted) or list(DEFAULT_RETRY)


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


def phone_digits(number: str | None) -> str:
    """A phone number's digits only: ``+1 (555) 123-4567`` and ``15551234567`` compare equal."""
    return _NOT_DIGITS.sub("", number or "")


def _values(option: str, many: str | Iterable[str] | None, one: str | None) -> list[str]:
    items = [many] if isinstance(many, str) else list(many or ())
    if one is not None:
        items.append(one)
    values: list[str] = []
    for item in items:
        text = item.strip()
        if not text:
            raise CliError(f"{option}: empty value", EXIT_USAGE)
        values.append(text)
    return values


def _unique(values: Iterable[str], key: str = "exact") -> list[str]:
    seen: dict[str, str] = {}
    for value in values:
        seen.setdefault(value.casefold() if key == "casefold" else value, value)
    return list(seen.values())


def _quoted(values: list[str]) -> str:
    return " or ".join(f'"{v}"' for v in values)


@dataclass(slots=True, init=False)
class DeviceFilter:
    """A selection of devices by label, status, user, phone number or Wi-Fi MAC.

    Each field is a list: the values of one field are alternatives (a union: ``labels=["A",
    "B"]`` is the devices of A or of B), and the fields given together narrow each other
    (``labels=["A"], statuses=["LOST"]``: the LOST devices of A). Empty fields select nothing
    on their own; a filter with every field empty is :attr:`empty`.

    Each field takes a list (``None`` and a single string are accepted, so typer's
    ``list[str] | None`` options pass straight through); the singular keywords (``label=``,
    ``status=``...) add one value each, for callers with single-valued options. Statuses are
    validated (``CliError``, exit 2, for an unknown one) and MACs normalised.
    """

    labels: list[str]
    """Label names (matched by the server, case-insensitively)."""
    statuses: list[str]
    """Device statuses, as :class:`~epmm_async.enums.DeviceStatus` values."""
    users: list[str]
    """User ids (principals)."""
    phones: list[str]
    """Phone numbers as given (compared as digits)."""
    macs: list[str]
    """Wi-Fi MACs, normalised (12 upper-case hex digits)."""
    platforms: list[str]
    """Platform families (``android``, ``ios``, ``windows``, ``macos``): the first word of
    the device's ``platform`` text."""
    os_versions: list[str]
    """OS version comparisons as given (``<17``, ``>=14.2``), against the version in the
    device's ``platform`` text (``iOS 15.8``: 15.8)."""
    seen_before: list[_dt.datetime]
    """``--last-seen-before``: last check-in strictly before one of these (aware UTC)."""
    seen_after: list[_dt.datetime]
    """``--last-seen-after``: last check-in at or after one of these (aware UTC)."""
    compliance: list[str]
    """``ComplianceReason`` names (upper case), or ``ANY`` / ``NONE``."""
    quarantined: bool
    blocked: bool
    owned: list[str]
    """``employee`` and/or ``company``."""
    all_labels: bool
    """Several labels: the devices of every one of them (an intersection), not of any."""
    _os_checks: list[Callable[[tuple[int, ...]], bool]]
    counts: dict[str, list[int]]
    """Per client-side filter, ``[kept, seen]`` over the devices checked so far (each filter
    sees what the filters before it kept): what ``--dry-run`` reports."""

    def __init__(
        self,
        *,
        labels: str | Iterable[str] | None = None,
        statuses: str | Iterable[str] | None = None,
        users: str | Iterable[str] | None = None,
        phones: str | Iterable[str] | None = None,
        macs: str | Iterable[str] | None = None,
        label: str | None = None,
        status: str | None = None,
        user: str | None = None,
        phone: str | None = None,
        mac: str | None = None,
        platforms: Iterable[str] | None = None,
        os_versions: Iterable[str] | None = None,
        last_seen_before: Iterable[str] | None = None,
        last_seen_after: Iterable[str] | None = None,
        compliance: Iterable[str] | None = None,
        quarantined: bool = False,
        blocked: bool = False,
        employee_owned: bool = False,
        company_owned: bool = False,
        all_labels: bool = False,
        now: _dt.datetime | None = None,
    ) -> None:
        """Build a filter from lists (or single values); see the class docstring."""
        at = now or _dt.datetime.now(_dt.UTC)
        self.platforms = _unique(_platform_name(v) for v in _values("--platform", platforms,
                                                                     None))
        self.os_versions = _unique(_values("--os-version", os_versions, None))
        self._os_checks = [_version_check(v) for v in self.os_versions]
        self.seen_before = [_when("--last-seen-before", v, at)
                            for v in _values("--last-seen-before", last_seen_before, None)]
        self.seen_after = [_when("--last-seen-after", v, at)
                           for v in _values("--last-seen-after", last_seen_after, None)]
        self.compliance = _unique(_compliance_name(v)
                                  for v in _values("--compliance", compliance, None))
        self.quarantined = quarantined
        self.blocked = blocked
        self.owned = [w for w, on in (("employee", employee_owned), ("company", company_owned))
                      if on]
        self.all_labels = all_labels
        self.counts = {}
        self.labels = _unique(_values("--label", labels, label), key="casefold")
        self.users = _unique(_values("--user", users, user))
        self.phones = _unique(_values("--phone", phones, phone))
        try:
            self.statuses = _unique(
                DeviceStatus.parse(s).value for s in _values("--status", statuses, status))
            self.macs = _unique(str(MacAddress(m)) for m in _values("--mac", macs, mac))
        except ValidationError as exc:
            raise CliError(str(exc), EXIT_USAGE) from None

    @property
    def empty(self) -> bool:
        """True when nothing selects devices."""
        return not (self.labels or self.statuses or self.users or self.phones or self.macs
                    or self.client_side)

    @property
    def client_side(self) -> bool:
        """Whether a filter the server cannot apply (platform, OS version, last check-in,
        compliance, quarantine, block, ownership) is given: checked on each listed device."""
        return bool(self.platforms or self.os_versions or self.seen_before or self.seen_after
                    or self.compliance or self.quarantined or self.blocked or self.owned)

    def _checks(self) -> list[tuple[str, Callable[[Device], bool]]]:
        checks: list[tuple[str, Callable[[Device], bool]]] = []
        if self.platforms:
            checks.append((f"platform {' or '.join(self.platforms)}",
                           lambda d: _platform_of(d) in self.platforms))
        if self.os_versions:
            checks.append((f"os-version {' or '.join(self.os_versions)}", self._os_match))
        if self.seen_before:
            latest = max(self.seen_before)
            checks.append((f"last seen before {_stamp(latest)}",
                           lambda d: d.last_connected_at is not None
                           and _aware(d.last_connected_at) < latest))
        if self.seen_after:
            earliest = min(self.seen_after)
            checks.append((f"last seen after {_stamp(earliest)}",
                           lambda d: d.last_connected_at is not None
                           and _aware(d.last_connected_at) >= earliest))
        if self.compliance:
            checks.append((f"compliance {' or '.join(self.compliance)}", self._compliance_match))
        if self.quarantined:
            checks.append(("quarantined", lambda d: bool(d.quarantined_status)))
        if self.blocked:
            checks.append(("blocked", lambda d: bool(d.block_reason)))
        if self.owned:
            checks.append((" or ".join(f"{w}-owned" for w in self.owned),
                           lambda d: d.employee_owned is not None and (
                               ("employee" if d.employee_owned else "company") in self.owned)))
        return checks

    def _os_match(self, device: Device) -> bool:
        version = _version_of(device)
        return version is not None and any(check(version) for check in self._os_checks)

    def _compliance_match(self, device: Device) -> bool:
        bits = int(device.compliance) if device.compliance is not None else None
        for name in self.compliance:
            if name == "ANY" and bits:
                return True
            if name == "NONE" and bits == 0:
                return True
            if name not in ("ANY", "NONE") and bits is not None and (
                    bits & ComplianceReason[name].value):
                return True
        return False

    def count_lines(self) -> list[str]:
        """``platform ios: kept 120 of 344``, one per client-side filter (in check order)."""
        return [f"{name}: kept {kept:,} of {seen:,}"
                for name, (kept, seen) in self.counts.items()]

    @property
    def search(self) -> str | None:
        """The field the server searches by: ``macs``, ``phones``, ``users``, ``labels``, or
        None (the device list, by status)."""
        for name in ("macs", "phones", "users", "labels"):
            if getattr(self, name):
                return name
        return None

    def matches(self, device: Device, *, skip: str | None = None) -> bool:
        """Whether a device passes the status, user, phone and MAC filters.

        ``skip`` names a field the server already selected by (:attr:`search`): it is not
        checked again. Labels are not on a device record and are not checked here.
        """
        if self.statuses and skip != "statuses":
            status = device.status or device.status_from_code
            if status is None or status.value not in self.statuses:
                return False
        if self.users and skip != "users":
            wanted = {u.casefold() for u in self.users}
            if not {(device.principal or "").casefold(),
                    (device.user_id or "").casefold()} & wanted:
                return False
        if self.phones and skip != "phones":
            wanted = {phone_digits(p) for p in self.phones}
            if not {phone_digits(device.phone_number),
                    phone_digits(device.current_phone_number)} & wanted:
                return False
        if self.macs and skip != "macs" and _device_mac(device) not in self.macs:
            return False
        for name, check in self._checks():
            tally = self.counts.setdefault(name, [0, 0])
            tally[1] += 1
            if not check(device):
                return False
            tally[0] += 1
        return True

    def describe(self) -> str:
        """The selection in words: ``label "Sales" or "Field Engineers", status LOST``."""
        parts: list[str] = []
        if self.labels:
            joined = (" and " if self.all_labels else " or ").join(
                f'"{v}"' for v in self.labels)
            parts.append(f"label {joined}")
        if self.users:
            parts.append(f"user {_quoted(self.users)}")
        if self.phones:
            parts.append(f"phone {' or '.join(self.phones)}")
        if self.macs:
            parts.append(f"MAC {' or '.join(self.macs)}")
        if self.statuses:
            parts.append(f"status {' or '.join(self.statuses)}")
        parts.extend(name for name, _ in self._checks())
        return ", ".join(parts) if parts else "no selection"


_PLATFORMS = {"android": "android", "ios": "ios", "iphone": "ios", "ipados": "ios",
              "windows": "windows", "macos": "macos", "osx": "macos", "mac": "macos"}
_VERSION_TEST = re.compile(r"^\s*(<=|>=|==|<|>|=)?\s*(\d+(?:\.\d+)*)\s*$")
_COMPARE: dict[str, Callable[[tuple[int, ...], tuple[int, ...]], bool]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
    "=": operator.eq, "==": operator.eq,
}
_DURATION = re.compile(r"^\s*(\d+)\s*([hdw])\s*$", re.IGNORECASE)
_VERSION_IN_TEXT = re.compile(r"(\d+(?:\.\d+)*)")


def _platform_name(value: str) -> str:
    name = _PLATFORMS.get(value.strip().lower())
    if name is None:
        raise CliError(f"--platform: unknown platform {value!r} (expected android, ios, "
                       "windows or macos)", EXIT_USAGE)
    return name


def _platform_of(device: Device) -> str | None:
    """The platform family of a device, from the first word of its ``platform`` text."""
    words = (device.platform or "").split()
    return _PLATFORMS.get(words[0].lower()) if words else None


def _version_key(text: str) -> tuple[int, ...]:
    parts = tuple(int(p) for p in text.split("."))
    # 17 == 17.0 == 17.0.0: trailing zeros do not make a version greater.
    while len(parts) > 1 and parts[-1] == 0:
        parts = parts[:-1]
    return parts


def _version_check(value: str) -> Callable[[tuple[int, ...]], bool]:
    match = _VERSION_TEST.match(value)
    if match is None:
        raise CliError(f"--os-version: {value!r} is not a comparison (e.g. '<17', '>=14.2', "
                       "'=12')", EXIT_USAGE)
    compare = _COMPARE[match.group(1) or "="]
    wanted = _version_key(match.group(2))
    return lambda version: compare(version, wanted)


def _version_of(device: Device) -> tuple[int, ...] | None:
    """The OS version in the device's ``platform`` text (``iOS 15.8``, ``Android 12``)."""
    words = (device.platform or "").split(None, 1)
    if len(words) < 2:
        return None
    match = _VERSION_IN_TEXT.search(words[1])
    return _version_key(match.group(1)) if match else None


def _when(option: str, value: str, now: _dt.datetime) -> _dt.datetime:
    """A duration back from ``now`` (``30d``, ``12h``, ``2w``) or an ISO date or date-time
    (UTC unless it says otherwise)."""
    match = _DURATION.match(value)
    if match is not None:
        amount, unit = int(match.group(1)), match.group(2).lower()
        hours = {"h": 1, "d": 24, "w": 24 * 7}[unit] * amount
        try:
            return now - _dt.timedelta(hours=hours)
        except (OverflowError, ValueError):
            raise CliError(f"{option}: {value!r} reaches before year 1", EXIT_USAGE) from None
    try:
        moment = _dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise CliError(f"{option}: {value!r} is neither a duration (30d, 12h, 2w) nor an ISO "
                       "date (2026-11-01)", EXIT_USAGE) from None
    return _aware(moment)


def _aware(moment: _dt.datetime) -> _dt.datetime:
    return moment.replace(tzinfo=_dt.UTC) if moment.tzinfo is None else moment


def _stamp(moment: _dt.datetime) -> str:
    return moment.astimezone(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _compliance_name(value: str) -> str:
    name = value.strip().upper().replace("-", "_")
    if name in ("ANY", "NONE") or name in ComplianceReason.__members__:
        return name
    close = difflib.get_close_matches(name, list(ComplianceReason.__members__), n=3)
    hint = f"did you mean {' or '.join(close)}?" if close else (
        "expected any, none or one of: " + ", ".join(ComplianceReason.__members__).lower())
    raise CliError(f"--compliance: unknown reason {value!r} ({hint})", EXIT_USAGE)


def _device_mac(device: Device) -> str | None:
    try:
        return str(MacAddress(device.details.wifi_mac or ""))
    except ValidationError:
        return None


class _Selector:
    """Runs the searches of one selection, remembering what each user search found."""

    def __init__(self, epmm: EpmmClient) -> None:
        self.epmm = epmm
        self.by_user: dict[str, list[Device]] = {}

    async def user_devices(self, user: str) -> list[Device]:
        if user not in self.by_user:
            self.by_user[user] = await self.epmm.devices.by_user(user)
        return self.by_user[user]

    async def check(self, selection: DeviceFilter, *, users: bool) -> None:
        if selection.labels:
            known = [label.name for label in await self.epmm.labels.list()]
            folded = {name.casefold() for name in known}
            unknown = [name for name in selection.labels if name.casefold() not in folded]
            if unknown:
                raise CliError("; ".join(_unknown_label(name, known) for name in unknown),
                               EXIT_USAGE)
        if users:
            empty = [u for u in selection.users if not await self.user_devices(u)]
            if empty:
                which = ", ".join(repr(u) for u in empty)
                raise CliError(
                    f"no devices for user {which}: is the user id right? (pass --allow-empty "
                    "if a user without devices is expected)", EXIT_USAGE)

    async def select(self, selection: DeviceFilter) -> AsyncIterator[Device]:
        search = selection.search
        seen: set[str] = set()
        if search is None:
            statuses: list[str | None] = [*selection.statuses] or [None]
            for status in statuses:
                async for device in self.epmm.devices.iter(status):
                    if device.uuid.lower() not in seen:
                        seen.add(device.uuid.lower())
                        # The server selected by status; the client-side filters narrow.
                        if not selection.client_side or selection.matches(
                                device, skip="statuses"):
                            yield device
            return
        found: list[Device] = []
        if search == "macs":
            for mac in selection.macs:
                found.extend(await self.epmm.devices.by_mac(mac))
        elif search == "phones":
            # Spaces, dashes and brackets are for people: the server is sent the digits
            # (with the leading + when given), as it stores them.
            sent = [("+" if p.strip().startswith("+") else "") + phone_digits(p)
                    for p in selection.phones]
            found = await self.epmm.devices.by_phone(*sent)
        elif search == "users":
            for user in selection.users:
                found.extend(await self.user_devices(user))
        else:
            first = selection.labels[:1] if selection.all_labels else selection.labels
            for name in first:
                found.extend(await self.epmm.devices.by_label(name))
        in_labels: set[str] | None = None
        rest = selection.labels
        if search == "labels":
            rest = selection.labels[1:] if selection.all_labels else []
        if rest:
            for name in rest:
                members = {d.uuid.lower() for d in await self.epmm.devices.by_label(name)}
                if in_labels is None:
                    in_labels = members
                elif selection.all_labels:
                    in_labels &= members
                else:
                    in_labels |= members
        for device in found:
            key = device.uuid.lower()
            if key in seen:
                continue
            seen.add(key)
            if in_labels is not None and key not in in_labels:
                continue
            if selection.matches(device, skip=search):
                yield device


def _unknown_label(name: str, known: list[str]) -> str:
    by_fold = {k.casefold(): k for k in known}
    close = difflib.get_close_matches(name.casefold(), list(by_fold), n=3, cutoff=0.6)
    if close:
        hint = "did you mean " + " or ".join(f'"{by_fold[c]}"' for c in close) + "?"
    else:
        hint = "`epmm labels` lists them"
    return f'unknown label "{name}" ({hint})'


async def check_selection_exists(
    epmm: EpmmClient, selection: DeviceFilter, *, users: bool = True
) -> None:
    """Refuse a selection that names what the server does not have (``CliError``, exit 2).

    An unknown label is named with the closest existing label names (one ``labels`` request
    when labels are selected). With ``users`` (the default), a user id without devices is
    refused too (the API cannot tell an unknown user from one without devices): one user
    search per user. A known label without devices is not an error here.
    """
    await _Selector(epmm).check(selection, users=users)


async def select_devices(epmm: EpmmClient, selection: DeviceFilter) -> AsyncIterator[Device]:
    """Devices matching ``selection``, each once, found with the most specific search.

    The server is searched by MAC, else by phone number (one request for all of them), else
    by user, else by label; otherwise the (paged) device list of each status (ACTIVE when no
    status is given). What the server selected is not filtered again; the other fields
    narrow the results (labels by their members). Label, user and phone searches do not
    return retired devices (the server's rule), so ``--label`` with ``--status RETIRED``
    finds nothing.
    """
    async for device in _Selector(epmm).select(selection):
        yield device


@dataclass(slots=True)
class TargetSpec:
    """The target options of an action command, as given."""

    uuids: list[str] = field(default_factory=list)
    macs: list[str] = field(default_factory=list)
    from_files: list[Path] = field(default_factory=list)
    from_reports: list[Path] = field(default_factory=list)
    only: list[str] = field(default_factory=lambda: list(DEFAULT_RETRY))
    """``--only``: the report outcomes whose devices ``--from-report`` takes."""
    selection: DeviceFilter = field(default_factory=DeviceFilter)
    allow_empty: bool = False
    """``--allow-empty``: a selection or file with no devices is a success (nothing to do)."""
    preflight: bool = True
    """Report selected devices in a state the action cannot apply to SKIPPED, unsent
    (``--no-preflight``: False)."""
    _file_counts: dict[Path, int] = field(default_factory=dict, init=False, repr=False)

    def explicit(self) -> list[Target]:
        """The devices named on the command line and in the files (validated, in order).

        An empty file is a usage error naming it, unless :attr:`allow_empty`.
        """
        targets: list[Target] = []
        for value in self.uuids:
            try:
                targets.append(validate_uuid(value))
            except ValidationError as exc:
                raise CliError(f"--uuid: {exc}", EXIT_USAGE) from None
        for value in self.macs:
            try:
                targets.append(MacAddress(value))
            except ValidationError as exc:
                raise CliError(f"--mac: {exc}", EXIT_USAGE) from None
        for path in self.from_files:
            found = read_targets_file(path)
            if not found and not self.allow_empty:
                raise CliError(f"{path}: no devices in this file (pass --allow-empty if an "
                               "empty list is expected)", EXIT_USAGE)
            self._file_counts[path] = len(found)
            targets.extend(found)
        for path in self.from_reports:
            found = read_report_file(path, self.only)
            self._file_counts[path] = len(found)
            targets.extend(found)
        return targets

    @property
    def given(self) -> bool:
        """Whether any target option was given."""
        return bool(self.uuids or self.macs or self.from_files or self.from_reports) or (
            not self.selection.empty)

    def describe(self) -> str:
        """The targets in words, for a confirmation: ``label "Sales" + 2 uuids + lost.txt``.

        Files read by :meth:`explicit` show their device count (``lost.txt (12)``).
        """
        parts: list[str] = []
        if not self.selection.empty:
            parts.append(self.selection.describe())
        if self.uuids:
            n = len(self.uuids)
            parts.append(f"uuid {self.uuids[0]}" if n == 1 else f"{n} uuids")
        if self.macs:
            n = len(self.macs)
            parts.append(f"MAC {self.macs[0]}" if n == 1 else f"{n} MACs")
        for path in self.from_files:
            count = self._file_counts.get(path)
            parts.append(f"{path}" if count is None else f"{path} ({count:,})")
        for path in self.from_reports:
            count = self._file_counts.get(path)
            what = f"{path} [{','.join(self.only)}]"
            parts.append(what if count is None else f"{what} ({count:,})")
        return " + ".join(parts) if parts else "no targets"


def check_given(spec: TargetSpec) -> None:
    """Refuse a command with no target option at all, and filters that would add devices.

    A filter alone (``--platform ios``) selects from the fleet; beside devices named
    explicitly (``--uuid``, ``--mac``, ``--from-file``, ``--from-report``) it would add the
    whole matching fleet to them, not narrow them: "retry the failed iOS ones" must never
    lock every iOS device. That combination is refused.
    """
    if not spec.given:
        raise CliError(
            "no devices: give --uuid, --mac, --from-file, --from-report, or a selection "
            "(--label, --status, --user, --platform...)",
            EXIT_USAGE,
        )
    chosen = spec.selection
    named = spec.uuids or spec.macs or spec.from_files or spec.from_reports
    server_side = chosen.labels or chosen.statuses or chosen.users or chosen.phones or chosen.macs
    if named and chosen.client_side and not server_side:
        raise CliError(
            "filters (--platform, --os-version, --last-seen-*, --compliance, --quarantined, "
            "--blocked, --employee-owned/--company-owned) select from the fleet: beside "
            "--uuid/--mac/--from-file/--from-report they would add devices, not narrow those; "
            "give them with --label/--status/--user, or drop them",
            EXIT_USAGE,
        )


async def resolve_targets(
    epmm: EpmmClient, spec: TargetSpec, explicit: list[Target] | None = None,
    records: dict[str, Device] | None = None,
) -> list[Target]:
    """Every device the options name: the union, deduplicated (first mention wins).

    ``explicit`` is ``spec.explicit()`` if already read (it is checked before any request).
    The selection is checked (:func:`check_selection_exists`) and listed; a selected device
    whose Wi-Fi MAC is already a ``--mac`` target is not added again. Nothing at all is a
    usage error (``CliError``, exit 2) unless ``spec.allow_empty``. ``records``, if given,
    receives the listed record of each selected device, by uuid (what pre-flight reads).
    """
    check_given(spec)
    targets = list(explicit) if explicit is not None else spec.explicit()
    if not spec.selection.empty:
        selector = _Selector(epmm)
        await selector.check(spec.selection, users=not spec.allow_empty)
        macs = {t for t in targets if isinstance(t, MacAddress)}
        async for device in selector.select(spec.selection):
            if macs and _device_mac(device) in macs:
                continue
            targets.append(device.uuid.lower())
            if records is not None:
                records.setdefault(device.uuid.lower(), device)
    resolved = list(dict.fromkeys(targets))
    if not resolved and not spec.allow_empty:
        raise CliError(
            f"no devices matched {spec.describe()} (pass --allow-empty if an empty "
            "selection is expected)", EXIT_USAGE)
    return resolved


# -- the filter options, shared by the read and action commands ------------------------

PlatformOpt = Annotated[list[str] | None, typer.Option(
    "--platform", metavar="NAME", help="android, ios, windows or macos (repeatable: any of "
    "them; the first word of the device's platform).")]
OsVersionOpt = Annotated[list[str] | None, typer.Option(
    "--os-version", metavar="CMP", help="OS version comparison: '<17', '>=14.2', '=12' "
    "(numeric, dotted; the version in the device's platform, e.g. iOS 15.8; repeatable: "
    "any of them).")]
SeenBeforeOpt = Annotated[list[str] | None, typer.Option(
    "--last-seen-before", metavar="WHEN", help="Last check-in before WHEN: a duration ago "
    "(30d, 12h, 2w) or an ISO date (UTC).")]
SeenAfterOpt = Annotated[list[str] | None, typer.Option(
    "--last-seen-after", metavar="WHEN", help="Last check-in at or after WHEN: a duration "
    "ago (30d, 12h, 2w) or an ISO date (UTC).")]
ComplianceOpt = Annotated[list[str] | None, typer.Option(
    "--compliance", metavar="REASON", help="Non-compliant for REASON (a compliance reason "
    "name, e.g. compromised, os_version_unsupported), 'any' (non-compliant), or 'none' "
    "(compliant); repeatable: any of them.")]
QuarantinedOpt = Annotated[bool, typer.Option("--quarantined", help="Quarantined devices.")]
BlockedOpt = Annotated[bool, typer.Option("--blocked", help="Blocked devices (a block "
                       "reason set).")]
EmployeeOpt = Annotated[bool, typer.Option("--employee-owned", help="Employee-owned "
                        "devices (with --company-owned: either).")]
CompanyOpt = Annotated[bool, typer.Option("--company-owned", help="Company-owned devices.")]
AllLabelsOpt = Annotated[bool, typer.Option("--all-labels", help="With several --label: "
                         "the devices in every one of them (not any).")]
NoPreflightOpt = Annotated[bool, typer.Option(
    "--no-preflight", help="Send to selected devices in a state the action cannot apply to "
    "(a wiped device for lock, a retired one for wipe) instead of reporting them skipped.")]
FromReportOpt = Annotated[list[Path] | None, typer.Option(
    "--from-report", metavar="FILE", exists=True, dir_okay=False, help="The devices of an "
    "earlier run's report (--report, -o jsonl/json/csv) whose outcome is one of --only "
    "(repeatable).")]
OnlyOpt = Annotated[list[str] | None, typer.Option(
    "--only", metavar="STATUSES", help="With --from-report: the outcomes to take, comma-"
    "separated (default failed,unknown,cancelled: the devices that did not succeed).")]


@dataclass(frozen=True, slots=True)
class Filters:
    """The filter and follow-up options of an action command, as given."""

    platform: list[str] | None = None
    os_version: list[str] | None = None
    last_seen_before: list[str] | None = None
    last_seen_after: list[str] | None = None
    compliance: list[str] | None = None
    quarantined: bool = False
    blocked: bool = False
    employee_owned: bool = False
    company_owned: bool = False
    all_labels: bool = False
    from_report: list[Path] | None = None
    only: list[str] | None = None
    no_preflight: bool = False


def preflight_skips(refused: Iterable[DeviceStatus], records: dict[str, Device]
                    ) -> dict[str, str]:
    """The listed devices whose status is one the action cannot apply to (the registry's
    ``ActionSpec.refused_states``), by uuid, with the status as the reason (``wiped``)."""
    states = set(refused)
    skips: dict[str, str] = {}
    for key, device in records.items():
        status = device.status or device.status_from_code
        if status is not None and status in states:
            skips[key] = status.value.lower()
    return skips
