# mypy: disable-error-code="no-any-return"
"""WebSocket time-entry requests (spec §3.10, §4.7.5, §6.11) with pm-fast's documented
changes (docs/compat.md: TimeEntry* broadcasts incl. the auto-stopped timer, started_at
persisted by UpdateTimeEntry)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from pm_fast.api import pm_pb2 as pb

from .wsclient import (
    ServerProcess,
    WsClient,
    add_member,
    assert_activity,
    assert_broadcast_pair,
    assert_error,
    case_of,
    clients,
    module_server,
    new_id,
    now,
)

HOUR = 3600
ST, SP, CT, UT, DT, GT, RT = (
    "start_timer_request",
    "stop_timer_request",
    "create_time_entry_request",
    "update_time_entry_request",
    "delete_time_entry_request",
    "get_time_entries_request",
    "get_running_timer_request",
)


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    yield from module_server(tmp_path_factory, "ws-time")


@pytest.fixture
def api(srv: ServerProcess) -> Iterator[httpx.Client]:
    with srv.client() as c:
        yield c


async def setup(
    c: WsClient, *members: tuple[ServerProcess, WsClient, str]
) -> tuple[pb.Project, pb.WorkItem]:
    p = await c.project()
    for srv, who, role in members:
        add_member(srv, p.id, who.user_id, role)
    return p, await c.item(p.id)


# --------------------------------------------------------------------------- start/stop
async def test_start_timer_creates_running_entry(srv: ServerProcess) -> None:
    # §6.11.1
    async with clients(srv.port, "new", "new") as (c, watcher):
        p, w = await setup(c, (srv, watcher, "viewer"))
        await c.subscribe([p.id])
        await watcher.subscribe([p.id])
        t0 = now()
        reply, events = await c.request(ST, work_item_id=w.id, description="  Working on tests ")
        assert case_of(reply) == "timer_started", reply
        started = reply.timer_started
        te = started.time_entry
        assert started.user_id == c.user_id
        assert not started.HasField("stopped_entry")
        assert te.work_item_id == w.id and te.user_id == c.user_id
        assert not te.HasField("ended_at") and not te.HasField("duration_seconds")
        assert te.description == "Working on tests"
        assert t0 <= te.started_at <= now() + 1
        assert te.created_at == te.updated_at == te.started_at
        # compat.md: ActivityLogCreated + TimeEntryCreated to the project's subscribers
        ev = assert_broadcast_pair(
            events, "time_entry", te.id, "created", "time_entry_created", c.user_id
        )
        assert ev.time_entry == te and ev.user_id == c.user_id
        assert [e.SerializeToString() for e in await watcher.sync()] == [
            e.SerializeToString() for e in events
        ]
        running = await c.call(RT)
        assert running.HasField("time_entry") and running.time_entry == te
        await c.call(SP, time_entry_id=te.id)
        await c.sync()
        await watcher.sync()


async def test_start_timer_auto_stops_previous(srv: ServerProcess) -> None:
    # §6.11.2 + compat.md: the auto-stopped timer's events are broadcast too
    async with clients(srv.port, "new", "new", "new") as (c, w1, w2):
        p1, task1 = await setup(c, (srv, w1, "viewer"))
        p2, task2 = await setup(c, (srv, w2, "viewer"))
        await w1.subscribe([p1.id])
        await w2.subscribe([p2.id])
        first = (await c.call(ST, work_item_id=task1.id)).time_entry
        assert len(await w1.sync()) == 2
        started = await c.call(ST, work_item_id=task2.id, description="second")
        assert started.time_entry.work_item_id == task2.id
        assert not started.time_entry.HasField("ended_at")
        assert started.HasField("stopped_entry")
        stopped = started.stopped_entry
        assert stopped.id == first.id
        assert stopped.HasField("ended_at") and stopped.ended_at >= first.started_at
        assert stopped.duration_seconds == stopped.ended_at - stopped.started_at >= 0
        # the stop is announced to the first project's subscribers ...
        evs1 = await w1.sync()
        ev = assert_broadcast_pair(
            evs1, "time_entry", first.id, "updated", "time_entry_updated", c.user_id
        )
        assert ev.time_entry == stopped
        assert evs1[0].activity_log_created.entry.comment == "1 fields changed"
        # ... and the new timer to the second project's subscribers
        evs2 = await w2.sync()
        ev = assert_broadcast_pair(
            evs2, "time_entry", started.time_entry.id, "created", "time_entry_created", c.user_id
        )
        assert ev.time_entry == started.time_entry
        # only one running timer
        running = await c.call(RT)
        assert running.time_entry.id == started.time_entry.id
        log = await c.call(
            "get_activity_log_request", entity_type="time_entry", entity_id=first.id, limit=10
        )
        assert [e.action for e in log.entries] == ["updated", "created"]


async def test_start_timer_in_the_same_project_broadcast_order(srv: ServerProcess) -> None:
    async with clients(srv.port, "new", "new") as (c, watcher):
        p, w = await setup(c, (srv, watcher, "viewer"))
        await watcher.subscribe([p.id])
        first = (await c.call(ST, work_item_id=w.id)).time_entry
        await watcher.sync()
        started = await c.call(ST, work_item_id=w.id)
        evs = await watcher.sync()
        assert [case_of(e) for e in evs] == [
            "activity_log_created",
            "time_entry_updated",
            "activity_log_created",
            "time_entry_created",
        ]
        assert_activity(evs[0], "time_entry", first.id, "updated", c.user_id)
        assert_activity(evs[2], "time_entry", started.time_entry.id, "created", c.user_id)
        await c.call(SP, time_entry_id=started.time_entry.id)


async def test_start_timer_validation_in_order(srv: ServerProcess) -> None:
    # §6.11.3 and §4.7.5 order
    async with clients(srv.port, "new", "new", "new") as (c, viewer, stranger):
        _p, w = await setup(c, (srv, viewer, "viewer"))
        err = await c.error(ST, work_item_id="bad", description="d" * 1001)
        assert_error(err, "INVALID_MESSAGE", "description must not exceed 1000 characters")
        err = await c.error(ST, work_item_id="bad")
        assert_error(err, "VALIDATION_ERROR", "Invalid UUID format", field="work_item_id")
        missing = new_id()
        err = await stranger.error(ST, work_item_id=missing)
        assert_error(err, "NOT_FOUND", "Work item", "not found")
        err = await viewer.error(ST, work_item_id=w.id)
        assert_error(err, "UNAUTHORIZED", "Required: Edit, have: viewer")
        err = await stranger.error(ST, work_item_id=w.id)
        assert_error(err, "UNAUTHORIZED", "Not a member of this project")
        for who in (c, viewer, stranger):
            assert not (await who.call(RT)).HasField("time_entry")
        ok = await c.call(ST, work_item_id=w.id, description="x" * 1000)
        assert len(ok.time_entry.description) == 1000
        await c.call(SP, time_entry_id=ok.time_entry.id)


async def test_start_timer_is_idempotent(srv: ServerProcess, api: httpx.Client) -> None:
    async with clients(srv.port, "new") as (c,):
        p, w = await setup(c)
        await c.subscribe([p.id])
        mid = new_id()
        first, events = await c.request(ST, message_id=mid, work_item_id=w.id)
        assert len(events) == 2
        raw = c.raw[mid]
        # a replay neither stops the running timer nor starts another one
        again, events = await c.request(ST, message_id=mid, work_item_id=w.id)
        assert events == [] and c.raw[mid] == raw and again == first
        assert not again.timer_started.HasField("stopped_entry")
        entries = api.get(f"/api/v1/work-items/{w.id}/time-entries").json()["time_entries"]
        assert [e["id"] for e in entries] == [first.timer_started.time_entry.id]
        assert entries[0]["is_running"] is True
        assert await c.sync() == []
        await c.call(SP, time_entry_id=first.timer_started.time_entry.id)


async def test_stop_timer(srv: ServerProcess) -> None:
    # §6.11.4 - §6.11.6
    async with clients(srv.port, "new", "new") as (owner, other):
        p, w = await setup(owner, (srv, other, "admin"))
        await owner.subscribe([p.id])
        te = (await owner.call(ST, work_item_id=w.id)).time_entry
        await owner.sync()
        assert_error(
            await owner.error(SP, time_entry_id="x"), "VALIDATION_ERROR", field="time_entry_id"
        )
        missing = new_id()
        assert_error(
            await owner.error(SP, time_entry_id=missing), "NOT_FOUND", "Time entry", missing
        )
        err = await other.error(SP, time_entry_id=te.id)
        assert_error(err, "UNAUTHORIZED", "Cannot stop another user's timer")
        mid = new_id()
        reply, events = await owner.request(SP, message_id=mid, time_entry_id=te.id)
        assert case_of(reply) == "timer_stopped", reply
        stopped = reply.timer_stopped
        assert stopped.user_id == owner.user_id
        assert stopped.time_entry.id == te.id
        assert stopped.time_entry.HasField("ended_at")
        assert (
            stopped.time_entry.duration_seconds
            == (stopped.time_entry.ended_at - stopped.time_entry.started_at)
            >= 0
        )
        ev = assert_broadcast_pair(
            events, "time_entry", te.id, "updated", "time_entry_updated", owner.user_id
        )
        assert ev.time_entry == stopped.time_entry
        assert events[0].activity_log_created.entry.comment == "1 fields changed"
        # idempotent: the same id replays the stored reply (no "not running" error)
        raw = owner.raw[mid]
        _again, events = await owner.request(SP, message_id=mid, time_entry_id=te.id)
        assert events == [] and owner.raw[mid] == raw
        # a new request: the timer is not running any more
        err = await owner.error(SP, time_entry_id=te.id)
        assert_error(err, "VALIDATION_ERROR", "Timer is not running", field="time_entry_id")
        assert not (await owner.call(RT)).HasField("time_entry")
        assert await owner.sync() == []


async def test_get_running_timer_is_per_user(srv: ServerProcess) -> None:
    # §6.11.11
    async with clients(srv.port, "new", "new") as (owner, other):
        _p, w = await setup(owner)
        te = (await owner.call(ST, work_item_id=w.id)).time_entry
        reply, _ = await other.request(RT)
        assert case_of(reply) == "running_timer_response"
        assert not reply.running_timer_response.HasField("time_entry")
        mine = await owner.call(RT)
        assert mine.time_entry.id == te.id and not mine.time_entry.HasField("ended_at")
        # the same user on another connection sees it too
        async with clients(srv.port, owner.user_id) as (again,):
            assert (await again.call(RT)).time_entry.id == te.id
        await owner.call(SP, time_entry_id=te.id)


# --------------------------------------------------------------------------- manual entries
async def test_create_manual_entry(srv: ServerProcess) -> None:
    # §6.11.7
    async with clients(srv.port, "new", "new") as (c, watcher):
        p, w = await setup(c, (srv, watcher, "viewer"))
        await watcher.subscribe([p.id])
        t = now()
        reply, events = await c.request(
            CT,
            work_item_id=w.id,
            started_at=t - HOUR,
            ended_at=t - HOUR // 2,
            description="Manual entry",
        )
        assert case_of(reply) == "time_entry_created", reply
        te = reply.time_entry_created.time_entry
        assert reply.time_entry_created.user_id == c.user_id
        assert (te.started_at, te.ended_at, te.duration_seconds) == (t - HOUR, t - HOUR // 2, 1800)
        assert te.description == "Manual entry" and te.user_id == c.user_id
        assert te.work_item_id == w.id
        evs = await watcher.sync()
        ev = assert_broadcast_pair(
            evs, "time_entry", te.id, "created", "time_entry_created", c.user_id
        )
        assert ev.time_entry == te
        assert events == []  # the caller is not subscribed
        # no running timer was created
        assert not (await c.call(RT)).HasField("time_entry")


async def test_create_manual_entry_timestamp_rules(srv: ServerProcess) -> None:
    # §6.11.8, §6.11.9 and §4.7.5 order
    async with clients(srv.port, "new", "new") as (c, viewer):
        _p, w = await setup(c, (srv, viewer, "viewer"))
        t = now()

        async def err(**fields: Any) -> pb.Error:
            fields.setdefault("work_item_id", w.id)
            return await c.error(CT, **fields)

        # 1. timestamps first (before description and UUID)
        e = await err(
            work_item_id="bad",
            started_at=t + HOUR,
            ended_at=t + HOUR + HOUR // 2,
            description="d" * 1001,
        )
        assert_error(
            e, "VALIDATION_ERROR", "started_at cannot be in the future", field="started_at"
        )
        assert "future" in e.message
        e = await err(started_at=t - 100, ended_at=t + HOUR)
        assert_error(e, "VALIDATION_ERROR", "ended_at cannot be in the future", field="ended_at")
        e = await err(started_at=t - 100, ended_at=t - 100)
        assert_error(
            e, "VALIDATION_ERROR", "started_at must be before ended_at", field="started_at"
        )
        e = await err(started_at=t - 50, ended_at=t - 100)
        assert_error(e, "VALIDATION_ERROR", "started_at must be before ended_at")
        e = await err(started_at=t - 100000, ended_at=t)
        assert_error(e, "VALIDATION_ERROR", "Duration cannot exceed 24 hours", field="ended_at")
        # 2. description
        e = await err(
            work_item_id="bad", started_at=t - 100, ended_at=t - 50, description="d" * 1001
        )
        assert_error(e, "INVALID_MESSAGE", "description must not exceed 1000 characters")
        # 3. UUID, 5. existence, 6. permission
        e = await err(work_item_id="bad", started_at=t - 100, ended_at=t - 50)
        assert_error(e, "VALIDATION_ERROR", "Invalid UUID format", field="work_item_id")
        e = await err(work_item_id=new_id(), started_at=t - 100, ended_at=t - 50)
        assert_error(e, "NOT_FOUND", "Work item")
        e = await viewer.error(CT, work_item_id=w.id, started_at=t - 100, ended_at=t - 50)
        assert_error(e, "UNAUTHORIZED", "Required: Edit, have: viewer")
        # boundaries: exactly 24 h; ended within the 60 s future tolerance
        te = await c.manual_entry(w.id, t - 86400 - 1000, t - 1000)
        assert te.duration_seconds == 86400
        te = await c.manual_entry(w.id, t - 100, t + 30)
        assert te.duration_seconds == 130
        listed = await c.call(GT, work_item_id=w.id)
        assert listed.total_count == 2


async def test_create_manual_entry_is_idempotent(srv: ServerProcess) -> None:
    async with clients(srv.port, "new") as (c,):
        p, w = await setup(c)
        await c.subscribe([p.id])
        t = now()
        mid = new_id()
        first, events = await c.request(
            CT, message_id=mid, work_item_id=w.id, started_at=t - 600, ended_at=t - 300
        )
        assert len(events) == 2
        raw = c.raw[mid]
        again, events = await c.request(
            CT, message_id=mid, work_item_id=w.id, started_at=t - 600, ended_at=t - 300
        )
        assert events == [] and c.raw[mid] == raw and again == first
        assert (await c.call(GT, work_item_id=w.id)).total_count == 1
        assert await c.sync() == []


# --------------------------------------------------------------------------- update/delete
async def test_update_time_entry(srv: ServerProcess, api: httpx.Client) -> None:
    async with clients(srv.port, "new", "new") as (owner, other):
        p, w = await setup(owner, (srv, other, "admin"))
        await other.subscribe([p.id])
        t = now()
        te = await owner.manual_entry(w.id, t - 2 * HOUR, t - HOUR, description="before")
        await other.sync()
        assert_error(
            await owner.error(UT, time_entry_id="x"), "VALIDATION_ERROR", field="time_entry_id"
        )
        assert_error(
            await owner.error(UT, time_entry_id=new_id(), description="x"),
            "NOT_FOUND",
            "Time entry",
        )
        err = await other.error(UT, time_entry_id=te.id, description="x")
        assert_error(err, "UNAUTHORIZED", "Cannot update another user's time entry")
        err = await owner.error(UT, time_entry_id=te.id, description="d" * 1001)
        assert_error(err, "INVALID_MESSAGE", "description must not exceed 1000 characters")
        # timestamp rules on the final values
        err = await owner.error(UT, time_entry_id=te.id, started_at=t - HOUR + 10)
        assert_error(err, "VALIDATION_ERROR", "started_at must be before ended_at")
        err = await owner.error(UT, time_entry_id=te.id, started_at=t - 30 * HOUR)
        assert_error(err, "VALIDATION_ERROR", "Duration cannot exceed 24 hours")
        err = await owner.error(UT, time_entry_id=te.id, ended_at=t + HOUR)
        assert_error(err, "VALIDATION_ERROR", "ended_at cannot be in the future")
        reply, events = await owner.request(
            UT, time_entry_id=te.id, started_at=t - 3 * HOUR, description=" after "
        )
        assert case_of(reply) == "time_entry_updated", reply
        upd = reply.time_entry_updated
        assert upd.user_id == owner.user_id
        assert upd.time_entry.started_at == t - 3 * HOUR
        assert upd.time_entry.ended_at == t - HOUR
        assert upd.time_entry.duration_seconds == 2 * HOUR
        assert upd.time_entry.description == "after"
        assert events == []
        evs = await other.sync()
        ev = assert_broadcast_pair(
            evs, "time_entry", te.id, "updated", "time_entry_updated", owner.user_id
        )
        assert ev.time_entry == upd.time_entry
        assert evs[0].activity_log_created.entry.comment == "2 fields changed"
        # compat.md: started_at is persisted
        listed = await owner.call(GT, work_item_id=w.id)
        assert listed.time_entries[0].started_at == t - 3 * HOUR
        assert listed.time_entries[0].duration_seconds == 2 * HOUR
        rest = api.get(f"/api/v1/time-entries/{te.id}").json()["time_entry"]
        assert rest["started_at"] == t - 3 * HOUR and rest["description"] == "after"


async def test_update_time_entry_ended_at_stops_a_running_timer(srv: ServerProcess) -> None:
    async with clients(srv.port, "new") as (c,):
        _p, w = await setup(c)
        te = (await c.call(ST, work_item_id=w.id)).time_entry
        upd = await c.call(UT, time_entry_id=te.id, ended_at=te.started_at + 1)
        assert upd.time_entry.ended_at == te.started_at + 1
        assert upd.time_entry.duration_seconds == 1
        assert not (await c.call(RT)).HasField("time_entry")


async def test_delete_time_entry(srv: ServerProcess) -> None:
    async with clients(srv.port, "new", "new") as (owner, other):
        p, w = await setup(owner, (srv, other, "admin"))
        await other.subscribe([p.id])
        t = now()
        te = await owner.manual_entry(w.id, t - 600, t - 300)
        await other.sync()
        assert_error(
            await owner.error(DT, time_entry_id="x"), "VALIDATION_ERROR", field="time_entry_id"
        )
        assert_error(await owner.error(DT, time_entry_id=new_id()), "NOT_FOUND", "Time entry")
        err = await other.error(DT, time_entry_id=te.id)
        assert_error(err, "UNAUTHORIZED", "Cannot delete another user's time entry")
        reply, _ = await owner.request(DT, time_entry_id=te.id)
        assert case_of(reply) == "time_entry_deleted", reply
        d = reply.time_entry_deleted
        assert (d.time_entry_id, d.work_item_id, d.user_id) == (te.id, w.id, owner.user_id)
        evs = await other.sync()
        ev = assert_broadcast_pair(
            evs, "time_entry", te.id, "deleted", "time_entry_deleted", owner.user_id
        )
        assert ev == d
        assert_error(await owner.error(DT, time_entry_id=te.id), "NOT_FOUND")
        assert_error(await owner.error(UT, time_entry_id=te.id, description="x"), "NOT_FOUND")
        assert (await owner.call(GT, work_item_id=w.id)).total_count == 0


# --------------------------------------------------------------------------- listing
async def test_get_time_entries_paging(srv: ServerProcess) -> None:
    # §6.11.10 + clamping of limit/offset
    async with clients(srv.port, "new", "new", "new") as (c, editor, stranger):
        _p, w = await setup(c, (srv, editor, "editor"))
        t = now()
        made = []
        for i in range(5):  # consecutive 2-hour windows, newest first
            made.append(await c.manual_entry(w.id, t - (i + 1) * 2 * HOUR, t - i * 2 * HOUR))
        theirs = await editor.manual_entry(w.id, t - 11 * HOUR, t - 10 * HOUR - HOUR // 2)

        async def page(**kw: Any) -> pb.TimeEntriesList:
            return await c.call(GT, work_item_id=w.id, **kw)

        two = await page(limit=2, offset=0)
        assert len(two.time_entries) == 2 and two.total_count == 6
        assert [e.id for e in two.time_entries] == [made[0].id, made[1].id]
        everything = await page()  # absent limit -> 100
        assert [e.id for e in everything.time_entries] == [m.id for m in made] + [theirs.id]
        starts = [e.started_at for e in everything.time_entries]
        assert starts == sorted(starts, reverse=True)
        assert len((await page(limit=0)).time_entries) == 1  # clamped to 1
        assert len((await page(limit=-5)).time_entries) == 1
        assert len((await page(limit=100000)).time_entries) == 6  # clamped to 500
        assert [e.id for e in (await page(limit=2, offset=-3)).time_entries] == [
            made[0].id,
            made[1].id,
        ]
        assert [e.id for e in (await page(limit=2, offset=4)).time_entries] == [
            made[4].id,
            theirs.id,
        ]
        last = await page(offset=10)
        assert list(last.time_entries) == [] and last.total_count == 6
        # validation
        assert_error(await c.error(GT, work_item_id="x"), "VALIDATION_ERROR", field="work_item_id")
        assert_error(await c.error(GT, work_item_id=new_id()), "NOT_FOUND", "Work item")
        assert_error(
            await stranger.error(GT, work_item_id=w.id),
            "UNAUTHORIZED",
            "Not a member of this project",
        )


async def test_rest_time_entries_reach_ws_subscribers(
    srv: ServerProcess, api: httpx.Client
) -> None:
    async with clients(srv.port, "new") as (c,):
        p, w = await setup(c)
        await c.subscribe([p.id])
        await c.sync()
        r = api.post(
            "/api/v1/time-entries", json={"work_item_id": w.id}, headers={"X-User-Id": c.user_id}
        )
        assert r.status_code == 200, r.text
        tid = r.json()["time_entry"]["id"]
        evs = await c.sync()
        ev = assert_broadcast_pair(
            evs, "time_entry", tid, "created", "time_entry_created", c.user_id
        )
        assert ev.time_entry.work_item_id == w.id
        r = api.delete(f"/api/v1/time-entries/{tid}", headers={"X-User-Id": c.user_id})
        assert r.status_code == 200, r.text
        evs = await c.sync()
        assert_broadcast_pair(evs, "time_entry", tid, "deleted", "time_entry_deleted", c.user_id)
