"""What each device action is: the one registry that request building, retries, the
operations layer and the CLI read. No I/O.

An action's facts live here and nowhere else: its HTTP method, its ``Reason`` rule, how safe it
is to send twice, whether it is destructive (cannot be undone, so never sent twice unless the
caller asks), its bulk counterpart, and the device states it cannot apply to.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from ..enums import BulkAction, DeviceStatus
from ..errors import ValidationError
from ..validation import validate_reason

__all__ = [
    "ACTIONS",
    "ActionSpec",
    "ReasonRule",
    "Safety",
    "action_spec",
]


class Safety(enum.Enum):
    """How safe a request is to send again after it may have reached the server."""

    READ = "read"
    """A read: resend freely."""
    IDEMPOTENT = "idempotent"
    """Lock, unlock, wakeup, locate, roaming, re-push: the same effect twice is harmless."""
    UNSAFE = "unsafe"
    """Wipe, retire, register, send-message: resend only when it certainly was not applied."""


class ReasonRule(enum.Enum):
    """Whether an action takes the free-form ``Reason`` (at most 512 characters)."""

    REQUIRED = "required"
    OPTIONAL = "optional"
    NONE = "none"


_GONE = frozenset({DeviceStatus.RETIRED, DeviceStatus.WIPED})


@dataclass(frozen=True, slots=True)
class ActionSpec:
    """The facts of one device action."""

    name: str
    """The action's one spelling, in outcomes, journals and reports (lower-case)."""
    method: str
    """HTTP method of the per-device request (unlock and wakeup are GETs in the document)."""
    reason: ReasonRule
    safety: Safety
    destructive: bool
    """Cannot be undone: journalled pending before sending, never resent once it may have
    been applied."""
    bulk: BulkAction | None = None
    """The ``/bulk/devices/{ACTION}`` counterpart, if any."""
    per_device: bool = True
    """Whether ``/devices/{name}/{uuid}`` exists (send-message is bulk only)."""
    refused_states: frozenset[DeviceStatus] = frozenset()
    """Device states the server refuses this action for (the document: a wiped device's only
    valid action is retire; a retired device takes none)."""

    def check_reason(self, reason: str | None) -> str | None:
        """Apply the reason rule: the checked reason, or a ValidationError."""
        if self.reason is ReasonRule.NONE:
            if reason is not None:
                raise ValidationError(f"{self.name} takes no reason")
            return None
        return validate_reason(
            reason, required=self.reason is ReasonRule.REQUIRED, action=self.name
        )


ACTIONS: dict[str, ActionSpec] = {
    spec.name: spec
    for spec in (
        ActionSpec("lock", "PUT", ReasonRule.REQUIRED, Safety.IDEMPOTENT, False,
                   BulkAction.LOCK, refused_states=_GONE),
        ActionSpec("unlock", "GET", ReasonRule.REQUIRED, Safety.IDEMPOTENT, False,
                   BulkAction.UNLOCK, refused_states=_GONE),
        ActionSpec("wakeup", "GET", ReasonRule.NONE, Safety.IDEMPOTENT, False,
                   BulkAction.WAKEUP_DEVICE, refused_states=_GONE),
        ActionSpec("wipe", "PUT", ReasonRule.OPTIONAL, Safety.UNSAFE, True,
                   BulkAction.WIPE, refused_states=_GONE),
        ActionSpec("retire", "PUT", ReasonRule.OPTIONAL, Safety.UNSAFE, True,
                   BulkAction.RETIRE, refused_states=frozenset({DeviceStatus.RETIRED})),
        ActionSpec("locate", "GET", ReasonRule.NONE, Safety.IDEMPOTENT, False,
                   refused_states=_GONE),
        ActionSpec("locate_now", "GET", ReasonRule.NONE, Safety.IDEMPOTENT, False,
                   refused_states=_GONE),
        ActionSpec("roaming", "PUT", ReasonRule.NONE, Safety.IDEMPOTENT, False,
                   refused_states=_GONE),
        ActionSpec("repush", "PUT", ReasonRule.NONE, Safety.IDEMPOTENT, False,
                   refused_states=_GONE),
        ActionSpec("message", "POST", ReasonRule.NONE, Safety.UNSAFE, False,
                   per_device=False),
        ActionSpec("register", "PUT", ReasonRule.NONE, Safety.UNSAFE, False,
                   per_device=False),
    )
}

_ALIASES = {
    "wakeup_device": "wakeup",
    "locatenow": "locate_now",
    "locate-now": "locate_now",
    "sendmessage": "message",
    "send_message": "message",
    "enableroaming": "roaming",
    "repushprofile": "repush",
}


def action_spec(action: str | BulkAction) -> ActionSpec:
    """The spec of an action named any common way (``wipe``, ``WIPE``, ``WAKEUP_DEVICE``...)."""
    name = (action.value if isinstance(action, BulkAction) else str(action)).strip().lower()
    name = _ALIASES.get(name, name)
    try:
        return ACTIONS[name]
    except KeyError:
        raise ValidationError(
            f"unknown action {action!r}; expected one of: {', '.join(ACTIONS)}"
        ) from None
