"""The unbuffered hand-over of outcomes from a job's workers to its consumer.

A worker's :meth:`Handover.put` returns once the consumer has taken the item, so a worker
takes its next unit only after the consumer has its last outcome, and a consumer that stops
reading leaves at most one request per worker to finish. That is anyio's zero-buffer memory
stream; this one is written for the job engine because the stream's ``send`` and
``receive`` first give the event loop a turn (``checkpoint``) and build an anyio event per
wait: in a burst of answers (every worker finishing in one loop iteration, the usual case
at high concurrency) every worker but the first waits, and that cost was a measurable share
of a fan-out's CPU per device.

The errors are anyio's, as the stream's: a ``put`` after :meth:`close` (the consumer is
gone) raises ``BrokenResourceError``, and so does a ``put`` waiting when it closes; a
``get`` after it raises ``ClosedResourceError``; ``get`` raises ``EndOfStream`` once the
run has called :meth:`Handover.end` (its workers are all done) and nothing is left;
``get_nowait`` raises ``WouldBlock`` when nothing is ready.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Generic, TypeVar

import anyio

__all__ = ["Handover"]

T = TypeVar("T")


class Handover(Generic[T]):
    """From a job's workers to its one consumer, one item at a time, no buffer."""

    __slots__ = ("_closed", "_ended", "_ready", "_receiver", "_waiting")

    def __init__(self) -> None:
        """An open hand-over, nothing in it."""
        self._ended = False
        self._waiting: deque[tuple[T, asyncio.Future[None]]] = deque()
        """Workers waiting for the consumer, with their items, oldest first."""
        self._ready: deque[T] = deque()
        """Items taken by a consumer whose wait was cancelled at that moment: not lost."""
        self._receiver: asyncio.Future[T] | None = None
        self._closed = False

    async def put(self, item: T) -> None:
        """Hand ``item`` to the consumer; return once it has taken it."""
        if self._closed:
            raise anyio.BrokenResourceError
        receiver = self._receiver
        if receiver is not None and not receiver.done():
            # The consumer is waiting: it has the item now, no wait (and no loop turn).
            self._receiver = None
            receiver.set_result(item)
            return
        taken = asyncio.get_running_loop().create_future()
        entry = (item, taken)
        self._waiting.append(entry)
        try:
            await taken
        except BaseException:
            if not taken.done() or taken.cancelled():
                # Cancelled before the consumer took it: withdrawn, never delivered.
                try:
                    self._waiting.remove(entry)
                except ValueError:
                    pass
            raise

    def end(self) -> None:
        """Nothing more will be put (every worker is done): once what is left has been
        taken, ``get`` raises ``EndOfStream``."""
        self._ended = True
        if not self._waiting and not self._ready:
            receiver, self._receiver = self._receiver, None
            if receiver is not None and not receiver.done():
                receiver.set_exception(anyio.EndOfStream())

    def get_nowait(self) -> T:
        """The oldest waiting worker's item (that worker goes on), if there is one."""
        if self._closed:
            raise anyio.ClosedResourceError
        if self._ready:
            return self._ready.popleft()
        while self._waiting:
            item, taken = self._waiting.popleft()
            if not taken.done():  # a done one was cancelled: its worker withdrew it
                taken.set_result(None)
                return item
        if self._ended:
            raise anyio.EndOfStream
        raise anyio.WouldBlock

    async def get(self) -> T:
        """The next item, waiting for one if none is ready."""
        try:
            return self.get_nowait()
        except anyio.WouldBlock:
            pass
        receiver: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._receiver = receiver
        try:
            return await receiver
        except asyncio.CancelledError:
            if receiver.done() and not receiver.cancelled() and receiver.exception() is None:
                # A worker handed the item over as the wait was cancelled: keep it for the
                # next get, the worker has gone on.
                self._ready.append(receiver.result())
            raise
        finally:
            if self._receiver is receiver:
                self._receiver = None

    def close(self) -> None:
        """The consumer is gone: waiting and later puts raise ``BrokenResourceError``,
        gets ``ClosedResourceError``."""
        if self._closed:
            return
        self._closed = True
        while self._waiting:
            _, taken = self._waiting.popleft()
            if not taken.done():
                taken.set_exception(anyio.BrokenResourceError())
        receiver, self._receiver = self._receiver, None
        if receiver is not None and not receiver.done():
            receiver.set_exception(anyio.ClosedResourceError())
