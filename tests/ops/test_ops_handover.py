"""The engine's unbuffered hand-over: every item reaches the consumer once, or its put fails.

Seeded trials run workers that put items while tasks are cancelled at random moments (a
putting worker, the waiting consumer) and the consumer closes at a random point or drains
to the end. For every item: if its ``put`` returned, the consumer got it exactly once;
nothing is delivered twice; an item whose put failed with ``BrokenResourceError`` is never
delivered; each worker's items arrive in order. (A put cancelled just as the consumer took
its item raises CancelledError with the item delivered, as anyio's stream does; a put
cancelled while waiting is withdrawn: a test below shows it is never delivered.)
"""

from __future__ import annotations

import asyncio
import random

import anyio
import pytest

from epmm_async.ops.handover import Handover

TRIALS = 300


async def _trial(seed: int) -> None:
    rng = random.Random(seed)
    hand: Handover[tuple[int, int]] = Handover()
    workers = rng.randint(1, 6)
    per_worker = rng.randint(1, 8)
    returned: set[tuple[int, int]] = set()  # put() came back normally
    cancelled: set[tuple[int, int]] = set()  # put() raised CancelledError
    broken: set[tuple[int, int]] = set()  # put() raised BrokenResourceError
    got: list[tuple[int, int]] = []

    async def worker(w: int) -> None:
        for i in range(per_worker):
            item = (w, i)
            try:
                await hand.put(item)
            except asyncio.CancelledError:
                cancelled.add(item)
                return
            except anyio.BrokenResourceError:
                broken.add(item)
                return
            returned.add(item)
            if rng.random() < 0.5:
                await asyncio.sleep(0)

    tasks = [asyncio.create_task(worker(w)) for w in range(workers)]

    async def run_ends() -> None:  # as the engine's run: end() once no worker is left
        await asyncio.gather(*tasks, return_exceptions=True)
        hand.end()

    ender = asyncio.create_task(run_ends())
    close_after = rng.randint(0, workers * per_worker + 2)
    closed = False
    while True:
        if len(got) >= close_after:
            hand.close()
            closed = True
            break
        if rng.random() < 0.3:
            try:
                item = hand.get_nowait()
            except anyio.WouldBlock:
                await asyncio.sleep(0)
                continue
            except anyio.EndOfStream:
                break
        else:
            getter = asyncio.create_task(hand.get())
            for _ in range(rng.randint(0, 2)):
                await asyncio.sleep(0)
            if rng.random() < 0.2:
                getter.cancel()
            try:
                item = await getter
            except asyncio.CancelledError:
                continue
            except anyio.EndOfStream:
                break
        got.append(item)
        # Cancel a random worker now and then, wherever it is.
        if rng.random() < 0.15:
            rng.choice(tasks).cancel()
    await ender
    if not closed:  # what is left (an item kept from a cancelled get) comes out once
        while True:
            try:
                got.append(hand.get_nowait())
            except (anyio.EndOfStream, anyio.WouldBlock):
                break

    assert len(got) == len(set(got)), "an item was delivered twice"
    assert not set(got) & broken, "an item whose put failed was delivered"
    assert set(got) <= returned | cancelled
    # Everything that came back from put() was delivered (a put returns only once taken).
    assert returned <= set(got), sorted(returned - set(got))
    for w in range(workers):  # each worker's items arrive in its order
        mine = [i for ww, i in got if ww == w]
        assert mine == sorted(mine)


@pytest.mark.parametrize("block", range(TRIALS // 50))
async def test_seeded_trials_deliver_each_item_once_or_fail_its_put(block: int) -> None:
    for seed in range(block * 50, block * 50 + 50):
        await _trial(seed)


async def test_a_put_returns_only_once_the_consumer_has_the_item() -> None:
    hand: Handover[str] = Handover()
    putter = asyncio.create_task(hand.put("a"))
    for _ in range(5):
        await asyncio.sleep(0)
    assert not putter.done()  # no buffer: nobody has taken it
    assert hand.get_nowait() == "a"
    await asyncio.sleep(0)
    assert putter.done() and putter.exception() is None


async def test_a_waiting_consumer_gets_the_item_without_the_worker_waiting() -> None:
    hand: Handover[str] = Handover()
    getter = asyncio.create_task(hand.get())
    await asyncio.sleep(0)
    await hand.put("a")  # returns at once: the consumer was waiting
    assert await getter == "a"


async def test_close_fails_waiting_and_later_puts_and_later_gets() -> None:
    hand: Handover[str] = Handover()
    putter = asyncio.create_task(hand.put("a"))
    await asyncio.sleep(0)
    hand.close()
    with pytest.raises(anyio.BrokenResourceError):
        await putter
    with pytest.raises(anyio.BrokenResourceError):
        await hand.put("b")
    with pytest.raises(anyio.ClosedResourceError):
        await hand.get()


async def test_close_ends_a_waiting_consumer() -> None:
    hand: Handover[str] = Handover()
    getter = asyncio.create_task(hand.get())
    await asyncio.sleep(0)
    hand.close()
    with pytest.raises(anyio.ClosedResourceError):
        await getter


async def test_end_ends_the_stream_once_nothing_is_left() -> None:
    hand: Handover[str] = Handover()
    getter = asyncio.create_task(hand.get())
    await asyncio.sleep(0)
    hand.end()
    with pytest.raises(anyio.EndOfStream):
        await getter
    with pytest.raises(anyio.EndOfStream):
        hand.get_nowait()


async def test_an_item_handed_to_a_consumer_cancelled_at_that_moment_is_kept() -> None:
    hand: Handover[str] = Handover()
    getter = asyncio.create_task(hand.get())
    await asyncio.sleep(0)
    await hand.put("a")  # set on the consumer's wait...
    getter.cancel()  # ...which is cancelled before it runs
    with pytest.raises(asyncio.CancelledError):
        await getter
    assert hand.get_nowait() == "a"  # not lost


async def test_a_put_cancelled_while_waiting_is_withdrawn() -> None:
    hand: Handover[str] = Handover()
    putter = asyncio.create_task(hand.put("a"))
    await asyncio.sleep(0)
    putter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await putter
    other = asyncio.create_task(hand.put("b"))
    await asyncio.sleep(0)
    assert hand.get_nowait() == "b"  # "a" was withdrawn, never delivered
    await other
    with pytest.raises(anyio.WouldBlock):
        hand.get_nowait()
