"""Helpers of the fleet-job regression tests (imported as ``regress_support``).

:class:`FakeEpmm` is a small EPMM look-alike that logs every request it RECEIVES, before
answering it, refused ones included: a resend is visible here even when the answer is a
refusal. It answers like a real server by default (a second wipe of a device is refused with
400 "is wiped", as EPMM does) and any route can be overridden per test. :class:`ThreadServer`
serves one from a background thread, for the CLI (which runs its own event loop) and for
tests that count the client's tasks.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from loopback import serve
from typer.testing import CliRunner, Result

import epmm_async.errors as errors_module
from epmm_async import ClientConfig, EpmmClient, RetryPolicy

API = "/api/v1/dm"
USERNAME = "admin"
PASSWORD = "fake-pass-7"


def uuid(i: int) -> str:
    """The i-th device uuid of the fake fleet."""
    return f"{i:08x}-0000-4000-8000-{i:012x}"


def mac(i: int) -> str:
    """The i-th device's Wi-Fi MAC (12 upper-case hex digits)."""
    return f"02AABB{i:06X}"


def uuids(n: int, start: int = 1) -> list[str]:
    """``n`` device uuids."""
    return [uuid(i) for i in range(start, start + n)]


def error_type(name: str) -> type[BaseException]:
    """``epmm_async.errors.<name>``, or a placeholder nothing raises when it does not exist
    (so a test about it fails on its assertion instead of on an import)."""
    found = getattr(errors_module, name, None)
    if isinstance(found, type) and issubclass(found, BaseException):
        return found
    return type(f"Missing{name}", (Exception,), {})


def fast_retry(**overrides: Any) -> RetryPolicy:
    """Quick retries for tests (deadline 5 s unless overridden)."""
    options: dict[str, Any] = {"initial_delay": 0.005, "max_delay": 0.05, "deadline": 5}
    options.update(overrides)
    return RetryPolicy(**options)


def client(url: str, **options: Any) -> EpmmClient:
    """A client of the fake server with fast retries."""
    options.setdefault("retry", fast_retry())
    return EpmmClient(url, username=USERNAME, password=PASSWORD,
                      config=ClientConfig(**options))


@dataclass(repr=False)
class Hit:
    """One request as the server received it."""

    seq: int
    at: float
    """``time.monotonic()`` when it arrived (before it was answered)."""
    method: str
    path: str
    """Below ``/api/v1/dm``."""
    query: dict[str, list[str]]
    headers: dict[str, str]
    form: dict[str, list[str]] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"<#{self.seq} {self.method} {self.path}>"

    def values(self, name: str) -> list[str]:
        """A repeated parameter, from the query and the form body."""
        return [*self.query.get(name, []), *self.form.get(name, [])]

    @property
    def parts(self) -> list[str]:
        """The path's segments below the API prefix."""
        return [p for p in self.path.split("/") if p]

    @property
    def kind(self) -> str:
        """``wipe``, ``lock``..., ``bulk:WIPE``, ``sendmessage``, ``by_mac``, ``csv``..."""
        p = self.parts
        if self.path == "/devices.csv":
            return "csv"
        if p[:1] == ["bulk"]:
            return f"bulk:{p[-1]}" if p[1:2] == ["devices"] else "sendmessage"
        if p[:2] == ["devices", "mac"] and len(p) == 3:
            return "by_mac"
        if p[:1] == ["devices"] and len(p) >= 3:
            return p[1]
        return "other"

    @property
    def target(self) -> str:
        """The device of a per-device request: its uuid, or ``mac:MAC``."""
        p = self.parts
        if len(p) >= 4 and p[2] == "mac":
            return f"mac:{p[3]}"
        return p[2].lower() if len(p) >= 3 else ""


Answer = Callable[[Hit], Awaitable[web.StreamResponse | None]]


def json_reply(tree: object, status: int = 200, **headers: str) -> web.Response:
    """A JSON answer."""
    return web.json_response(tree, status=status, headers=headers or None)


def messages(*texts: str) -> dict[str, list[str]]:
    """The API's ``messages`` element."""
    return {"message": list(texts)}


class FakeEpmm:
    """An EPMM look-alike that records every request it receives before answering.

    ``answer(hit)`` may return a response to override the default one (None: default).
    ``macs`` maps MAC -> uuid for ``GET /devices/mac/{MAC}`` and per-device MAC routes.
    ``delay`` seconds are waited before each answer (the request is logged first).
    """

    def __init__(
        self,
        *,
        answer: Answer | None = None,
        macs: dict[str, str] | None = None,
        delay: float = 0.0,
        csv_body: bytes = b"",
    ) -> None:
        self.hits: list[Hit] = []
        self.answer = answer
        self.macs = dict(macs or {})
        self.delay = delay
        self.csv_body = csv_body
        self.wiped: set[str] = set()
        self.in_flight = 0
        self.max_in_flight = 0

    # -- what was received -----------------------------------------------------------------

    def of(self, kind: str) -> list[Hit]:
        """The hits of one kind (``wipe``, ``bulk:WIPE``...)."""
        return [h for h in self.hits if h.kind == kind]

    def device_of(self, hit: Hit) -> str:
        """The uuid a per-device hit was about (MACs mapped through ``macs``)."""
        target = hit.target
        if target.startswith("mac:"):
            return self.macs.get(target[4:].upper(), target)
        return target

    def destructive_received(self, action: str = "WIPE") -> Counter[str]:
        """Per device uuid: ``action`` requests received, per device and bulk, refused or not."""
        counts: Counter[str] = Counter()
        for hit in self.hits:
            if hit.kind == action.lower():
                counts[self.device_of(hit)] += 1
            elif hit.kind == f"bulk:{action.upper()}":
                for u in dict.fromkeys(v.strip().lower() for v in hit.values("deviceUuids")):
                    counts[u] += 1
        return counts

    def devices_received(self, kind: str) -> Counter[str]:
        """Per device uuid: requests of ``kind`` (a per-device action or ``bulk:ACTION``)."""
        counts: Counter[str] = Counter()
        for hit in self.of(kind):
            if kind.startswith("bulk:"):
                for u in hit.values("deviceUuids"):
                    counts[u.strip().lower()] += 1
            else:
                counts[self.device_of(hit)] += 1
        return counts

    # -- serving ---------------------------------------------------------------------------

    def app(self) -> web.Application:
        """The aiohttp application (every method, every path)."""
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        return app

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        path = path[len(API):] if path.startswith(API) else path
        query: dict[str, list[str]] = {}
        for key, value in request.query.items():
            query.setdefault(key, []).append(value)
        hit = Hit(
            seq=len(self.hits),
            at=time.monotonic(),
            method=request.method,
            path=path,
            query=query,
            headers={k: v for k, v in request.headers.items()},
        )
        self.hits.append(hit)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if request.can_read_body:
                body = await request.read()
                if request.content_type == "application/x-www-form-urlencoded":
                    from urllib.parse import parse_qs

                    hit.form = parse_qs(body.decode("utf-8", "replace"))
            if self.delay:
                await asyncio.sleep(self.delay)
            if self.answer is not None:
                custom = await self.answer(hit)
                if custom is not None:
                    return custom
            return self.default(hit)
        finally:
            self.in_flight -= 1

    async def wait_for(self, predicate: Callable[[], bool], within: float = 10.0) -> None:
        """Wait (polling) until ``predicate()`` holds; fail the test after ``within`` seconds."""
        deadline = time.monotonic() + within
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"the server did not see what was expected in {within}s")
            await asyncio.sleep(0.005)

    def default(self, hit: Hit) -> web.StreamResponse:
        """What a well-behaved server answers."""
        kind = hit.kind
        if kind == "csv":
            return web.Response(body=self.csv_body, content_type="text/csv")
        if kind == "by_mac":
            found = self.macs.get(hit.parts[2].upper())
            if found is None:
                return json_reply({"messages": messages("No devices found."), "totalCount": 0},
                                  404)
            return json_reply({"devices": {"device": [{"uuid": found}]}, "totalCount": 1})
        if kind.startswith("bulk:"):
            return self._bulk(hit, kind[5:])
        if kind == "sendmessage":
            return json_reply({"messages": messages("Message sent.")})
        if kind in ("wipe", "retire", "lock", "unlock", "wakeup"):
            device = self.device_of(hit)
            if device in self.wiped and kind != "retire":
                return json_reply(
                    {"messages": messages(
                        f"Device {device} is wiped; the only valid action is retire.")}, 400)
            if kind == "wipe":
                self.wiped.add(device)
            if kind == "unlock":
                return json_reply({
                    "messages": messages("1 passcode(s) sent."),
                    "passcodes": {"passcode": [{"uuid": device, "name": "d", "value": "Q"}]},
                })
            return json_reply({"messages": messages(f"Device is {kind}d."), "deviceUuid": device})
        if kind == "locate":
            now = "locatenow" in hit.query
            return json_reply(locate_tree(self.device_of(hit), now))
        if hit.parts[:1] == ["devices"] and len(hit.parts) == 2:
            return json_reply({"device": {"uuid": hit.parts[1]}})
        return json_reply({"messages": messages("unknown endpoint")}, 404)

    def _bulk(self, hit: Hit, action: str) -> web.Response:
        given = list(dict.fromkeys(v.strip().lower() for v in hit.values("deviceUuids")))
        invalid = [u for u in given if u in self.wiped] if action != "RETIRE" else []
        tree: dict[str, Any] = {"messages": messages("Request accepted.")}
        if invalid:
            tree["invalidDevices"] = {"uuid": invalid}
        if action == "WIPE":
            self.wiped.update(given)
        if action == "UNLOCK":
            tree["passcodes"] = {"passcode": [
                {"uuid": u, "name": "d", "value": "Q"} for u in given if u not in invalid]}
        return json_reply(tree)


def locate_tree(device: str, locate_now: bool, captured_ms: int = 1_700_000_000_000) -> object:
    """A locate answer with one (old) fix."""
    return {
        "deviceUuid": device,
        "locations": {"location": [{
            "uuid": device, "lookupResult": "GPS", "latitude": 48.85, "longitude": 2.35,
            "radius": 10, "capturedAt": captured_ms,
        }]},
        "locateNow": locate_now,
    }


class ThreadServer:
    """A :class:`FakeEpmm` served on 127.0.0.1 from a background thread's event loop."""

    def __init__(self, fake_factory: Callable[[], FakeEpmm] = FakeEpmm) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.fake: FakeEpmm = self.call(self._make(fake_factory))
        self.runner: web.AppRunner | None = None
        self.url: str = self.call(self._start())

    async def _make(self, factory: Callable[[], FakeEpmm]) -> FakeEpmm:
        return factory()

    async def _start(self) -> str:
        self.runner = web.AppRunner(self.fake.app(), access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        return f"http://127.0.0.1:{self.runner.addresses[0][1]}"

    def call(self, coro: Coroutine[Any, Any, Any]) -> Any:
        """Run ``coro`` on the server's loop and return its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(30)

    def close(self) -> None:
        """Stop serving and end the thread."""
        if self.runner is not None:
            self.call(self.runner.cleanup())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)

    def env(self, **extra: str) -> dict[str, str]:
        """The CLI's environment for this server."""
        return {"EPMM_URL": self.url, "EPMM_USERNAME": USERNAME, "EPMM_PASSWORD": PASSWORD,
                **extra}


def invoke(*args: str, env: dict[str, str]) -> Result:
    """Run ``epmm ARGS`` in-process (CliRunner)."""
    from epmm_async.cli import app

    return CliRunner().invoke(app, list(args), env=env)


@asynccontextmanager
async def serving(fake: FakeEpmm) -> AsyncIterator[str]:
    """Serve ``fake`` on 127.0.0.1 in this event loop; yield its base URL."""
    async with serve(fake.app()) as url:
        yield url


def squeeze(text: str) -> str:
    """``text`` without whitespace (a console may wrap a long path anywhere)."""
    return "".join(text.split())
