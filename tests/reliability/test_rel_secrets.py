"""The password never leaks: reprs, structlog (DEBUG, JSON), stdlib logging (DEBUG, aiohttp
included), exceptions and tracebacks, SQLite journals (raw bytes) and reports (outcome JSON),
after successes, an authentication failure and transport failures. TLS is verified by
default; plain http:// to a non-loopback host is refused."""

from __future__ import annotations

import io
import logging
import ssl
import traceback
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest
import structlog
from aiohttp import web
from loopback import serve
from rel_support import assert_no_secret, fast_retry, secret_forms, self_signed_cert

from epmm_async import (
    AuthenticationError,
    ClientConfig,
    EpmmClient,
    EpmmError,
    RetryPolicy,
    Timeouts,
    TlsError,
    ValidationError,
)
from epmm_async.core import requests as core_requests
from epmm_async.ops import JobSettings, OutcomeStatus
from epmm_async.simulator import Faults, Simulator

PASSWORD = "Sup3r-S3cret/pa:ss%word€"
WRONG = "Wr0ng-Guess!pw#42"


@pytest.fixture
def logs() -> Iterator[tuple[io.StringIO, io.StringIO]]:
    """structlog at DEBUG rendering JSON into one buffer; stdlib logging at DEBUG into another."""
    sbuf, lbuf = io.StringIO(), io.StringIO()
    old = structlog.get_config()
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG),
        logger_factory=structlog.PrintLoggerFactory(sbuf),
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(lbuf)
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    for name in ("aiohttp", "aiohttp.client", "aiohttp.access", "aiohttp.server", "asyncio"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        yield sbuf, lbuf
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
        structlog.configure(**old)


def journal_bytes(path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))


async def test_password_never_leaks(tmp_path: Path, logs: tuple[io.StringIO, io.StringIO]) -> None:
    sbuf, lbuf = logs
    errors: list[BaseException] = []
    texts: list[str] = []
    blobs: list[tuple[str, bytes]] = []
    async with Simulator(devices=120, seed=3, password=PASSWORD,
                         faults=Faults(drop_rate=0.2, error_rate=0.1, seed=3)) as sim:
        forms = secret_forms(sim.username, PASSWORD) + secret_forms(sim.username, WRONG)
        uuids = [u for u, d in sim.fleet.devices.items() if d.status.value == "ACTIVE"][:40]

        # 1. a successful job with faults (retries logged), journal + report
        journal = tmp_path / "wipe.journal"
        lock_journal = tmp_path / "lock.journal"  # a journal holds one job
        async with EpmmClient(
            sim.url,
            username=sim.username,
            password=PASSWORD,
            config=ClientConfig(retry=fast_retry(deadline=5)),
        ) as epmm:
            texts += [repr(epmm), str(epmm), repr(epmm.transport), repr(epmm.sender),
                      repr(epmm.config), repr(epmm.sender.credentials),
                      repr(epmm.sender.http_request(core_requests.labels()))]
            report = await epmm.ops.fan_out("wipe", uuids[:20], settings=JobSettings(
                journal=str(journal), max_consecutive_outages=1000))
            blobs.append(("report", msgspec.json.encode(report)))
            blobs.append(("repr(report)", repr(report).encode()))
            assert report.count(OutcomeStatus.UNKNOWN) > 0  # a transport failure happened
            bulk = await epmm.ops.bulk("LOCK", uuids, settings=JobSettings(
                journal=str(lock_journal), max_consecutive_outages=1000))
            blobs.append(("bulk report", msgspec.json.encode(bulk)))
        blobs.append(("journal", journal_bytes(journal)))
        blobs.append(("lock journal", journal_bytes(lock_journal)))

        # 2. an authentication failure: the job aborts, journal + report recorded
        sim.set_faults(Faults())
        bad_journal = tmp_path / "auth.journal"
        async with EpmmClient(
            sim.url,
            username=sim.username,
            password=WRONG,
            config=ClientConfig(retry=RetryPolicy.none()),
        ) as bad:
            texts.append(repr(bad))
            report = await bad.ops.fan_out("lock", uuids, reason="x",
                                           settings=JobSettings(journal=str(bad_journal)))
            assert report.aborted and report.count(OutcomeStatus.SKIPPED) > 0
            blobs.append(("auth report", msgspec.json.encode(report)))
            with pytest.raises(AuthenticationError) as auth:
                await bad.labels.list()
            errors.append(auth.value)
        blobs.append(("auth journal", journal_bytes(bad_journal)))

    # 3. a transport failure: the server is gone (connection refused)
    dead_journal = tmp_path / "dead.journal"
    async with EpmmClient(
        sim.url,
        username=sim.username,
        password=PASSWORD,
        config=ClientConfig(
            retry=RetryPolicy(attempts=2, initial_delay=0.001),
            timeouts=Timeouts(connect=1),
        ),
    ) as dead:
        report = await dead.ops.bulk("WIPE", uuids, settings=JobSettings(
            journal=str(dead_journal), max_consecutive_outages=1))
        assert report.count(OutcomeStatus.FAILED) + report.count(OutcomeStatus.SKIPPED) == len(
            uuids)
        blobs.append(("dead report", msgspec.json.encode(report)))
        try:
            await dead.devices.wipe(uuids[0])
        except EpmmError as exc:
            errors.append(exc)
    blobs.append(("dead journal", journal_bytes(dead_journal)))

    # An exception raised inside a job and logged with its traceback.
    log = structlog.get_logger("test")
    for err in errors:
        try:
            raise err
        except EpmmError:
            log.exception("failure")
            logging.getLogger("test").exception("failure")
        texts += [str(err), repr(err), "".join(traceback.format_exception(err))]
        texts.append(repr(err.__dict__))
        assert err.__cause__ is None or isinstance(err.__cause__, EpmmError)

    assert len(errors) == 2
    assert '"event"' in sbuf.getvalue() and "http.request" in sbuf.getvalue()
    assert "failure" in lbuf.getvalue()
    for i, text in enumerate(texts):
        assert_no_secret(text, forms, f"text #{i}")
    for name, blob in blobs:
        assert blob, name
        assert_no_secret(blob, forms, name)
    assert_no_secret(sbuf.getvalue(), forms, "structlog JSON")
    assert_no_secret(lbuf.getvalue(), forms, "stdlib logging")


def test_credentials_refuse_insecure_http() -> None:
    for url in ("http://epmm.example.com", "http://192.168.1.10:8443", "http://[2001:db8::1]"):
        with pytest.raises(ValidationError) as caught:
            EpmmClient(url, username="u", password=PASSWORD)
        assert_no_secret(str(caught.value), secret_forms("u", PASSWORD), "refusal")
        EpmmClient(
            url,
            username="u",
            password=PASSWORD,
            config=ClientConfig(allow_insecure_http=True),
        )
    forms = [*secret_forms("u", PASSWORD), b"Sup3r-S3cret", b"pa:ss"]
    for url in (f"https://u:{PASSWORD}@epmm.example.com", "https://u:Sup3r-S3cret@host",
                f"ftp://admin:{PASSWORD}@epmm.example.com", "https://u:pa:ss@[::1"):
        with pytest.raises(ValidationError) as refused:
            EpmmClient(url, username="u", password=PASSWORD)
        assert_no_secret(str(refused.value), forms, "base_url refusal")
        assert_no_secret("".join(traceback.format_exception(refused.value)), forms, "traceback")


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    made = self_signed_cert(tmp_path_factory.mktemp("tls"))
    if made is None:
        pytest.skip("neither the cryptography package nor a working openssl CLI is available")
    return made


async def test_tls_verified_by_default(cert: tuple[Path, Path]) -> None:
    certfile, keyfile = cert
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(certfile, keyfile)
    hits: list[str] = []

    async def handler(request: web.Request) -> web.Response:
        hits.append(request.headers.get("Authorization", ""))
        return web.json_response({"labels": {"label": [{"@id": "-1", "name": "All"}]}})

    app = web.Application()
    app.router.add_get("/{tail:.*}", handler)
    async with serve(app, ssl_context=ctx) as url:
        async with EpmmClient(
            url,
            username="u",
            password=PASSWORD,
            config=ClientConfig(retry=RetryPolicy(attempts=2, initial_delay=0.001)),
        ) as epmm:
            with pytest.raises(TlsError) as caught:
                await epmm.labels.list()
            assert caught.value.sent is False
            with pytest.raises(TlsError):
                await epmm.devices.wipe("8d711cdc-e93c-49b1-88d6-222f54132445")
        assert hits == []  # nothing (no credentials) was sent over the unverified connection
        async with EpmmClient(
            url,
            username="u",
            password=PASSWORD,
            config=ClientConfig(verify=str(certfile)),
        ) as epmm:
            labels = await epmm.labels.list()
        assert [label.name for label in labels] == ["All"]
        assert len(hits) == 1
