"""The serving event loop (pm_fast/engines/loop.py): wake-ups from other threads are
coalesced into one self-pipe write, and none is lost."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import pytest

from pm_fast.engines.loop import CoalescingLoop, new_loop

THREADS = 4
ROUNDS = 3000
# Generous: a lost wake-up leaves the loop asleep for good (nothing else is scheduled),
# so a stuck round never finishes at all; this only turns that hang into a failure.
STUCK = 5.0
T = TypeVar("T")


def run(coro_fn: Callable[[], Coroutine[Any, Any, T]]) -> T:
    with asyncio.Runner(loop_factory=new_loop) as runner:
        assert type(runner.get_loop()) is CoalescingLoop
        return runner.run(coro_fn())


def test_ping_pong_from_many_threads_loses_no_wake_up() -> None:
    """Threads hand callbacks to an otherwise idle loop and each waits for its own to
    run before sending the next: every round needs a wake-up that arrives while the
    loop is about to sleep, drains the pipe, or runs other threads' callbacks."""

    async def main() -> list[int]:
        loop = asyncio.get_running_loop()
        done = [0] * THREADS
        failures: list[str] = []

        def worker(i: int) -> None:
            ran = threading.Event()

            def callback() -> None:
                done[i] += 1
                ran.set()

            for _ in range(ROUNDS):
                ran.clear()
                loop.call_soon_threadsafe(callback)
                if not ran.wait(STUCK):
                    failures.append(f"thread {i}: callback {done[i] + 1} never ran")
                    return

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
        finished: asyncio.Future[None] = loop.create_future()

        def report() -> None:
            for t in threads:
                t.join()
            loop.call_soon_threadsafe(finished.set_result, None)

        for t in [*threads, threading.Thread(target=report)]:
            t.start()
        # No timer runs meanwhile: only the threads' wake-ups get the loop out of select.
        await asyncio.wait_for(finished, 3 * STUCK)
        assert not failures, failures
        return done

    assert run(main) == [ROUNDS] * THREADS


def test_a_burst_of_calls_writes_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """While the loop is busy, a thousand calls from another thread write one byte."""
    writes = 0
    plain = asyncio.SelectorEventLoop._write_to_self  # type: ignore[attr-defined]

    def counting(self: asyncio.AbstractEventLoop) -> None:
        nonlocal writes
        writes += 1
        plain(self)

    monkeypatch.setattr(asyncio.SelectorEventLoop, "_write_to_self", counting)

    async def main() -> int:
        loop = asyncio.get_running_loop()
        ran = 0

        def callback() -> None:
            nonlocal ran
            ran += 1

        await asyncio.sleep(0)  # let the start-up wake-ups, if any, drain
        base = writes
        go = threading.Event()

        def burst() -> None:
            for _ in range(1000):
                loop.call_soon_threadsafe(callback)
            go.set()

        t = threading.Thread(target=burst)
        t.start()
        go.wait()  # blocks the loop: nothing drains the pipe meanwhile
        t.join()
        for _ in range(100):
            if ran == 1000:
                break
            await asyncio.sleep(0.01)
        assert ran == 1000
        return writes - base

    assert run(main) == 1


def test_signals_still_wake_the_loop() -> None:
    """A signal handler added on the loop runs (signals write to the same socket)."""
    import os
    import signal

    async def main() -> bool:
        loop = asyncio.get_running_loop()
        got = asyncio.Event()
        loop.add_signal_handler(signal.SIGUSR2, got.set)
        try:
            threading.Timer(0.05, os.kill, (os.getpid(), signal.SIGUSR2)).start()
            await asyncio.wait_for(got.wait(), STUCK)
            return got.is_set()
        finally:
            loop.remove_signal_handler(signal.SIGUSR2)

    assert run(main)


def test_workers_run_the_same_loop() -> None:
    """`--workers N`: Granian builds each worker's loop from its registry, by our key."""
    from granian._loops import loops

    from pm_fast.engines import granian_workers

    loop = loops.get(granian_workers.LOOP)
    try:
        assert type(loop) is CoalescingLoop
    finally:
        loop.close()
        asyncio.set_event_loop(None)
