"""A 401 says what it most likely means whatever its body; a 403 keeps its own message.

Field notes: an account without the API role most likely gets 401 too (the vendor's status
table lists no 403), with the web server's HTML page as the body, so the message must not
depend on an API body. The credentials never appear in it.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import bodies as b
import pytest
from aiohttp import web
from loopback import serve

from epmm_async import AuthenticationError, ClientConfig, EpmmClient, ForbiddenError, RetryPolicy

USER = "fleet-admin"
PASSWORD = "Pw-9f3e!x"
AUTH_TEXT = "wrong credentials, or the account lacks the API role"

HTML_401 = (
    '<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">\n<html><head>\n'
    "<title>401 Unauthorized</title>\n</head><body>\n<h1>Unauthorized</h1>\n"
    "<p>This server could not verify that you are authorized to access the document "
    "requested.</p>\n</body></html>\n"
)
JSON_401 = json.dumps(b.error_tree("Unauthorized"))


@asynccontextmanager
async def answering(
    status: int, body: str, content_type: str
) -> AsyncIterator[tuple[EpmmClient, list[str]]]:
    received: list[str] = []

    async def handler(request: web.Request) -> web.Response:
        received.append(request.path)
        headers = {"WWW-Authenticate": 'Basic realm="EPMM"'} if status == 401 else {}
        return web.Response(status=status, text=body, content_type=content_type,
                            headers=headers)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    async with serve(app) as url, EpmmClient(
        url,
        username=USER,
        password=PASSWORD,
        config=ClientConfig(retry=RetryPolicy.none()),
    ) as epmm:
        yield epmm, received


def _no_credentials(text: str) -> None:
    assert PASSWORD not in text
    assert USER not in text


async def test_401_with_the_web_servers_html_page() -> None:
    async with answering(401, HTML_401, "text/html") as (epmm, received):
        with pytest.raises(AuthenticationError) as info:
            await epmm.labels.list()
    error = info.value
    assert error.status == 401 and error.messages == ()
    assert str(error) == f"HTTP 401 for GET /labels: {AUTH_TEXT}"
    assert "no message" not in str(error)
    _no_credentials(str(error))
    _no_credentials(repr(error))
    assert len(received) == 1  # not retried


async def test_401_with_an_api_body_keeps_the_servers_words() -> None:
    async with answering(401, JSON_401, "application/json") as (epmm, _):
        with pytest.raises(AuthenticationError) as info:
            await epmm.devices.lock(b.UUID1, reason="lost")
    error = info.value
    assert error.messages == ("Unauthorized",)
    assert str(error) == (
        f"HTTP 401 for PUT /devices/lock/{b.UUID1}: {AUTH_TEXT} (server said: Unauthorized)"
    )
    _no_credentials(str(error))


@pytest.mark.parametrize(
    ("body", "content_type"), [(HTML_401.replace("401", "403"), "text/html"),
                               (json.dumps(b.error_tree("Forbidden")), "application/json")]
)
async def test_403_keeps_its_own_message(body: str, content_type: str) -> None:
    async with answering(403, body, content_type) as (epmm, _):
        with pytest.raises(ForbiddenError) as info:
            await epmm.labels.list()
    text = str(info.value)
    assert not isinstance(info.value, AuthenticationError)
    assert "wrong credentials" not in text
    assert "access denied" in text and "API role" in text
    _no_credentials(text)


async def test_a_job_aborted_by_401_says_why() -> None:
    async with answering(401, HTML_401, "text/html") as (epmm, received):
        report = await epmm.ops.fan_out("lock", [b.UUID1, b.UUID2, b.UUID3], reason="x",
                                        concurrency=1)
    assert report.aborted is not None and AUTH_TEXT in report.aborted
    _no_credentials(report.aborted)
    assert len(received) == 1
