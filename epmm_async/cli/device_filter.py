"""The selection of devices by what the server knows of them: label, status, user, phone,
MAC, and the filters checked on each listed device (platform, OS version, last check-in,
compliance, quarantine, block, ownership).

Inside a selection the values of one option are alternatives (``--label A --label B``: the
devices of A or B) and different options narrow each other (``--label A --status LOST``: the
LOST devices of A).
"""

from __future__ import annotations

import datetime as _dt
import difflib
import operator
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ..enums import ComplianceReason, DeviceStatus
from ..errors import ValidationError
from ..models import Device
from ..validation import MacAddress
from .common import EXIT_USAGE, CliError

__all__ = ["FILTER_KEYS", "DeviceFilter", "device_mac", "phone_digits", "platform_aliases"]

FILTER_KEYS = ("platforms", "os_versions", "seen_before", "seen_after", "compliance",
               "quarantined", "blocked", "owned")
"""The filters checked on each listed device, by the :class:`DeviceFilter` field that holds
each (``owned``: ``--employee-owned``/``--company-owned``)."""

_NOT_DIGITS = re.compile(r"\D")


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
    use_v2: bool
    """Whether the filters may run on the server, as an API v2 query, when it offers v2
    (``--no-v2``: False); see :mod:`.v2_filters`."""
    on_server: frozenset[str]
    """The filters (:data:`FILTER_KEYS`) the server applied for this selection: not checked
    again on each listed device."""
    server_note: str | None
    """What the server-side part selected, in words (for ``--dry-run``), if it ran."""
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
        use_v2: bool = True,
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
        self.use_v2 = use_v2
        self.on_server = frozenset()
        self.server_note = None
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

    def _checks(self, *, every: bool = False
                ) -> list[tuple[str, str, Callable[[Device], bool]]]:
        """``(key, words, check)`` of each filter given, in check order; those the server
        applied (:attr:`on_server`) are left out unless ``every``."""
        checks: list[tuple[str, str, Callable[[Device], bool]]] = []
        if self.platforms:
            checks.append(("platforms", f"platform {' or '.join(self.platforms)}",
                           lambda d: _platform_of(d) in self.platforms))
        if self.os_versions:
            checks.append(("os_versions", f"os-version {' or '.join(self.os_versions)}",
                           self._os_match))
        if self.seen_before:
            latest = max(self.seen_before)
            checks.append(("seen_before", f"last seen before {_stamp(latest)}",
                           lambda d: d.last_connected_at is not None
                           and _aware(d.last_connected_at) < latest))
        if self.seen_after:
            earliest = min(self.seen_after)
            checks.append(("seen_after", f"last seen after {_stamp(earliest)}",
                           lambda d: d.last_connected_at is not None
                           and _aware(d.last_connected_at) >= earliest))
        if self.compliance:
            checks.append(("compliance", f"compliance {' or '.join(self.compliance)}",
                           self._compliance_match))
        if self.quarantined:
            checks.append(("quarantined", "quarantined", lambda d: bool(d.quarantined_status)))
        if self.blocked:
            checks.append(("blocked", "blocked", lambda d: bool(d.block_reason)))
        if self.owned:
            checks.append(("owned", " or ".join(f"{w}-owned" for w in self.owned),
                           lambda d: d.employee_owned is not None and (
                               ("employee" if d.employee_owned else "company") in self.owned)))
        if every:
            return checks
        return [c for c in checks if c[0] not in self.on_server]

    def filter_keys(self) -> list[str]:
        """The filters given (:data:`FILTER_KEYS` names), in check order."""
        return [key for key, _, _ in self._checks(every=True)]

    @property
    def residual(self) -> bool:
        """Whether a filter is left to check on each listed device (given, and not applied
        by the server)."""
        return bool(self._checks())

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
        """``platform ios: kept 120 of 344``, one per client-side filter (in check order),
        after what the server applied (:attr:`server_note`)."""
        lines = [self.server_note] if self.server_note else []
        return lines + [f"{name}: kept {kept:,} of {seen:,}"
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
        if self.macs and skip != "macs" and device_mac(device) not in self.macs:
            return False
        for _, name, check in self._checks():
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
        parts.extend(name for _, name, _ in self._checks(every=True))
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


def platform_aliases(family: str) -> list[str]:
    """The first words of a platform text that name ``family`` (``ios``: ios, iphone,
    ipados), as :attr:`DeviceFilter.platforms` reads them."""
    return [word for word, name in _PLATFORMS.items() if name == family]


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
            return _millis(now - _dt.timedelta(hours=hours))
        except (OverflowError, ValueError):
            raise CliError(f"{option}: {value!r} reaches before year 1", EXIT_USAGE) from None
    try:
        moment = _dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise CliError(f"{option}: {value!r} is neither a duration (30d, 12h, 2w) nor an ISO "
                       "date (2026-11-01)", EXIT_USAGE) from None
    return _millis(_aware(moment))


def _millis(moment: _dt.datetime) -> _dt.datetime:
    """``moment`` to the millisecond (down): the precision of an API v2 timestamp, so the
    client-side check and the server's query compare with the same instant."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


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


def device_mac(device: Device) -> str | None:
    """The Wi-Fi MAC in a device record's details, normalised; None when it has none (or
    not a MAC)."""
    try:
        return str(MacAddress(device.details.wifi_mac or ""))
    except ValidationError:
        return None
