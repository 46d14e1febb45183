"""EPMM server simulator: a real aiohttp server on loopback that behaves like EPMM.

>>> async with Simulator(devices=1000, seed=7) as sim:   # doctest: +SKIP
...     sim.url, sim.username, sim.password

The simulator encodes replies itself and never imports the client's decoding or transport code.
"""

from .faults import Faults
from .fleet import Fix, Fleet, SimCountry, SimDevice, SimLabel, SimOperator, SimProfile, SimUser
from .ledger import DestructiveRequest, Ledger, LedgerEntry, ReceivedLog, ReceivedRequest, Stats
from .server import API, CSV_COLUMNS, Simulator
from .wire import Quirks

__all__ = [
    "API",
    "CSV_COLUMNS",
    "DestructiveRequest",
    "Faults",
    "Fix",
    "Fleet",
    "Ledger",
    "LedgerEntry",
    "Quirks",
    "ReceivedLog",
    "ReceivedRequest",
    "SimCountry",
    "SimDevice",
    "SimLabel",
    "SimOperator",
    "SimProfile",
    "SimUser",
    "Simulator",
    "Stats",
]
