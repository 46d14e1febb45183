"""1. Decode, JSON: a 20,000-device list body into ``Device`` structs, ours vs bare msgspec.

Bare = ``msgspec.json.decode`` straight into equivalent structs: the same fields with plain
types (lax mode, as the server quotes scalars), details as a list of key/value structs. It
does none of the work ours does on top (mapped-XML quirks: empty elements as None, epoch
milliseconds as datetimes, enums and bitmaps, edge-whitespace checks, lazy details mapping).
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

import msgspec

from epmm_async.core.decode import _dec_hook, _DevicesEnvelope, _fast_json, decode_devices

from .bodies import DEVICES, list_bodies
from .harness import Result, run_rounds, spread

NAME = "decode_json"
ROUNDS = 5
TARGET = 1.3

Text = str | None
Num = int | None
Flag = bool | None
Stamp = str | int | None  # ISO text, or epoch milliseconds: kept raw


class BareEntry(msgspec.Struct):
    key: str
    value: Text = None


class BareDetails(msgspec.Struct):
    entry: list[BareEntry] = []


class BareDevice(msgspec.Struct, rename="camel"):
    uuid: str
    id: Num = msgspec.field(default=None, name="@id")
    principal: Text = None
    block_reason: Num = None
    client_id: Num = None
    comment: Text = None
    compliance: Num = None
    country_code: Text = None
    country_id: Num = None
    country_name: Text = None
    details: BareDetails | Text = None
    device_count: Num = None
    eas_last_sync_attempt: Stamp = None
    eas_uuid: Text = None
    email_address: Text = None
    email_domain: Text = None
    employee_owned: Flag = None
    home_operator: Text = None
    language_country_id: Num = None
    language_id: Num = None
    last_connected_at: Stamp = None
    manufacturer: Text = None
    mdm_managed: Flag = None
    mdm_profile_url_id: Text = None
    model: Text = None
    name: Text = None
    notify_user: Flag = None
    operator: Text = None
    operator_id: Num = None
    phone_number: Text = None
    current_phone_number: Text = None
    pin: Text = None
    platform: Text = None
    quarantined_status: Num = None
    reg_count: Num = None
    reg_type: Text = None
    status: Text = None
    status_code: Num = None
    user_display_name: Text = None
    user_first_name: Text = None
    user_last_name: Text = None
    user_source: Num = None
    user_uuid: Text = msgspec.field(default=None, name="userUUID")
    iphone_version: Text = msgspec.field(default=None, name="iPhoneVersion")
    registered_at: Stamp = None
    user_id: Text = None
    platform_type: Text = None
    created_at: Stamp = None
    wipe_reason: Text = None
    non_gms: Flag = msgspec.field(default=None, name="nonGMS")
    auth_only: Flag = None
    multi_user: Flag = None
    tlv_version: Text = msgspec.field(default=None, name="TLVVersion")
    migration_status: Text = None
    temporary_session_only: Flag = None


class BareDeviceList(msgspec.Struct):
    device: list[BareDevice] = []


class BareMessages(msgspec.Struct):
    message: Text = None


class BareEnvelope(msgspec.Struct, rename="camel"):
    devices: BareDeviceList | None = None
    messages: BareMessages | None = None
    total_count: Num = None


def same_types_decode(prepared: bytes) -> object:
    """One msgspec call into the library's own envelope and Device types, on a body whose
    quirks were already rewritten (outside the timing)."""
    return msgspec.json.decode(prepared, type=_DevicesEnvelope, strict=False, dec_hook=_dec_hook)


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


def bare_decode(body: bytes) -> list[BareDevice]:
    """The bare minimum: one msgspec call into plain structs."""
    env = msgspec.json.decode(body, type=BareEnvelope, strict=False)
    return env.devices.device if env.devices is not None else []


def run() -> Result:
    body = list_bodies()["json"]
    ours_page = decode_devices(body, "json")
    bare_list = bare_decode(body)
    assert len(ours_page.devices) == len(bare_list) == DEVICES
    assert [d.uuid for d in ours_page.devices] == [d.uuid for d in bare_list]

    def ours() -> float:
        return timed(lambda: decode_devices(body, "json"))

    def bare() -> float:
        return timed(lambda: bare_decode(body))

    prepared = _fast_json(body)

    def same_types() -> float:
        return timed(lambda: same_types_decode(prepared))

    a, b = run_rounds(ROUNDS, ours, bare)
    ratios = spread([x / y for x, y in zip(a, b, strict=True)])
    # Context: bare msgspec into our own public types (enums, flags, datetimes, lazy details)
    # on the body with its quirks rewritten beforehand: what the quirk handling costs.
    c, d = run_rounds(ROUNDS, ours, same_types)
    pipeline = spread([x / y for x, y in zip(c, d, strict=True)])
    return Result(
        name=NAME,
        title="Decode JSON list (20k devices)",
        ratio=ratios,
        ratio_meaning="ours time / bare msgspec time (lower is better)",
        target=f"<= {TARGET}x",
        met=ratios.median <= TARGET,
        figures={
            "body_bytes": len(body),
            "ours_devices_per_s": round(DEVICES / spread(a).median),
            "bare_devices_per_s": round(DEVICES / spread(b).median),
            "ours_over_same_types": round(pipeline.median, 2),
            "same_types_devices_per_s": round(DEVICES / spread(d).median),
        },
        rounds=ROUNDS,
    )
