"""Locate-now knows iOS from the device's record, not only from the server's answer.

The document says ``locatenow`` "does not apply to iOS"; whether a server answers
``locateNow: false`` for an iOS device is not known. The server here echoes ``locateNow: true``
for every device and never produces a new fix for iOS, and counts the requests it receives:
an iOS device given as a ``Device`` (or found by a MAC look-up) gets one plain locate and no
polls, while the same device named by uuid alone is polled until the deadline.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from loopback import serve

from epmm_async import ClientConfig, Device, DeviceDetails, EpmmClient, MacAddress, RetryPolicy
from epmm_async.ops import Freshness, OutcomeStatus
from epmm_async.ops.locate import ignores_locate_now

IOS = "11111111-1111-4111-8111-111111111111"
IOS_BY_TYPE = "22222222-2222-4222-8222-222222222222"
IOS_BY_MAC = "33333333-3333-4333-8333-333333333333"
ANDROID = "44444444-4444-4444-8444-444444444444"
IOS_MAC = "38AA3C62BFAD"
KINDS = {IOS: "ios", IOS_BY_TYPE: "ios", IOS_BY_MAC: "ios", ANDROID: "android"}

LAST_KNOWN = {"lookupResult": "Cell", "latitude": 37.386433, "longitude": -122.053902,
              "radius": 1500, "capturedAt": 1285802663000}
NEW_FIX = {"lookupResult": "GPS", "latitude": 48.85, "longitude": 2.35, "radius": 5,
           "capturedAt": 1285802999000}


def _fix(uuid: str, fix: dict[str, Any]) -> dict[str, Any]:
    return {"uuid": uuid, **fix}


class EchoServer:
    """Answers every locate with ``locateNow: true``; only Android ever gets a new fix."""

    def __init__(self) -> None:
        self.locates: Counter[str] = Counter()
        self.locate_now: Counter[str] = Counter()

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/api/v1/dm/devices/locate/{uuid}", self.locate)
        app.router.add_get("/api/v1/dm/devices/mac/{mac}", self.by_mac)
        return app

    async def locate(self, request: web.Request) -> web.Response:
        uuid = request.match_info["uuid"]
        self.locates[uuid] += 1
        now = request.query.get("locatenow", "").lower() == "true"
        if now:
            self.locate_now[uuid] += 1
        fixes = [_fix(uuid, LAST_KNOWN)]
        polls = self.locates[uuid] - self.locate_now[uuid]
        if KINDS[uuid] == "android" and polls >= 1:
            fixes.append(_fix(uuid, NEW_FIX))
        # The echo: true whenever it was asked, iOS included.
        return web.json_response({"deviceUuid": uuid, "messages": "",
                                  "locations": {"location": fixes}, "locateNow": now})

    async def by_mac(self, request: web.Request) -> web.Response:
        assert request.match_info["mac"] == IOS_MAC
        record = {"@id": "3", "uuid": IOS_BY_MAC, "platform": "iOS 17.4.1",
                  "platformType": "IOS", "status": "ACTIVE"}
        return web.json_response({"messages": {"message": "1 Device(s) returned"},
                                  "devices": {"device": record}, "totalCount": 1})


@pytest.fixture
async def echo() -> AsyncIterator[tuple[EpmmClient, EchoServer]]:
    server = EchoServer()
    async with serve(server.app()) as url, EpmmClient(
        url,
        username="u",
        password="p",
        config=ClientConfig(retry=RetryPolicy.none()),
    ) as epmm:
        yield epmm, server


async def test_an_ios_device_given_as_a_device_is_not_polled(
    echo: tuple[EpmmClient, EchoServer],
) -> None:
    epmm, server = echo
    devices = [
        Device(uuid=IOS, platform="iOS 15.8"),
        Device(uuid=IOS_BY_TYPE, platform_type="IPHONE"),
        Device(uuid=ANDROID, platform="Android 14"),
    ]
    report = await epmm.ops.locate_now(devices, deadline=2.0, interval=0.05, jitter=0.0)
    by = {o.device: o for o in report.outcomes}
    assert report.count(OutcomeStatus.SUCCEEDED) == 3
    for uuid in (IOS, IOS_BY_TYPE):
        outcome = by[uuid]
        assert outcome.freshness is Freshness.UNSUPPORTED
        assert outcome.polls == 0 and outcome.attempts == 1
        assert outcome.location is not None and outcome.location.latitude == LAST_KNOWN["latitude"]
        assert "iOS" in (outcome.detail or "")
        # One plain locate: no locate-now asked, no poll.
        assert server.locates[uuid] == 1 and server.locate_now[uuid] == 0
    # Android is asked and polled as before, and its fresh fix lands.
    assert by[ANDROID].freshness is Freshness.FRESH
    assert by[ANDROID].location is not None and by[ANDROID].location.latitude == 48.85
    assert server.locate_now[ANDROID] == 1 and server.locates[ANDROID] == 2


async def test_the_same_device_by_uuid_alone_is_polled_until_the_deadline(
    echo: tuple[EpmmClient, EchoServer],
) -> None:
    # Nothing says it is iOS but the server's answer, which echoes true: the contrast.
    epmm, server = echo
    report = await epmm.ops.locate_now([IOS], deadline=0.3, interval=0.05, jitter=0.0)
    (outcome,) = report.outcomes
    assert outcome.freshness is Freshness.STALE
    assert outcome.polls >= 3
    assert server.locate_now[IOS] == 1 and server.locates[IOS] == 1 + outcome.polls


async def test_a_mac_look_up_the_job_makes_anyway_tells_ios(
    echo: tuple[EpmmClient, EchoServer],
) -> None:
    # A job mixing uuids and MACs looks each MAC up; the record found says iOS.
    epmm, server = echo
    report = await epmm.ops.locate_now(
        [MacAddress(IOS_MAC), ANDROID], deadline=2.0, interval=0.05, jitter=0.0
    )
    by = {o.device: o for o in report.outcomes}
    assert by[IOS_BY_MAC].freshness is Freshness.UNSUPPORTED
    assert by[IOS_BY_MAC].mac == IOS_MAC and by[IOS_BY_MAC].polls == 0
    assert server.locates[IOS_BY_MAC] == 1 and server.locate_now[IOS_BY_MAC] == 0
    assert by[ANDROID].freshness is Freshness.FRESH


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        (Device(uuid=IOS, platform="iOS 15.8"), True),
        (Device(uuid=IOS, platform="  ios 17.4.1"), True),
        (Device(uuid=IOS, platform="iPadOS 17.1"), True),
        (Device(uuid=IOS, platform_type="IOS"), True),
        (Device(uuid=IOS, platform_type="IPHONE"), True),
        (Device(uuid=IOS, platform_type="iPad"), True),
        (Device(uuid=IOS, details=DeviceDetails.from_mapping({"platform_name": "iPhone"})), True),
        (Device(uuid=IOS, details=DeviceDetails.from_mapping({"platform_type": "iPad"})), True),
        (Device(uuid=IOS, platform="Android 4.4", platform_type="IOS"), False),  # platform wins
        (Device(uuid=IOS, platform="macOS 14.2"), False),
        (Device(uuid=IOS, platform="Windows 10"), False),
        (Device(uuid=IOS, platform_type="ANDROID"), False),
        (Device(uuid=IOS, platform="iOSphere 2"), False),
        (Device(uuid=IOS), False),
    ],
)
def test_ignores_locate_now(record: Device, expected: bool) -> None:
    assert ignores_locate_now(record) is expected
