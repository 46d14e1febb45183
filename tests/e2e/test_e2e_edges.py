"""Edge shapes on a fresh simulator: one-element lists (sent as a bare object by real servers),
bulk form bodies, and ``invalidDevices`` nested in ``messages``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest

from epmm_async import BadRequestError, DeviceStatus, EpmmClient, MacAddress
from epmm_async.simulator import Simulator

World = tuple[Simulator, EpmmClient]
UNKNOWN = "00000000-0000-4000-8000-00000000abcd"


async def test_one_element_lists(world: World, truth: Any) -> None:
    sim, epmm = world
    fleet = list(sim.fleet.devices.values())
    # Paging one device at a time: every page holds a single device.
    lost = [d for d in fleet if d.status == DeviceStatus.LOST]
    got = [d async for d in epmm.devices.iter("LOST", page_size=1)]
    assert [d.uuid for d in got] == [d.uuid for d in lost]
    for device, sd in zip(got, lost, strict=True):
        truth.check_device(device, sd)
    # A label with exactly one member.
    only = next(d for d in fleet if d.status == DeviceStatus.ACTIVE)
    only.labels = (*only.labels, 6)
    members = await epmm.devices.by_label("Empty Label")
    assert [d.uuid for d in members] == [only.uuid]
    labels = {lb.name: lb for lb in await epmm.labels.list()}
    assert labels["Empty Label"].device_count == 1
    # A user with a single (non-retired) device.
    owners: dict[str, list[str]] = {}
    for d in fleet:
        if d.status != DeviceStatus.RETIRED:
            owners.setdefault(d.principal, []).append(d.uuid)
    principal, uuids = next((p, u) for p, u in owners.items() if len(u) == 1)
    assert [d.uuid for d in await epmm.devices.by_user(principal)] == uuids
    # Bulk UNLOCK with one device that works and one that fails.
    ok = next(d for d in fleet if d.status == DeviceStatus.ACTIVE and d.kind == "android")
    wiped = next(d for d in fleet if d.status == DeviceStatus.WIPED)
    result = await epmm.bulk.action("UNLOCK", [ok.uuid, wiped.uuid, UNKNOWN])
    assert [p.uuid for p in result.passcodes] == [ok.uuid]
    assert len(result.failed_devices) == 1 and wiped.uuid in result.failed_devices[0]
    assert result.invalid_devices == [UNKNOWN]


@pytest.mark.parametrize("form_body", [False, True])
async def test_invalid_devices_nested_in_messages(
    quirks_name: str, fmt: str, world_factory: Callable[..., Any], form_body: bool
) -> None:
    async with world_factory(quirks_name, fmt) as (sim, epmm):
        sim.set_quirks(dataclasses.replace(
            sim.quirks, invalid_devices_in_messages=True, bulk_form_body=True
        ))
        active = [d for d in sim.fleet.devices.values() if d.status == DeviceStatus.ACTIVE][:3]
        lock = await epmm.bulk.action(
            "LOCK", [d.uuid for d in active] + [UNKNOWN], form_body=form_body
        )
        assert lock.invalid_devices == [UNKNOWN]
        assert sim.ledger.actions("LOCK") == {d.uuid: 1 for d in active}
        sent = await epmm.bulk.send_message(
            [MacAddress(active[0].wifi_mac), MacAddress("02:00:00:00:00:09")],
            message="hi there", mode="sms", form_body=form_body,
        )
        assert sent.invalid_devices == ["020000000009"]
        assert sent.message_sent_failed is True
        assert any("1 device" in m for m in sent.messages)
        assert sim.ledger.actions("MESSAGE") == {active[0].uuid: 1}
        by_uuid = await epmm.bulk.send_message(
            [active[1].uuid], message="x", mode="email", subject="s", form_body=form_body
        )
        assert by_uuid.invalid_devices == [] and by_uuid.message_sent_failed is False


async def test_form_body_refused_when_server_does_not_read_it(world: World) -> None:
    sim, epmm = world
    sim.set_quirks(dataclasses.replace(sim.quirks, bulk_form_body=False))
    uuid = next(iter(sim.fleet.devices))
    with pytest.raises(BadRequestError):
        await epmm.bulk.action("LOCK", [uuid], form_body=True)
    assert len(sim.ledger) == 0
