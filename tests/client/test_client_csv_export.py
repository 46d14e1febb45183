"""The ``devices.csv`` export parser: correct, linear in the body, bounded in memory, typed errors.

One unbalanced quote used to make every ``feed`` re-count the whole buffer (2 MiB took minutes
of CPU and blocked the loop for seconds per chunk); invalid UTF-8 and a huge field raised
untyped errors; ``max_response_bytes`` was ignored.
"""

from __future__ import annotations

import asyncio
import base64
import csv
import io
import itertools
import time
from collections.abc import AsyncIterator, Iterable

import aiohttp
import msgspec
import pytest
from aiohttp import web
from hypothesis import given, settings
from hypothesis import strategies as st
from loopback import serve

from epmm_async import ClientConfig, CsvDeviceRow, DecodeError, EpmmClient, ValidationError
from epmm_async.core.csv_export import DEFAULT_MAX_RECORD_BYTES, CsvExportParser
from epmm_async.errors import ResponseTooLargeError
from epmm_async.simulator import Simulator

UUID1 = "8d711cdc-e93c-49b1-88d6-222f54132445"
UUID2 = "ab7e93f4-90e2-485b-82b9-7a030ef7d985"
BIG = 1 << 40
MIB = 1 << 20


def parse(chunks: Iterable[bytes], **caps: int) -> list[CsvDeviceRow]:
    caps.setdefault("max_bytes", BIG)
    parser = CsvExportParser(**caps)
    rows: list[CsvDeviceRow] = []
    for chunk in chunks:
        rows.extend(parser.feed(chunk))
    rows.extend(parser.close())
    return rows


def pieces(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


_FIELDS = {f.encode_name for f in msgspec.structs.fields(CsvDeviceRow)}


def reference(text: str) -> list[CsvDeviceRow]:
    """What the export means, by the standard library's csv module on the whole text."""
    records = [r for r in csv.reader(io.StringIO(text, newline="")) if r and r != [""]]
    header = [h.strip() for h in records[0]] if records else []
    return [
        msgspec.convert(
            {k: (v if v != "" else None) for k, v in zip(header, r, strict=False)
             if k in _FIELDS},
            CsvDeviceRow,
            strict=False,
        )
        for r in records[1:]
    ]


HEADER = (
    "Operator,Country,Device UUID,Phone Number,Principal,Name,Platform,Status Code,"
    "Employee Owned,Compliance,Wi-Fi MAC Address,Unknown Column\r\n"
)
ROWS = (
    f'AT&T,United States,{UUID1},4085551212,jdoe,"Doe, Joe","Android\n4.4",97,true,3,'
    "38AA3C62BFAD,x\r\n"
    f'"Verizon ""Wireless""",Fran\u00e7e,{UUID2},,asmith,"Ann\r\n""日本""",iOS,114,false,0,,\r\n'
)
BODY = ("\ufeff" + HEADER + ROWS).encode()


def check_two_rows(rows: list[CsvDeviceRow]) -> None:
    assert len(rows) == 2
    first, second = rows
    assert (first.operator, first.name, first.platform) == ("AT&T", "Doe, Joe", "Android\n4.4")
    assert (first.uuid, first.status_code, first.employee_owned) == (UUID1, 97, True)
    assert first.compliance == 3
    assert first.wifi_mac_address == "38AA3C62BFAD"
    assert second.operator == 'Verizon "Wireless"'
    assert second.country == "Fran\u00e7e"
    assert second.name == 'Ann\r\n"日本"'
    assert second.phone_number is None
    assert second.employee_owned is False
    assert second.wifi_mac_address is None


# -- behaviour kept ----------------------------------------------------------------------------


def test_whole_body_at_once() -> None:
    rows = parse([BODY])
    check_two_rows(rows)
    assert rows == reference(BODY.decode("utf-8-sig"))


def test_every_single_cut_position() -> None:
    # One cut at every byte: inside the BOM, the quoted comma, the quoted \n and \r\n, the
    # doubled quotes and the multi-byte characters.
    for i in range(len(BODY) + 1):
        check_two_rows(parse([BODY[:i], BODY[i:]]))


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 64, 4096])
def test_fixed_chunk_sizes(size: int) -> None:
    check_two_rows(parse(pieces(BODY, size)))


def test_quirks_kept() -> None:
    assert parse([]) == []
    assert parse([b""]) == []
    assert parse([b"\xef\xbb\xbf"]) == []
    assert parse([HEADER.encode()]) == []
    # A last record without a line break; blank lines; LF only; a padded header.
    body = b" Operator , Name \n\n\r\nAT&T,Joe\n\nVerizon,"
    rows = parse(pieces(body, 3))
    assert [(r.operator, r.name) for r in rows] == [("AT&T", "Joe"), ("Verizon", None)]
    # Short and long records: missing columns are None, extra ones ignored.
    rows = parse([b"Operator,Name\r\nA\r\nB,C,D,E\r\n"])
    assert [(r.operator, r.name) for r in rows] == [("A", None), ("B", "C")]


def test_quotes_as_the_csv_module_reads_them() -> None:
    # A quote inside an unquoted field is a literal character; text after a closing quote is
    # kept; an empty quoted field is empty.
    text = 'Operator,Name,Principal\r\nab"c,"x"y,""\r\n"a""",b"",\r\n'
    assert parse(pieces(text.encode(), 1)) == reference(text)
    rows = parse([text.encode()])
    assert [(r.operator, r.name, r.principal) for r in rows] == [
        ('ab"c', "xy", None),
        ('a"', 'b""', None),
    ]


# -- the simulator's export ------------------------------------------------------------------


async def test_simulator_export_matches_the_fleet_and_the_csv_module() -> None:
    async with Simulator(devices=400, seed=5) as sim:
        async with EpmmClient(sim.url, username=sim.username, password=sim.password) as epmm:
            rows = [row async for row in epmm.devices.export_csv()]
        token = base64.b64encode(f"{sim.username}:{sim.password}".encode()).decode()
        async with aiohttp.ClientSession() as session:
            async with session.get(
                sim.url + "/api/v1/dm/devices.csv", headers={"Authorization": f"Basic {token}"}
            ) as resp:
                raw = await resp.read()
        fleet = list(sim.fleet.devices.values())
    assert rows == reference(raw.decode("utf-8-sig"))
    assert [r.uuid for r in rows] == [d.uuid for d in fleet]
    for row, device in zip(rows, fleet, strict=True):
        assert row.name == (device.name or None)
        assert row.platform == device.platform
        assert row.status_code == device.status_code
        assert row.employee_owned == device.employee_owned
        assert row.wifi_mac_address == (device.wifi_mac or None)
    # The same body in awkward chunks gives the same rows.
    assert parse(pieces(raw, 997)) == rows


# -- chunk boundaries anywhere (property) ----------------------------------------------------

_VALUE = st.text(alphabet=st.sampled_from(list('ab ,"\r\n\u00e9日🚀')), max_size=12)
_ROW = st.tuples(_VALUE, _VALUE, _VALUE)


@settings(max_examples=300, deadline=None)
@given(rows=st.lists(_ROW, max_size=8), cuts=st.lists(st.integers(0, 10_000), max_size=12),
       bom=st.booleans(), terminator=st.sampled_from(["\r\n", "\n"]))
def test_any_chunking_gives_the_rows_written(
    rows: list[tuple[str, str, str]], cuts: list[int], bom: bool, terminator: str
) -> None:
    if terminator == "\n":  # the csv module quotes only the characters of its terminator
        rows = [(a.replace("\r", ""), b.replace("\r", ""), c.replace("\r", "")) for a, b, c in rows]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator=terminator)
    writer.writerow(["Operator", "Name", "Principal"])
    writer.writerows(rows)
    data = (("\ufeff" if bom else "") + buf.getvalue()).encode()
    bounds = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    chunks = [data[i:j] for i, j in itertools.pairwise(bounds)]
    got = parse(chunks)
    assert [(r.operator or "", r.name or "", r.principal or "") for r in got] == rows


# -- linear time, bounded per chunk ------------------------------------------------------------


def _feed_timed(data: bytes, **caps: int) -> tuple[float, float, BaseException | None]:
    """Feed in 64 KiB chunks: (total CPU seconds, slowest feed, the error raised if any)."""
    caps.setdefault("max_bytes", BIG)
    parser = CsvExportParser(**caps)
    slowest = 0.0
    started = time.process_time()
    try:
        for chunk in pieces(data, 64 * 1024):
            t0 = time.process_time()
            parser.feed(chunk)
            slowest = max(slowest, time.process_time() - t0)
        parser.close()
    except DecodeError as exc:
        return time.process_time() - started, slowest, exc
    return time.process_time() - started, slowest, None


_FILLER = b"AT&T,United States,x,4085551212,jdoe,Joe,Android,97,true,3,38AA3C62BFAD,x\r\n"


def test_never_closed_quote_2mib_is_prompt() -> None:
    # A quote that opens a field and never closes: the rest of the body is one field.
    data = HEADER.encode() + b'AT&T,"Doe\r\n' + _FILLER * (2 * MIB // len(_FILLER))
    total, slowest, error = _feed_timed(data, max_record_bytes=4 * MIB)
    assert isinstance(error, DecodeError)
    assert "ends inside a quoted field" in str(error)
    assert "record 2 " in str(error)
    assert total < 5.0, total  # it took 125 s
    assert slowest < 1.0, slowest  # a feed blocked the loop 11.7 s
    # With the default record cap it stops as soon as the record passes 1 MiB.
    total, _, error = _feed_timed(data)
    assert isinstance(error, DecodeError)
    assert f"{DEFAULT_MAX_RECORD_BYTES}-byte record cap" in str(error)
    assert total < 5.0, total


def test_stray_quote_in_an_unquoted_field_2mib() -> None:
    # An odd quote inside an unquoted field is data, as for the csv module: every row parses.
    rows = 2 * MIB // len(_FILLER)
    data = HEADER.encode() + b'AT&T,x,,,,Jo"e,,,,,,\r\n' + _FILLER * rows
    total, slowest, error = _feed_timed(data)
    assert error is None
    assert total < 5.0, total
    assert slowest < 1.0, slowest
    got = parse(pieces(data, 64 * 1024))
    assert len(got) == rows + 1
    assert got[0].name == 'Jo"e'


def test_many_quoted_newlines_2mib() -> None:
    # Newlines inside quotes are scanned once each, not once per chunk.
    data = HEADER.encode() + b'AT&T,x,,,,"' + b"\n" * (2 * MIB) + b'",,,,,,\r\n' + _FILLER
    total, slowest, error = _feed_timed(data, max_record_bytes=4 * MIB)
    assert error is None
    assert total < 5.0, total
    assert slowest < 1.0, slowest


# -- typed errors and caps ---------------------------------------------------------------------


def test_invalid_utf8_names_the_byte_offset() -> None:
    head = (HEADER + "AT&T,United States,").encode()
    data = head + b"caf\xff,x\r\n"
    for size in (1, 7, len(data)):
        with pytest.raises(DecodeError, match=rf"not valid UTF-8: byte {len(head) + 3} "):
            parse(pieces(data, size))
    # After a BOM the offset still counts from the body's first byte.
    with pytest.raises(DecodeError, match=rf"byte {3 + len(head) + 3} "):
        parse([b"\xef\xbb\xbf" + data])


@pytest.mark.parametrize(
    "bad",
    [b"\xed\xa0\x80", b"\xc0\xaf", b"\xf8\x88\x80\x80\x80", b"\x80", b"\xe6\x97"],
    ids=["encoded-surrogate", "overlong", "five-byte", "continuation", "truncated"],
)
def test_invalid_utf8_kinds(bad: bytes) -> None:
    with pytest.raises(DecodeError, match="not valid UTF-8"):
        parse([b"Operator,Name\r\nx,", bad, b"\r\n"])
    with pytest.raises(DecodeError, match="not valid UTF-8"):
        parse([b"Operator,Name\r\nx,", bad])  # at the very end of the body


def test_multibyte_split_between_chunks_is_fine() -> None:
    data = "Operator,Name\r\nx,日本🚀\r\n".encode()
    for i in range(len(data) + 1):
        assert [r.name for r in parse([data[:i], data[i:]])] == ["日本🚀"]


def test_record_cap_is_exact() -> None:
    record = b"AT&T," + b"n" * 95  # 100 bytes, without its line break
    assert len(parse([b"Operator,Name\r\n", record, b"\r\n"], max_record_bytes=100)) == 1
    with pytest.raises(DecodeError, match=r"record 2 \(at byte 15\) exceeds the 99-byte"):
        parse([b"Operator,Name\r\n", record, b"\r\n"], max_record_bytes=99)
    # Caught while the record is still growing, not only when it ends.
    parser = CsvExportParser(max_bytes=BIG, max_record_bytes=99)
    parser.feed(b"Operator,Name\r\n" + record[:99])
    with pytest.raises(DecodeError, match="99-byte record cap"):
        parser.feed(record[99:])


@pytest.mark.parametrize("quoted", [True, False])
def test_huge_field_is_a_decode_error(quoted: bool) -> None:
    field = b"x" * (2 * MIB)
    if quoted:
        field = b'"' + field + b'"'
    data = b"Operator,Name\r\nAT&T," + field + b"\r\nVerizon,Ann\r\n"
    _, slowest, error = _feed_timed(data)
    assert isinstance(error, DecodeError)
    assert "record 2 (at byte 15) exceeds the 1048576-byte record cap" in str(error)
    assert slowest < 1.0


def test_total_over_max_bytes() -> None:
    data = BODY
    check_two_rows(parse(pieces(data, 10), max_bytes=len(data)))
    with pytest.raises(ResponseTooLargeError, match=rf"{len(data) - 1}-byte cap"):
        parse(pieces(data, 10), max_bytes=len(data) - 1)


def test_record_that_does_not_convert_names_its_number() -> None:
    data = b"Operator,Status Code\r\nA,1\r\n\r\nB,2\r\nC,not-a-number\r\n"
    with pytest.raises(DecodeError, match=r"record 4 \(at byte 34\): Expected `int"):
        parse(pieces(data, 4))


@pytest.mark.parametrize("caps", [{"max_bytes": 0}, {"max_bytes": BIG, "max_record_bytes": 0}])
def test_caps_must_be_positive(caps: dict[str, int]) -> None:
    with pytest.raises(ValidationError):
        CsvExportParser(**caps)


# -- over a real server on loopback ------------------------------------------------------------


class CsvServer:
    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.received = 0


@pytest.fixture
async def csv_server() -> AsyncIterator[tuple[str, CsvServer]]:
    state = CsvServer()

    async def handler(request: web.Request) -> web.StreamResponse:
        state.received += 1
        resp = web.StreamResponse(headers={"Content-Type": "text/csv"})
        await resp.prepare(request)
        for chunk in state.chunks:
            await resp.write(chunk)
        await resp.write_eof()
        return resp

    app = web.Application()
    app.router.add_get("/api/v1/dm/devices.csv", handler)
    async with serve(app) as url:
        yield url, state


async def _export(url: str, max_response_bytes: int = 1 << 30) -> list[CsvDeviceRow]:
    async with EpmmClient(
        url,
        username="u",
        password="p",
        config=ClientConfig(max_response_bytes=max_response_bytes),
    ) as epmm:
        return [row async for row in epmm.devices.export_csv()]


async def test_loopback_export_in_awkward_chunks(csv_server: tuple[str, CsvServer]) -> None:
    url, state = csv_server
    state.chunks = pieces(BODY, 3)
    check_two_rows(await _export(url))
    assert state.received == 1


async def test_loopback_max_response_bytes(csv_server: tuple[str, CsvServer]) -> None:
    url, state = csv_server
    state.chunks = pieces(HEADER.encode() + _FILLER * 2000, 4096)
    size = sum(map(len, state.chunks))
    assert len(await _export(url, max_response_bytes=size)) == 2000
    with pytest.raises(ResponseTooLargeError, match=f"{size // 2}-byte cap"):
        await _export(url, max_response_bytes=size // 2)
    assert state.received == 2  # never retried


async def test_loopback_invalid_utf8_and_huge_field(csv_server: tuple[str, CsvServer]) -> None:
    url, state = csv_server
    state.chunks = [HEADER.encode(), b"AT&T,\xff\xfe\r\n"]
    with pytest.raises(DecodeError, match=rf"byte {len(HEADER) + 5} "):
        await _export(url)
    state.chunks = [HEADER.encode(), b'AT&T,"', *pieces(b"y" * (2 * MIB), 64 * 1024)]
    with pytest.raises(DecodeError, match="1048576-byte record cap"):
        await _export(url)
    assert state.received == 2


async def test_loopback_unbalanced_quote_never_blocks_the_loop(
    csv_server: tuple[str, CsvServer],
) -> None:
    url, state = csv_server
    rows = 2 * MIB // len(_FILLER)
    state.chunks = pieces(HEADER.encode() + b'AT&T,x,,,,Jo"e\r\n' + _FILLER * rows, 64 * 1024)
    gaps: list[float] = []

    async def ticker() -> None:
        last = time.monotonic()
        while True:
            await asyncio.sleep(0.01)
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    tick = asyncio.create_task(ticker())
    try:
        started = time.monotonic()
        got = await _export(url)
        elapsed = time.monotonic() - started
    finally:
        tick.cancel()
    assert len(got) == rows + 1
    assert elapsed < 10.0, elapsed
    assert max(gaps, default=0.0) < 1.0, max(gaps)
