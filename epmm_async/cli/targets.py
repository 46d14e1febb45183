"""Which devices a command is about: --uuid, --mac, --from-file, or a selection.

Targets add up: every ``--uuid``, ``--mac`` and ``--from-file`` and the devices of the
selection form one union, deduplicated by device. Inside the selection, the values of one
option are alternatives (``--label A --label B``: the devices of A or B) and different options
narrow each other (``--label A --status LOST``: the LOST devices of A).
"""

from __future__ import annotations

import csv
import difflib
import io
import re
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ..client import EpmmClient
from ..enums import DeviceStatus
from ..errors import ValidationError
from ..models import Device
from ..validation import MacAddress, validate_uuid
from .common import EXIT_USAGE, CliError

__all__ = [
    "DeviceFilter",
    "Target",
    "TargetSpec",
    "check_given",
    "check_selection_exists",
    "parse_target",
    "phone_digits",
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
    ) -> None:
        """Build a filter from lists (or single values); see the class docstring."""
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
        return not (self.labels or self.statuses or self.users or self.phones or self.macs)

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
        if self.statuses:
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
        if self.macs and skip != "macs":
            return _device_mac(device) in self.macs
        return True

    def describe(self) -> str:
        """The selection in words: ``label "Sales" or "Field Engineers", status LOST``."""
        parts: list[str] = []
        if self.labels:
            parts.append(f"label {_quoted(self.labels)}")
        if self.users:
            parts.append(f"user {_quoted(self.users)}")
        if self.phones:
            parts.append(f"phone {' or '.join(self.phones)}")
        if self.macs:
            parts.append(f"MAC {' or '.join(self.macs)}")
        if self.statuses:
            parts.append(f"status {' or '.join(self.statuses)}")
        return ", ".join(parts) if parts else "no selection"


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
            for name in selection.labels:
                found.extend(await self.epmm.devices.by_label(name))
        in_labels: set[str] | None = None
        if selection.labels and search != "labels":
            in_labels = set()
            for name in selection.labels:
                in_labels.update(d.uuid.lower() for d in await self.epmm.devices.by_label(name))
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
    selection: DeviceFilter = field(default_factory=DeviceFilter)
    allow_empty: bool = False
    """``--allow-empty``: a selection or file with no devices is a success (nothing to do)."""
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
        return targets

    @property
    def given(self) -> bool:
        """Whether any target option was given."""
        return bool(self.uuids or self.macs or self.from_files) or not self.selection.empty

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
        return " + ".join(parts) if parts else "no targets"


def check_given(spec: TargetSpec) -> None:
    """Refuse a command with no target option at all."""
    if not spec.given:
        raise CliError(
            "no devices: give --uuid, --mac, --from-file, or a selection "
            "(--label, --status, --user)",
            EXIT_USAGE,
        )


async def resolve_targets(
    epmm: EpmmClient, spec: TargetSpec, explicit: list[Target] | None = None
) -> list[Target]:
    """Every device the options name: the union, deduplicated (first mention wins).

    ``explicit`` is ``spec.explicit()`` if already read (it is checked before any request).
    The selection is checked (:func:`check_selection_exists`) and listed; a selected device
    whose Wi-Fi MAC is already a ``--mac`` target is not added again. Nothing at all is a
    usage error (``CliError``, exit 2) unless ``spec.allow_empty``.
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
    resolved = list(dict.fromkeys(targets))
    if not resolved and not spec.allow_empty:
        raise CliError(
            f"no devices matched {spec.describe()} (pass --allow-empty if an empty "
            "selection is expected)", EXIT_USAGE)
    return resolved
