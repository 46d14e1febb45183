"""Build the HTTP requests of every endpoint, validated, quoted and sized. No I/O.

A request is an :class:`ApiRequest`: method, the path below ``/api/v1/dm`` with every
caller-supplied segment percent-quoted, the query already encoded (so the size the operations
layer budgets for is byte for byte what goes on the wire), an optional form body, and how
safe it is to send twice (:class:`Safety`).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from typing import Required, TypedDict, Unpack
from urllib.parse import quote

import msgspec

from ..enums import BulkAction, DeviceStatus, DeviceType, MessageMode, Platform, ProfileType
from ..errors import ValidationError
from ..validation import (
    MacAddress,
    device_key,
    is_mac_key,
    validate_encodable,
    validate_text,
    validate_uuid,
)
from .actions import ACTIONS, ActionSpec, Safety, action_spec
from .decode import ResponseFormat

__all__ = [
    "API_PREFIX",
    "ApiRequest",
    "RegistrationFields",
    "Safety",
    "bulk_action",
    "device_action",
    "encode_query",
    "send_message",
]

API_PREFIX = "/api/v1/dm"


@functools.lru_cache(maxsize=1024)
def _q(value: str, what: str = "parameter") -> str:
    # Every reserved character is quoted, '/' included: a user id or label name is one segment.
    # Text that cannot be encoded (a lone surrogate) is the caller's error, named, before
    # anything is sent. Cached: a fleet job quotes the same reason for every device.
    return quote(validate_encodable(value, what=what), safe="")


def _segment(value: str) -> str:
    # A segment of only dots ("." or "..") would be a dot-segment that servers and proxies
    # resolve away (RFC 3986 5.2.4): /labels/.. is /api/v1/dm/. Quote the dots too.
    quoted = _q(value)
    return quoted.replace(".", "%2E") if quoted in (".", "..") else quoted


def encode_query(params: Sequence[tuple[str, str]]) -> str:
    """``k=v&k=v`` with each key and value percent-quoted (space as %20, never '+')."""
    return "&".join(f"{_q(k)}={_q(v, k)}" for k, v in params)


class ApiRequest(msgspec.Struct, frozen=True):
    """One HTTP request to the API, ready for a transport. (A frozen struct, not a dataclass:
    one is built per request, and a frozen dataclass pays a ``object.__setattr__`` per field.)"""

    method: str
    path: str
    """Below :data:`API_PREFIX`, already quoted; no query string."""
    query: str = ""
    """Already encoded query string, without the '?'."""
    form: str | None = None
    """An ``application/x-www-form-urlencoded`` body, already encoded."""
    safety: Safety = Safety.READ
    device_count: int = 0
    """How many devices the request acts on (bulk requests), for logs."""
    prefix: str = API_PREFIX
    """The API's root below the server's: ``/api/v1/dm``, or ``/api/v2`` for v2 calls."""
    json: bytes | None = None
    """An ``application/json`` body, already encoded (v2 calls)."""
    wire: ResponseFormat | None = None
    """The format the answer must come in (v2 speaks only JSON); None: the client's."""

    @property
    def named_path(self) -> str:
        """The path errors, logs and test transports name: below ``/api/v1/dm`` for v1
        calls, from the API's root for others (``/api/v2/devices``), so the two never read
        alike."""
        return self.path if self.prefix == API_PREFIX else self.prefix + self.path

    @property
    def target(self) -> str:
        """Path and query as they appear in the request line (below any base path)."""
        full = self.prefix + self.path
        return f"{full}?{self.query}" if self.query else full

    def request_line_length(self, base_path: str = "") -> int:
        """Bytes of ``METHOD SP target SP HTTP/1.1``: what a front end's line limit counts."""
        return len(self.method) + len(base_path) + len(self.target.encode()) + len(" ") * 2 + 8


def device_segment(device: object) -> str:
    """The path tail for a device: ``{uuid}`` or ``mac/{MAC}``, validated."""
    if type(device) is str:  # a plain string is a uuid (device_key's rule): the usual case
        return validate_uuid(device)
    key = device_key(device)
    return f"mac/{key}" if is_mac_key(key) else key


def _bool(value: bool) -> str:
    return "true" if value else "false"


# -- reads ---------------------------------------------------------------------------------


def list_devices(
    status: str | DeviceStatus | None, offset: int | None = None, limit: int | None = None
) -> ApiRequest:
    """``GET /devices?status=&offset=&limit=``."""
    params: list[tuple[str, str]] = []
    if status is not None:
        params.append(("status", DeviceStatus.parse(status).value))
    if offset is not None:
        if not isinstance(offset, int) or offset < 0:
            raise ValidationError(f"offset must be a non-negative integer, got {offset!r}")
        params.append(("offset", str(offset)))
    if limit is not None:
        if not isinstance(limit, int) or limit < 1:
            raise ValidationError(f"limit must be a positive integer, got {limit!r}")
        params.append(("limit", str(limit)))
    return ApiRequest("GET", "/devices", encode_query(params))


def get_device(uuid: str) -> ApiRequest:
    """``GET /devices/{uuid}``."""
    return ApiRequest("GET", f"/devices/{validate_uuid(uuid)}")


def export_csv() -> ApiRequest:
    """``GET /devices.csv``."""
    return ApiRequest("GET", "/devices.csv")


def by_phone(numbers: Sequence[str]) -> ApiRequest:
    """``GET /phones/{n1,n2}``: each number quoted, joined by commas."""
    if not numbers:
        raise ValidationError("by_phone needs at least one phone number")
    parts = []
    for number in numbers:
        text = validate_text(number if not isinstance(number, int) else str(number),
                             what="phone number").strip()
        if "," in text:
            raise ValidationError(f"phone number {number!r} must not contain a comma")
        parts.append(_q(text, "phone number"))
    joined = ",".join(parts)
    if joined in (".", ".."):
        joined = joined.replace(".", "%2E")
    return ApiRequest("GET", "/phones/" + joined)


def by_user(user_id: str) -> ApiRequest:
    """``GET /users/{userid}``."""
    return ApiRequest("GET", "/users/" + _segment(validate_text(user_id, what="user id")))


def by_label(name: str) -> ApiRequest:
    """``GET /labels/{labelname}``."""
    return ApiRequest("GET", "/labels/" + _segment(validate_text(name, what="label name")))


def by_mac(mac: str) -> ApiRequest:
    """``GET /devices/mac/{MAC}``."""
    return ApiRequest("GET", f"/devices/mac/{MacAddress(mac)}")


def labels() -> ApiRequest:
    """``GET /labels``."""
    return ApiRequest("GET", "/labels")


def operators() -> ApiRequest:
    """``GET /operators``."""
    return ApiRequest("GET", "/operators")


def countries() -> ApiRequest:
    """``GET /countries``."""
    return ApiRequest("GET", "/countries")


def profiles(uuid: str) -> ApiRequest:
    """``GET /devices/profiles/{uuid}``."""
    return ApiRequest("GET", f"/devices/profiles/{validate_uuid(uuid)}")


# -- per-device actions ------------------------------------------------------------------------

def device_action(action: str, device: object, reason: str | None = None) -> ApiRequest:
    """Retire, lock, unlock, wipe or wakeup one device by uuid or MAC (the registry's facts).

    The reason goes once, as ``Reason`` (the document's table and examples; DESIGN.md).
    """
    spec = ACTIONS.get(action)
    if spec is None or spec.bulk is None:
        choices = ", ".join(name for name, s in ACTIONS.items() if s.bulk is not None)
        raise ValidationError(f"unknown device action {action!r}; expected one of: {choices}")
    segment = device_segment(device)
    query = _cached_reason_query(action, reason) if type(reason) is str else (
        _reason_query(spec, reason))
    return ApiRequest(spec.method, f"/devices/{spec.name}/{segment}", query, safety=spec.safety)


def _reason_query(spec: ActionSpec, reason: str | None) -> str:
    """``Reason=...`` as the action's rule allows it: checked, then quoted."""
    checked = spec.check_reason(reason)
    return f"Reason={_q(checked, 'Reason')}" if checked is not None else ""


@functools.lru_cache(maxsize=256)
def _cached_reason_query(action: str, reason: str) -> str:
    # A fleet job sends one reason to every device: checked and quoted once. (A refused
    # reason raises, and an exception is never cached.)
    return _reason_query(ACTIONS[action], reason)


def locate(device: object, locate_now: bool = False) -> ApiRequest:
    """``GET /devices/locate/{uuid|mac/MAC}[?locatenow=true]``."""
    segment = device_segment(device)
    query = "locatenow=true" if locate_now else ""
    spec = ACTIONS["locate_now" if locate_now else "locate"]
    return ApiRequest(spec.method, f"/devices/locate/{segment}", query, safety=spec.safety)


def enable_roaming(uuid: str, *, voice: bool, data: bool) -> ApiRequest:
    """``PUT /devices/enableroaming/{uuid}?voice=&data=`` (both required)."""
    if not isinstance(voice, bool) or not isinstance(data, bool):
        raise ValidationError("set_roaming needs voice=True/False and data=True/False")
    query = encode_query([("voice", _bool(voice)), ("data", _bool(data))])
    spec = ACTIONS["roaming"]
    return ApiRequest(
        spec.method, f"/devices/enableroaming/{validate_uuid(uuid)}", query, safety=spec.safety
    )


def repush_profile(
    uuid: str, profile_id: int | str | None = None, profile_type: str | ProfileType | None = None
) -> ApiRequest:
    """``PUT /devices/repushprofile/{uuid}[?id=&type=APP|POLICY]``."""
    params: list[tuple[str, str]] = []
    if profile_id is not None:
        text = str(profile_id).strip()
        if not text.lstrip("-").isdigit():
            raise ValidationError(f"profile id must be an integer, got {profile_id!r}")
        params.append(("id", text))
    if profile_type is not None:
        params.append(("type", ProfileType.parse(profile_type).value))
    spec = ACTIONS["repush"]
    return ApiRequest(
        spec.method,
        f"/devices/repushprofile/{validate_uuid(uuid)}",
        encode_query(params),
        safety=spec.safety,
    )


class RegistrationFields(TypedDict, total=False):
    """What registering a device takes (``epmm.devices.register(**fields)``)."""

    user_id: Required[str]
    platform: Required[str | Platform]
    country_code: Required[str | int]
    phone_number: str | None
    """Required unless ``device_type`` is PDA."""
    device_type: str | DeviceType
    """Default PHONE."""
    operator: str | None
    employee_owned: bool | None
    import_user_from_ldap: bool
    """Default False: a local user, who needs first name, last name and email."""
    user_first_name: str | None
    user_last_name: str | None
    user_email_address: str | None
    notify_user: bool | None
    notify_user_by_sms: bool | None


def register(**fields: Unpack[RegistrationFields]) -> ApiRequest:
    """``PUT /register``, with the document's required-field rules checked first.

    Each parameter is sent once, under the spelling of the document's parameter table
    (``countryCode``, though both its examples say ``countrycode``; ``notifyuserbysms``, as
    the table has it): servers match names case-insensitively (DESIGN.md).
    """
    unknown = set(fields) - set(RegistrationFields.__annotations__)
    if unknown:
        raise ValidationError(f"register got unknown fields: {', '.join(sorted(unknown))}")
    for name in ("user_id", "platform", "country_code"):
        if name not in fields:
            raise ValidationError(f"register requires {name}")
    user_id = fields["user_id"]
    platform = fields["platform"]
    country_code = fields["country_code"]
    phone_number = fields.get("phone_number")
    device_type = fields.get("device_type", DeviceType.PHONE)
    operator = fields.get("operator")
    employee_owned = fields.get("employee_owned")
    import_user_from_ldap = fields.get("import_user_from_ldap", False)
    user_first_name = fields.get("user_first_name")
    user_last_name = fields.get("user_last_name")
    user_email_address = fields.get("user_email_address")
    notify_user = fields.get("notify_user")
    notify_user_by_sms = fields.get("notify_user_by_sms")
    kind = DeviceType.parse(device_type)
    plat = Platform.parse(platform)
    validate_text(user_id, what="user_id")
    code = str(country_code).strip() if country_code is not None else ""
    if not code.lstrip("+").isdigit():
        raise ValidationError(f"country_code must be a numeric country code, got {country_code!r}")
    if phone_number is None or not str(phone_number).strip():
        if kind is not DeviceType.PDA:
            raise ValidationError("phone_number is required unless device_type is PDA")
        phone = "PDA"
    else:
        phone = str(phone_number).strip()
    if not import_user_from_ldap:
        missing = [
            name
            for name, value in (
                ("user_first_name", user_first_name),
                ("user_last_name", user_last_name),
                ("user_email_address", user_email_address),
            )
            if value is None or not str(value).strip()
        ]
        if missing:
            raise ValidationError(
                "a local user (import_user_from_ldap=False) requires " + ", ".join(missing)
            )
        if user_email_address is not None and "@" not in user_email_address:
            raise ValidationError(f"user_email_address {user_email_address!r} is not an email")
    params: list[tuple[str, str]] = [
        ("phoneNumber", phone),
        ("userId", user_id),
        ("platform", plat.value),
        ("deviceType", kind.value),
        ("countryCode", code),
        ("importUserFromLdap", _bool(import_user_from_ldap)),
    ]
    optional: Iterable[tuple[str, str | None]] = (
        ("operator", operator),
        ("userFirstName", user_first_name),
        ("userLastName", user_last_name),
        ("userEmailAddress", user_email_address),
        ("isEmployeeOwned", None if employee_owned is None else _bool(employee_owned)),
        ("notifyUser", None if notify_user is None else _bool(notify_user)),
        ("notifyuserbysms", None if notify_user_by_sms is None else _bool(notify_user_by_sms)),
    )
    params.extend((k, v) for k, v in optional if v is not None)
    spec = ACTIONS["register"]
    return ApiRequest(spec.method, "/register", encode_query(params), safety=spec.safety)


# -- bulk --------------------------------------------------------------------------------------


def bulk_action(
    action: str | BulkAction, uuids: Sequence[str], *, form_body: bool = False
) -> ApiRequest:
    """``POST /bulk/devices/{ACTION}`` with repeated ``deviceUuids`` (query or form body).

    The uuids must already be validated; size limits are the caller's to check
    (:meth:`ApiRequest.request_line_length`).
    """
    act = BulkAction.parse(action)
    if not uuids:
        raise ValidationError("a bulk action needs at least one device uuid")
    encoded = "&".join(f"deviceUuids={_q(u)}" for u in uuids)
    safety = action_spec(act).safety
    path = f"/bulk/devices/{act.value}"
    if form_body:
        return ApiRequest("POST", path, "", form=encoded, safety=safety, device_count=len(uuids))
    return ApiRequest("POST", path, encoded, safety=safety, device_count=len(uuids))


def send_message(
    targets: Sequence[str],
    *,
    message: str,
    mode: str | MessageMode,
    subject: str | None = None,
    by_mac: bool = False,
    form_body: bool = False,
) -> ApiRequest:
    """``POST /bulk/sendmessage`` (``deviceUuid``, no "s") or ``/bulk/mac/sendmessage``.

    The document calls the MAC parameter both ``deviceWiFiMacAddress`` (heading and example)
    and ``macAddress`` (prose); the former is sent (DESIGN.md).
    """
    kind = MessageMode.parse(mode)
    validate_text(message, what="message")
    if subject is not None and kind is not MessageMode.EMAIL:
        raise ValidationError("subject is valid only with mode=email")
    if not targets:
        raise ValidationError("send_message needs at least one device")
    params: list[tuple[str, str]] = [("mode", kind.value), ("message", message)]
    if subject is not None:
        params.append(("subject", subject))
    name = "deviceWiFiMacAddress" if by_mac else "deviceUuid"
    devices = "&".join(f"{name}={_q(t)}" for t in targets)
    head = encode_query(params)
    path = "/bulk/mac/sendmessage" if by_mac else "/bulk/sendmessage"
    safety = ACTIONS["message"].safety
    if form_body:
        return ApiRequest("POST", path, head, form=devices, safety=safety,
                          device_count=len(targets))
    return ApiRequest("POST", path, f"{head}&{devices}", safety=safety,
                      device_count=len(targets))
