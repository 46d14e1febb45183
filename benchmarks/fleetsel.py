"""Pick devices of a simulator fleet by their ground truth (same seed = same fleet)."""

from __future__ import annotations

from collections.abc import Callable

from epmm_async.enums import DeviceStatus
from epmm_async.simulator import Fleet, SimDevice


def pick(devices: int, count: int, keep: Callable[[SimDevice], bool], seed: int = 7) -> list[str]:
    """The first ``count`` uuids of ``Fleet(devices, seed)`` that ``keep`` accepts."""
    chosen = [d.uuid for d in Fleet(devices, seed).devices.values() if keep(d)][:count]
    if len(chosen) < count:
        raise RuntimeError(f"only {len(chosen)} devices match out of {devices}")
    return chosen


def lockable(d: SimDevice) -> bool:
    """A device every per-device action accepts."""
    return d.status == DeviceStatus.ACTIVE
