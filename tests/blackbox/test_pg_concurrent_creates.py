"""Many concurrent creates in one project on PostgreSQL (needs PM_FAST_PG_URL).

Creates of one project take their number and sibling position in a short transaction of
their own (docs/performance.md, "PostgreSQL: creates in one project that scale"), so they
commit in any order. What must still hold, with several connections on several
processes and with ``--workers 2``: every number once, positions distinct per parent and
increasing with the number (both are taken together), and every subscriber gets each
event once, in the order of the project's event numbers, with no gap, as the log
replays them.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from harness import ServerProcess, not_on_robyn

from .test_pg_multiprocess import WAIT, rest_project, servers
from .test_pg_workers import multi, spread, workers_of
from .wsclient import WsClient, case_of

pytestmark = pytest.mark.skipif(
    not os.environ.get("PM_FAST_PG_URL"),
    reason='needs PostgreSQL: eval "$(build/pg.sh)" sets PM_FAST_PG_URL',
)

EPIC, STORY, TASK = 2, 3, 4


async def ws_creates(
    writer: WsClient, project: str, tag: str, n: int, parent: str | None
) -> list[Any]:
    made = []
    for i in range(n):
        fields: dict[str, Any] = {"project_id": project, "title": f"{tag}-{i}"}
        if parent is None:
            fields["item_type"] = TASK
        else:
            fields.update(item_type=STORY, parent_id=parent)
        made.append(await writer.call("create_work_item_request", **fields))
    return [m.work_item for m in made]


async def rest_creates(srv: ServerProcess, project: str, tag: str, n: int) -> list[Any]:
    out = []
    async with httpx.AsyncClient(base_url=srv.url, timeout=WAIT, trust_env=False) as c:
        for i in range(n):
            r = await c.post(
                "/api/v1/work-items",
                json={"project_id": project, "item_type": "task", "title": f"{tag}-{i}"},
            )
            assert r.status_code == 200, r.text
            out.append(r.json()["work_item"])
    return out


async def events_until(sub: WsClient, project: str, want: int) -> list[Any]:
    """Every event frame of `project` until `want` work_item_created arrived, then the
    rest up to a Ping's Pong (nothing may follow twice)."""
    got: list[Any] = []
    created = 0
    while created < want:
        ev = await sub.next_event(WAIT)
        if ev.event.project_id == project:
            got.append(ev)
            created += case_of(ev) == "work_item_created"
    got += [e for e in await sub.sync() if e.event.project_id == project]
    return got


def check_items(items: list[dict[str, Any]]) -> None:
    """Numbers once each; per parent, positions distinct and in number order."""
    numbers = [w["item_number"] for w in items]
    assert len(set(numbers)) == len(numbers), sorted(numbers)
    by_parent: dict[str | None, list[tuple[int, int]]] = {}
    for w in items:
        by_parent.setdefault(w["parent_id"], []).append((w["item_number"], w["position"]))
    for pairs in by_parent.values():
        positions = [p for _, p in sorted(pairs)]
        assert positions == sorted(set(positions)), pairs


def check_stream(streams: list[list[Any]], log: list[int], ids: set[str], epic: str) -> None:
    """Each subscriber: event numbers consecutive (no gap, no duplicate), the same
    sequence for everyone and as the log has it, every created item once (the epic,
    created just before the subscriptions, may or may not come live)."""
    for events in streams:
        seqs = [e.event.seq for e in events]
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), seqs
        assert seqs == [s for s in log if s >= seqs[0]][: len(seqs)]
        created = [
            e.work_item_created.work_item.id for e in events if case_of(e) == "work_item_created"
        ]
        assert len(created) == len(set(created))
        assert set(created) - {epic} == ids
    # everyone saw the same events under the same numbers (from the highest first seen)
    start = max(events[0].event.seq for events in streams)
    seen = {
        tuple((e.event.seq, case_of(e)) for e in events if e.event.seq >= start)
        for events in streams
    }
    assert len(seen) == 1


def listed(srv: ServerProcess, project: str) -> tuple[list[dict[str, Any]], list[int]]:
    """The project's items (REST) and the numbers of its event log, from 0."""
    with srv.client() as c:
        r = c.get(f"/api/v1/projects/{project}/work-items", params={"include_done": "true"})
        assert r.status_code == 200, r.text
        items = r.json()["work_items"]
        seqs: list[int] = []
        since = 0
        while True:
            page = c.get(f"/api/v1/projects/{project}/events", params={"since": since})
            assert page.status_code == 200, page.text
            body = page.json()
            seqs += [e["seq"] for e in body["events"]]
            since = body["next_since"]
            if since == body["last_seq"]:
                break
    assert seqs == list(range(1, len(seqs) + 1))
    return items, seqs


async def test_concurrent_creates_on_three_processes(tmp_path: Path, pg_url: str) -> None:
    with servers(tmp_path, pg_url, 3) as procs:
        project = rest_project(procs[0], "CCR")
        subs = [await WsClient.connect(p.port) for p in procs]
        writers = [await WsClient.connect(p.port) for p in procs for _ in range(3)]
        try:
            epic = await writers[0].call(
                "create_work_item_request", item_type=EPIC, title="epic", project_id=project
            )
            parent = epic.work_item.id
            for s in subs:
                await s.subscribe([project])
            per = 12
            jobs = [
                ws_creates(w, project, f"w{i}", per, parent if i % 2 else None)
                for i, w in enumerate(writers)
            ] + [rest_creates(p, project, f"r{i}", per) for i, p in enumerate(procs)]
            batches = await asyncio.gather(*jobs)
            ids = {w.id if hasattr(w, "id") else w["id"] for b in batches for w in b}
            assert len(ids) == per * len(jobs)
            streams = [await events_until(s, project, len(ids)) for s in subs]
            items, log = listed(procs[1], project)
            assert len(items) == len(ids) + 1
            check_items(items)
            check_stream(streams, log, ids, parent)
        finally:
            for c in subs + writers:
                await c.close()


@not_on_robyn("several processes on one port")
async def test_concurrent_creates_with_two_workers(tmp_path: Path, pg_url: str) -> None:
    with multi(tmp_path, pg_url, 2) as srv:
        workers = workers_of(srv, 2)
        held = await spread(srv.port, workers, 4)
        try:
            a, b = workers
            project = rest_project(srv, "CCW")
            subs = [held[a][0], held[b][0]]
            writers = held[a][1:] + held[b][1:]
            epic = await writers[0].call(
                "create_work_item_request", item_type=EPIC, title="epic", project_id=project
            )
            for s in subs:
                await s.subscribe([project])
            per = 15
            batches = await asyncio.gather(
                *(
                    ws_creates(w, project, f"w{i}", per, epic.work_item.id if i % 2 else None)
                    for i, w in enumerate(writers)
                )
            )
            ids = {w.id for b in batches for w in b}
            assert len(ids) == per * len(writers)
            streams = [await events_until(s, project, len(ids)) for s in subs]
            items, log = listed(srv, project)
            check_items(items)
            check_stream(streams, log, ids, epic.work_item.id)
        finally:
            for conns in held.values():
                for c in conns:
                    await c.close()


async def test_a_repeat_on_another_process_runs_once(tmp_path: Path, pg_url: str) -> None:
    """The same create (same user, same message id) sent to two processes at once: one
    item, and both get the same reply (the idempotency lock and lookup of
    `pm_fast_idem_get`: the second waits for the first, then reads its stored reply)."""
    with servers(tmp_path, pg_url, 2) as procs:
        project = rest_project(procs[0], "IDM")
        user = str(uuid.uuid4())
        pairs = [[await WsClient.connect(p.port, user_id=user) for p in procs] for _ in range(4)]
        try:

            async def twice(a: WsClient, b: WsClient, i: int) -> None:
                mid = str(uuid.uuid4())
                fields = {"project_id": project, "item_type": TASK, "title": f"t{i}"}
                first, second = await asyncio.gather(
                    a.request("create_work_item_request", message_id=mid, **fields),
                    b.request("create_work_item_request", message_id=mid, **fields),
                )
                assert case_of(first[0]) == "work_item_created", first[0]
                assert first[0] == second[0]
                assert a.raw[mid] == b.raw[mid]

            for round_ in range(10):
                await asyncio.gather(
                    *(twice(a, b, 4 * round_ + k) for k, (a, b) in enumerate(pairs))
                )
            items, _ = listed(procs[1], project)
            assert sorted(w["title"] for w in items) == sorted(f"t{i}" for i in range(40))
        finally:
            for pair in pairs:
                for c in pair:
                    await c.close()
