"""Regression tests of knobs and inputs (issue items 10 to 13)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import sys
import threading
import time
from collections.abc import Awaitable, Callable

import pytest
from regress_support import (
    PASSWORD,
    USERNAME,
    FakeEpmm,
    client,
    invoke,
    serving,
    uuids,
)

from epmm_async import ClientConfig, EpmmClient
from epmm_async.errors import DecodeError, ValidationError
from epmm_async.ops import JobSettings, Operations, OutcomeStatus

MiB = 1024 * 1024


# -- item 10 -------------------------------------------------------------------------------------


async def _time_plain_calls(epmm: EpmmClient, n: int = 10) -> float:
    started = time.monotonic()
    for device in uuids(n, start=500):
        await epmm.devices.wakeup(device)
    return time.monotonic() - started


async def test_item10_job_rate_limits_that_job_only() -> None:
    """Item 10: "`ops.bulk(..., rate=2)` replaces the client's rate limiter for good (later
    plain calls are throttled too)"; the fix: "a per-job `rate` limits that job only,
    composed with the client's limit"."""
    fake = FakeEpmm()
    async with serving(fake) as url, client(url) as epmm:
        limiter = epmm.sender.rate_limiter
        job = asyncio.create_task(epmm.ops.bulk("LOCK", uuids(4), max_uuids=1, rate=2))
        await fake.wait_for(lambda: len(fake.of("bulk:LOCK")) >= 1)
        during = await _time_plain_calls(epmm)  # at 2/s, ten calls would take 4.5 s
        report = await job
        assert during < 2.0, f"plain calls during the job were throttled ({during:.1f}s)"
        assert report.count(OutcomeStatus.SUCCEEDED) == 4
        after = await _time_plain_calls(epmm)
        assert after < 2.0, f"plain calls after the job were throttled ({after:.1f}s)"
        assert epmm.sender.rate_limiter is limiter


async def test_item10_job_settings_do_not_change_bulk_concurrency() -> None:
    """Item 10: "passing any `JobSettings` raises bulk concurrency from 4 to 16"; the fix:
    "one default each whatever else is passed"."""
    fake = FakeEpmm(delay=0.1)
    devices = uuids(24)
    async with serving(fake) as url, client(url) as epmm:
        await epmm.ops.bulk("LOCK", devices, max_uuids=1)
        plain = fake.max_in_flight
        fake.max_in_flight = 0
        await epmm.ops.bulk("LOCK", devices, max_uuids=1,
                            settings=JobSettings(progress=lambda progress: None))
        with_settings = fake.max_in_flight
    assert plain <= 4, plain
    assert with_settings <= 4, f"{with_settings} bulk requests in flight with JobSettings"


async def test_item10_form_body_send_message_chunks_by_count_only() -> None:
    """Item 10: "`send_message(form_body=True)` still chunks by request line"; with the
    devices in the body, 500 uuids fit one request."""
    fake = FakeEpmm()
    devices = uuids(500)
    async with serving(fake) as url, client(url) as epmm:
        report = await epmm.ops.send_message(devices, message="hello", mode="pns",
                                             form_body=True)
    sent = fake.of("sendmessage")
    assert len(sent) == 1, f"{len(sent)} requests for 500 uuids in a form body"
    assert len(sent[0].values("deviceUuid")) == 500
    assert report.count(OutcomeStatus.SUCCEEDED) == 500


KNOB_CASES: dict[str, Callable[[Operations, list[str]], Awaitable[object]]] = {
    "bulk max_uuids=0": lambda ops, d: ops.bulk("LOCK", d, max_uuids=0),
    "bulk concurrency=0": lambda ops, d: ops.bulk("LOCK", d, concurrency=0),
    "bulk rate=0": lambda ops, d: ops.bulk("LOCK", d, rate=0),
    "bulk rate=-1": lambda ops, d: ops.bulk("LOCK", d, rate=-1),
    "fan_out concurrency=0": lambda ops, d: ops.fan_out("wakeup", d, concurrency=0),
    "fan_out rate=0": lambda ops, d: ops.fan_out("wakeup", d, rate=0),
    "fan_out rate=-1": lambda ops, d: ops.fan_out("wakeup", d, rate=-1),
    "each concurrency=0": lambda ops, d: ops.each("wakeup", d, _no_call, concurrency=0),
    "each rate=-1": lambda ops, d: ops.each("wakeup", d, _no_call, rate=-1),
    "send_message concurrency=0": lambda ops, d: ops.send_message(
        d, message="hi", mode="pns", concurrency=0),
    "send_message rate=0": lambda ops, d: ops.send_message(  # type: ignore[call-arg]
        d, message="hi", mode="pns", rate=0),
    "locate_now concurrency=0": lambda ops, d: ops.locate_now(
        d, concurrency=0, deadline=1, interval=0.1),
    "locate_now rate=-1": lambda ops, d: ops.locate_now(  # type: ignore[call-arg]
        d, rate=-1, deadline=1, interval=0.1),
}


async def _no_call(device: object) -> object:
    raise AssertionError(f"a job with an invalid knob made a call for {device}")


def _knob_case(url: str, name: str, result: list[str], done: Callable[[], None]) -> None:
    """Run one case in this thread's own event loop; append what went wrong (or "")."""

    async def run() -> None:
        async with client(url) as epmm:
            await KNOB_CASES[name](epmm.ops, uuids(3))

    try:
        asyncio.run(run())
    except ValidationError:
        result.append("")
    except BaseException as exc:  # reported by the test
        result.append(f"{type(exc).__name__}: {exc}")
    else:
        result.append("accepted")
    finally:
        done()


async def test_item10_zero_and_negative_knobs_are_validation_errors_before_sending() -> None:
    """Item 10: "`max_uuids=0` silently means the default; `rate` is missing on some
    operations"; the fix: "`rate` and `concurrency` on every operation ... zero or negative
    values are a `ValidationError`" (before anything is sent). Each case runs in a thread of
    its own, so one that never ends (``concurrency=0`` on the old code) is reported too."""
    fake = FakeEpmm()
    wrong: list[str] = []
    async with serving(fake) as url:
        for name in KNOB_CASES:
            sent = len(fake.hits)
            result: list[str] = []
            ended = asyncio.Event()
            signal_end = functools.partial(asyncio.get_running_loop().call_soon_threadsafe,
                                           ended.set)
            threading.Thread(target=_knob_case, daemon=True,
                             args=(url, name, result, signal_end)).start()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ended.wait(), 10)
            if not result:
                wrong.append(f"{name}: still running after 10 s")
            elif result[0]:
                wrong.append(f"{name}: {result[0]}")
            if len(fake.hits) != sent:
                wrong.append(f"{name}: {len(fake.hits) - sent} request(s) sent")
    assert not wrong, "\n".join(wrong)


def test_item10_every_operation_takes_rate_and_concurrency() -> None:
    """Item 10: "`rate` is missing on some operations"; the fix: "`rate` and `concurrency`
    on every operation"."""
    missing = [
        f"{name}({knob}=)"
        for name in ("stream_bulk", "stream_send_message", "stream_fan_out", "stream_each",
                     "stream_locate_now")
        for knob in ("rate", "concurrency")
        if knob not in inspect.signature(getattr(Operations, name)).parameters
    ]
    assert missing == []


# -- item 11 -------------------------------------------------------------------------------------

LONE = "\udcff"
"""A lone surrogate, as surrogate-escaped command-line arguments carry."""


async def test_item11_lone_surrogate_is_a_validation_error_before_sending() -> None:
    """Item 11: "A lone surrogate (`\\udcff` ...) in a reason, message or user id raises
    `UnicodeEncodeError`, and a fan-out raises an `ExceptionGroup` with no outcomes"; the fix:
    "Text that cannot be encoded is a `ValidationError` before anything is sent"."""
    fake = FakeEpmm()
    devices = uuids(3)
    async with serving(fake) as url, client(url) as epmm:
        cases: dict[str, Callable[[], Awaitable[object]]] = {
            "lock reason": lambda: epmm.devices.lock(devices[0], f"audit {LONE}"),
            "wipe reason": lambda: epmm.devices.wipe(devices[0], f"lost {LONE}"),
            "user id": lambda: epmm.devices.by_user(f"bob{LONE}"),
            "register user id": lambda: epmm.devices.register(
                user_id=f"bob{LONE}", platform="ANDROID", country_code=1,
                phone_number="5550100", import_user_from_ldap=True),
            "message": lambda: epmm.ops.send_message(devices, message=f"hi {LONE}", mode="pns"),
            "fan-out lock reason": lambda: epmm.ops.fan_out(
                "lock", devices, reason=f"audit {LONE}"),
            "fan-out wipe reason": lambda: epmm.ops.fan_out(
                "wipe", devices, reason=f"lost {LONE}"),
        }
        wrong: list[str] = []
        for name, run in cases.items():
            try:
                await run()
            except ValidationError:
                continue
            except BaseException as exc:
                wrong.append(f"{name}: {type(exc).__name__}")
            else:
                wrong.append(f"{name}: accepted")
    assert not wrong, "\n".join(wrong)
    assert fake.hits == [], f"{len(fake.hits)} request(s) sent"


# -- item 12 -------------------------------------------------------------------------------------

SECRET = "Sekr1tPW9"
MISTYPED = [
    f"https//admin:{SECRET}@epmm.example.com",
    f"admin:{SECRET}@epmm.example.com",
    f"ftp://epmm.example.com/?token={SECRET}",
]


@pytest.mark.parametrize("url", MISTYPED)
def test_item12_mistyped_base_url_is_never_echoed_with_its_secret(url: str) -> None:
    """Item 12: "A mistyped base URL ... is echoed in the `ValidationError` with the password
    in it"; the fix: "URLs in errors and logs never carry user info or a query string"."""
    with pytest.raises(ValidationError) as raised:
        EpmmClient(url, username=USERNAME, password=PASSWORD)
    assert SECRET not in str(raised.value)
    assert SECRET not in repr(raised.value.args)


@pytest.mark.parametrize("url", MISTYPED)
def test_item12_cli_never_prints_the_secret_of_a_mistyped_url(url: str) -> None:
    """Item 12: the mistyped URL "reaches the CLI's stderr" with its secret; it must not."""
    result = invoke("--url", url, "devices", "list",
                    env={"EPMM_USERNAME": USERNAME, "EPMM_PASSWORD": PASSWORD})
    assert result.exit_code != 0
    assert SECRET not in result.output
    stderr = getattr(result, "stderr", "")
    assert SECRET not in stderr


# -- item 13 -------------------------------------------------------------------------------------

HEADER = b"Device UUID,Name,Platform\r\n"


def _rows(size: int) -> bytes:
    row = b"00000001-0000-4000-8000-000000000001,phone,Android\r\n"
    return row * (size // len(row))


_EXPORT = """
import asyncio, sys
from epmm_async import EpmmClient
from epmm_async.errors import EpmmError

async def main(url):
    async with EpmmClient(url, username="admin", password="x") as epmm:
        rows = 0
        try:
            async for _ in epmm.devices.export_csv():
                rows += 1
        except EpmmError as exc:
            print("typed error", type(exc).__name__)
            return
        print("rows", rows)

asyncio.run(main(sys.argv[1]))
"""


async def test_item13_unbalanced_quote_in_2_mib_export_is_not_quadratic() -> None:
    """Item 13: "one unbalanced quote makes `feed` super-quadratic (2 MiB: 125 s of CPU)";
    the fix: "The CSV export parser is linear in the body, never blocks the loop for long".
    Run in a subprocess so the old code can be stopped; 30 s is a generous bound."""
    body = HEADER + b'00000002-0000-4000-8000-000000000002,"unbalanced,Android\r\n' + _rows(
        2 * MiB)
    fake = FakeEpmm(csv_body=body)
    async with serving(fake) as url:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", _EXPORT, url,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        try:
            _out, err = await asyncio.wait_for(proc.communicate(), 30)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            pytest.fail("parsing a 2 MiB export with one unbalanced quote took over 30 s")
    assert proc.returncode == 0, err.decode()[-2000:]  # rows, or a typed error: not a crash


async def test_item13_invalid_utf8_is_a_decode_error() -> None:
    """Item 13: "invalid UTF-8 ... raise untyped errors"; the fix: "a typed `DecodeError` for
    bad bytes"."""
    fake = FakeEpmm(csv_body=HEADER + b"00000002-0000-4000-8000-000000000002,\xff\xfe\xfa,iOS\r\n")
    async with serving(fake) as url, client(url) as epmm:
        with pytest.raises(DecodeError):
            [row async for row in epmm.devices.export_csv()]


async def test_item13_huge_field_is_parsed_or_a_decode_error() -> None:
    """Item 13: "a huge field raise[s] untyped errors"; the fix: rows, or a typed error
    naming the parser's cap."""
    field = b'"' + b"x" * (1 * MiB) + b'"'
    fake = FakeEpmm(csv_body=HEADER + b"00000002-0000-4000-8000-000000000002," + field
                    + b",iOS\r\n")
    async with serving(fake) as url, client(url) as epmm:
        try:
            [row async for row in epmm.devices.export_csv()]
        except DecodeError:
            pass


async def test_item13_export_honours_max_response_bytes() -> None:
    """Item 13: "`max_response_bytes` is ignored" by the export; the fix: it is honoured."""
    fake = FakeEpmm(csv_body=HEADER + _rows(200_000))
    async with serving(fake) as url, client(url, max_response_bytes=50_000) as epmm:
        with pytest.raises(DecodeError):
            rows = [row async for row in epmm.devices.export_csv()]
            assert len(rows) == 0, f"{len(rows)} rows read past a 50,000-byte cap"


def test_item13_default_max_response_bytes_is_well_below_512_mib() -> None:
    """Item 13: "The default `max_response_bytes` is 512 MiB per request"; the fix: "a size a
    20,000-device page fits in, not 512 MiB"."""
    default = ClientConfig().max_response_bytes
    assert isinstance(default, int) and 1 * MiB <= default <= 256 * MiB, default
    epmm = EpmmClient("https://epmm.example.com", username=USERNAME, password=PASSWORD)
    effective = epmm.sender.config.max_response_bytes
    assert effective <= 256 * MiB, effective
