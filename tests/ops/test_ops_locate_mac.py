"""Locate-now of devices named by Wi-Fi MAC: sent to the ``/mac/`` endpoints, not refused.

Found by review: an all-MAC job skips MAC resolution, and its keys reached
``devices.locate`` as plain strings, which the uuid check refused: every device INVALID and
not one request sent.
"""

from __future__ import annotations

from epmm_async import EpmmClient, MacAddress
from epmm_async.ops import OutcomeStatus
from epmm_async.simulator import Simulator


async def test_locate_now_by_mac_reaches_the_server(sim: Simulator, epmm: EpmmClient) -> None:
    devices = [d for d in sim.fleet.devices.values() if d.kind == "android" and d.online][:3]
    assert len(devices) == 3
    macs = [MacAddress(d.wifi_mac) for d in devices]
    report = await epmm.ops.locate_now(macs, deadline=5, interval=0.05)
    assert {o.status for o in report.outcomes} <= {OutcomeStatus.SUCCEEDED}
    assert len(report.outcomes) == 3
    mac_paths = [r.path for r in sim.received.requests if "/locate/mac/" in r.path]
    for d in devices:
        assert any(p.endswith(d.wifi_mac) for p in mac_paths), d.wifi_mac
