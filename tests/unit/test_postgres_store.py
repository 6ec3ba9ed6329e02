"""The PostgreSQL store and the event bus, against a real PostgreSQL (build/pg.sh).

The encoding tests need no database; the others are skipped unless PM_FAST_PG_URL is
set. Each database test gets a fresh database.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import msgspec
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness import create_pg_database, drop_pg_database, free_port

from pm_fast.core.commands import CreateProject, CreateWorkItem, UpdateWorkItem
from pm_fast.core.errors import DomainError
from pm_fast.core.model import (
    ActivityCreated,
    ActivityEntry,
    Comment,
    CommentCreated,
    Dependency,
    DependencyCreated,
    Event,
    Project,
    ProjectCreated,
    ProjectDeleted,
    Sprint,
    SprintDeleted,
    TimeEntry,
    TimeEntryCreated,
    WorkItem,
    WorkItemUpdated,
)
from pm_fast.realtime.bus import Bus, decode_events, encode_events
from pm_fast.service import projects, work_items
from pm_fast.service.common import Ctx, Outcome
from pm_fast.store.base import Program, op
from pm_fast.store.postgres import PgTx, PostgresStore, StoreOpenError
from pm_fast.store.postgres_schema import MIGRATIONS

LLM = "00000000-0000-0000-0000-000000000001"
needs_pg = pytest.mark.skipif(
    not os.environ.get("PM_FAST_PG_URL"), reason="needs PM_FAST_PG_URL (build/pg.sh)"
)


def _item(**kw: Any) -> WorkItem:
    base: dict[str, Any] = {
        "id": "w1", "display_key": "K-1", "item_type": "task", "title": "t",
        "description": None, "status": "backlog", "priority": "medium", "parent_id": None,
        "project_id": "p1", "assignee_id": None, "sprint_id": None, "story_points": 3,
        "item_number": 1, "position": 1, "version": 1, "created_at": 1, "updated_at": 1,
        "created_by": LLM, "updated_by": LLM,
    }  # fmt: skip
    base.update(kw)
    return WorkItem(**base)


def _deleted(pid: str, n: int) -> ProjectDeleted:
    project = Project(pid, "K", "T", None, "active", 1, 1, 1, LLM, LLM, 1)
    return ProjectDeleted(pid, project, LLM, {"n": n})


# -- encoding (no database) ---------------------------------------------------------------
def test_events_round_trip_with_their_types() -> None:
    item = _item()
    events: list[Event] = [
        ActivityCreated("p1",
              ActivityEntry("a", "work_item", "w1", "updated", None, None, None, LLM, 5, "x"),
              LLM, {"sprint_id": "s1"}),
        WorkItemUpdated("p1", _item(version=2, title="u"), LLM,
              {"changed": ["title"], "previous": item, "ancestor_ids": ["e"],
               "descendant_ids": []}),
        ProjectCreated("p1",
              Project("p1", "K", "T", None, "active", 1, 1, 1, LLM, LLM, 1), LLM, {}),
        SprintDeleted("p1",
              Sprint("s", "p1", "n", None, 1, 2, "planned", 1, 1, 1, LLM, LLM), LLM, {}),
        CommentCreated("p1", Comment("c", "w1", "hi", 1, 1, LLM, LLM), LLM, {}),
        TimeEntryCreated(None,
              TimeEntry("t", "w1", LLM, 1, None, None, None, True, 1, 1), LLM, {}),
        DependencyCreated("p1", Dependency("d", "w1", "w2", "blocks", 1, LLM), LLM),
    ]  # fmt: skip
    back = decode_events(encode_events(events))
    assert back == events
    assert [type(e) for e in back] == [type(e) for e in events]
    assert type(back[1].extra["previous"]) is WorkItem
    assert isinstance(back[5], TimeEntryCreated) and back[5].entity.is_running is True
    with pytest.raises(ValueError, match="unknown event kind 'x'"):
        decode_events(msgspec.msgpack.encode([["x", "p1", None, LLM, {}]]))


# -- database ------------------------------------------------------------------------------
@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    name, url = await asyncio.to_thread(create_pg_database)
    try:
        yield url
    finally:
        await asyncio.to_thread(drop_pg_database, name)


async def _open(url: str) -> PostgresStore:
    store = PostgresStore(url, pool_min=1, pool_max=8)
    await store.open(LLM, "LLM")
    return store


def _ctx(actor: str = LLM) -> Ctx:
    return Ctx(actor=actor, now=int(time.time()))


@needs_pg
async def test_migrations_are_idempotent_and_safe_to_race(pg_url: str) -> None:
    stores = await asyncio.gather(*(_open(pg_url) for _ in range(4)))
    try:
        conn = await asyncpg.connect(pg_url)
        try:
            versions = [
                r[0]
                for r in await conn.fetch(
                    "SELECT version FROM pm_fast_schema_migrations ORDER BY version"
                )
            ]
            assert versions == [v for v, _, _ in MIGRATIONS]
            assert await conn.fetchval("SELECT COUNT(*) FROM pm_llm_context") == 28
            assert await conn.fetchval("SELECT COUNT(*) FROM users WHERE id = $1", LLM) == 1
        finally:
            await conn.close()
        again = await _open(pg_url)  # a restart finds everything in place
        await again.close()
    finally:
        for s in stores:
            await s.close()


@needs_pg
async def test_unreachable_postgres_fails_fast_with_a_clear_error() -> None:
    store = PostgresStore(f"postgresql://u:secret@127.0.0.1:{free_port()}/x")
    started = time.monotonic()
    with pytest.raises(StoreOpenError, match=r"cannot connect to PostgreSQL at .*u:\*\*\*@"):
        await store.open(LLM, "LLM")
    assert time.monotonic() - started < 10
    await store.close()


@needs_pg
async def test_concurrent_creates_from_two_pools_get_unique_numbers_and_positions(
    pg_url: str,
) -> None:
    a, b = await _open(pg_url), await _open(pg_url)  # two pools, as two processes
    try:
        project = (await a.write(projects.create_project(_ctx(), CreateProject("T", "UNQ")))).value

        async def create(store: PostgresStore, i: int) -> WorkItem:
            cmd = CreateWorkItem(project.id, "task", f"t{i}")
            outcome: Outcome[WorkItem] = await store.write(work_items.create_work_item(_ctx(), cmd))
            return outcome.value

        made = await asyncio.gather(*(create(a if i % 2 else b, i) for i in range(40)))
        assert sorted(w.item_number for w in made) == list(range(1, 41))
        assert sorted(w.position for w in made) == list(range(1, 41))
        listed = await a.read(work_items.get_work_item(_ctx(), "UNQ-40"))
        assert listed.display_key == "UNQ-40"
    finally:
        await a.close()
        await b.close()


@needs_pg
async def test_an_update_based_on_a_stale_read_is_a_conflict(pg_url: str) -> None:
    store = await _open(pg_url)
    try:
        project = (
            await store.write(projects.create_project(_ctx(), CreateProject("T", "LOST")))
        ).value
        item = (
            await store.write(
                work_items.create_work_item(_ctx(), CreateWorkItem(project.id, "task", "t"))
            )
        ).value
    finally:
        await store.close()
    c1 = await asyncpg.connect(pg_url)
    c2 = await asyncpg.connect(pg_url)
    try:
        t1 = c1.transaction()
        await t1.start()
        tx1 = PgTx(c1, set(), writing=True)
        seen1 = await tx1.item_get(item.id)
        assert seen1 is not None
        # meanwhile another process updates and commits
        async with c2.transaction():
            tx2 = PgTx(c2, set(), writing=True)
            seen2 = await tx2.item_get(item.id)
            assert seen2 is not None
            await tx2.item_update(_bump(seen2, title="theirs"))
        with pytest.raises(DomainError) as err:
            await tx1.item_update(_bump(seen1, title="mine"))
        assert err.value.code == "CONFLICT"
        assert "(current version: 2)" in err.value.message
        await t1.rollback()
        row = await c1.fetchrow("SELECT title, version FROM pm_work_items WHERE id = $1", item.id)
        assert tuple(row) == ("theirs", 2)
    finally:
        await c1.close()
        await c2.close()


def _bump(item: WorkItem, **changes: Any) -> WorkItem:
    from msgspec import structs

    return structs.replace(item, version=item.version + 1, **changes)


@needs_pg
async def test_services_see_conflict_through_the_store(pg_url: str) -> None:
    store = await _open(pg_url)
    try:
        project = (
            await store.write(projects.create_project(_ctx(), CreateProject("T", "UPD")))
        ).value
        item = (
            await store.write(
                work_items.create_work_item(_ctx(), CreateWorkItem(project.id, "task", "t"))
            )
        ).value

        async def update(title: str) -> Any:
            try:
                return await store.write(
                    work_items.update_work_item(_ctx(), item.id, UpdateWorkItem(1, title=title))
                )
            except DomainError as err:
                return err

        results = await asyncio.gather(*(update(f"t{i}") for i in range(6)))
        ok = [r for r in results if isinstance(r, Outcome)]
        refused = [r for r in results if isinstance(r, DomainError)]
        assert len(ok) == 1 and len(refused) == 5
        assert {r.code for r in refused} == {"CONFLICT"}
    finally:
        await store.close()


# -- the bus ----------------------------------------------------------------------------------
def _emit(events: list[Event]) -> Program[Outcome[None]]:
    yield from op(lambda tx: tx.ensure_user(LLM, 0))
    yield from op(lambda tx: tx.emit(events))
    return Outcome(None, events)


def _returns_only(events: list[Event]) -> Program[Outcome[None]]:
    yield from op(lambda tx: tx.ensure_user(LLM, 0))
    return Outcome(None, events)


def _emits_then_fails(events: list[Event]) -> Program[None]:
    yield from op(lambda tx: tx.emit(events))
    raise DomainError("VALIDATION_ERROR", "no")


@needs_pg
async def test_the_outbox_gets_what_a_program_emits_not_what_it_returns(pg_url: str) -> None:
    store = await _open(pg_url)
    conn = await asyncpg.connect(pg_url)
    try:
        await store.start_bus(lambda events: None)

        async def rows() -> int:
            return int(await conn.fetchval("SELECT COUNT(*) FROM pm_fast_events"))

        ev = _deleted("p1", 1)
        await store.write(_returns_only([ev]))
        assert await rows() == 0
        with pytest.raises(DomainError):
            await store.write(_emits_then_fails([ev]))
        assert await rows() == 0
        await store.write(_emit([ev, ev]))
        assert await rows() == 1  # one row per project
    finally:
        await conn.close()
        await store.close()


@needs_pg
async def test_bus_delivers_other_processes_events_once_and_skips_its_own(pg_url: str) -> None:
    a, b = await _open(pg_url), await _open(pg_url)
    got_a: list[Event] = []
    got_b: list[Event] = []
    try:
        await a.start_bus(got_a.extend)
        await b.start_bus(got_b.extend)
        events = [_deleted(f"p{i % 3}", i) for i in range(30)]
        for ev in events:
            await a.write(_emit([ev]))
        assert b.bus is not None
        deadline = time.monotonic() + 10
        while len(got_b) < 30 and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        assert [e.extra["n"] for e in got_b] == list(range(30))
        assert got_a == []  # its own events were published by the writer, not the bus
        await b.bus.poll()  # nothing is delivered twice
        assert len(got_b) == 30
    finally:
        await a.close()
        await b.close()


@needs_pg
async def test_bus_waits_for_rows_that_commit_out_of_seq_order(pg_url: str) -> None:
    store = await _open(pg_url)
    got: list[Event] = []
    c1 = await asyncpg.connect(pg_url)
    c2 = await asyncpg.connect(pg_url)
    try:
        bus = await store.start_bus(got.extend)
        writer = Bus(store.connect_one, lambda e: None, origin="other")
        t1 = c1.transaction()
        await t1.start()
        await writer.outbox.append(c1, [_deleted("p1", 1)], 0, [], 0)
        async with c2.transaction():  # a later seq, another project, commits first
            await writer.outbox.append(c2, [_deleted("p2", 2)], 0, [], 0)
        await bus.poll()
        assert [e.extra["n"] for e in got] == [2]
        assert len(bus.gaps) == 1  # the uncommitted seq is awaited, not skipped
        await t1.commit()
        await bus.poll()
        assert [e.extra["n"] for e in got] == [2, 1]
        assert bus.gaps == {}
        await bus.poll()
        assert len(got) == 2
    finally:
        await c1.close()
        await c2.close()
        await store.close()


@needs_pg
async def test_deferred_writes_reach_the_database_with_the_next_statement(pg_url: str) -> None:
    """Activity rows and a stored idempotent reply wait for the next statement of their
    transaction (one round trip for several writes): a read later in the transaction
    sees them, and a transaction without events writes them at its end."""
    store = await _open(pg_url)

    def entry(n: int) -> ActivityEntry:
        return ActivityEntry(f"a{n}", "project", "p", "updated", None, None, None, LLM, n, None)

    def program() -> Program[tuple[str | None, str | None]]:
        yield from op(lambda tx: tx.activity_insert(entry(1)))
        yield from op(lambda tx: tx.activity_insert(entry(2)))
        yield from op(lambda tx: tx.idem_put("k1", "create_x", "cmVwbHk=", 1))
        seen: str | None = yield from op(lambda tx: tx.idem_get("k1"))  # flushes first
        yield from op(lambda tx: tx.idem_put("k2", "create_x", "dHdv", 2))
        yield from op(lambda tx: tx.activity_insert(entry(3)))
        return seen, None

    def later() -> Program[str | None]:
        stored: str | None = yield from op(lambda tx: tx.idem_get("k2"))
        return stored

    try:
        assert await store.write(program()) == ("cmVwbHk=", None)
        assert await store.write(later()) == "dHdv"
        conn = await asyncpg.connect(pg_url)
        try:
            rows = await conn.fetch("SELECT id FROM pm_activity_log WHERE entity_id = 'p'")
            assert sorted(r[0] for r in rows) == ["a1", "a2", "a3"]
        finally:
            await conn.close()
    finally:
        await store.close()
