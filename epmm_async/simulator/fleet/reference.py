"""Static reference data the fleet is drawn from: countries, carriers, models, versions,
names and the weights of each pick. Nothing here depends on the seed."""

from __future__ import annotations

from epmm_async.enums import ComplianceReason, DeviceStatus

from .records import SimCountry, SimOperator

__all__ = [
    "ANDROID_VERSIONS",
    "BASE_EPOCH",
    "COUNTRIES",
    "COUNTRY_WEIGHTS",
    "EXTRA_FIELDS",
    "FIRST_NAMES",
    "IOS_VERSIONS",
    "KINDS",
    "KIND_WEIGHTS",
    "LAST_NAMES",
    "MAC_VERSIONS",
    "MODELS",
    "OPERATORS",
    "REASON_BITS",
    "STATUSES",
    "STATUS_WEIGHTS",
    "WIN_VERSIONS",
]

BASE_EPOCH = 1_717_200_000
"""Fixed "now" of generated data (2024-06-01T00:00:00Z): timestamps do not depend on the clock."""

FIRST_NAMES = (
    "James Mary John Patricia Robert Jennifer Michael Linda William Elizabeth David Barbara "
    "Richard Susan Joseph Jessica Thomas Sarah Charles Karen Wei Priya Ahmed Fatima Lukas Sofia "
    "Hiroshi Yuki Carlos Lucía Olivier Chloé Ivan Olga Kwame Amara"
).split()
"""First names of generated users."""
LAST_NAMES = (
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez "
    "Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Müller "
    "Schmidt Tanaka Sato Kumar Singh Nguyen Dubois Rossi Novak Okafor Haddad"
).split()
"""Last names of generated users."""

COUNTRIES = (
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
"""Countries of ``GET /countries``, in its order."""
COUNTRY_WEIGHTS = (55, 6, 10, 9, 7, 8, 2, 2, 1)
"""Relative share of generated devices in each of :data:`COUNTRIES`."""

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

OPERATORS = tuple(
    SimOperator(oid, name, "Mobile", COUNTRIES[ci], name != "Disabled Carrier", mnc, domain)
    for oid, name, ci, mnc, domain in _OPERATOR_ROWS
)
"""Carriers of ``GET /operators``, in its order (one of them disabled)."""

KINDS = ("android", "ios", "windows", "macos", "android-pda")
"""Kinds of generated device (``android-pda``: an Android device without a phone number)."""
KIND_WEIGHTS = (45, 35, 8, 5, 7)
"""Relative share of each of :data:`KINDS`."""

MODELS: dict[str, tuple[tuple[str, str, str], ...]] = {
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
"""Models of each kind: ``(manufacturer, model, marketing/detail model)``."""
ANDROID_VERSIONS = (("14", "34"), ("13", "33"), ("12", "31"), ("11", "30"))
"""Android releases with their SDK level."""
IOS_VERSIONS = (("17.4.1", "21E236"), ("17.2", "21C62"), ("16.7.5", "20H307"), ("15.8", "19H370"))
"""iOS releases with their build."""
WIN_VERSIONS = ("10.0.19045", "10.0.22631")
"""Windows builds."""
MAC_VERSIONS = ("14.4.1", "13.6.6")
"""macOS releases."""

STATUSES = (
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
"""Statuses of generated devices."""
STATUS_WEIGHTS = (800, 30, 20, 50, 30, 10, 10, 5, 15, 15, 5, 5, 5)
"""Relative share of each of :data:`STATUSES`."""

REASON_BITS = tuple(m.value for m in ComplianceReason)
"""Every compliance reason bit."""

EXTRA_FIELDS = (
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
"""Undocumented device fields real servers add to some records."""
