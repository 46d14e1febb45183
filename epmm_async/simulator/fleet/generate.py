"""Seeded generation of the fleet: users and devices drawn from the reference data.

Every draw comes from the fleet's one RNG in a fixed order, so the same seed gives the same
uuids, order and values.
"""

from __future__ import annotations

import random
from bisect import bisect
from collections.abc import Iterable, Iterator

from epmm_async.enums import ComplianceReason, DeviceStatus, LookupResult, UserSource

from .device import SimDevice
from .records import Fix, SimCountry, SimOperator, SimUser
from .reference import (
    ANDROID_VERSIONS,
    BASE_EPOCH,
    COUNTRIES,
    COUNTRY_WEIGHTS,
    EXTRA_FIELDS,
    FIRST_NAMES,
    IOS_VERSIONS,
    KIND_WEIGHTS,
    KINDS,
    LAST_NAMES,
    MAC_VERSIONS,
    MODELS,
    REASON_BITS,
    STATUS_WEIGHTS,
    STATUSES,
    WIN_VERSIONS,
)

__all__ = ["Minter", "make_users", "phone_key", "random_devices"]


def _below(rng: random.Random, n: int) -> int:
    """A fast ``randrange(n)`` (slightly biased, fine for test data)."""
    return int(rng.random() * n)


def _cum(weights: tuple[int, ...]) -> list[float]:
    total = 0.0
    out = []
    for w in weights:
        total += w
        out.append(total)
    return out


def phone_key(phone: str) -> str:
    """The lookup key of a phone number: without a leading ``+``."""
    return phone.lstrip("+")


class Minter:
    """Fresh identities drawn from a fleet's RNG: device ids, uuids, Wi-Fi MACs and phone
    numbers, each unique in the fleet."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.next_id = 1
        self._macs: set[int] = set()
        self._phones: set[str] = set()

    def take_id(self) -> int:
        """The next device id (ids count up from 1)."""
        taken = self.next_id
        self.next_id += 1
        return taken

    def uuid(self) -> str:
        """A random version-4 uuid."""
        h = f"{self.rng.getrandbits(128):032x}"
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"

    def mac(self) -> str:
        """A new unicast Wi-Fi MAC: 12 upper-case hex digits."""
        while True:
            value = self.rng.getrandbits(48) & ~(1 << 40)  # unicast
            if value not in self._macs:
                self._macs.add(value)
                return f"{value:012X}"

    def phone(self, country: SimCountry) -> str:
        """A new number, unique without regard to a leading ``+``: one in ten in national
        form with a leading zero (``0…``, a JSON string), one in ten in E.164 form
        (``+…``, a JSON string), the rest digits with the country code (a JSON number)."""
        style = self.next_id % 10
        while True:
            local = f"{200 + _below(self.rng, 799)}{1_000_000 + _below(self.rng, 8_999_999)}"
            digits = f"{country.code}{local}"
            phone = f"0{local}" if style == 3 else f"+{digits}" if style == 7 else digits
            if phone_key(phone) not in self._phones:
                self.claim_phone(phone)
                return phone

    def claim_phone(self, phone: str) -> None:
        """Mark ``phone`` as taken (a registration brings its own number)."""
        self._phones.add(phone_key(phone))


def make_users(ids: Minter, n: int) -> list[SimUser]:
    """``n`` users; the first is ``jdoe`` (Joe Doe, local), one in twenty has a numeric
    principal and one in forty a numeric one with a leading zero."""
    rng = ids.rng
    out = []
    for i in range(n):
        first = FIRST_NAMES[_below(rng, len(FIRST_NAMES))]
        last = LAST_NAMES[_below(rng, len(LAST_NAMES))]
        ldap = rng.random() < 0.4
        ascii_last = last.encode("ascii", "ignore").decode().lower()
        principal = f"{first[0].lower()}{ascii_last}{i}" if i else "jdoe"
        if i % 20 == 7:
            principal = str(100000 + i)  # an employee number: typed as a JSON number
        elif i % 40 == 13:
            principal = f"0{10000 + i}"  # a leading zero: stays a JSON string
        if i == 0:
            first, last, ldap = "Joe", "Doe", False
        user = SimUser(
            principal=principal,
            first=first,
            last=last,
            email=f"{principal}@example.com",
            uuid=ids.uuid(),
            source=UserSource.LDAP if ldap else UserSource.LOCAL,
        )
        out.append(user)
    return out


def random_devices(
    ids: Minter, n: int, users: list[SimUser], operators: Iterable[SimOperator]
) -> Iterator[SimDevice]:
    """``n`` random devices owned by ``users``, with carriers from the enabled ``operators``."""
    rng = ids.rng
    kind_cum = _cum(KIND_WEIGHTS)
    status_cum = _cum(STATUS_WEIGHTS)
    country_cum = _cum(COUNTRY_WEIGHTS)
    ops_by_country: dict[int, list[SimOperator]] = {}
    for op in operators:
        if op.enabled:
            ops_by_country.setdefault(op.country.id, []).append(op)
    n_users = len(users)
    rand = rng.random
    for _ in range(n):
        kind = KINDS[bisect(kind_cum, rand() * kind_cum[-1])]
        status = STATUSES[bisect(status_cum, rand() * status_cum[-1])]
        country = COUNTRIES[bisect(country_cum, rand() * country_cum[-1])]
        # a skewed pick so that some users own several devices
        r = rng.random()
        user = users[int(r * r * n_users) if rng.random() < 0.3 else _below(rng, n_users)]
        yield _random_device(ids, kind, status, country, user, ops_by_country)


def _platform_for(kind: str, rng: random.Random) -> str:
    if kind.startswith("android"):
        return f"Android {ANDROID_VERSIONS[_below(rng, len(ANDROID_VERSIONS))][0]}"
    if kind == "ios":
        return f"iOS {IOS_VERSIONS[_below(rng, len(IOS_VERSIONS))][0]}"
    if kind == "windows":
        return f"Windows {WIN_VERSIONS[_below(rng, len(WIN_VERSIONS))]}"
    return f"macOS {MAC_VERSIONS[_below(rng, len(MAC_VERSIONS))]}"


def _random_device(
    ids: Minter,
    kind: str,
    status: DeviceStatus,
    country: SimCountry,
    user: SimUser,
    ops_by_country: dict[int, list[SimOperator]],
) -> SimDevice:
    rng = ids.rng
    manufacturer, model, _ = MODELS[kind][_below(rng, len(MODELS[kind]))]
    phone_capable = kind in ("android", "ios") and not model.startswith("iPad")
    ops = ops_by_country.get(country.id, [])
    operator = ops[_below(rng, len(ops))] if phone_capable and ops else None
    phone = ids.phone(country) if phone_capable else None
    registered = BASE_EPOCH - 3600 + _below(rng, 3 * 365 * 86400 - 3600)
    device = SimDevice(
        id=ids.take_id(),
        uuid=ids.uuid(),
        kind="android" if kind == "android-pda" else kind,
        platform=_platform_for(kind, rng),
        status=status,
        phone_number=phone,
        wifi_mac=ids.mac(),
        user=user,
        country=country,
        operator=operator,
        manufacturer=manufacturer,
        model=model,
        seed=rng.getrandbits(32),
        registered_at=registered,
        last_connected_at=min(BASE_EPOCH, registered + _below(rng, 400 * 86400)),
    )
    device.employee_owned = rng.random() < 0.3
    device.online = rng.random() >= 0.05
    device.has_passcode = rng.random() < 0.85
    if kind == "ios":
        device.mdm_managed = rng.random() < 0.95
    if rng.random() < 0.15:
        bits = rng.sample(REASON_BITS, rng.randint(1, 3))
        device.compliance = sum(bits)
        if rng.random() < 0.4:
            device.quarantined = bits[0]
        if rng.random() < 0.3:
            device.block_reason = sum(bits[:2])
    if status == DeviceStatus.BLOCKED:
        device.block_reason |= ComplianceReason.MANUALLY_BLOCKED.value
    labels = []
    for label_id, p in ((1, 0.12), (2, 0.08), (4, 0.02), (5, 0.03)):
        if rng.random() < p:
            labels.append(label_id)
    device.labels = tuple(labels)
    if rng.random() < 0.5:
        device.eas_uuid = ids.uuid()
    if rng.random() < 0.05:
        device.comment = "Spare device, check with IT & facilities <desk 4>"
    if rng.random() < 0.8 and not device.details_empty:
        device.fix = Fix(
            LookupResult.GPS if rng.random() < 0.6 else LookupResult.CELL,
            round(rng.uniform(-60, 70), 6),
            round(rng.uniform(-170, 170), 6),
            rng.choice((10, 25, 50, 500, 1500)),
            (BASE_EPOCH - 60 - _below(rng, 30 * 86400)) * 1000,
        )
    if rng.random() < 0.25:
        extras: dict[str, str | int | bool] = {}
        for key in rng.sample(EXTRA_FIELDS, rng.randint(1, 5)):
            extras[key] = _extra_value(key, device, rng)
        device.extras = extras
    return device


def _extra_value(key: str, device: SimDevice, rng: random.Random) -> str | int | bool:
    if key == "userId":
        return device.user.principal if rng.random() < 0.5 else str(100000 + device.id)
    if key == "platformType":
        return {"android": "ANDROID", "ios": "IOS", "windows": "WINDOWS_PHONE"}.get(
            device.kind, "OSX"
        )
    if key in ("registeredAt", "createdAt"):
        return device.registered_at * 1000
    if key == "wipeReason":
        return "Stolen" if device.status == DeviceStatus.WIPED else ""
    if key == "TLVVersion":
        return 2
    if key == "migrationStatus":
        return "NOT_MIGRATED"
    return rng.random() < 0.2
