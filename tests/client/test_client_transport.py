"""Credentials never leak; lifecycle; insecure http; TLS options; path quoting; CSV streaming."""

from __future__ import annotations

import asyncio
import base64
import io
import logging
import ssl
import traceback
from collections.abc import AsyncIterator

import aiohttp
import bodies as b
import pytest
import structlog
from aiohttp import web
from client_support import ANY_URL, PASSWORD, USER, MockServer, make_client
from loopback import serve

from epmm_async import (
    AuthenticationError,
    ClientClosedError,
    ClientConfig,
    CsvDeviceRow,
    EpmmClient,
    EpmmError,
    TransportError,
    ValidationError,
)
from epmm_async.core.csv_export import CsvExportParser
from epmm_async.transport import Credentials

TOKEN = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
SECRETS = (PASSWORD, TOKEN)


def assert_clean(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text


# -- credentials -----------------------------------------------------------------------------


async def test_no_credentials_in_logs_reprs_or_errors(mock: MockServer) -> None:
    stream = io.StringIO()
    old = structlog.get_config()
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.dev.ConsoleRenderer(colors=False),
        ],
        logger_factory=structlog.PrintLoggerFactory(stream),
        cache_logger_on_first_use=False,
    )
    errors: list[BaseException] = []
    try:
        with structlog.testing.capture_logs() as captured:
            async with make_client() as epmm:
                mock.reply("GET", b.jettison(b.LABELS_TREE))
                await epmm.labels.list()
                mock.reply("GET", b.jettison(b.error_tree("Unauthorized")), status=401)
                with pytest.raises(AuthenticationError) as auth:
                    await epmm.labels.list()
                errors.append(auth.value)
                mock.reply("GET", "", status=503)
                mock.reply("GET", b.jettison(b.LABELS_TREE))
                await epmm.labels.list()
                mock.add(ANY_URL, "PUT", exception=aiohttp.ServerDisconnectedError())
                with pytest.raises(TransportError) as drop:
                    await epmm.devices.wipe(b.UUID1)
                errors.append(drop.value)
                reprs = [repr(epmm), str(epmm), repr(epmm.transport), repr(epmm.bulk.limits)]
        async with make_client() as epmm2:
            mock.reply("GET", b.jettison(b.LABELS_TREE))
            await epmm2.labels.list()  # rendered through the configured renderer
    finally:
        structlog.configure(**old)
    events = [e["event"] for e in captured]
    assert "http.retry" in events and "http.request" in events
    assert_clean(repr(captured))
    assert_clean(stream.getvalue())
    assert "http.request" in stream.getvalue()
    for text in reprs:
        assert_clean(text)
    creds = Credentials(USER, PASSWORD)
    assert_clean(repr(creds) + str(creds))
    assert creds.header() == f"Basic {TOKEN}"  # the header itself is still right
    for err in errors:
        assert_clean(str(err) + repr(err))
        assert_clean("".join(traceback.format_exception(err)))


async def test_no_credentials_in_stdlib_logging(mock: MockServer, caplog: pytest.LogCaptureFixture) -> None:  # noqa: E501
    caplog.set_level(logging.DEBUG)
    async with make_client() as epmm:
        mock.reply("GET", b.jettison(b.error_tree("no")), status=401)
        with pytest.raises(AuthenticationError):
            await epmm.labels.list()
    assert_clean(caplog.text)


def test_credentials_cannot_be_pickled() -> None:
    import pickle

    with pytest.raises(TypeError):
        pickle.dumps(Credentials(USER, PASSWORD))


# -- lifecycle -------------------------------------------------------------------------------


async def test_call_outside_async_with(mock: MockServer) -> None:
    epmm = make_client()
    with pytest.raises(ClientClosedError):
        await epmm.labels.list()
    assert mock.count() == 0


async def test_call_after_close(mock: MockServer) -> None:
    async with make_client() as epmm:
        pass
    with pytest.raises(ClientClosedError):
        await epmm.devices.get(b.UUID1)
    with pytest.raises(ClientClosedError):
        await epmm.open()
    assert mock.count() == 0


@pytest.mark.parametrize("url", ["http://epmm.example.test", "http://10.0.0.5:8080/"])
def test_insecure_http_refused(url: str) -> None:
    with pytest.raises(ValidationError, match="http"):
        EpmmClient(url, username=USER, password=PASSWORD)
    EpmmClient(
        url,
        username=USER,
        password=PASSWORD,
        config=ClientConfig(allow_insecure_http=True),
    )


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080", "http://localhost", "http://[::1]:9"])
def test_loopback_http_allowed(url: str) -> None:
    EpmmClient(url, username=USER, password=PASSWORD)


def test_tls_verify_options(tmp_path: object) -> None:
    default = EpmmClient("https://h.test", username=USER, password=PASSWORD)
    ctx = default.transport._ssl
    assert isinstance(ctx, ssl.SSLContext)
    assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
    mine = ssl.create_default_context()
    assert EpmmClient(
        "https://h.test",
        username=USER,
        password=PASSWORD,
        config=ClientConfig(verify=mine),
    ).transport._ssl is mine
    assert EpmmClient(
        "https://h.test",
        username=USER,
        password=PASSWORD,
        config=ClientConfig(verify=False),
    ).transport._ssl is False
    with pytest.raises(ValidationError):
        EpmmClient(
            "https://h.test",
            username=USER,
            password=PASSWORD,
            config=ClientConfig(verify="/nonexistent/ca.pem"),
        )
    import certifi

    bundle = EpmmClient(
        "https://h.test",
        username=USER,
        password=PASSWORD,
        config=ClientConfig(verify=certifi.where()),
    ).transport._ssl
    assert isinstance(bundle, ssl.SSLContext) and bundle.verify_mode == ssl.CERT_REQUIRED


# -- a real server on loopback: quoting and streaming ---------------------------------------


class Recorder:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str | None, str | None]] = []
        self.csv_chunks: list[bytes] = []


@pytest.fixture
async def server() -> AsyncIterator[tuple[str, Recorder]]:
    rec = Recorder()

    async def handler(request: web.Request) -> web.StreamResponse:
        rec.seen.append((request.method, request.raw_path, request.headers.get("Authorization"),
                         request.headers.get("Accept")))
        if request.path.endswith("/devices.csv"):
            resp = web.StreamResponse(headers={"Content-Type": "text/csv"})
            await resp.prepare(request)
            for chunk in rec.csv_chunks:
                await resp.write(chunk)
                await asyncio.sleep(0.005)
            await resp.write_eof()
            return resp
        return web.json_response({"messages": {"message": "No devices found."}, "totalCount": 0},
                                 status=404)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    async with serve(app) as url:
        yield url, rec


@pytest.mark.parametrize(
    ("name", "segment"),
    [
        ("a/b", "a%2Fb"),
        ("..", "%2E%2E"),
        (".", "%2E"),
        ("../admin", "..%2Fadmin"),
        ("100%", "100%25"),
        ("what?x=1", "what%3Fx%3D1"),
        ("tag#1", "tag%231"),
        ("Sales EMEA", "Sales%20EMEA"),
        ("Zürich+日本", "Z%C3%BCrich%2B%E6%97%A5%E6%9C%AC"),
    ],
)
async def test_path_segments_quoted(server: tuple[str, Recorder], name: str, segment: str) -> None:
    url, rec = server
    async with EpmmClient(url, username=USER, password=PASSWORD) as epmm:
        assert await epmm.devices.by_user(name) == []
        assert await epmm.devices.by_label(name) == []
    assert [s[1] for s in rec.seen] == [
        f"/api/v1/dm/users/{segment}", f"/api/v1/dm/labels/{segment}"
    ]
    assert all(s[2] == f"Basic {TOKEN}" for s in rec.seen)  # sent pre-emptively
    assert all(s[3] == "application/json" for s in rec.seen)


async def test_query_on_the_wire(server: tuple[str, Recorder]) -> None:
    url, rec = server
    async with EpmmClient(
        url + "/mifs/",
        username=USER,
        password=PASSWORD,
        config=ClientConfig(response_format="xml"),
    ) as epmm:
        with pytest.raises(EpmmError):
            await epmm.devices.lock(b.UUID1, reason="lost it & 100% sure")
    method, raw, _, accept = rec.seen[0]
    assert method == "PUT"
    assert raw == f"/mifs/api/v1/dm/devices/lock/{b.UUID1}?Reason=lost%20it%20%26%20100%25%20sure"
    assert accept == "application/xml"


CSV_HEADER = (
    "Operator,Country,Device UUID,Phone Number,Principal,Name,Platform,Status Code,"
    "Employee Owned,Compliance,Wi-Fi MAC Address,Unknown Column\r\n"
)
CSV_ROWS = (
    f'AT&T,United States,{b.UUID1},4085551212,jdoe,"Doe, Joe","Android\n4.4",97,true,3,'
    f"38AA3C62BFAD,x\r\n"
    f'"Verizon ""Wireless""",Fran\u00e7e,{b.UUID2},,asmith,Ann,iOS,114,false,0,,\r\n'
)


async def test_export_csv_streamed_in_chunks(server: tuple[str, Recorder]) -> None:
    url, rec = server
    data = ("\ufeff" + CSV_HEADER + CSV_ROWS).encode()
    # Cut inside the quoted comma, inside the quoted newline and inside the two-byte 'ç'.
    cuts = [5, data.index(b"Doe,") + 4, data.index(b"\n4.4") + 1, data.index("ç".encode()) + 1]
    pieces = [data[i:j] for i, j in zip([0, *cuts], [*cuts, len(data)], strict=True)]
    rec.csv_chunks = pieces
    async with EpmmClient(url, username=USER, password=PASSWORD) as epmm:
        rows = [row async for row in epmm.devices.export_csv()]
    assert rec.seen[0][1] == "/api/v1/dm/devices.csv"
    assert len(rows) == 2
    first, second = rows
    assert isinstance(first, CsvDeviceRow)
    assert first.operator == "AT&T"
    assert first.name == "Doe, Joe"
    assert first.platform == "Android\n4.4"
    assert first.uuid == b.UUID1
    assert first.status_code == 97
    assert first.employee_owned is True
    assert first.compliance == 3
    assert first.wifi_mac_address == b.MAC
    assert second.operator == 'Verizon "Wireless"'
    assert second.country == "Fran\u00e7e"
    assert second.phone_number is None
    assert second.employee_owned is False


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64])
def test_csv_parser_any_chunk_boundary(size: int) -> None:
    data = (CSV_HEADER + CSV_ROWS).encode()
    parser = CsvExportParser(max_bytes=1 << 20)
    rows: list[CsvDeviceRow] = []
    for i in range(0, len(data), size):
        rows.extend(parser.feed(data[i : i + size]))
    rows.extend(parser.close())
    assert [r.name for r in rows] == ["Doe, Joe", "Ann"]
    assert rows[0].platform == "Android\n4.4"


async def test_export_csv_error_status(mock: MockServer) -> None:
    async with make_client() as epmm:
        mock.reply("GET", b.jettison(b.error_tree("Unauthorized")), status=401)
        with pytest.raises(AuthenticationError) as info:
            _ = [row async for row in epmm.devices.export_csv()]
    assert info.value.messages == ("Unauthorized",)
    assert_clean(str(info.value))
