"""What every resource is built on: its routes, its shared state and the answers its
handlers give."""

from __future__ import annotations

from typing import NamedTuple

from aiohttp import web
from aiohttp.typedefs import Handler

from ..fleet import SimDevice
from ..params import norm_mac
from ..replies import Bad, bad, messages, reply
from ..state import API, SimState
from ..wire import Tree

__all__ = ["Resource", "Route"]


class Route(NamedTuple):
    """One route of a resource: ``path`` is under the resource's :attr:`Resource.prefix`."""

    method: str
    path: str
    handler: Handler


class Resource:
    """One part of the API: a subclass lists its :meth:`routes` and answers them from the
    :class:`SimState` it is given."""

    prefix = API
    """Path prefix of the routes (another API version is another prefix)."""

    def __init__(self, state: SimState) -> None:
        self.state = state

    def routes(self) -> list[Route]:
        """The routes this resource answers."""
        raise NotImplementedError

    def reply(self, request: web.Request, tree: Tree, status: int = 200) -> web.Response:
        """``tree`` in the negotiated format, with the live quirks."""
        return reply(request, tree, self.state.quirks, status)

    def bad(self, request: web.Request, err: Bad) -> web.Response:
        """The API's answer to ``err``."""
        return bad(request, err, self.state.quirks)

    def empty(self, request: web.Request, tree: Tree, message: str, total: int = 0) -> web.Response:
        """An empty result: ``tree``, or a 404 with ``message`` (``Quirks.empty_as_404``)."""
        if self.state.quirks.empty_as_404:
            return self.reply(request, {"messages": messages(message), "totalCount": total}, 404)
        return self.reply(request, tree)

    def find(self, request: web.Request) -> SimDevice:
        """The device the route's ``{uuid}`` or ``{mac}`` names; a 404 :class:`Bad` if none."""
        info = request.match_info
        if "mac" in info:
            mac = norm_mac(info["mac"])
            device = self.state.fleet.by_mac(mac) if mac else None
            if device is None:
                raise Bad(404, f"No device found with Wi-Fi MAC address {info['mac']}.")
            return device
        key = info["uuid"].strip().lower()
        found = self.state.fleet.devices.get(key)
        if found is None:
            raise Bad(404, f"No device found with uuid {info['uuid']}.")
        return found
