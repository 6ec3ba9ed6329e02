"""Flow control (pm_fast/realtime/delivery.py) with stand-in connections."""

from __future__ import annotations

import asyncio
import time

import pytest

from pm_fast.core.errors import DomainError
from pm_fast.realtime import delivery as delivery_mod
from pm_fast.realtime.delivery import Delivery


class FakeFeed:
    def __init__(self) -> None:
        self.queued = 0
        self.replayed = 0  # of which frames of a replay the client asked for
        self.progress = time.monotonic()
        self.closed: tuple[int, float] | None = None

    def pending(self) -> int:
        return self.queued

    def behind(self) -> int:
        return self.queued - self.replayed

    def stuck(self, pending: int, idle: float) -> None:
        self.closed = (pending, idle)


async def test_admit_waits_for_a_reading_feed_behind_the_bound() -> None:
    d = Delivery(bound=10, stuck=30)
    feed = FakeFeed()
    d.add(feed)
    await asyncio.wait_for(d.admit(), 1)  # nothing pending
    feed.queued = 11
    waiting = asyncio.ensure_future(d.admit())
    await asyncio.sleep(0.05)
    assert not waiting.done()
    feed.queued = 10  # the writer sent one frame
    feed.progress = time.monotonic()
    d.drained(feed, feed.queued)
    await asyncio.wait_for(waiting, 1)
    d.discard(feed)


async def test_a_lagging_feed_holds_nobody_back() -> None:
    d = Delivery(bound=10, stuck=4)  # lagging after 1 s without progress
    feed = FakeFeed()
    d.add(feed)
    feed.queued = 1000
    feed.progress = time.monotonic() - 1.5
    await asyncio.wait_for(d.admit(), 1)
    # one that was reading and stops: producers wait at most about `lag` for it
    feed.progress = time.monotonic()
    started = time.monotonic()
    await asyncio.wait_for(d.admit(), 5)
    assert time.monotonic() - started >= 0.9
    d.discard(feed)


async def test_a_removed_feed_releases_waiting_producers() -> None:
    d = Delivery(bound=10, stuck=30)
    feed = FakeFeed()
    d.add(feed)
    feed.queued = 50
    waiting = asyncio.ensure_future(d.admit())
    await asyncio.sleep(0.05)
    assert not waiting.done()
    d.discard(feed)
    await asyncio.wait_for(waiting, 1)


async def test_admission_gives_up_in_bounded_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(delivery_mod, "ADMIT_TIMEOUT", 0.3)
    d = Delivery(bound=10, stuck=30)
    feed = FakeFeed()
    d.add(feed)
    feed.queued = 50

    async def keep_reading() -> None:  # progress, but never below the bound
        while True:
            feed.progress = time.monotonic()
            await asyncio.sleep(0.01)

    reader = asyncio.ensure_future(keep_reading())
    try:
        with pytest.raises(DomainError) as err:
            await asyncio.wait_for(d.admit(), 5)
        assert err.value.code == "SERVICE_UNAVAILABLE"
    finally:
        reader.cancel()
        d.discard(feed)


async def test_watchdog_closes_only_stuck_feeds() -> None:
    d = Delivery(bound=10, stuck=1)
    stuck, idle, busy = FakeFeed(), FakeFeed(), FakeFeed()
    for f in (stuck, idle, busy):
        d.add(f)
    long_ago = time.monotonic() - 3600
    stuck.queued, stuck.progress = 3, long_ago
    idle.queued, idle.progress = 0, long_ago  # nothing pending: never stuck

    async def keep_sending() -> None:
        busy.queued = 500
        while True:
            busy.progress = time.monotonic()
            await asyncio.sleep(0.05)

    sender = asyncio.ensure_future(keep_sending())
    try:
        started = time.monotonic()
        while stuck.closed is None:
            assert time.monotonic() - started < 5
            await asyncio.sleep(0.05)
        # counted from when the watchdog first saw it pending, not from long ago
        assert time.monotonic() - started >= 0.9
        assert stuck.closed[0] == 3
        await asyncio.sleep(1.5)
        assert idle.closed is None and busy.closed is None
        assert stuck not in d.feeds
    finally:
        sender.cancel()
        for f in (stuck, idle, busy):
            d.discard(f)


async def test_a_replay_the_client_asked_for_holds_nobody_back() -> None:
    d = Delivery(bound=10, stuck=30)
    feed = FakeFeed()
    d.add(feed)
    feed.queued, feed.replayed = 500, 495  # a resume's replay, and 5 live frames
    await asyncio.wait_for(d.admit(), 1)
    feed.replayed = 489  # 11 live frames: behind the bound
    waiting = asyncio.ensure_future(d.admit())
    await asyncio.sleep(0.05)
    assert not waiting.done()
    feed.queued = 499  # the writer sent one
    feed.progress = time.monotonic()
    d.drained(feed, feed.behind())
    await asyncio.wait_for(waiting, 1)
    d.discard(feed)


class Counting(Delivery):
    """Counts the scans of the connections (`behind`)."""

    __slots__ = ("checks",)

    def __init__(self, bound: int, stuck: float) -> None:
        super().__init__(bound, stuck)
        self.checks = 0

    def behind(self) -> FakeFeed | None:
        self.checks += 1
        return super().behind()  # type: ignore[return-value]


async def test_only_the_feed_that_holds_mutations_back_wakes_them() -> None:
    d = Counting(bound=10, stuck=30)
    held, other = FakeFeed(), FakeFeed()
    d.add(held)
    d.add(other)
    held.queued = 50
    waiting = asyncio.ensure_future(d.admit())
    await asyncio.sleep(0.02)
    for _ in range(100):  # another subscriber sending frames wakes nobody
        other.progress = time.monotonic()
        d.drained(other, 0)
        await asyncio.sleep(0)
    assert not waiting.done() and d.checks == 1
    held.queued = 10
    held.progress = time.monotonic()
    d.drained(held, held.queued)
    await asyncio.wait_for(waiting, 1)
    assert d.checks == 2
    d.discard(held)
    d.discard(other)
