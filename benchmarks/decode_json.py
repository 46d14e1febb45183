"""1. Decode, JSON: a 20,000-device list body into ``Device`` structs, ours vs bare msgspec.

The headline body is the simulator's default, typed the way Jettison writes real replies
(numbers and booleans bare, other text quoted, ``details`` as ``[{"entry": [...]}]``).

Bare = one ``msgspec.json.decode`` of the same body into plain structs with the same fields,
every scalar field a union ``str | int | float | bool | None`` (so it accepts whatever the
server sent and converts nothing), ``details`` as key/value structs. Ours does what bare does
not: text fields give the text the server meant, timestamps become aware datetimes, bitmaps
and enums are typed, empty values read None, details are kept for a lazy mapping. Also
reported: ours against ``json.loads`` (what public clients use), the quoted dialect, the
cost of then reading every device's details (bare decodes them up front, ours on access), and
ours against a bare decode that keeps details raw as ours does (like for like on laziness).
"""

from __future__ import annotations

import gc
import json
import time
from collections.abc import Callable

import msgspec

from epmm_async.core.decode import decode_devices

from .bodies import DEVICES, list_bodies
from .harness import Result, Spread, run_rounds, spread

NAME = "decode_json"
ROUNDS = 7
TARGET = 1.5

Scalar = str | int | float | bool | None


class BareEntry(msgspec.Struct):
    key: Scalar = None
    value: Scalar = None


class BareDetails(msgspec.Struct):
    entry: list[BareEntry] | BareEntry | None = None


class BareDevice(msgspec.Struct, rename="camel"):
    uuid: Scalar = None
    id: Scalar = msgspec.field(default=None, name="@id")
    principal: Scalar = None
    block_reason: Scalar = None
    client_id: Scalar = None
    comment: Scalar = None
    compliance: Scalar = None
    country_code: Scalar = None
    country_id: Scalar = None
    country_name: Scalar = None
    details: list[BareDetails | str] | BareDetails | Scalar = None
    device_count: Scalar = None
    eas_last_sync_attempt: Scalar = None
    eas_uuid: Scalar = None
    email_address: Scalar = None
    email_domain: Scalar = None
    employee_owned: Scalar = None
    home_operator: Scalar = None
    language_country_id: Scalar = None
    language_id: Scalar = None
    last_connected_at: Scalar = None
    manufacturer: Scalar = None
    mdm_managed: Scalar = None
    mdm_profile_url_id: Scalar = None
    model: Scalar = None
    name: Scalar = None
    notify_user: Scalar = None
    operator: Scalar = None
    operator_id: Scalar = None
    phone_number: Scalar = None
    current_phone_number: Scalar = None
    pin: Scalar = None
    platform: Scalar = None
    quarantined_status: Scalar = None
    reg_count: Scalar = None
    reg_type: Scalar = None
    status: Scalar = None
    status_code: Scalar = None
    user_display_name: Scalar = None
    user_first_name: Scalar = None
    user_last_name: Scalar = None
    user_source: Scalar = None
    user_uuid: Scalar = msgspec.field(default=None, name="userUUID")
    iphone_version: Scalar = msgspec.field(default=None, name="iPhoneVersion")
    registered_at: Scalar = None
    user_id: Scalar = None
    platform_type: Scalar = None
    created_at: Scalar = None
    wipe_reason: Scalar = None
    non_gms: Scalar = msgspec.field(default=None, name="nonGMS")
    auth_only: Scalar = None
    multi_user: Scalar = None
    tlv_version: Scalar = msgspec.field(default=None, name="TLVVersion")
    migration_status: Scalar = None
    temporary_session_only: Scalar = None


class BareDeviceList(msgspec.Struct):
    device: list[BareDevice] | BareDevice | None = None


class LazyBareDevice(BareDevice):
    """Bare, but ``details`` kept raw as ours keeps them (parsed on first access)."""

    details: msgspec.Raw = msgspec.field(default=msgspec.Raw(b"null"))  # type: ignore[assignment]


class LazyBareDeviceList(msgspec.Struct):
    device: list[LazyBareDevice] | LazyBareDevice | None = None


class LazyBareEnvelope(msgspec.Struct, rename="camel"):
    devices: LazyBareDeviceList | None = None
    messages: object = None
    total_count: Scalar = None


class BareEnvelope(msgspec.Struct, rename="camel"):
    devices: BareDeviceList | None = None
    messages: object = None
    total_count: Scalar = None


def timed(call: Callable[[], object]) -> float:
    """Seconds for one call, garbage collection collected before and paused during (as
    timeit does), so a collection triggered by the other side's garbage is not billed here."""
    gc.collect()
    gc.disable()
    try:
        t0 = time.perf_counter()
        call()
        return time.perf_counter() - t0
    finally:
        gc.enable()


_bare = msgspec.json.Decoder(BareEnvelope)
_lazy_bare = msgspec.json.Decoder(LazyBareEnvelope)


def bare_decode(body: bytes) -> list[BareDevice]:
    """The bare minimum: one msgspec call into plain structs with scalar unions."""
    env = _bare.decode(body)
    found = env.devices.device if env.devices is not None else None
    if found is None:
        return []
    return found if isinstance(found, list) else [found]


def _read_all_details(body: bytes) -> None:
    for device in decode_devices(body, "json").devices:
        dict(device.details)


def _ratio(
    ours: Callable[[], object], base: Callable[[], object], rounds: int
) -> tuple[Spread, list[float], list[float]]:
    a, b = run_rounds(rounds, lambda: timed(ours), lambda: timed(base))
    return spread([x / y for x, y in zip(a, b, strict=True)]), a, b


def run() -> Result:
    typed = list_bodies()["json"]
    quoted = list_bodies(dialect="quoted")["json"]
    for body in (typed, quoted):
        ours_page = decode_devices(body, "json")
        bare_list = bare_decode(body)
        assert len(ours_page.devices) == len(bare_list) == DEVICES
        assert [d.uuid for d in ours_page.devices] == [d.uuid for d in bare_list]
    assert b'"statusCode":97' in typed and b'"statusCode":"97"' in quoted

    def ours() -> object:
        return decode_devices(typed, "json")

    headline, a, b = _ratio(ours, lambda: bare_decode(typed), ROUNDS)
    vs_loads, _, c = _ratio(ours, lambda: json.loads(typed), ROUNDS)
    on_quoted, _, _ = _ratio(
        lambda: decode_devices(quoted, "json"), lambda: bare_decode(quoted), ROUNDS
    )
    with_details, _, _ = _ratio(lambda: _read_all_details(typed), lambda: bare_decode(typed), 3)
    vs_lazy, _, _ = _ratio(ours, lambda: _lazy_bare.decode(typed), ROUNDS)
    return Result(
        name=NAME,
        title="Decode JSON list (20k devices, typed)",
        ratio=headline,
        ratio_meaning="ours time / bare msgspec (scalar unions) time on the typed body",
        target=f"<= {TARGET}x, and <= 1.0x json.loads",
        met=headline.median <= TARGET and vs_loads.median <= 1.0,
        figures={
            "body_bytes": len(typed),
            "ours_devices_per_s": round(DEVICES / spread(a).median),
            "bare_devices_per_s": round(DEVICES / spread(b).median),
            "json_loads_devices_per_s": round(DEVICES / spread(c).median),
            "ours_over_json_loads": round(vs_loads.median, 2),
            "quoted_ours_over_bare": round(on_quoted.median, 2),
            "quoted_body_bytes": len(quoted),
            "details_all_read_over_bare": round(with_details.median, 2),
            "ours_over_bare_with_raw_details": round(vs_lazy.median, 2),
        },
        rounds=ROUNDS,
    )
