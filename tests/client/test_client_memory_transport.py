"""The injectable transport, the one retry loop and the config object.

The client runs here on the in-memory transport: what the transport *received* is counted,
not only what the client returned.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random

import aiohttp
import pytest
import structlog
from bodies import UUID1, action_tree, device_tree, devices_tree, render

from epmm_async import (
    BulkLimits,
    ClientConfig,
    ConnectError,
    EpmmClient,
    NotFoundError,
    RetryPolicy,
    ServerError,
    Timeouts,
    TransportError,
    ValidationError,
)
from epmm_async.transport import Canned, HttpRequest, MemoryTransport
from epmm_async.transport.aio import AiohttpTransport
from epmm_async.transport.memory import query_pairs

BASE = "https://epmm.memory.test"
FAST = RetryPolicy(initial_delay=0.001, max_delay=0.002, attempts=4, deadline=5.0)


def client(transport: MemoryTransport, **options: object) -> EpmmClient:
    options.setdefault("retry", FAST)
    return EpmmClient(BASE, username="api", password="pw-memory",
                      config=ClientConfig(**options), transport=transport)  # type: ignore[arg-type]


def canned(tree: dict[str, object], status: int = 200) -> Canned:
    return Canned(status, render(tree, "json").encode(), "application/json")


CSV = (b"UUID,Phone Number,User ID\n" + b"".join(
    f"{i:08x}-0000-4000-8000-{i:012x},+1555{i:07d},user{i}\n".encode() for i in range(50)))


async def test_a_lock_goes_through_the_injected_transport_with_its_headers() -> None:
    transport = MemoryTransport()
    transport.on("PUT", f"/devices/lock/{UUID1}",
                 canned(action_tree("Lock Request Sent Successfully")))
    async with client(transport) as epmm:
        result = await epmm.devices.lock(UUID1, reason="lost on a train")
    assert result.attempts == 1
    [sent] = transport.requests
    assert sent.method == "PUT"
    assert sent.url == f"{BASE}/api/v1/dm/devices/lock/{UUID1}?Reason=lost%20on%20a%20train"
    assert query_pairs(sent) == [("Reason", "lost on a train")]
    assert sent.headers["Authorization"].startswith("Basic ")
    assert sent.headers["Accept"] == "application/json"
    assert sent.body is None
    assert transport.opened and transport.closed


async def test_bad_input_sends_nothing_on_any_transport() -> None:
    transport = MemoryTransport()
    async with client(transport) as epmm:
        with pytest.raises(ValidationError):
            await epmm.devices.lock("not-a-uuid", reason="x")
        with pytest.raises(ValidationError):
            await epmm.bulk.action("LOCK", [])  # type: ignore[arg-type]
    assert transport.requests == []


async def test_an_unrouted_request_is_a_wrong_base_url() -> None:
    transport = MemoryTransport()
    async with client(transport) as epmm:
        with pytest.raises(NotFoundError) as caught:
            await epmm.labels.list()
    assert caught.value.wrong_base_url
    assert len(transport.requests) == 1


async def test_a_read_is_retried_and_a_wipe_is_not_after_it_may_have_arrived() -> None:
    dropped = TransportError("dropped", method="PUT", path="/x", sent=True)

    def drop(request: HttpRequest) -> Canned:
        raise dropped

    transport = MemoryTransport()
    transport.on("GET", "/devices", drop, canned(devices_tree(device_tree(), total=1)))
    transport.on("PUT", f"/devices/wipe/{UUID1}", drop)
    async with client(transport) as epmm:
        page = await epmm.devices.page()
        with pytest.raises(TransportError) as caught:
            await epmm.devices.wipe(UUID1)
    assert len(page.devices) == 1
    assert len(transport.received("GET", "/devices")) == 2
    assert len(transport.received("PUT", f"/devices/wipe/{UUID1}")) == 1
    assert caught.value.attempts == 1


async def test_a_stream_retries_in_the_one_loop_with_its_count_flag_and_log() -> None:
    """The streaming request is retried like any other: a refused connection, then a 503
    the server may have acted on, then the body; a failure after that carries the count and
    the "earlier attempt may have applied" flag, and every retry is logged."""
    refused = ConnectError("refused", method="GET", path="/devices.csv", sent=False)

    def refuse(request: HttpRequest) -> Canned:
        raise refused

    transport = MemoryTransport()
    transport.on("GET", "/devices.csv", refuse, Canned.html(503), Canned(200, CSV, "text/csv"))
    with structlog.testing.capture_logs() as logs:
        async with client(transport) as epmm:
            rows = [row async for row in epmm.devices.export_csv()]
    assert len(rows) == 50
    assert len(transport.requests) == 3
    assert [e["attempt"] for e in logs if e["event"] == "http.retry"] == [1, 2]

    failing = MemoryTransport()
    failing.on("GET", "/devices.csv", Canned.html(502))
    async with client(failing) as epmm:
        with pytest.raises(ServerError) as caught:
            async for _ in epmm.devices.export_csv():
                pass
    assert caught.value.attempts == FAST.attempts == len(failing.requests)
    assert caught.value.earlier_attempt_may_have_applied


async def test_a_stream_over_the_cap_is_refused() -> None:
    transport = MemoryTransport()
    transport.on("GET", "/devices", Canned(200, b"x" * 2000, "application/json"))
    async with client(transport, max_response_bytes=1000) as epmm:
        with pytest.raises(Exception, match="1000-byte cap"):
            await epmm.devices.page()


async def test_seeded_drops_retry_a_lock_until_answered_or_out_of_attempts() -> None:
    for seed in range(200):
        rng = random.Random(seed)
        answered: list[bool] = []

        def flaky(request: HttpRequest, rng: random.Random = rng,
                  answered: list[bool] = answered) -> Canned:
            roll = rng.random()
            answered.append(roll >= 0.6)
            if roll < 0.3:
                raise TransportError("dropped", method="PUT", path=request.path, sent=True)
            if roll < 0.5:
                raise ConnectError("refused", method="PUT", path=request.path, sent=False)
            if roll < 0.6:
                return Canned.html(503)
            return canned(action_tree("Lock Request Sent Successfully"))

        transport = MemoryTransport()
        transport.on("PUT", f"/devices/lock/{UUID1}", flaky)
        async with client(transport) as epmm:
            try:
                result = await epmm.devices.lock(UUID1, reason="x")
            except (TransportError, ServerError, ConnectError) as error:
                assert error.attempts == len(transport.requests) == FAST.attempts, seed
                assert not any(answered), seed
            else:
                # Sent until the first answer, never after it.
                assert answered.index(True) == len(transport.requests) - 1, seed
                assert result.attempts == len(transport.requests), seed


async def test_a_wipe_is_resent_only_after_refused_connections() -> None:
    for seed in range(200):
        rng = random.Random(seed)
        outcomes: list[str] = []

        def flaky(request: HttpRequest, rng: random.Random = rng,
                  outcomes: list[str] = outcomes) -> Canned:
            roll = rng.random()
            kind = "drop" if roll < 0.25 else "refuse" if roll < 0.6 else "503" if roll < 0.7 \
                else "ok"
            outcomes.append(kind)
            if kind == "drop":
                raise TransportError("dropped", method="PUT", path=request.path, sent=True)
            if kind == "refuse":
                raise ConnectError("refused", method="PUT", path=request.path, sent=False)
            if kind == "503":
                return Canned.html(503)
            return canned(action_tree("Wipe Request Sent Successfully"))

        transport = MemoryTransport()
        transport.on("PUT", f"/devices/wipe/{UUID1}", flaky)
        async with client(transport) as epmm:
            try:
                await epmm.devices.wipe(UUID1)
            except (TransportError, ServerError, ConnectError):
                pass
        # Every attempt but the last was refused before it could arrive.
        assert all(kind == "refuse" for kind in outcomes[:-1]), (seed, outcomes)


async def test_a_slow_transport_answer_is_cancelled_promptly() -> None:
    async def slow(request: HttpRequest) -> Canned:
        await asyncio.sleep(30)
        return Canned.html(500)

    transport = MemoryTransport()
    transport.on("GET", "/labels", slow)
    async with client(transport) as epmm:
        task = asyncio.create_task(epmm.labels.list())
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, 5)


# -- the config object ---------------------------------------------------------------------


@pytest.mark.parametrize("options", [
    {"response_format": "yaml"},
    {"connection_limit": 0},
    {"connection_limit": True},
    {"max_response_bytes": -1},
    {"rate_limit": 0},
    {"verify": 3},
    {"timeouts": 5},
    {"retry": "none"},
    {"user_agent": "bad\nagent"},
    {"rate_limit": float("nan")},
    {"rate_limit": float("inf")},
    {"timeouts": Timeouts(total=None, connect=None, read=None).__class__},
])
def test_a_bad_option_is_refused_when_the_config_is_built(options: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        ClientConfig(**options)  # type: ignore[arg-type]


@pytest.mark.parametrize("options", [
    {"max_delay": float("nan")}, {"initial_delay": float("nan")}, {"deadline": float("nan")},
    {"attempts": 2.5}, {"attempts": "3"}, {"max_retry_after": -1},
    {"max_retry_after": float("nan")},
])
def test_a_retry_policy_that_would_hang_or_spin_is_refused(options: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        RetryPolicy(**options)  # type: ignore[arg-type]


def test_limits_that_leave_no_room_for_a_request_are_refused_at_construction() -> None:
    with pytest.raises(ValidationError, match="max_request_bytes"):
        EpmmClient(BASE, username="u", password="p",
                   config=ClientConfig(bulk=BulkLimits(max_request_bytes=100)))


@pytest.mark.parametrize("path", ["/x%23y", "/a%3Fb", "/my%20api"])
async def test_an_escape_in_the_base_path_stays_an_escape(path: str) -> None:
    transport = MemoryTransport()
    async with EpmmClient(BASE + path, username="u", password="p",
                          transport=transport) as epmm:
        with pytest.raises(NotFoundError):
            await epmm.labels.list()
    [sent] = transport.requests
    assert sent.url == f"{BASE}{path}/api/v1/dm/labels"


def test_bad_limits_and_timeouts_are_refused() -> None:
    with pytest.raises(ValidationError):
        BulkLimits(max_uuids=0)
    with pytest.raises(ValidationError):
        BulkLimits(max_request_line=10)
    for bad in (-1, 0, float("nan"), float("inf"), True, "5"):
        with pytest.raises(ValidationError):
            Timeouts(connect=bad)  # type: ignore[arg-type]


def test_config_is_frozen_and_its_copies_are_checked() -> None:
    config = ClientConfig(rate_limit=5)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.rate_limit = 6  # type: ignore[misc]
    assert config.with_(rate_limit=2).rate_limit == 2
    with pytest.raises(ValidationError):
        config.with_(rate_limit=-2)
    assert repr(ClientConfig()) == "ClientConfig()"
    assert repr(config) == "ClientConfig(rate_limit=5)"


def test_the_client_takes_only_a_config() -> None:
    with pytest.raises(ValidationError):
        EpmmClient(BASE, username="u", password="p", config={"retry": None})  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        EpmmClient(BASE, username="u", password="p", retry=FAST)  # type: ignore[call-arg]


def test_one_config_reaches_every_layer() -> None:
    config = ClientConfig(response_format="xml", rate_limit=3, connection_limit=7,
                          bulk=BulkLimits(max_uuids=9), user_agent="fleet-job")
    epmm = EpmmClient(BASE, username="u", password="p", config=config)
    assert epmm.config is config
    assert isinstance(epmm.transport, AiohttpTransport) and epmm.transport.config is config
    assert epmm.sender.config is config and epmm.bulk.limits is config.bulk
    assert epmm.sender.rate_limiter is not None and epmm.sender.rate_limiter.rate == 3
    request = epmm.sender.http_request(
        __import__("epmm_async.core.requests", fromlist=["labels"]).labels())
    assert request.headers["Accept"] == "application/xml"
    assert request.headers["User-Agent"] == "fleet-job"


# -- aiohttp's hidden resend ---------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:Inheritance class:DeprecationWarning")
async def test_open_fails_loudly_if_aiohttp_loses_the_resend_switch(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = aiohttp.ClientSession
    made: list[aiohttp.ClientSession] = []

    class WithoutSwitch(real):  # type: ignore[misc, valid-type]
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, **kwargs)
            made.append(self)

        def __getattribute__(self, name: str) -> object:
            if name == "_retry_connection":
                raise AttributeError(name)
            return super().__getattribute__(name)

    monkeypatch.setattr(aiohttp, "ClientSession", WithoutSwitch)
    epmm = EpmmClient(BASE, username="u", password="p")
    with pytest.raises(RuntimeError, match="_retry_connection"):
        await epmm.open()
    assert made and made[0].closed  # the session it could not trust was closed


async def test_open_turns_the_resend_switch_off() -> None:
    transport = AiohttpTransport()
    await transport.open()
    try:
        assert transport._session is not None
        assert transport._session._retry_connection is False
    finally:
        await transport.close()


async def test_a_server_echoing_the_credentials_does_not_put_them_in_errors() -> None:
    def echo(request: HttpRequest) -> Canned:
        header = request.headers["Authorization"]
        return Canned.json({"messages": {"message": [f"bad auth header {header}",
                                                     "password was pw-memory"]}}, 400)

    transport = MemoryTransport()
    transport.on("GET", "/labels", echo)
    async with client(transport) as epmm:
        with pytest.raises(Exception) as caught:
            await epmm.labels.list()
    text = str(caught.value) + repr(caught.value) + repr(getattr(caught.value, "messages", ""))
    token = transport.requests[0].headers["Authorization"].split()[1]
    assert token not in text and "pw-memory" not in text
    assert "***" in text
