"""Credentials stay out of what rich prints: a traceback with locals shows the request.

rich (a dependency) prints an object through its ``__rich_repr__`` when it has one, and a
msgspec struct has one listing every field. structlog's default console renderer formats a
logged exception with rich and ``show_locals=True``, so the ``http`` local of the sender's
frame is printed that way: the Authorization header (the password in base64) and the URL's
query (a private reason) must not be in it.
"""

from __future__ import annotations

import base64
import io

import structlog
from rich.pretty import pretty_repr

from epmm_async import ClientConfig, EpmmClient, RetryPolicy
from epmm_async.credentials import Credentials
from epmm_async.transport import Canned, MemoryTransport
from epmm_async.transport.base import HttpRequest

UUID = "727afb16-327f-40cf-bf34-fd2fee389193"
SECRET = "pw-hunter2"


def test_a_pretty_printed_request_hides_the_authorization_header_and_the_query() -> None:
    header = Credentials("api", SECRET).header()
    request = HttpRequest("PUT", f"https://x/api/v1/dm/devices/wipe/{UUID}?Reason=private",
                          {"Authorization": header}, None, f"/devices/wipe/{UUID}")
    text = pretty_repr(request)
    assert "Authorization" in text  # the header's name is shown, its value never
    assert header not in text and "private" not in text, text


async def test_a_logged_wipe_failure_traceback_hides_the_password() -> None:
    out = io.StringIO()
    structlog.configure(
        processors=[structlog.dev.ConsoleRenderer(colors=False)],
        logger_factory=structlog.PrintLoggerFactory(file=out),
    )
    try:
        transport = MemoryTransport()
        transport.on("PUT", f"/devices/wipe/{UUID}", Canned.html(500))
        async with EpmmClient("https://x.test", username="api", password=SECRET,
                              config=ClientConfig(retry=RetryPolicy.none()),
                              transport=transport) as epmm:
            try:
                await epmm.devices.wipe(UUID, reason="private")
            except Exception:
                structlog.get_logger("app").exception("wipe failed")
    finally:
        structlog.reset_defaults()
    text = out.getvalue()
    token = base64.b64encode(f"api:{SECRET}".encode()).decode()
    assert "wipe failed" in text and "HttpRequest" in text  # the locals were rendered
    assert token not in text and SECRET not in text, [
        line for line in text.splitlines() if token in line or SECRET in line]
