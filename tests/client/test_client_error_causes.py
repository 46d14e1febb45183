"""Transport errors keep their root cause: a refused certificate (never retried), a server that
does not speak TLS, running out of file descriptors, a wrong base URL, a refused connection."""

from __future__ import annotations

import asyncio
import errno
import os
import resource
import shutil
import ssl
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from aiohttp import web
from loopback import serve

from epmm_async import (
    ClientConfig,
    ConnectError,
    EpmmClient,
    NotFoundError,
    RetryPolicy,
    TlsError,
)
from epmm_async.core.requests import Safety

LABELS = {"labels": {"label": [{"@id": "-1", "name": "All"}]}}
RETRY = RetryPolicy(attempts=4, initial_delay=0.001, max_delay=0.002)


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("no openssl CLI to make a self-signed certificate")
    where = tmp_path_factory.mktemp("tls")
    certfile, keyfile = where / "cert.pem", where / "key.pem"
    made = subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
         "-keyout", str(keyfile), "-out", str(certfile)],
        capture_output=True, check=False, timeout=60,
    )
    if made.returncode != 0:
        pytest.skip("openssl could not make a certificate")
    return certfile, keyfile


def labels_app() -> web.Application:
    async def handler(request: web.Request) -> web.Response:
        return web.json_response(LABELS)

    app = web.Application()
    app.router.add_get("/api/v1/dm/labels", handler)
    return app


@asynccontextmanager
async def counting_proxy(target: str) -> AsyncIterator[tuple[str, list[int]]]:
    """A TCP proxy in front of ``target`` (host:port) counting the connections it accepts."""
    host, _, port = target.rpartition(":")
    accepted: list[int] = []

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(1)
        up_reader, up_writer = await asyncio.open_connection(host, int(port))
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    proxy_port = server.sockets[0].getsockname()[1]
    try:
        yield f"127.0.0.1:{proxy_port}", accepted
    finally:
        server.close()
        await server.wait_closed()


async def test_refused_certificate_says_why_and_is_not_retried(cert: tuple[Path, Path]) -> None:
    certfile, keyfile = cert
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(certfile, keyfile)
    async with serve(labels_app(), ssl_context=ctx) as url:
        async with counting_proxy(url.removeprefix("https://")) as (front, accepted):
            async with EpmmClient(
                f"https://{front}",
                username="u",
                password="p",
                config=ClientConfig(retry=RETRY),
            ) as epmm:
                with pytest.raises(TlsError) as caught:
                    await epmm.labels.list()
    error = caught.value
    assert error.certificate and not error.not_tls
    assert error.reason == "self-signed certificate"
    assert "self-signed certificate" in str(error) and "verify=" in str(error)
    assert error.attempts == 1
    assert len(accepted) == 1  # one connection: not retried
    assert error.sent is False


async def test_https_to_a_plain_http_port_says_the_server_did_not_speak_tls() -> None:
    async with serve(labels_app()) as url:
        async with counting_proxy(url.removeprefix("http://")) as (front, accepted):
            async with EpmmClient(
                f"https://{front}",
                username="u",
                password="p",
                config=ClientConfig(retry=RETRY),
            ) as epmm:
                with pytest.raises(TlsError) as caught:
                    await epmm.labels.list()
    error = caught.value
    assert error.not_tls and not error.certificate
    assert "did not speak TLS" in str(error)
    assert error.attempts == 1 and len(accepted) == 1


def test_tls_errors_are_never_retried_by_the_policy() -> None:
    policy = RetryPolicy()
    tls = TlsError("x", method="GET", path="/labels", reason="self-signed certificate",
                   certificate=True)
    refused = ConnectError("y", method="GET", path="/labels")
    for safety in Safety:
        assert policy.is_retryable(safety, tls) is False
        assert policy.is_retryable(safety, refused) is True


async def test_running_out_of_file_descriptors_says_so_with_the_limit() -> None:
    async with serve(labels_app()) as url:
        async with EpmmClient(
            url,
            username="u",
            password="p",
            config=ClientConfig(retry=RetryPolicy.none()),
        ) as epmm:
            soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
            held: list[int] = []
            limit = len(os.listdir("/proc/self/fd")) + 4
            resource.setrlimit(resource.RLIMIT_NOFILE, (limit, hard))
            try:
                try:
                    while True:
                        held.append(os.open(os.devnull, os.O_RDONLY))
                except OSError as exc:
                    assert exc.errno == errno.EMFILE
                with pytest.raises(ConnectError) as caught:
                    await epmm.labels.list()
            finally:
                for fd in held:
                    os.close(fd)
                resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
            assert [label.name for label in await epmm.labels.list()] == ["All"]
    error = caught.value
    assert not isinstance(error, TlsError)
    assert error.errno == errno.EMFILE and error.fd_limit == limit
    text = str(error)
    assert "ran out of file descriptors (EMFILE)" in text
    assert f"at most {limit:,} open files" in text and "a lower concurrency" in text


async def test_a_404_page_on_the_first_call_says_the_base_url_is_wrong() -> None:
    async with serve(labels_app()) as url:
        async with EpmmClient(url + "/api/v1/dm", username="u", password="p") as epmm:
            with pytest.raises(NotFoundError) as caught:
                await epmm.labels.list()
        assert caught.value.wrong_base_url
        assert "base_url is probably wrong" in str(caught.value)
        assert f"server root, without /api/v1/dm: {url}" in str(caught.value)
        async with EpmmClient(url, username="u", password="p") as epmm:
            await epmm.labels.list()
            with pytest.raises(NotFoundError) as later:  # after an answer: no such hint
                await epmm.operators.list()
        assert not later.value.wrong_base_url
        assert "base_url" not in str(later.value)


async def test_refused_connection_names_the_reason() -> None:
    async with EpmmClient(
        "http://127.0.0.1:9",
        username="u",
        password="p",
        config=ClientConfig(retry=RetryPolicy.none()),
    ) as epmm:
        with pytest.raises(ConnectError) as caught:
            await epmm.labels.list()
    assert caught.value.errno == errno.ECONNREFUSED
    assert "cannot connect to 127.0.0.1:9: Connection refused" in str(caught.value)
