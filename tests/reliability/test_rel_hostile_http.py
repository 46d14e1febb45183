"""Hostile answers and hostile input through the real client against real servers on loopback:
HTML error pages, truncated and oversized bodies, wrong content types; path segments and
CR/LF injection as the server receives them; uuid/MAC validation under random strings."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp import web
from hypothesis import given, settings
from hypothesis import strategies as st
from loopback import serve
from rel_support import client_for

from epmm_async import (
    ClientConfig,
    DecodeError,
    EpmmClient,
    EpmmError,
    MacAddress,
    NotFoundError,
    RetryPolicy,
    ServerError,
    TransportError,
    ValidationError,
)
from epmm_async.errors import ResponseTooLargeError
from epmm_async.simulator import Simulator
from epmm_async.validation import validate_uuid

UUID = "8d711cdc-e93c-49b1-88d6-222f54132445"
LABELS = b'{"labels": {"label": [{"@id": "-1", "name": "All-Smartphones"}]}}'


class Seen:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.mode = "nodata"


def hostile_app(seen: Seen) -> web.Application:
    async def handler(request: web.Request) -> web.StreamResponse:
        seen.requests.append({"raw_path": request.raw_path, "headers": dict(request.headers),
                              "query": request.query_string})
        mode = seen.mode
        if mode == "html404":
            return web.Response(status=404, text="<html><body>Not Found</body></html>",
                                content_type="text/html")
        if mode == "html200":
            return web.Response(status=200, text="<!DOCTYPE html><html><body>Login</body></html>",
                                content_type="text/html")
        if mode == "html500":
            return web.Response(status=500, text="<html><h1>Internal Error</h1></html>",
                                content_type="text/html")
        if mode == "wrong_type":
            return web.Response(status=200, body=LABELS, content_type="application/xml")
        if mode == "text_plain":
            return web.Response(status=200, body=b"OK", content_type="text/plain")
        if mode == "truncated":
            resp = web.StreamResponse(status=200, headers={"Content-Type": "application/json",
                                                           "Content-Length": str(len(LABELS))})
            await resp.prepare(request)
            await resp.write(LABELS[: len(LABELS) // 2])
            request.transport.close()  # type: ignore[union-attr]
            return resp
        if mode == "truncated_complete":  # a short but complete HTTP message
            return web.Response(status=200, body=LABELS[:20], content_type="application/json")
        if mode in ("huge", "huge_chunked"):
            resp = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
            if mode == "huge":
                resp.content_length = 5_000_000
            else:
                resp.enable_chunked_encoding()
            await resp.prepare(request)
            try:
                await resp.write(b'{"labels": {"label": [')
                for _ in range(5_000):
                    await resp.write(b'{"name": "x"},' * 70)
            except (ConnectionError, RuntimeError):
                pass  # the client hung up, as it should
            return resp
        return web.Response(status=404, body=b'{"messages": {"message": "No devices found."}}',
                            content_type="application/json")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    return app


def client(url: str, **kw: Any) -> EpmmClient:
    kw.setdefault("retry", RetryPolicy.none())
    return EpmmClient(url, username="u", password="p-hostile", config=ClientConfig(**kw))


@pytest.mark.parametrize(
    ("mode", "error"),
    [
        ("html404", NotFoundError),
        ("html200", DecodeError),
        ("html500", ServerError),
        ("wrong_type", DecodeError),
        ("text_plain", DecodeError),
        ("truncated", TransportError),
        ("truncated_complete", DecodeError),
    ],
)
async def test_hostile_answer_is_a_typed_error(mode: str, error: type[EpmmError]) -> None:
    seen = Seen()
    app = hostile_app(seen)
    seen.mode = mode
    async with serve(app) as url, client(url) as epmm:
        with pytest.raises(error) as caught:
            await epmm.labels.list()
        assert type(caught.value) is not EpmmError
        # A destructive action meeting the same answer: typed too, and never resent.
        with pytest.raises(EpmmError):
            await epmm.devices.wipe(UUID)
    assert len(seen.requests) == 2


@pytest.mark.parametrize("mode", ["huge", "huge_chunked"])
async def test_response_size_capped(mode: str) -> None:
    seen = Seen()
    app = hostile_app(seen)
    seen.mode = mode
    async with serve(app) as url, client(url, max_response_bytes=256 * 1024) as epmm:
        with pytest.raises(ResponseTooLargeError):
            await asyncio.wait_for(epmm.labels.list(), 20)
        # The client is still usable afterwards.
        seen.mode = "nodata"
        assert await epmm.devices.by_label("x") == []


async def test_wrong_content_type_json_decodes_by_sniffing_or_errors() -> None:
    # The server labels JSON as XML: a typed DecodeError, never a raw parser exception.
    seen = Seen()
    app = hostile_app(seen)
    seen.mode = "wrong_type"
    async with serve(app) as url, client(url, response_format="xml") as epmm:
        with pytest.raises(DecodeError):
            await epmm.devices.list()


# -- hostile input on the wire --

NAMES = ["a/b", "..", ".", "../../admin", "100%", "%2F", "what?x=1", "tag#1", "Sales EMEA",
         "R&D/Prototypes", "Équipe Paris", "日本語", "a+b", "semi;colon", "x\\y", "~user", "@"]


@pytest.mark.parametrize("name", NAMES)
async def test_one_quoted_segment_on_the_wire(name: str) -> None:
    seen = Seen()
    async with serve(hostile_app(seen)) as url, client(url) as epmm:
        await epmm.devices.by_user(name)
        await epmm.devices.by_label(name)
        await epmm.devices.by_phone(name)
    for req, prefix in zip(seen.requests, ("/api/v1/dm/users/", "/api/v1/dm/labels/",
                                           "/api/v1/dm/phones/"), strict=True):
        raw = req["raw_path"]
        assert raw.startswith(prefix)
        segment = raw[len(prefix):]
        assert "/" not in segment and "?" not in segment and "#" not in segment
        assert " " not in segment and segment.isascii()
        assert req["query"] == ""
        from urllib.parse import unquote
        assert unquote(segment) == name


@pytest.mark.parametrize("name", ["R&D/Prototypes", "Équipe Paris"])
async def test_simulator_finds_labels_with_reserved_characters(name: str) -> None:
    async with Simulator(devices=300, seed=7) as sim, client_for(sim) as epmm:
        labels = {label.name for label in await epmm.labels.list()}
        assert name in labels
        found = await epmm.devices.by_label(name)
        label = next(lb for lb in sim.fleet.labels if lb.name == name)
        expected = {u for u, d in sim.fleet.devices.items()
                    if label.matches(d) and d.status.value != "RETIRED"}
        assert found, f"no device found for {name!r}"
        assert {d.uuid for d in found} == expected
        paths = [p for p in sim.stats.by_path if "labels/" in p]
        assert paths


CRLF = ["x\r\nX-Injected: 1", "x\nX-Injected: 1", "x\rX-Injected: 1",
        "a\r\n\r\nGET /evil HTTP/1.1\r\nHost: e", "x%0d%0aX-Injected: 1"]


@pytest.mark.parametrize("evil", CRLF)
async def test_crlf_cannot_split_a_request(evil: str) -> None:
    seen = Seen()
    async with serve(hostile_app(seen)) as url, client(url) as epmm:
        calls = [
            epmm.devices.lock(UUID, reason=evil),
            epmm.devices.by_user(evil),
            epmm.devices.by_label(evil),
        ]
        for call in calls:
            try:
                await call
            except ValidationError:
                pass  # refused before sending: also fine
            except EpmmError:
                pass
        try:
            await epmm.ops.send_message([UUID], message=evil, mode="pns")
        except ValidationError:
            pass
    assert seen.requests, "nothing reached the server"
    assert len(seen.requests) <= 4  # one request per call, never a smuggled second one
    for req in seen.requests:
        assert "X-Injected" not in req["headers"]
        assert "x-injected" not in {k.lower() for k in req["headers"]}
        assert "/evil" not in req["raw_path"].split("?")[0] or "%2Fevil" in req["raw_path"]
        raw = req["raw_path"]
        assert "\r" not in raw and "\n" not in raw
        if "\r" in evil or "\n" in evil:
            assert "%0D" in raw or "%0A" in raw or "%0d" in raw or req["query"] == ""


# -- uuid and MAC validation --

HEX = "0123456789abcdefABCDEF"


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=50), st.from_regex(r"[0-9a-fA-F-]{30,40}", fullmatch=True),
                 st.integers(), st.none(), st.binary(max_size=40)))
def test_uuid_validation(value: object) -> None:
    import re
    try:
        out = validate_uuid(value)
    except ValidationError:
        return
    assert isinstance(value, str)
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", out)
    assert out == value.strip().lower()


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=30), st.from_regex(r"[0-9a-fA-F:\-. ]{10,20}", fullmatch=True),
                 st.integers(), st.none()))
def test_mac_validation(value: object) -> None:
    import re
    try:
        mac = MacAddress(value)  # type: ignore[arg-type]
    except ValidationError:
        return
    assert isinstance(value, str)
    assert re.fullmatch(r"[0-9A-F]{12}", mac)
    assert mac.isascii()


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=HEX, min_size=32, max_size=32))
def test_well_formed_uuids_pass(hexes: str) -> None:
    value = f"{hexes[:8]}-{hexes[8:12]}-{hexes[12:16]}-{hexes[16:20]}-{hexes[20:]}"
    assert validate_uuid(value) == value.lower()
    assert MacAddress(hexes[:12]) == hexes[:12].upper()
