"""Deterministic ground truth of the simulated EPMM server: devices, users, labels, operators.

Everything is derived from one seed, so the same seed gives the same uuids, order and values.
Per-device state is kept compact (``__slots__``); the heavy ``details`` map is regenerated on
demand from a per-device seed instead of being stored.
"""

from __future__ import annotations

import random
import time
from bisect import bisect
from collections.abc import Iterator
from dataclasses import dataclass

from epmm_async.enums import ComplianceReason, DeviceStatus, LookupResult, UserSource

__all__ = [
    "BASE_EPOCH",
    "Fix",
    "Fleet",
    "SimCountry",
    "SimDevice",
    "SimLabel",
    "SimOperator",
    "SimProfile",
    "SimUser",
]

BASE_EPOCH = 1_717_200_000
"""Fixed "now" of generated data (2024-06-01T00:00:00Z): timestamps do not depend on the clock."""

_FIRST = (
    "James Mary John Patricia Robert Jennifer Michael Linda William Elizabeth David Barbara "
    "Richard Susan Joseph Jessica Thomas Sarah Charles Karen Wei Priya Ahmed Fatima Lukas Sofia "
    "Hiroshi Yuki Carlos Lucía Olivier Chloé Ivan Olga Kwame Amara"
).split()
_LAST = (
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez "
    "Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Müller "
    "Schmidt Tanaka Sato Kumar Singh Nguyen Dubois Rossi Novak Okafor Haddad"
).split()


@dataclass(slots=True, frozen=True)
class SimCountry:
    """A country of ``GET /countries``."""

    id: int
    name: str
    code: int
    iso: str
    enabled: bool
    mcc: str
    locale: str


@dataclass(slots=True, frozen=True)
class SimOperator:
    """A carrier of ``GET /operators``."""

    id: int
    short_name: str
    carrier_type: str
    country: SimCountry
    enabled: bool
    mnc: str
    email_domain: str


@dataclass(slots=True)
class SimUser:
    """A user owning devices (``principal`` is the login name)."""

    principal: str
    first: str
    last: str
    email: str
    uuid: str
    source: UserSource


@dataclass(slots=True)
class SimLabel:
    """A label: negative ids are the server's defaults, positive ids were added by an admin."""

    id: int
    name: str
    description: str
    static: bool
    query: str
    es_search: bool
    kinds: tuple[str, ...] = ()
    status: DeviceStatus | None = None

    def matches(self, device: SimDevice) -> bool:
        """Whether ``device`` belongs to this label."""
        if self.static:
            return self.id in device.labels
        if self.status is not None:
            return device.status == self.status
        if self.kinds:
            return device.kind in self.kinds and device.status != DeviceStatus.RETIRED
        return device.status != DeviceStatus.RETIRED


@dataclass(slots=True, frozen=True)
class SimProfile:
    """A configuration (APP) or policy (POLICY) applied to a device."""

    id: int
    uuid: str | None
    name: str
    policy_type: str
    profile_type: str
    last_updated_at: int


@dataclass(slots=True)
class Fix:
    """A location fix; ``lookup_result`` GPS or Cell (LookupFailure is "no fix")."""

    lookup_result: LookupResult
    latitude: float
    longitude: float
    radius: int
    captured_at_ms: int


@dataclass(slots=True)
class PendingFix:
    """A locate-now fix that appears at ``due`` (``time.monotonic()`` seconds)."""

    due: float
    fix: Fix


class SimDevice:
    """One device of the fleet; the simulator's ground truth for it."""

    __slots__ = (
        "block_reason",
        "client_id",
        "comment",
        "compliance",
        "country",
        "detail_overrides",
        "details_empty",
        "eas_uuid",
        "employee_owned",
        "extras",
        "fix",
        "has_passcode",
        "id",
        "kind",
        "labels",
        "last_connected_at",
        "locked",
        "manufacturer",
        "mdm_managed",
        "model",
        "online",
        "operator",
        "pending_fix",
        "phone_number",
        "platform",
        "quarantined",
        "registered_at",
        "seed",
        "status",
        "user",
        "uuid",
        "wifi_mac",
    )

    def __init__(
        self,
        *,
        id: int,
        uuid: str,
        kind: str,
        platform: str,
        status: DeviceStatus,
        phone_number: str | None,
        wifi_mac: str,
        user: SimUser,
        country: SimCountry,
        operator: SimOperator | None,
        manufacturer: str,
        model: str,
        seed: int,
        registered_at: int,
        last_connected_at: int,
    ) -> None:
        self.id = id
        self.uuid = uuid
        self.kind = kind
        self.platform = platform
        self.status = status
        self.phone_number = phone_number
        self.wifi_mac = wifi_mac
        self.user = user
        self.country = country
        self.operator = operator
        self.manufacturer = manufacturer
        self.model = model
        self.seed = seed
        self.registered_at = registered_at
        self.last_connected_at = last_connected_at
        self.labels: tuple[int, ...] = ()
        self.compliance = 0
        self.quarantined = 0
        self.block_reason = 0
        self.employee_owned = False
        self.mdm_managed = kind == "ios"
        self.has_passcode = True
        self.online = True
        self.locked = False
        self.client_id = 1_073_741_824 + id
        self.comment: str | None = None
        self.eas_uuid: str | None = None
        self.extras: dict[str, str | int | bool] | None = None
        self.detail_overrides: dict[str, str] | None = None
        self.details_empty = status == DeviceStatus.VERIFICATION_PENDING
        self.fix: Fix | None = None
        self.pending_fix: PendingFix | None = None

    def __repr__(self) -> str:
        return f"SimDevice({self.uuid!r}, {self.kind}, {self.status.value})"

    @property
    def status_code(self) -> int:
        """The numeric ``statusCode`` of the current status."""
        return self.status.code or 0

    @property
    def principal(self) -> str:
        """The owning user's login name."""
        return self.user.principal

    @property
    def is_pda(self) -> bool:
        """A device without a phone number."""
        return self.phone_number is None

    @property
    def name(self) -> str:
        """The ``principal:Platform:phone`` name the server shows."""
        return f"{self.user.principal}:{self.platform}:{self.phone_number or f'PDA {self.id}'}"

    @property
    def compliance_flags(self) -> ComplianceReason:
        """``compliance`` as a :class:`ComplianceReason` bitmap."""
        return ComplianceReason(self.compliance)

    def current_fix(self) -> Fix | None:
        """The newest fix, promoting a due locate-now fix (capturedAt = when it appeared)."""
        pending = self.pending_fix
        if pending is not None:
            now = time.monotonic()
            if now >= pending.due:
                appeared = time.time() - (now - pending.due)
                pending.fix.captured_at_ms = int(appeared * 1000)
                self.fix = pending.fix
                self.pending_fix = None
        return self.fix

    @property
    def details(self) -> dict[str, str]:
        """The device's details key/value map (empty while registration is pending)."""
        if self.details_empty:
            return {}
        out = _details(self)
        if self.detail_overrides:
            out.update(self.detail_overrides)
        return out


# --------------------------------------------------------------------------------------------
# Static reference data

_COUNTRIES = (
    SimCountry(183, "United States", 1, "US", True, "310", "en-US"),
    SimCountry(35, "Canada", 1, "CA", True, "302", "en-CA"),
    SimCountry(74, "United Kingdom", 44, "GB", True, "234", "en-GB"),
    SimCountry(79, "Germany", 49, "DE", True, "262", "de-DE"),
    SimCountry(73, "France", 33, "FR", True, "208", "fr-FR"),
    SimCountry(99, "India", 91, "IN", True, "404", "en-IN"),
    SimCountry(107, "Japan", 81, "JP", False, "440", "ja-JP"),
    SimCountry(29, "Brazil", 55, "BR", False, "724", "pt-BR"),
    SimCountry(153, "Côte d'Ivoire", 225, "CI", False, "612", "fr-CI"),
)
_COUNTRY_WEIGHTS = (55, 6, 10, 9, 7, 8, 2, 2, 1)

_OPERATOR_ROWS = (
    (269, "AT&T", 0, "410", "txt.att.net"),
    (4195, "Verizon", 0, "004", "vtext.com"),
    (4210, "T-Mobile", 0, "260", "tmomail.net"),
    (301, "Rogers", 1, "720", "pcs.rogers.com"),
    (512, "Vodafone UK", 2, "15", "vodafone.net"),
    (513, "O2 (UK)", 2, "10", "o2.co.uk"),
    (620, "Telekom.de", 3, "01", "t-mobile-sms.de"),
    (621, "o2-de", 3, "07", "o2online.de"),
    (700, "Orange", 4, "01", "orange.fr"),
    (801, "Airtel", 5, "10", "airtelmail.com"),
    (901, "NTT docomo", 6, "10", "docomo.ne.jp"),
    (950, "Vivo", 7, "06", "vivo.com.br"),
    (990, "MTN Côte d'Ivoire", 8, "05", "mtn.ci"),
    (991, "Disabled Carrier", 0, "999", "example.invalid"),
)

_KINDS = ("android", "ios", "windows", "macos", "android-pda")
_KIND_WEIGHTS = (45, 35, 8, 5, 7)

_MODELS: dict[str, tuple[tuple[str, str, str], ...]] = {
    # (manufacturer, model, marketing/detail model)
    "android": (
        ("samsung", "SM-S918B", "Galaxy S23 Ultra"),
        ("samsung", "SM-A546B", "Galaxy A54"),
        ("Google", "Pixel 8", "Pixel 8"),
        ("Google", "Pixel 7a", "Pixel 7a"),
        ("motorola", "moto g84", "moto g84"),
        ("Zebra Technologies", "TC52", "TC52"),
    ),
    "android-pda": (
        ("samsung", "SM-X710", "Galaxy Tab S9"),
        ("Zebra Technologies", "ET40", "ET40"),
        ("Lenovo", "TB-X606F", "Tab M10"),
    ),
    "ios": (
        ("Apple", "iPhone15,2", "iPhone 14 Pro"),
        ("Apple", "iPhone14,5", "iPhone 13"),
        ("Apple", "iPhone16,1", "iPhone 15 Pro"),
        ("Apple", "iPad13,18", "iPad"),
        ("Apple", "iPhone12,8", "iPhone SE"),
    ),
    "windows": (
        ("Dell Inc.", "Latitude 7440", "Latitude 7440"),
        ("Microsoft Corporation", "Surface Pro 9", "Surface Pro 9"),
        ("LENOVO", "ThinkPad T14", "ThinkPad T14"),
    ),
    "macos": (
        ("Apple", "MacBookPro18,3", "MacBook Pro"),
        ("Apple", "Mac14,2", "MacBook Air"),
    ),
}
_ANDROID_VERSIONS = (("14", "34"), ("13", "33"), ("12", "31"), ("11", "30"))
_IOS_VERSIONS = (("17.4.1", "21E236"), ("17.2", "21C62"), ("16.7.5", "20H307"), ("15.8", "19H370"))
_WIN_VERSIONS = ("10.0.19045", "10.0.22631")
_MAC_VERSIONS = ("14.4.1", "13.6.6")

_STATUSES = (
    DeviceStatus.ACTIVE,
    DeviceStatus.LOST,
    DeviceStatus.WIPED,
    DeviceStatus.RETIRED,
    DeviceStatus.VERIFICATION_PENDING,
    DeviceStatus.IENROLL_VERIFIED,
    DeviceStatus.IENROLL_INPROGRESS,
    DeviceStatus.IENROLL_COMPLETE,
    DeviceStatus.EXPIRED,
    DeviceStatus.BLOCKED,
    DeviceStatus.INFECTED,
    DeviceStatus.VERIFIED,
    DeviceStatus.RETIRE_PENDING,
)
_STATUS_WEIGHTS = (800, 30, 20, 50, 30, 10, 10, 5, 15, 15, 5, 5, 5)

_REASON_BITS = tuple(m.value for m in ComplianceReason)

_EXTRA_FIELDS = (
    "userId",
    "platformType",
    "registeredAt",
    "createdAt",
    "wipeReason",
    "nonGMS",
    "authOnly",
    "multiUser",
    "TLVVersion",
    "migrationStatus",
    "temporarySessionOnly",
)


def _below(rng: random.Random, n: int) -> int:
    """A fast ``randrange(n)`` (slightly biased, fine for test data)."""
    return int(rng.random() * n)


def _uuid(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


def _cum(weights: tuple[int, ...]) -> list[float]:
    total = 0.0
    out = []
    for w in weights:
        total += w
        out.append(total)
    return out


class Fleet:
    """The simulated server's data: devices (in listing order), users, labels, operators."""

    def __init__(self, devices: int = 1000, seed: int = 7) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        self.countries: list[SimCountry] = list(_COUNTRIES)
        self.operators: list[SimOperator] = [
            SimOperator(
                oid, name, "Mobile", _COUNTRIES[ci], name != "Disabled Carrier", mnc, domain
            )
            for oid, name, ci, mnc, domain in _OPERATOR_ROWS
        ]
        self.labels: list[SimLabel] = [
            SimLabel(
                -1,
                "All-Smartphones",
                "Label for all devices irrespective of OS",
                False,
                '"common.retired"=false',
                True,
            ),
            SimLabel(
                -2,
                "Android",
                "Label for all Android devices.",
                False,
                '"common.platform"="Android" AND "common.retired"=false',
                True,
                kinds=("android", "android-pda"),
            ),
            SimLabel(
                -3,
                "iOS",
                "Label for all iOS devices.",
                False,
                '"common.platform"="iOS" AND "common.retired"=false',
                True,
                kinds=("ios",),
            ),
            SimLabel(
                -4,
                "Windows",
                "Label for all Windows devices.",
                False,
                '"common.platform"="Windows" AND "common.retired"=false',
                True,
                kinds=("windows",),
            ),
            SimLabel(
                -5,
                "macOS",
                "Label for all macOS devices.",
                False,
                '"common.platform"="macOS" AND "common.retired"=false',
                True,
                kinds=("macos",),
            ),
            SimLabel(1, "Sales", "Sales team", True, "", False),
            SimLabel(2, "Field Engineers", "Engineers on the road", True, "", False),
            SimLabel(
                3,
                "Lost Devices",
                "Devices reported lost",
                False,
                '"common.status"="LOST"',
                True,
                status=DeviceStatus.LOST,
            ),
            SimLabel(4, "R&D/Prototypes", "Label with a slash and an ampersand", True, "", False),
            SimLabel(5, "Équipe Paris", "Label with non-ASCII characters", True, "", False),
            SimLabel(6, "Empty Label", "A static label with no devices", True, "", False),
        ]
        self.users: dict[str, SimUser] = {}
        self.devices: dict[str, SimDevice] = {}
        self._by_mac: dict[str, SimDevice] = {}
        self._by_phone: dict[str, list[SimDevice]] = {}
        self._by_user: dict[str, list[SimDevice]] = {}
        self._macs: set[int] = set()
        self._phones: set[str] = set()
        self._next_id = 1
        user_list = self._make_users(max(1, int(devices * 0.75)))
        self._generate(devices, user_list)

    # ---------------------------------------------------------------- generation
    def _make_users(self, n: int) -> list[SimUser]:
        rng = self.rng
        out = []
        for i in range(n):
            first = _FIRST[_below(rng, len(_FIRST))]
            last = _LAST[_below(rng, len(_LAST))]
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
                uuid=_uuid(rng),
                source=UserSource.LDAP if ldap else UserSource.LOCAL,
            )
            self.users[principal] = user
            out.append(user)
        return out

    def _new_mac(self) -> str:
        while True:
            value = self.rng.getrandbits(48) & ~(1 << 40)  # unicast
            if value not in self._macs:
                self._macs.add(value)
                return f"{value:012X}"

    def _new_phone(self, country: SimCountry) -> str:
        """A new number, unique without regard to a leading ``+``: one in ten in national
        form with a leading zero (``0…``, a JSON string), one in ten in E.164 form
        (``+…``, a JSON string), the rest digits with the country code (a JSON number)."""
        style = self._next_id % 10
        while True:
            local = f"{200 + _below(self.rng, 799)}{1_000_000 + _below(self.rng, 8_999_999)}"
            digits = f"{country.code}{local}"
            phone = f"0{local}" if style == 3 else f"+{digits}" if style == 7 else digits
            if _phone_key(phone) not in self._phones:
                self._phones.add(_phone_key(phone))
                return phone

    def _generate(self, n: int, users: list[SimUser]) -> None:
        rng = self.rng
        kind_cum = _cum(_KIND_WEIGHTS)
        status_cum = _cum(_STATUS_WEIGHTS)
        country_cum = _cum(_COUNTRY_WEIGHTS)
        ops_by_country: dict[int, list[SimOperator]] = {}
        for op in self.operators:
            if op.enabled:
                ops_by_country.setdefault(op.country.id, []).append(op)
        n_users = len(users)
        rand = rng.random
        for _ in range(n):
            kind = _KINDS[bisect(kind_cum, rand() * kind_cum[-1])]
            status = _STATUSES[bisect(status_cum, rand() * status_cum[-1])]
            country = _COUNTRIES[bisect(country_cum, rand() * country_cum[-1])]
            # a skewed pick so that some users own several devices
            r = rng.random()
            user = users[int(r * r * n_users) if rng.random() < 0.3 else _below(rng, n_users)]
            self._add_random_device(kind, status, country, user, ops_by_country)

    def _platform_for(self, kind: str, rng: random.Random) -> str:
        if kind.startswith("android"):
            return f"Android {_ANDROID_VERSIONS[_below(rng, len(_ANDROID_VERSIONS))][0]}"
        if kind == "ios":
            return f"iOS {_IOS_VERSIONS[_below(rng, len(_IOS_VERSIONS))][0]}"
        if kind == "windows":
            return f"Windows {_WIN_VERSIONS[_below(rng, len(_WIN_VERSIONS))]}"
        return f"macOS {_MAC_VERSIONS[_below(rng, len(_MAC_VERSIONS))]}"

    def _add_random_device(
        self,
        kind: str,
        status: DeviceStatus,
        country: SimCountry,
        user: SimUser,
        ops_by_country: dict[int, list[SimOperator]],
    ) -> SimDevice:
        rng = self.rng
        manufacturer, model, _ = _MODELS[kind][_below(rng, len(_MODELS[kind]))]
        phone_capable = kind in ("android", "ios") and not model.startswith("iPad")
        ops = ops_by_country.get(country.id, [])
        operator = ops[_below(rng, len(ops))] if phone_capable and ops else None
        phone = self._new_phone(country) if phone_capable else None
        registered = BASE_EPOCH - 3600 + _below(rng, 3 * 365 * 86400 - 3600)
        device = SimDevice(
            id=self._next_id,
            uuid=_uuid(rng),
            kind="android" if kind == "android-pda" else kind,
            platform=self._platform_for(kind, rng),
            status=status,
            phone_number=phone,
            wifi_mac=self._new_mac(),
            user=user,
            country=country,
            operator=operator,
            manufacturer=manufacturer,
            model=model,
            seed=rng.getrandbits(32),
            registered_at=registered,
            last_connected_at=min(BASE_EPOCH, registered + _below(rng, 400 * 86400)),
        )
        self._next_id += 1
        device.employee_owned = rng.random() < 0.3
        device.online = rng.random() >= 0.05
        device.has_passcode = rng.random() < 0.85
        if kind == "ios":
            device.mdm_managed = rng.random() < 0.95
        if rng.random() < 0.15:
            bits = rng.sample(_REASON_BITS, rng.randint(1, 3))
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
            device.eas_uuid = _uuid(rng)
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
            for key in rng.sample(_EXTRA_FIELDS, rng.randint(1, 5)):
                extras[key] = _extra_value(key, device, rng)
            device.extras = extras
        self._index(device)
        return device

    def _index(self, device: SimDevice) -> None:
        self.devices[device.uuid] = device
        self._by_mac[device.wifi_mac] = device
        if device.phone_number:
            self._by_phone.setdefault(_phone_key(device.phone_number), []).append(device)
        self._by_user.setdefault(device.user.principal, []).append(device)

    # ---------------------------------------------------------------- registration
    def register(
        self,
        *,
        kind: str,
        platform: str,
        phone_number: str | None,
        user: SimUser,
        country: SimCountry,
        operator: SimOperator | None,
        employee_owned: bool,
    ) -> SimDevice:
        """Create a device in VERIFICATION_PENDING with empty details and append it."""
        rng = self.rng
        if phone_number:
            self._phones.add(_phone_key(phone_number))
        device = SimDevice(
            id=self._next_id,
            uuid=_uuid(rng),
            kind=kind,
            platform=platform,
            status=DeviceStatus.VERIFICATION_PENDING,
            phone_number=phone_number,
            wifi_mac=self._new_mac(),
            user=user,
            country=country,
            operator=operator,
            manufacturer="",
            model="",
            seed=rng.getrandbits(32),
            registered_at=int(time.time()),
            last_connected_at=int(time.time()),
        )
        self._next_id += 1
        device.employee_owned = employee_owned
        self.users.setdefault(user.principal, user)
        self._index(device)
        return device

    def new_user(self, principal: str, first: str, last: str, email: str, ldap: bool) -> SimUser:
        """Create (and remember) a user."""
        user = SimUser(
            principal,
            first,
            last,
            email,
            _uuid(self.rng),
            UserSource.LDAP if ldap else UserSource.LOCAL,
        )
        self.users[principal] = user
        return user

    # ---------------------------------------------------------------- lookups
    def by_mac(self, mac: str) -> SimDevice | None:
        """The device with Wi-Fi MAC ``mac`` (12 upper-case hex digits)."""
        return self._by_mac.get(mac)

    def by_phone(self, phone: str) -> list[SimDevice]:
        """Devices registered with ``phone`` (a leading ``+`` on either side is ignored)."""
        return list(self._by_phone.get(_phone_key(phone), ()))

    def by_user(self, principal: str) -> list[SimDevice]:
        """Devices of user ``principal``."""
        return list(self._by_user.get(principal, ()))

    def label_named(self, name: str) -> SimLabel | None:
        """The label called ``name`` (case-insensitive)."""
        low = name.lower()
        for label in self.labels:
            if label.name.lower() == low:
                return label
        return None

    def with_status(self, status: DeviceStatus) -> Iterator[SimDevice]:
        """Devices with ``status``, in fleet order."""
        return (d for d in self.devices.values() if d.status == status)

    def label_counts(self) -> dict[int, int]:
        """Number of devices in each label."""
        counts = dict.fromkeys((lb.id for lb in self.labels), 0)
        kinds: dict[str, int] = {}
        lost = 0
        live = 0
        for d in self.devices.values():
            for lid in d.labels:
                counts[lid] += 1
            if d.status == DeviceStatus.LOST:
                lost += 1
            if d.status != DeviceStatus.RETIRED:
                live += 1
                kinds[d.kind] = kinds.get(d.kind, 0) + 1
        for lb in self.labels:
            if lb.static:
                continue
            if lb.status is not None:
                counts[lb.id] = lost
            elif lb.kinds:
                counts[lb.id] = sum(kinds.get(k, 0) for k in lb.kinds)
            else:
                counts[lb.id] = live
        return counts

    def profiles(self, device: SimDevice) -> list[SimProfile]:
        """The profiles applied to ``device`` (stable per device)."""
        base = BASE_EPOCH * 1000 - 86_400_000
        out = [
            SimProfile(
                -7,
                "misystem-default-docs-policy",
                "Default Docs@Work Policy",
                "DOCS",
                "POLICY",
                base + 739,
            ),
            SimProfile(
                -3,
                "misystem-default-security-policy",
                "Default Security Policy",
                "SECURITY",
                "POLICY",
                base + 5503,
            ),
            SimProfile(
                -2,
                "misystem-default-privacy-policy",
                "Default Privacy Policy",
                "PRIVACY",
                "POLICY",
                base + 731,
            ),
        ]
        if device.kind == "ios":
            out.append(SimProfile(-2, None, "System - iOS MDM", "MDM", "APP", base + 5501))
        out.append(
            SimProfile(
                3 + device.seed % 5,
                None,
                "Corporate Wi-Fi",
                "WIFI",
                "APP",
                base + device.seed % 100_000,
            )
        )
        return out


def _phone_key(phone: str) -> str:
    """The lookup key of a phone number: without a leading ``+``."""
    return phone.lstrip("+")


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


# --------------------------------------------------------------------------------------------
# Details


def _details(d: SimDevice) -> dict[str, str]:
    rng = random.Random(d.seed)
    fix = d.current_fix()
    mac = d.wifi_mac
    op = d.operator
    if d.kind == "android":
        return _android(d, rng, fix, mac, op)
    if d.kind == "ios":
        return _ios(d, rng, fix, mac, op)
    return _desktop(d, rng, mac)


def _fix_entries(out: dict[str, str], fix: Fix | None) -> None:
    if fix is not None:
        out["latitude"] = f"{fix.latitude}"
        out["longitude"] = f"{fix.longitude}"
        out["lat_long_last_captured_at"] = str(fix.captured_at_ms)


def _android(
    d: SimDevice, rng: random.Random, fix: Fix | None, mac: str, op: SimOperator | None
) -> dict[str, str]:
    version = d.platform.split(" ", 1)[1]
    sdk = dict(_ANDROID_VERSIONS).get(version, "34")
    imei = f"35{rng.randrange(10**12, 10**13)}"
    ram = rng.choice((4, 6, 8, 12)) * 1024**3
    storage = rng.choice((64, 128, 256)) * 1024**3
    free = rng.randrange(storage // 10, storage // 2)
    out = {
        "admin_activated": "true",
        "battery_life": str(rng.randrange(5, 101)),
        "board": d.model.lower().replace(" ", ""),
        "brand": d.manufacturer.split()[0].lower(),
        "client_name": "com.mobileiron",
        "client_version": f"12.{rng.randrange(0, 4)}.{rng.randrange(0, 10)}",
        "codename": "REL",
        "country_code": d.country.mcc,
        "device_id": f"{rng.getrandbits(64):016x}",
        "device_manufacturer": d.manufacturer,
        "device_model": d.model,
        "device_roaming_flag": "off",
        "device_type": "GSM",
        "display_size": rng.choice(("2400X1080", "2340X1080", "1920X1200")),
        "free_ram_size": f"{ram / 3 / 1024**2:.2f}M",
        "free_ram_size_bytes": str(ram // 3),
        "free_storage_size": f"{free / 1024**2:.2f}M",
        "free_storage_size_bytes": str(free),
        "imei": imei,
        "incremental": str(rng.randrange(100000, 999999)),
        "locale": d.country.locale,
        "mdm_enabled": "true",
        "os_version": sdk,
        "platform_name": version,
        "processor_architecture": "arm64-v8a",
        "prv_camera": "ON",
        "prv_device_encryption": "on",
        "prv_password_type": "2" if d.has_passcode else "-1",
        "regUuid": f"{rng.getrandbits(64):016x}",
        "security_state": "Compromised" if d.compliance & 1 or rng.random() < 0.02 else "Ok",
        "total_ram_size": f"{ram / 1024**2:.2f}M",
        "total_ram_size_bytes": str(ram),
        "total_storage_size": f"{storage / 1024**2:.2f}M",
        "total_storage_size_bytes": str(storage),
        "usb_debugging": "OFF",
        "wifi_mac_addr": mac.lower(),
    }
    if op is not None and d.phone_number:
        imsi = f"{d.country.mcc}{op.mnc}{rng.randrange(10**8, 10**9)}"
        out["current_mobile_number"] = d.phone_number
        out["current_operator_name"] = op.short_name
        out["home_operator"] = f"{op.short_name}::{d.country.mcc}{op.mnc}"
        out["imsi"] = imsi
        out["registration_operator_name"] = op.short_name
    _fix_entries(out, fix)
    return out


def _ios(
    d: SimDevice, rng: random.Random, fix: Fix | None, mac: str, op: SimOperator | None
) -> dict[str, str]:
    version = d.platform.split(" ", 1)[1]
    build = dict(_IOS_VERSIONS).get(version, "21E236")
    capacity = rng.choice((64, 128, 256, 512)) * 0.93
    imei = f"35 {rng.randrange(100000, 999999)} {rng.randrange(100000, 999999)} {rng.randrange(10)}"
    is_ipad = d.model.startswith("iPad")
    out = {
        "AvailableDeviceCapacity": repr(capacity * rng.uniform(0.2, 0.9)),
        "Battery Level": repr(rng.randrange(5, 100) / 100),
        "BluetoothMAC": f"{(int(mac, 16) + 1) & 0xFFFFFFFFFFFF:012X}",
        "BuildVersion": build,
        "CellularTechnology": "GSM",
        "Client_version": f"12.{rng.randrange(0, 4)}.{rng.randrange(0, 10)}",
        "client_name": "com.mobileiron.phoneatwork",
        "Current MCC": d.country.mcc,
        "Current MNC": op.mnc if op else "",
        "DataRoamingEnabled": "false",
        "DeviceCapacity": repr(capacity),
        "DeviceCompromised": "false",
        "DeviceName": f"{d.user.first}'s {'iPad' if is_ipad else 'iPhone'}",
        "device_manufacturer": "Apple",
        "device_model": "iPad" if is_ipad else "iPhone",
        "imei": imei.replace(" ", ""),
        "iPhone IMEI": imei,
        "iPhone MAC_ADDRESS_EN0": ":".join(mac[i : i + 2] for i in range(0, 12, 2)).lower(),
        "iPhone PRODUCT": d.model,
        "iPhone UDID": f"{rng.getrandbits(160):040x}",
        "iPhone VERSION": build,
        "ModelName": "iPad" if is_ipad else "iPhone",
        "os_version": f"iPhone OS {version} ({build})",
        "OSVersion": version,
        "PasscodeIsCompliant": "true",
        "PasscodePresent": "true" if d.has_passcode else "false",
        "platform_name": "iPhone",
        "platform_type": "iPad" if is_ipad else "iPhone",
        "processor_architecture": "ARM",
        "ProductName": d.model,
        "security_state": "0" if d.compliance & 1 else "1",
        "SerialNumber": f"{rng.getrandbits(48):012X}"[:11],
        "Voice Roaming Enabled": "true",
        "WiFiMAC": mac,
    }
    if op is not None and d.phone_number:
        phone = d.phone_number
        out["mobile_number"] = phone if phone.startswith(("+", "0")) else f"+{phone}"
        out["SIM MCC"] = d.country.mcc
        out["SIM MNC"] = op.mnc
        out["Subscriber Carrier Network"] = op.short_name
    _fix_entries(out, fix)
    return out


def _desktop(d: SimDevice, rng: random.Random, mac: str) -> dict[str, str]:
    storage = rng.choice((256, 512, 1024)) * 1024**3
    return {
        "device_manufacturer": d.manufacturer,
        "device_model": d.model,
        "platform_name": d.platform,
        "client_version": f"{rng.randrange(10, 12)}.{rng.randrange(0, 9)}.0",
        "os_version": d.platform.split(" ", 1)[1],
        "SerialNumber": f"{rng.getrandbits(48):012X}",
        "wifi_mac_addr": mac.lower(),
        "total_storage_size_bytes": str(storage),
        "free_storage_size_bytes": str(rng.randrange(storage // 10, storage // 2)),
        "battery_life": str(rng.randrange(5, 101)),
        "processor_architecture": "x64" if d.kind == "windows" else "arm64",
        "locale": d.country.locale,
        "security_state": "Ok",
        "device_encryption": "on" if rng.random() < 0.9 else "off",
    }
