"""Error mapping (status -> typed error with messages) and the retry policy in action."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import bodies as b
import pytest
from client_support import ANY_URL, MockServer, make_client

from epmm_async import (
    ApiError,
    AuthenticationError,
    BadRequestError,
    ConnectError,
    EpmmClient,
    ForbiddenError,
    MethodNotAllowedError,
    NotFoundError,
    RateLimitedError,
    RequestTooLargeError,
    RetryPolicy,
    ServerError,
    TransportError,
)
from epmm_async import TimeoutError as EpmmTimeout
from epmm_async.core.requests import Safety

STATUS_ERRORS = [
    (400, BadRequestError),
    (401, AuthenticationError),
    (403, ForbiddenError),
    (405, MethodNotAllowedError),
    (414, RequestTooLargeError),
    (429, RateLimitedError),
    (500, ServerError),
    (502, ServerError),
    (503, ServerError),
    (504, ServerError),
]


@pytest.mark.parametrize(("status", "cls"), STATUS_ERRORS)
async def test_status_maps_to_error(
    mock: MockServer, fmt: str, status: int, cls: type[ApiError]
) -> None:
    async with make_client(fmt, retry=RetryPolicy.none()) as epmm:
        mock.reply("PUT", b.render(b.error_tree("Reason is bad", "second"), fmt), fmt=fmt,
                   status=status)
        with pytest.raises(cls) as info:
            await epmm.devices.lock(b.UUID1, reason="x")
    err = info.value
    assert type(err) is cls
    assert err.status == status
    assert err.messages == ("Reason is bad", "second")
    assert (err.method, err.path) == ("PUT", f"/devices/lock/{b.UUID1}")
    assert "Reason is bad" in str(err)
    assert mock.count() == 1


async def test_single_message_error_body(mock: MockServer, epmm: EpmmClient, fmt: str) -> None:
    mock.reply("GET", b.render(b.error_tree("Invalid status"), fmt), fmt=fmt, status=400)
    with pytest.raises(BadRequestError) as info:
        await epmm.labels.list()
    assert info.value.messages == ("Invalid status",)


async def test_error_without_body(mock: MockServer, epmm: EpmmClient) -> None:
    mock.reply("GET", "", status=403)
    with pytest.raises(ForbiddenError) as info:
        await epmm.labels.list()
    assert info.value.messages == ()


@pytest.mark.parametrize("html", [b.HTML_404, b.HTML_404_NO_DOCTYPE])
async def test_html_404_is_not_found(mock: MockServer, epmm: EpmmClient, html: str) -> None:
    mock.reply("GET", html, status=404, content_type="text/html")
    with pytest.raises(NotFoundError):
        await epmm.labels.list()


# -- retries ---------------------------------------------------------------------------------


async def test_get_503_retry_after_is_waited(mock: MockServer) -> None:
    async with make_client(retry=RetryPolicy(initial_delay=0.001, max_delay=0.001)) as epmm:
        mock.reply("GET", "", status=503, headers={"Retry-After": "0.05"})
        mock.reply("GET", b.jettison(b.LABELS_TREE))
        started = time.monotonic()
        labels = await epmm.labels.list()
        elapsed = time.monotonic() - started
    assert len(labels) == 2
    assert mock.count() == 2
    assert elapsed >= 0.05


async def test_429_retried(mock: MockServer, epmm: EpmmClient) -> None:
    mock.reply("GET", "", status=429, headers={"Retry-After": "0"})
    mock.reply("GET", b.jettison(b.LABELS_TREE))
    assert len(await epmm.labels.list()) == 2


async def test_retry_after_beyond_ceiling_not_waited(mock: MockServer) -> None:
    policy = RetryPolicy(initial_delay=0.001, max_retry_after=1.0)
    async with make_client(retry=policy) as epmm:
        mock.reply("GET", "", status=503, headers={"Retry-After": "3600"})
        with pytest.raises(ServerError) as info:
            await epmm.labels.list()
    assert info.value.retry_after == 3600
    assert mock.count() == 1


@pytest.mark.parametrize(
    "exc", [TimeoutError(), aiohttp.ServerDisconnectedError()], ids=["timeout", "drop"]
)
async def test_wipe_not_resent_after_it_may_have_arrived(
    mock: MockServer, epmm: EpmmClient, exc: Exception
) -> None:
    mock.add(ANY_URL, "PUT", exception=exc)
    mock.reply("PUT", b.jettison(b.action_tree("wiped")))
    with pytest.raises(TransportError) as info:
        await epmm.devices.wipe(b.UUID1)
    assert info.value.sent is True
    assert mock.count() == 1
    if isinstance(exc, asyncio.TimeoutError):
        assert isinstance(info.value, EpmmTimeout)


def _refused() -> aiohttp.ClientConnectorError:
    key = aiohttp.client_reqrep.ConnectionKey("epmm.example.test", 443, True, True, None, None,
                                               None)
    return aiohttp.ClientConnectorError(key, ConnectionRefusedError(111, "refused"))


async def test_wipe_retried_when_connection_refused(mock: MockServer, epmm: EpmmClient) -> None:
    mock.add(ANY_URL, "PUT", exception=_refused())
    mock.reply("PUT", b.jettison(b.action_tree("wiped")))
    result = await epmm.devices.wipe(b.UUID1, reason="stolen")
    assert result.messages == ("wiped",)
    assert mock.count() == 2


async def test_connection_refused_exhausts_to_connect_error(mock: MockServer) -> None:
    async with make_client(retry=RetryPolicy(attempts=3, initial_delay=0.001)) as epmm:
        mock.add(ANY_URL, "PUT", exception=_refused(), repeat=True)
        with pytest.raises(ConnectError) as info:
            await epmm.devices.retire(b.UUID1)
    assert info.value.sent is False
    assert mock.count() == 3


async def test_lock_retried_on_503(mock: MockServer, epmm: EpmmClient) -> None:
    mock.reply("PUT", "", status=503)
    mock.reply("PUT", b.jettison(b.action_tree("locked")))
    result = await epmm.devices.lock(b.UUID1, reason="lost")
    assert result.messages == ("locked",)
    assert mock.count() == 2


async def test_lock_retried_after_timeout(mock: MockServer, epmm: EpmmClient) -> None:
    mock.add(ANY_URL, "PUT", exception=TimeoutError())
    mock.reply("PUT", b.jettison(b.action_tree("locked")))
    await epmm.devices.lock(b.UUID1, reason="lost")
    assert mock.count() == 2


@pytest.mark.parametrize("action", ["wipe", "retire"])
async def test_destructive_not_retried_on_503(
    mock: MockServer, epmm: EpmmClient, action: str
) -> None:
    mock.reply("PUT", b.jettison(b.error_tree("busy")), status=503, repeat=True)
    with pytest.raises(ServerError):
        await getattr(epmm.devices, action)(b.UUID1)
    assert mock.count() == 1


@pytest.mark.parametrize(
    ("status", "headers"),
    [(503, {"Retry-After": "0"}), (429, {"Retry-After": "0"}), (429, {})],
    ids=["503-retry-after", "429-retry-after", "429"],
)
async def test_destructive_retried_after_a_certain_refusal(
    mock: MockServer, epmm: EpmmClient, status: int, headers: dict[str, str]
) -> None:
    # 503 with Retry-After and 429 prove the server did not act: the wipe may be resent.
    mock.reply("PUT", b.jettison(b.error_tree("busy")), status=status, headers=headers)
    mock.reply("PUT", b.jettison(b.action_tree("wiped")))
    result = await epmm.devices.wipe(b.UUID1)
    assert result.messages == ("wiped",)
    assert result.attempts == 2
    assert mock.count() == 2


@pytest.mark.parametrize("status", [502, 504])
async def test_destructive_not_retried_on_gateway_errors(
    mock: MockServer, epmm: EpmmClient, status: int
) -> None:
    # A gateway error says nothing about whether the backend wiped the device.
    mock.reply("PUT", b.jettison(b.error_tree("gateway")), status=status, repeat=True)
    with pytest.raises(ServerError) as info:
        await epmm.devices.wipe(b.UUID1)
    assert info.value.attempts == 1
    assert mock.count() == 1


async def test_bulk_wipe_not_retried_bulk_lock_retried(mock: MockServer, epmm: EpmmClient) -> None:
    mock.reply("POST", "", status=503, repeat=True)
    with pytest.raises(ServerError):
        await epmm.bulk.action("WIPE", [b.UUID1])
    assert mock.count() == 1
    with pytest.raises(ServerError):
        await epmm.bulk.action("LOCK", [b.UUID1])
    assert mock.count() == 1 + 4


async def test_register_not_retried_on_502(mock: MockServer, epmm: EpmmClient) -> None:
    mock.reply("PUT", "", status=502, repeat=True)
    with pytest.raises(ServerError):
        await epmm.devices.register(
            user_id="u", platform="A", country_code=1, phone_number="1", device_type="Phone",
            import_user_from_ldap=True,
        )
    assert mock.count() == 1


async def test_attempts_cap(mock: MockServer) -> None:
    async with make_client(retry=RetryPolicy(attempts=3, initial_delay=0.001)) as epmm:
        mock.reply("GET", "", status=500, repeat=True)
        with pytest.raises(ServerError):
            await epmm.labels.list()
    assert mock.count() == 3


async def test_deadline_respected(mock: MockServer) -> None:
    policy = RetryPolicy(attempts=50, initial_delay=0.05, multiplier=1, jitter=0, deadline=0.12)
    async with make_client(retry=policy) as epmm:
        mock.reply("GET", "", status=503, repeat=True)
        with pytest.raises(ServerError):
            await epmm.labels.list()
    # 50 attempts allowed, 0.05 s apart: the 0.12 s deadline stops them after 2 to 4.
    assert 2 <= mock.count() <= 4


async def test_retry_none(mock: MockServer) -> None:
    async with make_client(retry=RetryPolicy.none()) as epmm:
        mock.reply("GET", "", status=503, repeat=True)
        with pytest.raises(ServerError):
            await epmm.labels.list()
    assert mock.count() == 1


async def test_400_not_retried(mock: MockServer, epmm: EpmmClient) -> None:
    mock.reply("GET", b.jettison(b.error_tree("bad")), status=400, repeat=True)
    with pytest.raises(BadRequestError):
        await epmm.labels.list()
    assert mock.count() == 1


def test_policy_unit_rules() -> None:
    policy = RetryPolicy(initial_delay=0.1, jitter=0)
    busy = ServerError(503)
    assert policy.next_delay(Safety.READ, busy, 1, 0.0) == pytest.approx(0.1)
    assert policy.next_delay(Safety.READ, busy, 2, 0.0) == pytest.approx(0.2)
    assert policy.next_delay(Safety.UNSAFE, busy, 1, 0.0) is None
    # Shed with Retry-After (certainly not applied): an unsafe request may be resent.
    assert policy.next_delay(Safety.UNSAFE, ServerError(503, retry_after=2.0), 1, 0.0) == 2.0
    assert policy.next_delay(Safety.UNSAFE, ServerError(502), 1, 0.0) is None
    assert policy.next_delay(Safety.READ, busy, 4, 0.0) is None
    assert policy.next_delay(Safety.READ, ServerError(503, retry_after=2.0), 1, 0.0) == 2.0
    assert policy.next_delay(Safety.READ, busy, 1, 59.95) is None
    assert RetryPolicy.none().attempts == 1
    with pytest.raises(ValueError):
        RetryPolicy(attempts=0)
