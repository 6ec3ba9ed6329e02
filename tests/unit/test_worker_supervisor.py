"""The `--workers` supervisor's policy for dead workers, with fake worker processes.

The black-box test (tests/blackbox/test_pg_worker_crashes.py) kills real workers; here
the back-off sequence, its reset and the one case where the supervisor gives up are
checked with short delays and no processes.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from pm_fast.engines import granian_workers as gw


@dataclass
class Inner:
    pid: int
    exitcode: int | None = -9


@dataclass
class FakeWorker:
    inner: Inner
    birth: float = field(default_factory=time.monotonic)


class FakeSupervisor(gw.Supervisor):
    """The real `_serve_loop` over fake workers: a respawn makes a new pid and, unless
    told otherwise, the new worker reports ready at once."""

    def __init__(self, workers: int, ready_at_start: bool = True) -> None:
        self.workers = workers
        self.main_loop_interrupt = threading.Event()
        self.interrupt_signal = False
        self.interrupt_children: list[int] = []
        self.reload_signal = False
        self.ready_rx, self.ready_tx = os.pipe()
        os.set_blocking(self.ready_rx, False)
        self.next_pid = 1000
        self.respawns: list[tuple[int, float]] = []
        self.replacements_ready = True
        self.wrks: list[Any] = [self.spawn(ready_at_start) for _ in range(workers)]

    def spawn(self, ready: bool) -> FakeWorker:
        self.next_pid += 1
        if ready:
            os.write(self.ready_tx, f"{self.next_pid}\n".encode())
        return FakeWorker(Inner(self.next_pid))

    def _respawn_workers(
        self, workers: Any, spawn_target: Any, target_loader: Any, delay: float = 0
    ) -> None:
        for idx in workers:
            self.respawns.append((idx, time.monotonic()))
            self.wrks[idx] = self.spawn(self.replacements_ready)

    def die(self, idx: int) -> None:
        self.interrupt_children.append(idx)
        self.main_loop_interrupt.set()

    def close(self) -> None:
        os.close(self.ready_rx)
        os.close(self.ready_tx)


@pytest.fixture(autouse=True)
def short_delays(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gw, "BACKOFF_FIRST", 0.05)
    monkeypatch.setattr(gw, "BACKOFF_MAX", 0.4)
    monkeypatch.setattr(gw, "STABLE_AFTER", 1.0)


@pytest.fixture
def running() -> Iterator[Any]:
    made: list[tuple[FakeSupervisor, threading.Thread]] = []

    def start(sup: FakeSupervisor) -> threading.Thread:
        t = threading.Thread(target=sup._serve_loop, args=(None, None), daemon=True)
        t.start()
        made.append((sup, t))
        return t

    yield start
    for sup, t in made:
        sup.interrupt_signal = True
        sup.main_loop_interrupt.set()
        t.join(5)
        sup.close()


def wait_for(cond: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_a_slot_that_keeps_dying_is_replaced_with_a_growing_delay(running: Any) -> None:
    sup = FakeSupervisor(2)
    loop = running(sup)
    died = []
    for n in range(6):
        died.append(time.monotonic())
        sup.die(0)
        wait_for(lambda n=n: len(sup.respawns) == n + 1)
    waits = [at - d for (_, at), d in zip(sup.respawns, died, strict=True)]
    expected = [0.05, 0.1, 0.2, 0.4, 0.4, 0.4]  # doubling, capped
    for got, want in zip(waits, expected, strict=True):
        assert want - 0.01 <= got <= want + 0.5, (waits, expected)
    assert all(idx == 0 for idx, _ in sup.respawns)
    assert loop.is_alive()
    # a replacement that served long enough starts the sequence again
    sup.wrks[0].birth -= 2.0
    before = time.monotonic()
    sup.die(0)
    wait_for(lambda: len(sup.respawns) == 7)
    assert sup.respawns[-1][1] - before < 0.3  # not the 0.4 it had reached
    # a signal stops the loop; nothing is left to report as failed (exit code 0)
    sup.interrupt_signal = True
    sup.main_loop_interrupt.set()
    loop.join(5)
    assert not loop.is_alive()
    assert sup.interrupt_children == []


def test_when_no_worker_can_start_at_all_it_gives_up(running: Any) -> None:
    sup = FakeSupervisor(2, ready_at_start=False)
    sup.replacements_ready = False
    loop = running(sup)
    sup.die(0)
    wait_for(lambda: len(sup.respawns) == 1)  # the other slot may still come up
    assert loop.is_alive()
    sup.die(1)
    loop.join(5)
    assert not loop.is_alive()
    assert sup.interrupt_children  # Granian's shutdown exits 1


def test_one_slot_failing_to_start_is_retried_while_another_serves(running: Any) -> None:
    sup = FakeSupervisor(2, ready_at_start=False)
    os.write(sup.ready_tx, f"{sup.wrks[1].inner.pid}\n".encode())  # slot 2 is serving
    sup.replacements_ready = False
    loop = running(sup)
    for n in range(4):
        sup.die(0)
        wait_for(lambda n=n: len(sup.respawns) == n + 1)
    assert loop.is_alive()
    assert [idx for idx, _ in sup.respawns] == [0, 0, 0, 0]
