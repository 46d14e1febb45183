"""Labels: the server's default and custom labels, which devices belong to each, and how
many."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from epmm_async.enums import DeviceStatus

from .device import SimDevice

__all__ = ["SimLabel", "default_labels", "label_counts"]


@dataclass(slots=True)
class SimLabel:
    """A label: negative ids are the server's defaults, positive ids were added by an admin.

    A static label's members are the devices whose ``labels`` hold its id; a dynamic one's
    follow its ``status`` or ``kinds``, or ``matcher`` (a dynamic label created through API v2,
    its criteria compiled by the v2 query language).
    """

    id: int
    name: str
    description: str
    static: bool
    query: str
    es_search: bool
    kinds: tuple[str, ...] = ()
    status: DeviceStatus | None = None
    matcher: Callable[[SimDevice], bool] | None = None

    def matches(self, device: SimDevice) -> bool:
        """Whether ``device`` belongs to this label."""
        if self.static:
            return self.id in device.labels
        if self.matcher is not None:
            return self.matcher(device)
        if self.status is not None:
            return device.status == self.status
        if self.kinds:
            return device.kind in self.kinds and device.status != DeviceStatus.RETIRED
        return device.status != DeviceStatus.RETIRED


def default_labels() -> list[SimLabel]:
    """The labels of a new fleet: the server's defaults (negative ids) and some custom ones,
    names with a slash, an ampersand and non-ASCII characters among them."""
    return [
        SimLabel(
            -1,
            "All-Smartphones",
            "Label for all devices irrespective of OS",
            False,
            '"common.retired"=false',
            True,
        ),
        SimLabel(
            -2,
            "Android",
            "Label for all Android devices.",
            False,
            '"common.platform"="Android" AND "common.retired"=false',
            True,
            kinds=("android", "android-pda"),
        ),
        SimLabel(
            -3,
            "iOS",
            "Label for all iOS devices.",
            False,
            '"common.platform"="iOS" AND "common.retired"=false',
            True,
            kinds=("ios",),
        ),
        SimLabel(
            -4,
            "Windows",
            "Label for all Windows devices.",
            False,
            '"common.platform"="Windows" AND "common.retired"=false',
            True,
            kinds=("windows",),
        ),
        SimLabel(
            -5,
            "macOS",
            "Label for all macOS devices.",
            False,
            '"common.platform"="macOS" AND "common.retired"=false',
            True,
            kinds=("macos",),
        ),
        SimLabel(1, "Sales", "Sales team", True, "", False),
        SimLabel(2, "Field Engineers", "Engineers on the road", True, "", False),
        SimLabel(
            3,
            "Lost Devices",
            "Devices reported lost",
            False,
            '"common.status"="LOST"',
            True,
            status=DeviceStatus.LOST,
        ),
        SimLabel(4, "R&D/Prototypes", "Label with a slash and an ampersand", True, "", False),
        SimLabel(5, "Équipe Paris", "Label with non-ASCII characters", True, "", False),
        SimLabel(6, "Empty Label", "A static label with no devices", True, "", False),
    ]


def label_counts(labels: list[SimLabel], devices: Iterable[SimDevice]) -> dict[int, int]:
    """Number of devices in each of ``labels`` (the counts :meth:`SimLabel.matches` gives)."""
    counts = dict.fromkeys((lb.id for lb in labels), 0)
    kinds: dict[str, int] = {}
    lost = 0
    live = 0
    matched = [lb for lb in labels if not lb.static and lb.matcher is not None]
    for d in devices:
        for lid in d.labels:
            if lid in counts:
                counts[lid] += 1
        for lb in matched:
            if lb.matcher is not None and lb.matcher(d):
                counts[lb.id] += 1
        if d.status == DeviceStatus.LOST:
            lost += 1
        if d.status != DeviceStatus.RETIRED:
            live += 1
            kinds[d.kind] = kinds.get(d.kind, 0) + 1
    for lb in labels:
        if lb.static or lb.matcher is not None:
            continue
        if lb.status is not None:
            counts[lb.id] = lost
        elif lb.kinds:
            counts[lb.id] = sum(kinds.get(k, 0) for k in lb.kinds)
        else:
            counts[lb.id] = live
    return counts
