"""Rust (pm_fast_ext.Hub + SendQueue) vs pure-Python twins (pm_fast.realtime): event fan-out.

Run: ``pytest benches/test_bench_fanout.py --benchmark-only``. Each group holds the two
implementations side by side (parametrized by implementation only, as
``benches/report.py`` expects):

* ``fanout: 1 event → N subscribers`` (N = 1, 100, 1,000): one ``hub.publish`` of a
  ``work_item.created`` event to N connections subscribed to its project;
* ``fanout: 1 event → 1,000 subscribers, writers parked``: as above, but each
  connection's writer is parked on its queue (as between bursts in the server), so
  every delivery also wakes it (an asyncio future's result set, its callback scheduled
  on the event loop): the cost each recipient has in a real server, mostly the same in
  both implementations;
* ``fanout: 1 event, 1,000 connections on 100 projects``: the same event when the hub
  holds 1,000 connections spread over 100 projects (10 each) and 20 of them also follow
  the event's sprint (half of those already follow its project): choosing the
  recipients among many subscriptions, with duplicates to drop.

The subscribers are real ``pm_fast.api.ws.Connection`` objects (their ``deliver`` and
bounded queue; no writer task runs, so none has to be woken), each with the queue of
the implementation measured: the Rust hub fills Rust send queues directly, the twin hub
calls ``Connection.deliver``, as the server does in each mode. Except in the "writers
parked" group no writer is waiting, so no wake-up is counted. Both sides use the same
encoder, the server's ``ws.event_frame`` (on the Rust codec when the extension is
built), so the ratio is that of the fan-out alone; the frame is encoded once per event.
Send queues are emptied before each round (not timed).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any, cast

import pytest

import pm_fast_ext
from pm_fast.api import ws
from pm_fast.core.model import WorkItem, WorkItemCreated
from pm_fast.realtime import hub as twin_hub
from pm_fast.realtime import send_queue as twin_queue

IMPLS = pytest.mark.parametrize(
    "impl",
    [(pm_fast_ext.Hub, pm_fast_ext.SendQueue), (twin_hub.Hub, twin_queue.SendQueue)],
    ids=["rust", "python"],
)
SEND_BUFFER = 100  # the default websocket.send_buffer_size
NOW = 1_767_225_600
PROJECT = "5b0c6a51-3f7e-4d3a-9a49-0f6f2f3c8e11"
SPRINT = "c1d6f0a4-8a3b-4c43-bb0e-6b3c0b6f6a27"
USER = "0f8e0b1e-2d6f-4b7e-9a51-3a8f1f0c9d42"

ITEM = WorkItem(
    id="8d1f4a0e-6c2b-4f55-8e3a-2b9c7d1e0f33",
    display_key="PM-42",
    item_type="task",
    title="Fix the login page cache",
    description="Sessions expire too early on the board page.",
    status="in_progress",
    priority="high",
    parent_id="2a7c9e1b-0d4f-4e6a-8b3c-5f1e2d0a9b87",
    project_id=PROJECT,
    assignee_id=USER,
    sprint_id=SPRINT,
    story_points=3,
    item_number=42,
    position=42_000,
    version=1,
    created_at=NOW,
    updated_at=NOW,
    created_by=USER,
    updated_by=USER,
)
EVENT = WorkItemCreated(
    PROJECT,
    ITEM,
    USER,
    {"sprint_id": SPRINT, "ancestor_ids": [ITEM.parent_id], "descendant_ids": []},
)


class _Transport:
    async def send_bytes(self, data: bytes) -> None:
        pass

    async def send_str(self, data: str) -> None:
        pass


_APP: Any = SimpleNamespace(
    cfg=SimpleNamespace(websocket=SimpleNamespace(send_buffer_size=SEND_BUFFER)),
    limits=None,
)


def connection(make_queue: Callable[[int], Any]) -> ws.Connection[Any]:
    conn = ws.Connection(_APP, USER, _Transport(), lambda code, reason: None)
    conn.send_queue = make_queue(SEND_BUFFER)
    return conn


def _run(
    benchmark: Any,
    group: str,
    hub: Any,
    conns: list[ws.Connection[Any]],
    expect: int,
    loop: asyncio.AbstractEventLoop | None = None,
) -> None:
    hub.encoder = ws.event_frame
    events = [EVENT]

    def empty() -> None:
        if loop is not None:
            loop.run_until_complete(asyncio.sleep(0))  # runs the wake-ups scheduled
        for conn in conns:
            conn.send_queue.clear()
            if loop is not None:
                # a parked writer: a future with a done-callback, as a Task awaiting it
                waiter = loop.create_future()
                waiter.add_done_callback(_woken)
                conn.send_queue.park(waiter)

    benchmark.group = group
    benchmark.pedantic(hub.publish, args=(events,), setup=empty, rounds=_rounds(len(conns)))
    received = sum(len(c.send_queue) for c in conns)
    assert received == expect and not any(c.closed for c in conns)


def _woken(fut: asyncio.Future[None]) -> None:
    pass


def _rounds(connections: int) -> int:
    return 2000 if connections <= 100 else 400


def _subscribers_bench(count: int) -> Callable[..., None]:
    @IMPLS
    def bench(benchmark: Any, impl: tuple[Any, Any]) -> None:
        make_hub, make_queue = impl
        hub = make_hub()
        conns = [connection(make_queue) for _ in range(count)]
        for conn in conns:
            hub.subscribe(conn, [PROJECT])
        group = f"fanout: 1 event → {count:,} subscriber{'s' if count > 1 else ''}"
        _run(benchmark, group, hub, conns, count)

    # pytest's MarkDecorator.__call__ gives Any for the decorated function.
    return cast("Callable[..., None]", bench)


for _count in (1, 100, 1000):
    globals()[f"test_fanout_{_count}"] = _subscribers_bench(_count)


@IMPLS
def test_fanout_1000_writers_parked(benchmark: Any, impl: tuple[Any, Any]) -> None:
    make_hub, make_queue = impl
    hub = make_hub()
    conns = [connection(make_queue) for _ in range(1000)]
    for conn in conns:
        hub.subscribe(conn, [PROJECT])
    loop = asyncio.new_event_loop()
    try:
        group = "fanout: 1 event → 1,000 subscribers, writers parked"
        _run(benchmark, group, hub, conns, 1000, loop)
    finally:
        loop.close()


@IMPLS
def test_fanout_1000_connections_100_projects(benchmark: Any, impl: tuple[Any, Any]) -> None:
    make_hub, make_queue = impl
    hub = make_hub()
    projects = [PROJECT] + [f"{n:08d}-0000-4000-8000-000000000000" for n in range(1, 100)]
    conns = [connection(make_queue) for _ in range(1000)]
    for n, conn in enumerate(conns):
        hub.subscribe(conn, [projects[n % 100]], [SPRINT] if n % 50 == 0 else [])
    # project 0: connections 0, 100, …, 900; the sprint adds 50, 150, …, 950
    _run(benchmark, "fanout: 1 event, 1,000 connections on 100 projects", hub, conns, 20)
