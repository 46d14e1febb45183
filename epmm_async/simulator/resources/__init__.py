"""The API's resources, one module each; each lists its own routes.

:mod:`.devices` (reads and searches), :mod:`.export` (the CSV), :mod:`.catalog` (labels,
operators, countries), :mod:`.registration`, :mod:`.actions` (single-device actions) and
:mod:`.bulk` (bulk actions and messages), on :mod:`.base` and the device rules of
:mod:`.rules`; the API v2 subset under ``/api/v2`` (:mod:`.v2_devices`: ping, device spaces,
device search, count and fields, a device's labels; :mod:`.v2_labels`: label summary,
creation, deletion and membership; on :mod:`.v2_base`). A new resource is a
:class:`~.base.Resource` subclass added to :data:`RESOURCES` (another API version: one with its
own ``prefix``).
"""

from __future__ import annotations

from aiohttp import web

from ..state import SimState
from .actions import Actions
from .base import Resource, Route
from .bulk import Bulk
from .catalog import Catalog
from .devices import Devices
from .export import CSV_COLUMNS, Export
from .registration import Registration
from .v2_devices import V2Devices
from .v2_labels import V2Labels

__all__ = ["CSV_COLUMNS", "RESOURCES", "Resource", "Route", "add_routes"]

RESOURCES: tuple[type[Resource], ...] = (
    Devices,
    Export,
    Catalog,
    Registration,
    Bulk,
    Actions,
    V2Devices,
    V2Labels,
)
"""Every resource a simulator serves."""


def add_routes(router: web.UrlDispatcher, state: SimState) -> None:
    """Register every route of :data:`RESOURCES`, each resource given ``state``."""
    for cls in RESOURCES:
        resource = cls(state)
        for route in resource.routes():
            # add_route, not add_get or a RouteDef: those add a HEAD route; HEAD gets 405.
            router.add_route(route.method, resource.prefix + route.path, route.handler)
