"""The state one simulator's middlewares and resources share (:class:`SimState`)."""

from __future__ import annotations

import base64
import secrets

from aiohttp import web

from .faults import Faults, FaultState
from .fleet import Fleet
from .ledger import Ledger, ReceivedLog, ReceivedRequest, Stats
from .wire import Quirks

__all__ = ["API", "API_V2", "SimState", "is_v2"]

API = "/api/v1/dm"
"""Path prefix of the Device Management API."""

API_V2 = "/api/v2"
"""Path prefix of the API v2 subset (plain JSON)."""


def is_v2(path: str) -> bool:
    """Whether ``path`` (decoded) is under :data:`API_V2`."""
    return path == API_V2 or path.startswith(API_V2 + "/")


def _basic(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


class SimState:
    """The live facts of one simulator, each in one place.

    Every middleware and resource is given this object and reads it at each request, so a
    change (:meth:`set_faults`, :meth:`set_quirks`, an attribute a test sets) applies from the
    next request on. :class:`~epmm_async.simulator.server.Simulator` is a ``SimState`` that
    also listens.

    Attributes:
        fleet: the ground truth (:class:`~epmm_async.simulator.fleet.Fleet`).
        ledger: every state change applied (:class:`~epmm_async.simulator.ledger.Ledger`).
        received: every request received, refused ones included, and every destructive
            request per device (:class:`~epmm_async.simulator.ledger.ReceivedLog`).
        stats: request counters (:class:`~epmm_async.simulator.ledger.Stats`).
        quirks: the live :class:`Quirks`; fault_state: the live :class:`Faults` with their
            RNG and pending 429 burst (:class:`FaultState`).
        username, password: the API account; forbidden_username, forbidden_password: an
            account without the API role (answered 401 like a wrong password, or 403 with
            ``Quirks.no_role_status=403``).
        inflight: the received-log record of each request being answered, by ``id(request)``.
    """

    def __init__(
        self,
        *,
        fleet: Fleet,
        seed: int,
        username: str,
        password: str,
        quirks: Quirks,
        faults: Faults,
        time_scale: float,
        bulk_max_uuids: int,
        max_request_line: int,
        max_header_bytes: int,
        host: str,
        port: int,
    ) -> None:
        self.seed = seed
        self.fleet = fleet
        self.username = username
        self.password = password
        self.forbidden_username = "auditor"
        self.forbidden_password = secrets.token_urlsafe(18)
        self.quirks = quirks
        self.fault_state = FaultState(faults)
        self.time_scale = time_scale
        self.bulk_max_uuids = bulk_max_uuids
        self.max_request_line = max_request_line
        self.max_header_bytes = max_header_bytes
        self.host = host
        self.port = port
        self.ledger = Ledger()
        self.received = ReceivedLog()
        self.stats = Stats()
        self.inflight: dict[int, ReceivedRequest] = {}
        # Fixed at construction, as the account is: the auth middleware compares with these.
        self.good_auth = _basic(self.username, self.password)
        self.forbidden_auth = _basic(self.forbidden_username, self.forbidden_password)

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:PORT`` (the API is under ``/api/v1/dm``)."""
        return f"http://{self.host}:{self.port}"

    @property
    def faults(self) -> Faults:
        """The live fault settings."""
        return self.fault_state.faults

    def set_faults(self, faults: Faults) -> None:
        """Replace the fault settings while running (re-seeds the fault RNG)."""
        self.fault_state = FaultState(faults)

    def set_quirks(self, quirks: Quirks) -> None:
        """Replace the wire-format quirks while running."""
        self.quirks = quirks

    def record_of(self, request: web.Request) -> ReceivedRequest | None:
        """The received-log record of ``request`` while it is being answered."""
        return self.inflight.get(id(request))

    def applied(self, request: web.Request, uuid: str, action: str, via: str) -> None:
        """Mark ``uuid`` as changed by ``request`` in the received log."""
        rec = self.record_of(request)
        if rec is not None:
            self.received.mark_applied(rec, uuid, action, via)
