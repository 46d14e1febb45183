"""The API's records: devices, labels, operators, countries, locations, passcodes, profiles.

Attributes are snake_case; the wire names (camelCase, ``@id`` attributes, the odd
``userUUID``) are mapped per field. Structs ignore fields they do not know, so the extra
fields real servers add never break decoding. Each record settles its wire-typed fields on
construction (:mod:`epmm_async.models.wire`).
"""

from __future__ import annotations

import math
import typing

import msgspec

from ..enums import DeviceStatus, LookupResult, PasscodeMeaning, ProfileType, RegType, UserSource
from .details import DeviceDetails
from .wire import WireBits, WireDetails, WireFlag, WireStamp, WireText, _Record

__all__ = ["Country", "Device", "Label", "Location", "Operator", "Passcode", "Profile"]


class Device(_Record, rename="camel", kw_only=True):
    """A device record as returned by the list, details and search endpoints.

    Every field the document lists, plus the undocumented ones real servers send. Bitmaps
    (``compliance``, ``quarantined_status``, ``block_reason``) are :class:`ComplianceReason`
    flags (None when the server sent none, or one that could not be read); ``user_source``
    is :class:`UserSource`; timestamps are aware datetimes.
    """

    id: int | None = msgspec.field(default=None, name="@id")
    uuid: WireText
    principal: WireText | None = None
    block_reason: WireBits | None = None
    client_id: int | None = None
    comment: WireText | None = None
    compliance: WireBits | None = None
    country_code: WireText | None = None
    country_id: int | None = None
    country_name: WireText | None = None
    details: WireDetails = msgspec.field(default_factory=DeviceDetails)
    device_count: int | None = None
    eas_last_sync_attempt: WireStamp | None = None
    eas_uuid: WireText | None = None
    email_address: WireText | None = None
    email_domain: WireText | None = None
    employee_owned: bool | None = None
    home_operator: WireText | None = None
    language_country_id: int | None = None
    language_id: int | None = None
    last_connected_at: WireStamp | None = None
    manufacturer: WireText | None = None
    mdm_managed: bool | None = None
    mdm_profile_url_id: WireText | None = None
    model: WireText | None = None
    name: WireText | None = None
    notify_user: bool | None = None
    operator: WireText | None = None
    operator_id: int | None = None
    phone_number: WireText | None = None
    current_phone_number: WireText | None = None
    pin: WireText | None = None
    platform: WireText | None = None
    quarantined_status: WireBits | None = None
    reg_count: int | None = None
    reg_type: RegType | None = None
    status: DeviceStatus | None = None
    status_code: int | None = None
    user_display_name: WireText | None = None
    user_first_name: WireText | None = None
    user_last_name: WireText | None = None
    user_source: UserSource | None = None
    user_uuid: WireText | None = msgspec.field(default=None, name="userUUID")
    iphone_version: WireText | None = msgspec.field(default=None, name="iPhoneVersion")
    registered_at: WireStamp | None = None
    # Seen on real servers, not in the document.
    user_id: WireText | None = None
    platform_type: WireText | None = None
    created_at: WireStamp | None = None
    wipe_reason: WireText | None = None
    non_gms: bool | None = msgspec.field(default=None, name="nonGMS")
    auth_only: bool | None = None
    multi_user: bool | None = None
    tlv_version: WireText | None = msgspec.field(default=None, name="TLVVersion")
    migration_status: WireText | None = None
    temporary_session_only: bool | None = None

    @property
    def compliant(self) -> bool:
        """True when the ``compliance`` bitmap is zero; False when it is unknown (missing, or
        a value that could not be read): an unreadable bitmap never reads as compliant."""
        return self.compliance is not None and not self.compliance

    @property
    def status_from_code(self) -> DeviceStatus | None:
        """The status implied by ``status_code`` (useful when ``status`` is absent)."""
        if self.status_code is None:
            return None
        try:
            return DeviceStatus.from_code(self.status_code)
        except ValueError:
            return None

    def __repr__(self) -> str:
        """Short: uuid, principal, platform and status (:meth:`as_dict` has every field)."""
        status = self.status or self.status_from_code
        shown = str(status) if status is not None else None
        return (
            f"Device(uuid={self.uuid!r}, principal={self.principal!r}, "
            f"platform={self.platform!r}, status={shown!r})"
        )

    def as_dict(self) -> dict[str, typing.Any]:
        """The full record: every field by attribute name, ``details`` as a plain dict."""
        record = msgspec.structs.asdict(self)
        record["details"] = dict(self.details)
        return record


class Label(_Record, rename="camel", kw_only=True):
    """A label (device group). Negative ids are the default labels."""

    id: int | None = msgspec.field(default=None, name="@id")
    name: WireText
    description: WireText | None = None
    static_label: bool | None = None
    query: WireText | None = None
    device_count: int | None = None
    is_es_search: WireFlag | None = msgspec.field(default=None, name="isESSearch")

    @property
    def is_default(self) -> bool:
        """Default labels have negative ids."""
        return self.id is not None and self.id < 0


class Operator(_Record, rename="camel", kw_only=True):
    """A mobile or fixed operator known to the server."""

    id: int | None = None
    carrier_short_name: WireText | None = None
    carrier_type: WireText | None = None
    country_code: WireText | None = None
    country_id: int | None = None
    country_name: WireText | None = None
    enabled: bool | None = None


class Country(_Record, rename="camel", kw_only=True):
    """A country known to the server.

    ``iso_alpha2_code`` is also read from the document's misspelt ``isoAplha2Code``.
    """

    country_name: WireText | None = None
    country_code: WireText | None = None
    iso_alpha2_code: WireText | None = msgspec.field(default=None, name="isoAlpha2Code")
    enabled_for_registration: WireFlag | None = None

    @property
    def enabled(self) -> bool:
        """Whether registration is enabled for the country (sent as ASCII 't')."""
        return bool(self.enabled_for_registration)


class Location(_Record, rename="camel", kw_only=True):
    """One location fix of a device."""

    uuid: WireText | None = None
    lookup_result: LookupResult | None = None
    latitude: float | None = None
    longitude: float | None = None
    radius: float | None = None
    captured_at: WireStamp | None = None

    @property
    def found(self) -> bool:
        """False when the server could not locate the device (``LookupFailure``)."""
        return (
            self.lookup_result is not LookupResult.LOOKUP_FAILURE
            and self.latitude is not None
            and self.longitude is not None
            and math.isfinite(self.latitude)
            and math.isfinite(self.longitude)
        )


class Passcode(_Record, kw_only=True):
    """An unlock passcode entry: ``value`` is Q, F, NA (iOS/Android) or a BlackBerry code."""

    uuid: WireText | None = None
    name: WireText | None = None
    value: WireText | None = None

    @property
    def meaning(self) -> PasscodeMeaning:
        """What ``value`` means; see :class:`PasscodeMeaning`."""
        text = (self.value or "").strip()
        if not text:
            return PasscodeMeaning.USER_SET_PASSCODE
        for meaning in (
            PasscodeMeaning.HAS_PASSCODE,
            PasscodeMeaning.NO_PASSCODE,
            PasscodeMeaning.UNLOCK_NOT_POSSIBLE,
        ):
            if text.upper() == meaning.value:
                return meaning
        return PasscodeMeaning.PASSCODE


class Profile(_Record, rename="camel", kw_only=True):
    """A configuration or policy applied to a device."""

    id: int | None = msgspec.field(default=None, name="@id")
    uuid: WireText | None = None
    name: WireText | None = None
    policy_type: WireText | None = None
    status: WireText | None = None
    profile_type: ProfileType | None = None
    last_updated_at: WireStamp | None = None
