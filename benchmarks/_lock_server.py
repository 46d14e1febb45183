"""A minimal HTTP/1.1 server for the client benchmarks (a child process of ``overhead`` and
``fanout``): ``python -m benchmarks._lock_server PORT [LATENCY_S]``.

It answers every request, whatever its method and path, with the same pre-built lock answer
(``200``, JSON, ``Content-Length``, keep-alive), ``LATENCY_S`` seconds after the request's
last byte arrived (0: at once). It is a raw :class:`asyncio.Protocol`: no routing, no request
objects, no header parsing beyond finding the end of the head and ``Content-Length``, so
its CPU per request is a few microseconds and it cannot be what limits a benchmark (the
benchmarks read its CPU time from ``/proc`` to show it). Pre-built bytes also mean the
client's decode always sees the same body.
"""

from __future__ import annotations

import asyncio
import sys

BODY = (b'{"messages":{"message":"Device is locked successfully."},'
        b'"deviceUuid":"727afb16-327f-40cf-bf34-fd2fee389193"}')
ANSWER = (
    b"HTTP/1.1 200 OK\r\n"
    b"Content-Type: application/json\r\n"
    b"Content-Length: " + str(len(BODY)).encode() + b"\r\n"
    b"Connection: keep-alive\r\n"
    b"\r\n" + BODY
)
_HEAD_END = b"\r\n\r\n"
_LENGTH = b"\r\ncontent-length:"


class LockProtocol(asyncio.Protocol):
    """One connection: split the byte stream into requests, answer each after the latency."""

    def __init__(self, latency: float) -> None:
        self.latency = latency
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None
        self.pending: list[asyncio.TimerHandle] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        for handle in self.pending:
            handle.cancel()
        self.pending.clear()
        self.transport = None

    def data_received(self, data: bytes) -> None:
        buf = self.buffer
        buf += data
        while True:
            end = buf.find(_HEAD_END)
            if end < 0:
                return
            size = end + 4
            head = bytes(buf[:end]).lower()
            at = head.find(_LENGTH)
            if at >= 0:
                stop = head.find(b"\r\n", at + 2)
                size += int(head[at + len(_LENGTH): stop if stop >= 0 else None])
            if len(buf) < size:
                return
            del buf[:size]
            self._answer()

    def _answer(self) -> None:
        if self.latency <= 0:
            if self.transport is not None:
                self.transport.write(ANSWER)
            return
        loop = asyncio.get_running_loop()
        self.pending.append(loop.call_later(self.latency, self._write))

    def _write(self) -> None:
        # Every answer is the same bytes and a client waits for one before it sends the next
        # on a connection (no pipelining), so the oldest handle is the one firing.
        if self.pending:
            self.pending.pop(0)
        if self.transport is not None:
            self.transport.write(ANSWER)


async def serve(port: int, latency: float) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: LockProtocol(latency), "127.0.0.1", port, backlog=4096, reuse_address=True
    )
    async with server:
        await server.serve_forever()


def main() -> None:
    port = int(sys.argv[1])
    latency = float(sys.argv[2]) if len(sys.argv) > 2 else 0.0
    try:
        asyncio.run(serve(port, latency))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
