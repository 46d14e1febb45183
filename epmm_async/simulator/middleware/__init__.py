"""The front end every request passes before a resource answers it.

Outermost first: :mod:`.received` (the received log, so refused requests are counted too),
:mod:`.limits` (request counters, the request-line and header limits, 405 and 404),
:mod:`.inject` (fault injection) and :mod:`.auth` (HTTP Basic), then the resource.
"""

from __future__ import annotations

from aiohttp.typedefs import Middleware

from ..state import SimState
from .auth import basic_auth
from .inject import fault_injection
from .limits import front_end
from .received import received_log

__all__ = ["middlewares"]


def middlewares(state: SimState) -> list[Middleware]:
    """The middlewares of a simulator's application, outermost first."""
    return [received_log(state), front_end(state), fault_injection(state), basic_auth(state)]
