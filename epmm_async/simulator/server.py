"""The simulated EPMM server: an aiohttp application on loopback with the V1 DM API.

The application is the front end (:mod:`.middleware`) around the resources
(:mod:`.resources`), each given the simulator's :class:`~.state.SimState`.
"""

from __future__ import annotations

import asyncio
import secrets

from aiohttp import web

from .faults import Faults
from .fleet import Fleet
from .middleware import middlewares
from .resources import CSV_COLUMNS, add_routes
from .state import API, SimState
from .wire import Quirks

__all__ = ["API", "CSV_COLUMNS", "Simulator"]


class Simulator(SimState):
    """An EPMM server simulator listening on loopback; use as ``async with Simulator(...)``.

    Its attributes are those of :class:`~.state.SimState` (``fleet``, ``ledger``,
    ``received``, ``stats``, ``quirks``, ``faults``, the accounts ...): the simulator is the
    state its middlewares and resources share, plus the listening server.
    """

    def __init__(
        self,
        devices: int = 1000,
        seed: int = 7,
        *,
        username: str = "admin",
        password: str | None = None,
        quirks: Quirks | None = None,
        faults: Faults | None = None,
        time_scale: float = 1.0,
        bulk_max_uuids: int = 20_000,
        max_request_line: int = 8190,
        max_header_bytes: int = 8192,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__(
            fleet=Fleet(devices, seed),
            seed=seed,
            username=username,
            password=password if password is not None else secrets.token_urlsafe(18),
            quirks=quirks if quirks is not None else Quirks(),
            faults=faults if faults is not None else Faults(),
            time_scale=time_scale,
            bulk_max_uuids=bulk_max_uuids,
            max_request_line=max_request_line,
            max_header_bytes=max_header_bytes,
            host=host,
            port=port,
        )
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        """Start listening (on ``port``; 0 picks a free port, kept across restarts)."""
        await self._listen()

    async def stop(self) -> None:
        """Stop listening and drop every connection."""
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def restart(self, downtime: float = 0.0) -> None:
        """Stop (dropping connections), wait ``downtime`` seconds, listen on the same port."""
        await self.stop()
        if downtime > 0:
            await asyncio.sleep(downtime)
        await self._listen()

    async def __aenter__(self) -> Simulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _listen(self) -> None:
        # aiohttp's own parser limits sit far above the simulated ones, so that requests
        # the simulated front end refuses still reach the received log.
        big = max(16 << 20, self.max_request_line * 4, self.max_header_bytes * 4)
        runner = web.AppRunner(
            self._make_app(),
            access_log=None,
            max_line_size=big,
            max_field_size=big,
            max_headers=4096,
            shutdown_timeout=0.2,
        )
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port, reuse_address=True)
        await site.start()
        self._runner = runner
        if self.port == 0:
            self.port = int(runner.addresses[0][1])

    def _make_app(self) -> web.Application:
        app = web.Application(middlewares=middlewares(self), client_max_size=64 << 20)
        add_routes(app.router, self)
        return app
