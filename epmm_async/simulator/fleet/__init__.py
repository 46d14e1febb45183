"""Deterministic ground truth of the simulated EPMM server: devices, users, labels, operators.

Everything is derived from one seed, so the same seed gives the same uuids, order and values.
One module a step: :mod:`.records` (plain records), :mod:`.reference` (the static tables),
:mod:`.device` (a device and the details map it reports), :mod:`.labels`, :mod:`.generate`
(the seeded draws) and :mod:`.store` (the :class:`Fleet`, its indexes and registration).
"""

from .device import SimDevice
from .labels import SimLabel
from .records import Fix, PendingFix, SimCountry, SimOperator, SimProfile, SimUser
from .reference import BASE_EPOCH
from .store import Fleet

__all__ = [
    "BASE_EPOCH",
    "Fix",
    "Fleet",
    "PendingFix",
    "SimCountry",
    "SimDevice",
    "SimLabel",
    "SimOperator",
    "SimProfile",
    "SimUser",
]
