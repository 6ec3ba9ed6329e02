# mypy: disable-error-code="no-any-return"
"""WebSocket sprint and comment requests (spec §3.8, §3.9, §4.7.3, §4.7.4, §6.5.2, §6.9,
§6.10) with pm-fast's documented changes (docs/compat.md)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from pm_fast.api import pm_pb2 as pb

from .wsclient import (
    ServerProcess,
    add_member,
    assert_activity,
    assert_broadcast_pair,
    assert_error,
    case_of,
    clients,
    field_changes,
    module_server,
    new_id,
    now,
)

DAY = 86400


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    yield from module_server(tmp_path_factory, "ws-sprints")


def rfc3339(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


# =========================================================================== sprints
CS, US, DS, GS = (
    "create_sprint_request",
    "update_sprint_request",
    "delete_sprint_request",
    "get_sprints_request",
)


async def test_create_sprint_reply_and_broadcast(srv: ServerProcess) -> None:
    # §6.9.1
    async with clients(srv.port, "new", "new") as (c, watcher):
        p = await c.project(subscribe=True)
        add_member(srv, p.id, watcher.user_id, "viewer")
        await watcher.subscribe([p.id])
        start = now() + DAY
        end = start + 14 * DAY
        t0 = now()
        reply, events = await c.request(
            CS,
            project_id=p.id,
            name="  Sprint 1  ",
            goal="  Complete MVP  ",
            start_date=start,
            end_date=end,
        )
        assert case_of(reply) == "sprint_created", reply
        created = reply.sprint_created
        s = created.sprint
        assert created.user_id == c.user_id
        assert (s.project_id, s.name, s.goal) == (p.id, "Sprint 1", "Complete MVP")
        assert (s.start_date, s.end_date) == (start, end)
        assert s.status == pb.PLANNED and s.version == 1
        assert t0 <= s.created_at == s.updated_at <= now() + 1
        assert s.created_by == s.updated_by == c.user_id
        assert not s.HasField("deleted_at")
        ev = assert_broadcast_pair(events, "sprint", s.id, "created", "sprint_created", c.user_id)
        assert ev == created
        assert [e.SerializeToString() for e in await watcher.sync()] == [
            e.SerializeToString() for e in events
        ]
        s2 = await c.sprint(p.id, name="no goal")
        assert not s2.HasField("goal")
        await c.sync()
        await watcher.sync()


async def test_create_sprint_validation_in_order(srv: ServerProcess) -> None:
    # §6.9.2, §6.9.3 and §4.7.3 order
    async with clients(srv.port, "new", "new", "new") as (c, viewer, stranger):
        p = await c.project()
        add_member(srv, p.id, viewer.user_id, "viewer")
        t = now()
        ok: dict[str, Any] = {"start_date": t + DAY, "end_date": t + 15 * DAY}
        # 1. name (before dates and ids)
        err = await c.error(CS, project_id="bad", name="", start_date=5, end_date=1)
        assert_error(err, "INVALID_MESSAGE", "name", prefix="Invalid message: ")
        err = await c.error(CS, project_id="bad", name="n" * 101, **ok)
        assert_error(err, "INVALID_MESSAGE", "name")
        # 2. order of dates
        err = await c.error(
            CS, project_id="bad", name="s", start_date=t + 14 * DAY, end_date=t + DAY
        )
        assert_error(err, "INVALID_MESSAGE", "start_date must be before end_date")
        err = await c.error(CS, project_id="bad", name="s", start_date=t + DAY, end_date=t + DAY)
        assert_error(err, "INVALID_MESSAGE", "start_date")
        # 3. window [now - 365 d, now + 5*365 d]
        err = await c.error(CS, project_id="bad", name="s", start_date=t - 400 * DAY, end_date=t)
        assert_error(err, "INVALID_MESSAGE", "start_date is outside reasonable range")
        err = await c.error(
            CS, project_id="bad", name="s", start_date=t, end_date=t + 6 * 365 * DAY
        )
        assert_error(err, "INVALID_MESSAGE", "end_date is outside reasonable range")
        # 5. UUID
        err = await c.error(CS, project_id="bad", name="s", **ok)
        assert_error(err, "VALIDATION_ERROR", "Invalid UUID format", field="project_id")
        # 6. permission Edit
        err = await viewer.error(CS, project_id=p.id, name="s", **ok)
        assert_error(err, "UNAUTHORIZED", "Required: Edit, have: viewer")
        err = await stranger.error(CS, project_id=p.id, name="s", **ok)
        assert_error(err, "UNAUTHORIZED", "Not a member of this project")
        # boundaries: 100 chars, window edges
        s = await c.sprint(p.id, name="ä" * 100, start=t - 364 * DAY, end=t + 5 * 365 * DAY - 60)
        assert s.name == "ä" * 100
        assert list((await c.call(GS, project_id=p.id)).sprints) == [s]


async def test_create_sprint_is_idempotent(srv: ServerProcess) -> None:
    async with clients(srv.port, "new") as (c,):
        p = await c.project(subscribe=True)
        mid = new_id()
        fields = {
            "project_id": p.id,
            "name": "once",
            "start_date": now() + DAY,
            "end_date": now() + 9 * DAY,
        }
        first, events = await c.request(CS, message_id=mid, **fields)
        assert len(events) == 2
        raw = c.raw[mid]
        again, events = await c.request(CS, message_id=mid, **fields)
        assert events == [] and c.raw[mid] == raw and again == first
        assert len((await c.call(GS, project_id=p.id)).sprints) == 1
        assert await c.sync() == []


async def test_update_sprint_flow(srv: ServerProcess) -> None:
    # §6.9.4 - §6.9.7
    async with clients(srv.port, "new", "new") as (c, watcher):
        p = await c.project(subscribe=True)
        add_member(srv, p.id, watcher.user_id, "viewer")
        await watcher.subscribe([p.id])
        t = now()
        s = await c.sprint(p.id, name="Sprint 1", start=t, end=t + 14 * DAY)
        await c.sync()
        await watcher.sync()
        reply, events = await c.request(
            US, sprint_id=s.id, expected_version=1, name="Sprint 1 Updated"
        )
        upd = reply.sprint_updated
        assert upd.sprint.name == "Sprint 1 Updated" and upd.sprint.version == 2
        assert upd.user_id == c.user_id and upd.sprint.updated_by == c.user_id
        assert field_changes(upd.changes) == {"name": ("Sprint 1", "Sprint 1 Updated")}
        ev = assert_broadcast_pair(events, "sprint", s.id, "updated", "sprint_updated", c.user_id)
        assert ev == upd
        assert events[0].activity_log_created.entry.comment == "1 fields changed"
        assert len(await watcher.sync()) == 2
        # wrong version -> CONFLICT with the current version
        err = await c.error(US, sprint_id=s.id, expected_version=99, name="x")
        assert_error(err, "CONFLICT", "(current version: 2)")
        # goal (old absent), dates (RFC 3339), status names
        new_start, new_end = t + DAY, t + 20 * DAY
        upd = await c.call(
            US,
            sprint_id=s.id,
            expected_version=2,
            goal="g",
            start_date=new_start,
            end_date=new_end,
            status=pb.ACTIVE,
        )
        ch = field_changes(upd.changes)
        assert [x.field_name for x in upd.changes] == ["goal", "start_date", "end_date", "status"]
        assert ch["goal"] == (None, "g")
        assert ch["start_date"] == (rfc3339(t), rfc3339(new_start))
        assert ch["end_date"] == (rfc3339(t + 14 * DAY), rfc3339(new_end))
        assert ch["start_date"][1].endswith("+00:00")
        assert ch["status"] == ("planned", "active")
        assert upd.sprint.status == pb.ACTIVE and upd.sprint.version == 3
        # same status again is allowed and is no change
        reply, events = await c.request(
            US, sprint_id=s.id, expected_version=3, status=pb.ACTIVE, name="Sprint 1 Updated"
        )
        assert events == [] and list(reply.sprint_updated.changes) == []
        assert reply.sprint_updated.sprint.version == 3
        # a second sprint cannot become active while this one is
        other = await c.sprint(p.id, name="other")
        err = await c.error(US, sprint_id=other.id, expected_version=1, status=pb.ACTIVE)
        assert_error(err, "CONFLICT")
        # active -> completed; then any update is a CONFLICT
        upd = await c.call(US, sprint_id=s.id, expected_version=3, status=pb.COMPLETED)
        assert upd.sprint.status == pb.COMPLETED
        err = await c.error(US, sprint_id=s.id, expected_version=4, name="late")
        assert_error(err, "CONFLICT")
        err = await c.error(US, sprint_id=s.id, expected_version=4)
        assert_error(err, "CONFLICT")
        # now the other one may be activated
        upd = await c.call(US, sprint_id=other.id, expected_version=1, status=pb.ACTIVE)
        assert upd.sprint.status == pb.ACTIVE
        await c.sync()
        await watcher.sync()


async def test_sprint_status_transitions(srv: ServerProcess) -> None:
    async with clients(srv.port, "new") as (c,):
        p = await c.project()
        s = await c.sprint(p.id)
        # §6.9.7: planned -> completed is refused
        err = await c.error(US, sprint_id=s.id, expected_version=1, status=pb.COMPLETED)
        assert_error(
            err,
            "VALIDATION_ERROR",
            "Invalid status transition: planned -> completed",
            field="status",
        )
        for bad in (0, 5, 42):
            err = await c.error(US, sprint_id=s.id, expected_version=1, status=bad)
            assert_error(err, "VALIDATION_ERROR", "Invalid sprint status", field="status")
        upd = await c.call(US, sprint_id=s.id, expected_version=1, status=pb.CANCELLED)
        assert upd.sprint.status == pb.CANCELLED
        for target, name in (
            (pb.PLANNED, "planned"),
            (pb.ACTIVE, "active"),
            (pb.COMPLETED, "completed"),
        ):
            err = await c.error(US, sprint_id=s.id, expected_version=2, status=target)
            assert_error(
                err,
                "VALIDATION_ERROR",
                f"Invalid status transition: cancelled -> {name}",
                field="status",
            )
        s2 = await c.sprint(p.id)
        await c.call(US, sprint_id=s2.id, expected_version=1, status=pb.ACTIVE)
        err = await c.error(US, sprint_id=s2.id, expected_version=2, status=pb.PLANNED)
        assert_error(err, "VALIDATION_ERROR", "active -> planned")
        upd = await c.call(US, sprint_id=s2.id, expected_version=2, status=pb.CANCELLED)
        assert upd.sprint.status == pb.CANCELLED


async def test_update_sprint_validation_in_order(srv: ServerProcess) -> None:
    async with clients(srv.port, "new", "new") as (c, viewer):
        p = await c.project()
        add_member(srv, p.id, viewer.user_id, "viewer")
        s = await c.sprint(p.id)
        err = await c.error(US, sprint_id="bad", expected_version=1, name="")
        assert_error(err, "VALIDATION_ERROR", "Invalid UUID format", field="sprint_id")
        # existence, permission and version come before the field checks
        missing = new_id()
        err = await c.error(US, sprint_id=missing, expected_version=1, name="", status=0)
        assert_error(err, "NOT_FOUND", "Sprint", missing)
        err = await viewer.error(US, sprint_id=s.id, expected_version=7, name="", status=0)
        assert_error(err, "UNAUTHORIZED", "Required: Edit, have: viewer")
        err = await c.error(US, sprint_id=s.id, expected_version=7, name="", status=0)
        assert_error(err, "CONFLICT", "(current version: 1)")
        err = await c.error(US, sprint_id=s.id, expected_version=1, name="")
        assert_error(err, "INVALID_MESSAGE", "name")
        err = await c.error(US, sprint_id=s.id, expected_version=1, name="n" * 101)
        assert_error(err, "INVALID_MESSAGE", "name")


async def test_sprint_scoped_activity_reaches_sprint_subscribers(srv: ServerProcess) -> None:
    # §6.5.2: subscribed to the sprint id only -> ActivityLogCreated arrives, SprintUpdated
    # does not (entity events are project-scoped)
    async with clients(srv.port, "new", "new", "new") as (c, sprint_sub, nobody):
        p = await c.project()
        add_member(srv, p.id, sprint_sub.user_id, "viewer")
        add_member(srv, p.id, nobody.user_id, "viewer")
        s = await c.sprint(p.id)
        await sprint_sub.subscribe(sprint_ids=[s.id])
        await c.call(US, sprint_id=s.id, expected_version=1, name="renamed")
        evs = await sprint_sub.sync()
        assert [case_of(e) for e in evs] == ["activity_log_created"]
        assert_activity(evs[0], "sprint", s.id, "updated", c.user_id)
        assert await nobody.sync() == []
        # work-item activity is not sprint-scoped
        await c.item(p.id)
        assert await sprint_sub.sync() == []
        # unsubscribing the sprint stops the delivery
        await sprint_sub.unsubscribe(sprint_ids=[s.id])
        await c.call(US, sprint_id=s.id, expected_version=2, goal="g")
        assert await sprint_sub.sync() == []
        # the delete is sprint-scoped activity as well
        await sprint_sub.subscribe(sprint_ids=[s.id])
        await c.call(DS, sprint_id=s.id)
        evs = await sprint_sub.sync()
        assert [case_of(e) for e in evs] == ["activity_log_created"]
        assert_activity(evs[0], "sprint", s.id, "deleted", c.user_id)


async def test_delete_sprint(srv: ServerProcess) -> None:
    async with clients(srv.port, "new", "new") as (c, editor):
        p = await c.project(subscribe=True)
        add_member(srv, p.id, editor.user_id, "editor")
        s = await c.sprint(p.id)
        w = await c.item(p.id)
        await c.call(
            "update_work_item_request", work_item_id=w.id, expected_version=1, sprint_id=s.id
        )
        await c.sync()
        assert_error(await c.error(DS, sprint_id="x"), "VALIDATION_ERROR", field="sprint_id")
        assert_error(await c.error(DS, sprint_id=new_id()), "NOT_FOUND", "Sprint")
        err = await editor.error(DS, sprint_id=s.id)
        assert_error(err, "UNAUTHORIZED", "Required: Admin, have: editor")
        reply, events = await c.request(DS, sprint_id=s.id)
        assert case_of(reply) == "sprint_deleted"
        assert reply.sprint_deleted.sprint_id == s.id
        assert reply.sprint_deleted.user_id == c.user_id
        ev = assert_broadcast_pair(events, "sprint", s.id, "deleted", "sprint_deleted", c.user_id)
        assert ev == reply.sprint_deleted
        assert_error(await c.error(DS, sprint_id=s.id), "NOT_FOUND")
        assert list((await c.call(GS, project_id=p.id)).sprints) == []
        # work items keep their sprint_id
        listed = await c.call("get_work_items_request", project_id=p.id)
        assert listed.work_items[0].sprint_id == s.id
        # a completed sprint cannot be deleted
        done = await c.sprint(p.id)
        await c.call(US, sprint_id=done.id, expected_version=1, status=pb.ACTIVE)
        await c.call(US, sprint_id=done.id, expected_version=2, status=pb.COMPLETED)
        err = await c.error(DS, sprint_id=done.id)
        assert_error(err, "DELETE_BLOCKED", "completed sprint", prefix="Cannot delete: ")
        assert err.message.count("Cannot delete") == 1, err.message
        await c.sync()


async def test_get_sprints(srv: ServerProcess) -> None:
    # §6.9.8: newest start first
    async with clients(srv.port, "new", "new", "new") as (c, viewer, stranger):
        p = await c.project()
        add_member(srv, p.id, viewer.user_id, "viewer")
        t = now()
        a = await c.sprint(p.id, "A", start=t + 14 * DAY, end=t + 28 * DAY)
        b = await c.sprint(p.id, "B", start=t + 28 * DAY, end=t + 42 * DAY)
        z = await c.sprint(p.id, "Z", start=t + 1 * DAY, end=t + 2 * DAY)
        listed = await viewer.call(GS, project_id=p.id)
        assert [s.id for s in listed.sprints] == [b.id, a.id, z.id]
        err = await stranger.error(GS, project_id=p.id)
        assert_error(err, "UNAUTHORIZED", "Not a member of this project")
        err = await c.error(GS, project_id="nope")
        assert_error(err, "VALIDATION_ERROR", field="project_id")


# =========================================================================== comments
CC, UC, DC, GC = (
    "create_comment_request",
    "update_comment_request",
    "delete_comment_request",
    "get_comments_request",
)


async def test_create_comment_reply_and_broadcast(srv: ServerProcess) -> None:
    # §6.10.1
    async with clients(srv.port, "new", "new") as (c, watcher):
        p = await c.project(subscribe=True)
        add_member(srv, p.id, watcher.user_id, "viewer")
        await watcher.subscribe([p.id])
        w = await c.item(p.id)
        await c.sync()
        await watcher.sync()
        t0 = now()
        reply, events = await c.request(CC, work_item_id=w.id, content="  This is a test comment  ")
        created = reply.comment_created
        cm = created.comment
        assert created.user_id == c.user_id
        assert cm.content == "This is a test comment"
        assert cm.work_item_id == w.id
        assert cm.created_by == cm.updated_by == c.user_id
        assert t0 <= cm.created_at == cm.updated_at <= now() + 1
        ev = assert_broadcast_pair(
            events, "comment", cm.id, "created", "comment_created", c.user_id
        )
        assert ev == created
        assert [e.SerializeToString() for e in await watcher.sync()] == [
            e.SerializeToString() for e in events
        ]


async def test_create_comment_validation_in_order(srv: ServerProcess) -> None:
    # §6.10.2, §6.10.3
    async with clients(srv.port, "new", "new", "new") as (c, viewer, stranger):
        p = await c.project()
        add_member(srv, p.id, viewer.user_id, "viewer")
        w = await c.item(p.id)
        err = await c.error(CC, work_item_id="bad", content="")
        assert_error(err, "INVALID_MESSAGE", "content must be at least 1 characters")
        err = await c.error(CC, work_item_id="bad", content="x" * 5001)
        assert_error(err, "INVALID_MESSAGE", "content", "5000")
        err = await c.error(CC, work_item_id="bad", content="ok")
        assert_error(err, "VALIDATION_ERROR", field="work_item_id")
        missing = new_id()
        err = await stranger.error(CC, work_item_id=missing, content="ok")
        assert_error(err, "NOT_FOUND", "Work item", missing)
        err = await viewer.error(CC, work_item_id=w.id, content="ok")
        assert_error(err, "UNAUTHORIZED", "Required: Edit, have: viewer")
        err = await stranger.error(CC, work_item_id=w.id, content="ok")
        assert_error(err, "UNAUTHORIZED", "Not a member of this project")
        cm = await c.comment(w.id, "日" * 5000)
        assert len(cm.content) == 5000
        assert [x.id for x in (await c.call(GC, work_item_id=w.id)).comments] == [cm.id]


async def test_create_comment_is_idempotent(srv: ServerProcess) -> None:
    async with clients(srv.port, "new") as (c,):
        p = await c.project()
        w = await c.item(p.id)
        await c.subscribe([p.id])
        mid = new_id()
        first, events = await c.request(CC, message_id=mid, work_item_id=w.id, content="once")
        assert len(events) == 2
        raw = c.raw[mid]
        again, events = await c.request(CC, message_id=mid, work_item_id=w.id, content="twice")
        assert events == [] and c.raw[mid] == raw and again == first
        assert [x.content for x in (await c.call(GC, work_item_id=w.id)).comments] == ["once"]
        assert await c.sync() == []


async def test_update_and_delete_comment(srv: ServerProcess) -> None:
    # §6.10.4 - §6.10.7
    async with clients(srv.port, "new", "new") as (author, other):
        p = await author.project(subscribe=True)
        add_member(srv, p.id, other.user_id, "admin")
        await other.subscribe([p.id])
        w = await author.item(p.id)
        cm = await author.comment(w.id, "Original content")
        await author.sync()
        await other.sync()
        # validation order: content, UUID, existence, author
        assert_error(
            await author.error(UC, comment_id="bad", content=""), "INVALID_MESSAGE", "content"
        )
        assert_error(
            await author.error(UC, comment_id="bad", content="x"),
            "VALIDATION_ERROR",
            field="comment_id",
        )
        missing = new_id()
        assert_error(
            await author.error(UC, comment_id=missing, content="x"), "NOT_FOUND", "Comment", missing
        )
        err = await other.error(UC, comment_id=cm.id, content="hijack")
        assert_error(err, "UNAUTHORIZED", "Cannot edit another user's comment")
        assert "another user" in err.message
        reply, events = await author.request(UC, comment_id=cm.id, content=" Updated content ")
        upd = reply.comment_updated
        assert upd.comment.content == "Updated content"
        assert upd.comment.id == cm.id and upd.user_id == author.user_id
        assert upd.comment.updated_by == author.user_id
        assert upd.comment.created_at == cm.created_at
        ev = assert_broadcast_pair(
            events, "comment", cm.id, "updated", "comment_updated", author.user_id
        )
        assert ev == upd
        assert not events[0].activity_log_created.entry.HasField("comment")
        assert len(await other.sync()) == 2
        # delete: author only
        err = await other.error(DC, comment_id=cm.id)
        assert_error(err, "UNAUTHORIZED", "Cannot delete another user's comment")
        assert_error(
            await author.error(DC, comment_id="bad"), "VALIDATION_ERROR", field="comment_id"
        )
        reply, events = await author.request(DC, comment_id=cm.id)
        assert reply.comment_deleted.comment_id == cm.id
        assert reply.comment_deleted.user_id == author.user_id
        assert_broadcast_pair(
            events, "comment", cm.id, "deleted", "comment_deleted", author.user_id
        )
        assert len(await other.sync()) == 2
        assert_error(await author.error(DC, comment_id=cm.id), "NOT_FOUND")
        assert_error(await author.error(UC, comment_id=cm.id, content="x"), "NOT_FOUND")
        assert list((await author.call(GC, work_item_id=w.id)).comments) == []


async def test_comment_owner_checks_also_need_write_access(srv: ServerProcess) -> None:
    # §4.1 checks only authorship; pm-fast also wants the Edit role in the comment's
    # project (docs/compat.md): an author who is now a viewer can no longer change it
    async with clients(srv.port, "new", "new") as (owner, author):
        p = await owner.project()
        add_member(srv, p.id, author.user_id, "editor")
        w = await owner.item(p.id)
        cm = await author.comment(w.id, "mine")
        add_member(srv, p.id, author.user_id, "viewer")
        err = await author.error(UC, comment_id=cm.id, content="still mine")
        assert_error(err, "UNAUTHORIZED", "Required: Edit, have: viewer")
        assert_error(await author.error(DC, comment_id=cm.id), "UNAUTHORIZED")
        add_member(srv, p.id, author.user_id, "editor")
        upd = await author.call(UC, comment_id=cm.id, content="still mine")
        assert upd.comment.content == "still mine"
        await author.call(DC, comment_id=cm.id)


async def test_get_comments(srv: ServerProcess) -> None:
    # §6.10.8
    async with clients(srv.port, "new", "new", "new") as (c, viewer, stranger):
        p = await c.project()
        add_member(srv, p.id, viewer.user_id, "viewer")
        w = await c.item(p.id)
        c1 = await c.comment(w.id, "Comment 1")
        c2 = await c.comment(w.id, "Comment 2")
        listed = await viewer.call(GC, work_item_id=w.id)
        assert len(listed.comments) == 2
        assert {x.id for x in listed.comments} == {c1.id, c2.id}
        created = [x.created_at for x in listed.comments]
        assert created == sorted(created)
        assert_error(await stranger.error(GC, work_item_id=w.id), "UNAUTHORIZED")
        assert_error(await c.error(GC, work_item_id=new_id()), "NOT_FOUND", "Work item")
        assert_error(await c.error(GC, work_item_id="x"), "VALIDATION_ERROR", field="work_item_id")
        # comments of a deleted work item are unreachable through it
        await c.call("delete_work_item_request", work_item_id=w.id)
        assert_error(await c.error(GC, work_item_id=w.id), "NOT_FOUND")
        assert_error(await c.error(CC, work_item_id=w.id, content="late"), "NOT_FOUND")


async def test_comment_changes_need_the_work_item(srv: ServerProcess) -> None:
    # §4.7.4: update/delete check that the comment's work item still exists
    async with clients(srv.port, "new") as (c,):
        p = await c.project()
        w = await c.item(p.id)
        cm = await c.comment(w.id, "orphaned soon")
        await c.call("delete_work_item_request", work_item_id=w.id)
        assert_error(await c.error(UC, comment_id=cm.id, content="x"), "NOT_FOUND")
        assert_error(await c.error(DC, comment_id=cm.id), "NOT_FOUND")
