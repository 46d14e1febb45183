"""Regression tests of outcomes that must mean one thing (issue items 3, 4, 8 and 9)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from aiohttp import web
from regress_support import (
    FakeEpmm,
    Hit,
    ThreadServer,
    client,
    error_type,
    invoke,
    json_reply,
    mac,
    messages,
    serving,
    uuid,
    uuids,
)

from epmm_async.ops import JobSettings, OutcomeStatus
from epmm_async.validation import MacAddress

SUCCEEDED = OutcomeStatus.SUCCEEDED
UNKNOWN = OutcomeStatus.UNKNOWN
INVALID = OutcomeStatus.INVALID


# -- item 3 --------------------------------------------------------------------------------------


async def test_item03_one_device_by_uuid_and_mac_gets_one_wipe_and_one_outcome() -> None:
    """Item 3: "One device named twice (... in the library, a uuid and a `MacAddress` of the
    same device) gets two wipes and two outcomes"; the fix: "One device, one request, one
    outcome, also when it is named by uuid and by MAC". Seeded trials name each device by
    uuid, by MAC or both, in a random order."""
    for seed in range(6):
        rng = random.Random(seed)
        count = 6
        fake = FakeEpmm(macs={mac(i): uuid(i) for i in range(1, count + 1)})
        names: list[str | MacAddress] = []
        for i in range(1, count + 1):
            forms: list[str | MacAddress] = [uuid(i), MacAddress(mac(i))]
            names.extend(rng.sample(forms, rng.choice([1, 2, 2])))
        if not any(isinstance(n, MacAddress) for n in names):
            names.append(MacAddress(mac(1)))
        if all(isinstance(n, MacAddress) for n in names):
            names.append(uuid(1))
        rng.shuffle(names)
        async with serving(fake) as url, client(url) as epmm:
            report = await epmm.ops.fan_out("wipe", names, concurrency=rng.choice([1, 4]))
        received = fake.destructive_received()
        assert received == {uuid(i): 1 for i in range(1, count + 1)}, (seed, received)
        assert sorted(o.device for o in report.outcomes) == uuids(count), (
            seed, [o.device for o in report.outcomes])
        assert {o.status for o in report.outcomes} == {SUCCEEDED}
        assert len(fake.of("by_mac")) <= count  # one lookup per MAC at most


async def test_item03_bulk_resolves_macs_one_request_per_device() -> None:
    """Item 3: "MACs are resolved to uuids (GET /devices/mac/M) whenever a job mixes both
    forms or uses bulk; one request, one outcome per device"."""
    fake = FakeEpmm(macs={mac(1): uuid(1)})
    async with serving(fake) as url, client(url) as epmm:
        report = await epmm.ops.bulk("WIPE", [uuid(1), MacAddress(mac(1)), uuid(2)])
    assert fake.destructive_received() == {uuid(1): 1, uuid(2): 1}
    assert sorted(o.device for o in report.outcomes) == [uuid(1), uuid(2)]


def test_item03_cli_uuid_and_mac_of_one_device_send_one_wipe(tmp_path: Path) -> None:
    """Item 3: "`--uuid U --mac M` ... gets two wipes and two outcomes"; the fix: one
    request and one outcome for the device."""
    server = ThreadServer(lambda: FakeEpmm(macs={mac(1): uuid(1)}))
    try:
        report = tmp_path / "report.jsonl"
        result = invoke("wipe", "--uuid", uuid(1), "--mac", mac(1), "--yes",
                        "--report", str(report), env=server.env())
        assert server.fake.destructive_received() == {uuid(1): 1}, result.output
        assert result.exit_code == 0, result.output
        assert len(report.read_text().splitlines()) == 1
    finally:
        server.close()


# -- item 4 --------------------------------------------------------------------------------------


def _gateway(status: int) -> web.Response:
    return web.Response(status=status, text=f"<html><body>{status} gateway</body></html>",
                        content_type="text/html")


async def test_item04_502_and_504_on_a_wipe_are_unknown_and_never_resent(
    tmp_path: Path,
) -> None:
    """Item 4: "502 and 504 are read as 'certainly not applied' ... A gateway error says
    nothing about whether the backend acted": the wipe is UNKNOWN, sent once, and the resume
    does not wipe again."""
    devices = uuids(2)
    gateway = {devices[0]: 502, devices[1]: 504}

    async def answer(hit: Hit) -> web.StreamResponse | None:
        if hit.kind == "wipe":
            fake.wiped.add(hit.target)  # the backend applied it; the gateway timed out
            return _gateway(gateway[hit.target])
        return None

    fake = FakeEpmm(answer=answer)
    journal = str(tmp_path / "wipe.journal")
    async with serving(fake) as url, client(url) as epmm:
        first = await epmm.ops.fan_out("wipe", devices, settings=JobSettings(journal=journal))
        assert fake.destructive_received() == {d: 1 for d in devices}, "a gateway error was retried"
        assert {o.device: o.status for o in first.outcomes} == {d: UNKNOWN for d in devices}
        resumed = await epmm.ops.fan_out("wipe", devices, settings=JobSettings(journal=journal))
    assert fake.destructive_received() == {d: 1 for d in devices}, "the resume wiped again"
    assert all(o.status is UNKNOWN and o.from_journal for o in resumed.outcomes)


@pytest.mark.parametrize("status", [502, 504])
async def test_item04_gateway_error_on_a_bulk_wipe_is_unknown_and_never_resent(
    tmp_path: Path, status: int
) -> None:
    """Item 4, bulk mode: a 502/504 on a bulk wipe leaves its devices UNKNOWN, and neither a
    retry nor the resume sends the chunk again."""
    devices = uuids(6)

    async def answer(hit: Hit) -> web.StreamResponse | None:
        return _gateway(status) if hit.kind == "bulk:WIPE" else None

    fake = FakeEpmm(answer=answer)
    journal = str(tmp_path / "wipe.journal")
    async with serving(fake) as url, client(url) as epmm:
        first = await epmm.ops.bulk("WIPE", devices, settings=JobSettings(journal=journal))
        assert len(fake.of("bulk:WIPE")) == 1
        assert {o.status for o in first.outcomes} == {UNKNOWN}
        resumed = await epmm.ops.bulk("WIPE", devices, settings=JobSettings(journal=journal))
    assert len(fake.of("bulk:WIPE")) == 1, "the resume resent the bulk wipe"
    assert all(o.status is UNKNOWN and o.from_journal for o in resumed.outcomes)


# -- item 8 --------------------------------------------------------------------------------------


def _to_login() -> web.Response:
    return web.Response(status=302, body=b"{}", content_type="application/json",
                        headers={"Location": "https://sso.example.com/login?session=s3cr3t"})


async def test_item08_redirect_on_a_wipe_is_an_error_not_success() -> None:
    """Item 8: "A 302 to a login page with body `{}` gave wipe SUCCEEDED (per device and
    bulk) although nothing was applied"; the fix: "any 3xx (a typed error, never an
    answer)"."""
    redirect_error = error_type("RedirectError")

    async def answer(hit: Hit) -> web.StreamResponse | None:
        return _to_login() if hit.kind in ("wipe", "bulk:WIPE") else None

    fake = FakeEpmm(answer=answer)
    devices = uuids(3)
    async with serving(fake) as url, client(url) as epmm:
        with pytest.raises(redirect_error) as raised:
            await epmm.devices.wipe(devices[0])
        assert "s3cr3t" not in str(raised.value)  # URLs in errors carry no query string
        per_device = await epmm.ops.fan_out("wipe", devices)
        bulk = await epmm.ops.bulk("WIPE", devices)
    for report in (per_device, bulk):
        assert len(report.outcomes) == len(devices)
        for outcome in report.outcomes:
            assert outcome.status is not SUCCEEDED, outcome
            assert outcome.error_type == "RedirectError", outcome


async def test_item08_export_csv_over_a_redirect_raises() -> None:
    """Item 8: "`export_csv()` over a 302 returned 0 rows, no error"; the fix: a 3xx is a
    typed RedirectError."""
    redirect_error = error_type("RedirectError")

    async def answer(hit: Hit) -> web.StreamResponse | None:
        return _to_login() if hit.kind == "csv" else None

    fake = FakeEpmm(answer=answer)
    async with serving(fake) as url, client(url) as epmm:
        with pytest.raises(redirect_error):
            rows = [row async for row in epmm.devices.export_csv()]
            assert rows != [], "a redirect was read as an empty export"


# -- item 9 --------------------------------------------------------------------------------------


async def test_item09_wiped_device_is_invalid_in_both_modes() -> None:
    """Item 9: "a wiped device is `failed` per device (HTTP 400 'is wiped') and `invalid` in
    bulk"; the fix: "The server refusing a device for its state or identity (invalid uuid,
    wiped, retired, not found, unlock `NA`) is the same outcome in both modes and is not
    `failed`"."""
    devices = uuids(3)
    fake = FakeEpmm()
    fake.wiped.update(devices)  # answers: 400 "Device ... is wiped" / invalidDevices
    async with serving(fake) as url, client(url) as epmm:
        per_device = await epmm.ops.fan_out("wipe", devices)
        locked = await epmm.ops.fan_out("lock", devices, reason="audit")
        bulk = await epmm.ops.bulk("WIPE", devices)
    for report in (per_device, locked, bulk):
        assert [o.status for o in report.outcomes] == [INVALID] * len(devices), [
            (o.action, o.status.value, o.error) for o in report.outcomes]


async def test_item09_unlock_answered_na_is_not_succeeded() -> None:
    """Item 9: "an unlock answered with passcode `NA` (unlock not possible) counts as
    `succeeded`"; the fix: it is INVALID (refused for the device's state), in both modes."""
    devices = uuids(2)

    async def answer(hit: Hit) -> web.StreamResponse | None:
        if hit.kind == "unlock":
            return json_reply({"messages": messages("1 passcode(s) sent."), "passcodes": {
                "passcode": [{"uuid": hit.target, "name": "d", "value": "NA"}]}})
        if hit.kind == "bulk:UNLOCK":
            return json_reply({"messages": messages(f"{len(devices)} passcode(s) sent."),
                               "passcodes": {"passcode": [
                                   {"uuid": u, "name": "d", "value": "NA"} for u in devices]}})
        return None

    fake = FakeEpmm(answer=answer)
    async with serving(fake) as url, client(url) as epmm:
        per_device = await epmm.ops.fan_out("unlock", devices, reason="help desk")
        bulk = await epmm.ops.bulk("UNLOCK", devices)
    for report in (per_device, bulk):
        assert [o.status for o in report.outcomes] == [INVALID] * len(devices), [
            (o.status.value, o.passcode) for o in report.outcomes]
