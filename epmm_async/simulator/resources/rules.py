"""What a device's state allows, and the passcodes an unlock or a lock answers with: one
place for both the single-device and the bulk actions."""

from __future__ import annotations

import random

from epmm_async.enums import DeviceStatus

from ..fleet import SimDevice
from ..state import SimState
from ..wire import Tree

__all__ = ["gate", "numeric_passcode", "passcode_tree", "unlock_value"]


def gate(d: SimDevice, action: str) -> str | None:
    """Why ``action`` is refused on ``d`` (retired: everything; wiped: all but RETIRE), or
    None when it is allowed."""
    if d.status == DeviceStatus.RETIRED:
        return f"Device {d.uuid} is retired; {action.lower()} is not possible."
    if d.status == DeviceStatus.WIPED and action != "RETIRE":
        return f"Device {d.uuid} is wiped; the only valid action is retire."
    return None


def numeric_passcode(state: SimState, d: SimDevice, action: str) -> str:
    """A numeric passcode, stable per seed, device, action and how often it was applied."""
    n = state.ledger.count(d.uuid, action)
    return str(random.Random(f"{state.seed}:{d.uuid}:{action}:{n}").randrange(1000, 999999))


def unlock_value(state: SimState, d: SimDevice) -> str:
    """An unlock's passcode ``value``: for iOS and Android Q (the device has a passcode) or
    F (it has none), NA when unlock is not possible (iOS not MDM-managed, Android offline);
    a numeric passcode for other platforms."""
    if d.kind == "ios":
        if not d.mdm_managed:
            return "NA"
        return "Q" if d.has_passcode else "F"
    if d.kind == "android":
        if not d.online:
            return "NA"
        return "Q" if d.has_passcode else "F"
    return numeric_passcode(state, d, "UNLOCK")


def passcode_tree(state: SimState, d: SimDevice) -> Tree:
    """One ``passcode`` element of an unlock reply."""
    return {"uuid": d.uuid, "name": d.name, "value": unlock_value(state, d)}
