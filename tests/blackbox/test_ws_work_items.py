# mypy: disable-error-code="no-any-return"
"""WebSocket work-item requests (spec §3.7, §4.7.2, §4.8.1, §6.17, §6.18, §6.19) with
pm-fast's documented changes (docs/compat.md: all fields change-tracked, blocked status
and invalid status/priority -> VALIDATION_ERROR, blank titles refused)."""

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
    assert_broadcast_pair,
    assert_error,
    case_of,
    clients,
    field_changes,
    module_server,
    new_id,
    now,
)


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    yield from module_server(tmp_path_factory, "ws-items")


@pytest.fixture
def api(srv: ServerProcess) -> Iterator[httpx.Client]:
    with srv.client() as c:
        yield c


REQ = "create_work_item_request"
UPD = "update_work_item_request"


# --------------------------------------------------------------------------- create
async def test_create_work_item_reply_shape_and_broadcast(srv: ServerProcess) -> None:
    async with clients(srv.port, "new", "new") as (c, watcher):
        p = await c.project(subscribe=True)
        add_member(srv, p.id, watcher.user_id, "viewer")
        await watcher.subscribe([p.id])
        t0 = now()
        reply, events = await c.request(
            REQ,
            project_id=p.id,
            item_type=pb.TASK,
            title="  First task  ",
            description="  some text  ",
        )
        t1 = now()
        assert case_of(reply) == "work_item_created", reply
        created = reply.work_item_created
        w = created.work_item
        assert created.user_id == c.user_id
        assert len(w.id) == 36 and w.id == w.id.lower()
        assert w.item_type == pb.TASK
        assert not w.HasField("parent_id")
        assert w.project_id == p.id
        assert w.position == 1
        assert w.title == "First task"
        assert w.description == "some text"
        assert w.status == "backlog" and w.priority == "medium"
        for f in ("assignee_id", "sprint_id", "story_points", "deleted_at"):
            assert not w.HasField(f), f
        assert t0 <= w.created_at == w.updated_at <= t1 + 1
        assert w.created_by == w.updated_by == c.user_id
        assert w.version == 1 and w.item_number == 1
        assert list(w.ancestor_ids) == [] and list(w.descendant_ids) == []
        # the caller (subscribed) gets ActivityLogCreated, then WorkItemCreated, then reply
        ev = assert_broadcast_pair(
            events, "work_item", w.id, "created", "work_item_created", c.user_id
        )
        assert ev == created
        assert reply.message_id not in {e.message_id for e in events}
        # another subscriber gets the same two events
        wev = await watcher.sync()
        assert (
            assert_broadcast_pair(wev, "work_item", w.id, "created", "work_item_created") == created
        )
        assert [e.SerializeToString() for e in wev] == [e.SerializeToString() for e in events]


async def test_create_work_item_numbers_positions_and_explicit_fields(srv: ServerProcess) -> None:
    async with clients(srv.port, "new") as (c,):
        p = await c.project()
        epic = await c.item(p.id, pb.EPIC, "E")
        s1 = await c.item(p.id, pb.STORY, "S1", parent_id=epic.id)
        s2 = await c.item(p.id, pb.STORY, "S2", parent_id=epic.id)
        orphan = await c.item(p.id, pb.STORY, "orphan story", parent_id="")
        t = await c.item(p.id, pb.TASK, "T", status="in_progress", priority="critical")
        assert [x.item_number for x in (epic, s1, s2, orphan, t)] == [1, 2, 3, 4, 5]
        # position = 1 + max(sibling position), "no parent" being its own group
        assert [x.position for x in (epic, s1, s2, orphan, t)] == [1, 1, 2, 2, 3]
        assert s1.parent_id == epic.id and not orphan.HasField("parent_id")
        assert (t.status, t.priority) == ("in_progress", "critical")
        assert [x.item_type for x in (epic, s1, t)] == [pb.EPIC, pb.STORY, pb.TASK]
        # numbers are never reused
        await c.call("delete_work_item_request", work_item_id=t.id)
        t2 = await c.item(p.id)
        assert t2.item_number == 6
        lst = await c.call("list_projects_request")
        assert next(x for x in lst.projects if x.id == p.id).next_work_item_number == 7


async def test_create_work_item_validation_in_order(srv: ServerProcess) -> None:
    async with clients(srv.port, "new", "new", "new") as (c, stranger, viewer):
        p = await c.project()
        add_member(srv, p.id, viewer.user_id, "viewer")
        epic = await c.item(p.id, pb.EPIC)
        # 1. item_type first
        for bad in (0, 1, 5, 99):
            err = await c.error(REQ, project_id="bad", item_type=bad, title="")
            assert_error(
                err,
                "VALIDATION_ERROR",
                f"Invalid item_type: {bad}",
                field="item_type",
                prefix="Validation failed: ",
            )
        # 2. title length (before the UUID check)
        err = await c.error(REQ, project_id="bad", item_type=pb.TASK, title="")
        assert_error(
            err,
            "INVALID_MESSAGE",
            "title must be at least 1 characters",
            prefix="Invalid message: ",
        )
        err = await c.error(REQ, project_id="bad", item_type=pb.TASK, title="🔥" * 201)
        assert_error(err, "INVALID_MESSAGE", "title must not exceed 200 characters")
        # 3. description length (before the UUID check)
        err = await c.error(
            REQ, project_id="bad", item_type=pb.TASK, title="t", description="日" * 10001
        )
        assert_error(
            err, "INVALID_MESSAGE", "description exceeds maximum length (10000 characters)"
        )
        # 5. ids
        err = await c.error(REQ, project_id="bad", item_type=pb.TASK, title="t")
        assert_error(err, "VALIDATION_ERROR", "Invalid UUID format", field="project_id")
        err = await c.error(REQ, project_id=p.id, item_type=pb.TASK, title="t", parent_id="zz")
        assert_error(err, "VALIDATION_ERROR", "Invalid UUID format", field="parent_id")
        # 6. permission Edit (before parent checks)
        err = await stranger.error(
            REQ, project_id=p.id, item_type=pb.TASK, title="t", parent_id=new_id()
        )
        assert_error(
            err, "UNAUTHORIZED", "Not a member of this project", field=None, prefix="Unauthorized: "
        )
        err = await viewer.error(REQ, project_id=p.id, item_type=pb.TASK, title="t")
        assert_error(err, "UNAUTHORIZED", "Insufficient permission. Required: Edit, have: viewer")
        # 7. parent existence and hierarchy
        err = await c.error(REQ, project_id=p.id, item_type=pb.STORY, title="t", parent_id=new_id())
        assert_error(err, "VALIDATION_ERROR", "Parent work item not found", field="parent_id")
        err = await c.error(REQ, project_id=p.id, item_type=pb.TASK, title="t", parent_id=epic.id)
        assert_error(
            err,
            "VALIDATION_ERROR",
            "Invalid hierarchy",
            "Task cannot be a child of Epic",
            field="parent_id",
        )
        story = await c.item(p.id, pb.STORY, parent_id=epic.id)
        for kind, text in (
            (pb.EPIC, "Epic cannot be a child of Story"),
            (pb.STORY, "Story cannot be a child of Story"),
        ):
            err = await c.error(REQ, project_id=p.id, item_type=kind, title="t", parent_id=story.id)
            assert_error(err, "VALIDATION_ERROR", text, field="parent_id")
        # nothing was created by the failures
        listed = await c.call("get_work_items_request", project_id=p.id)
        assert [w.id for w in listed.work_items] == [epic.id, story.id]


async def test_create_work_item_status_and_priority_validated(srv: ServerProcess) -> None:
    # compat.md: blocked / invalid status or priority -> VALIDATION_ERROR (field set)
    async with clients(srv.port, "new") as (c,):
        p = await c.project()
        for status in ("blocked", "TODO", "nope", ""):
            err = await c.error(REQ, project_id=p.id, item_type=pb.TASK, title="t", status=status)
            assert_error(err, "VALIDATION_ERROR", field="status")
        for priority in ("HIGH", "urgent", ""):
            err = await c.error(
                REQ, project_id=p.id, item_type=pb.TASK, title="t", priority=priority
            )
            assert_error(err, "VALIDATION_ERROR", field="priority")
        for status in ("backlog", "todo", "in_progress", "review", "done"):
            assert (await c.item(p.id, status=status)).status == status
        for priority in ("low", "medium", "high", "critical"):
            assert (await c.item(p.id, priority=priority)).priority == priority


async def test_create_work_item_blank_title_refused(srv: ServerProcess) -> None:
    # compat.md: whitespace-only titles are refused (INVALID_MESSAGE), not stored as ""
    async with clients(srv.port, "new") as (c,):
        p = await c.project()
        err = await c.error(REQ, project_id=p.id, item_type=pb.TASK, title="   ")
        assert_error(err, "INVALID_MESSAGE", "title")


async def test_create_work_item_text_handling(srv: ServerProcess) -> None:
    async with clients(srv.port, "new") as (c,):
        p = await c.project()
        code = "if (a < b && c > \"d\") { x = '&amp;'; }"
        w = await c.item(p.id, title=code, description=code)
        assert w.title == code and w.description == code
        w = await c.item(p.id, title="🔥" * 200, description="日" * 10000)
        assert w.title == "🔥" * 200 and len(w.description) == 10000
        listed = await c.call("get_work_items_request", project_id=p.id)
        assert [x.title for x in listed.work_items] == [code, "🔥" * 200]


async def test_create_work_item_is_idempotent(srv: ServerProcess, api: httpx.Client) -> None:
    async with clients(srv.port, "new", "new") as (c, watcher):
        p = await c.project(subscribe=True)
        add_member(srv, p.id, watcher.user_id, "editor")
        await watcher.subscribe([p.id])
        mid = new_id()
        reply, events = await c.request(
            REQ, message_id=mid, project_id=p.id, item_type=pb.TASK, title="once"
        )
        raw = c.raw[mid]
        assert len(events) == 2
        assert len(await watcher.sync()) == 2
        # same message id, even with other content: the stored reply, nothing new
        again, events = await c.request(
            REQ, message_id=mid, project_id=p.id, item_type=pb.TASK, title="twice"
        )
        assert events == []
        assert c.raw[mid] == raw
        assert again == reply
        assert await watcher.sync() == []
        items = api.get(f"/api/v1/projects/{p.id}/work-items").json()["work_items"]
        assert [w["title"] for w in items] == ["once"]
        # the key is (user, operation, message_id): another user with the same id creates
        other, events = await watcher.request(
            REQ, message_id=mid, project_id=p.id, item_type=pb.TASK, title="by watcher"
        )
        assert case_of(other) == "work_item_created"
        assert other.work_item_created.work_item.title == "by watcher"
        assert other.work_item_created.work_item.item_number == 2
        # ... and the same user with the same id for another operation is not a replay
        comment = await c.call(
            "create_comment_request",
            message_id=mid,
            work_item_id=reply.work_item_created.work_item.id,
            content="hi",
        )
        assert comment.comment.content == "hi"
        # errors are not stored: a failed create retried with the same id runs again
        mid2 = new_id()
        err = await c.error(
            REQ,
            message_id=mid2,
            project_id=p.id,
            item_type=pb.TASK,
            title="retry",
            status="blocked",
        )
        assert err.code == "VALIDATION_ERROR"
        retried = await c.call(
            REQ, message_id=mid2, project_id=p.id, item_type=pb.TASK, title="retry"
        )
        assert retried.work_item.title == "retry"
        # an empty message id is never stored: two creates with "" create two items
        r1, _ = await c.request(
            REQ, message_id="", project_id=p.id, item_type=pb.TASK, title="empty-1"
        )
        r2, _ = await c.request(
            REQ, message_id="", project_id=p.id, item_type=pb.TASK, title="empty-2"
        )
        assert r1.message_id == r2.message_id == ""
        assert r1.work_item_created.work_item.id != r2.work_item_created.work_item.id
        assert r2.work_item_created.work_item.title == "empty-2"
        await c.sync()
        await watcher.sync()


# --------------------------------------------------------------------------- hierarchy
async def test_hierarchy_ancestors_and_descendants(srv: ServerProcess) -> None:
    async with clients(srv.port, "new") as (c,):
        p = await c.project()
        e = await c.item(p.id, pb.EPIC, "E")
        s1 = await c.item(p.id, pb.STORY, "S1", parent_id=e.id)
        s2 = await c.item(p.id, pb.STORY, "S2", parent_id=e.id)
        t11 = await c.item(p.id, pb.TASK, "T11", parent_id=s1.id)
        t12 = await c.item(p.id, pb.TASK, "T12", parent_id=s1.id)
        t21 = await c.item(p.id, pb.TASK, "T21", parent_id=s2.id)
        assert list(t11.ancestor_ids) == [s1.id, e.id]  # nearest first, no project
        assert list(s2.ancestor_ids) == [e.id]
        assert list(t21.descendant_ids) == []
        listed = await c.call("get_work_items_request", project_id=p.id)
        by_id = {w.id: w for w in listed.work_items}
        assert set(by_id) == {e.id, s1.id, s2.id, t11.id, t12.id, t21.id}
        ed = list(by_id[e.id].descendant_ids)
        assert set(ed[:2]) == {s1.id, s2.id} and set(ed[2:]) == {t11.id, t12.id, t21.id}
        assert list(by_id[e.id].ancestor_ids) == []
        assert list(by_id[s1.id].ancestor_ids) == [e.id]
        assert set(by_id[s1.id].descendant_ids) == {t11.id, t12.id}
        assert list(by_id[s2.id].descendant_ids) == [t21.id]
        assert list(by_id[t12.id].ancestor_ids) == [s1.id, e.id]
        assert list(by_id[t12.id].descendant_ids) == []
        # an update reply carries the hierarchy computed after the commit
        upd = await c.call(
            UPD, work_item_id=t21.id, expected_version=1, update_parent=True, parent_id=s1.id
        )
        assert list(upd.work_item.ancestor_ids) == [s1.id, e.id]
        assert field_changes(upd.changes) == {"parent_id": (s2.id, s1.id)}
        upd = await c.call(UPD, work_item_id=s1.id, expected_version=1, title="S1'")
        assert set(upd.work_item.descendant_ids) == {t11.id, t12.id, t21.id}
        assert list(upd.work_item.ancestor_ids) == [e.id]
        # clearing the parent (update_parent with no parent_id) makes an orphan
        upd = await c.call(UPD, work_item_id=t12.id, expected_version=1, update_parent=True)
        assert not upd.work_item.HasField("parent_id")
        assert list(upd.work_item.ancestor_ids) == []
        assert field_changes(upd.changes) == {"parent_id": (s1.id, None)}
        # a parent_id without update_parent is ignored
        upd = await c.call(UPD, work_item_id=t12.id, expected_version=2, parent_id=s2.id)
        assert list(upd.changes) == [] and upd.work_item.version == 2
        assert not upd.work_item.HasField("parent_id")


async def test_get_work_items_includes_done_and_orders_by_position(srv: ServerProcess) -> None:
    async with clients(srv.port, "new", "new") as (c, stranger):
        p = await c.project()
        a = await c.item(p.id, title="a")
        b = await c.item(p.id, title="b", status="done")
        d = await c.item(p.id, title="d")
        await c.call(UPD, work_item_id=a.id, expected_version=1, position=10)
        await c.call(UPD, work_item_id=d.id, expected_version=1, status="done")
        t0 = now()
        reply, events = await c.request(
            "get_work_items_request", project_id=p.id, since_timestamp=now() + 10_000
        )  # ignored
        assert events == []
        listed = reply.work_items_list
        assert [w.id for w in listed.work_items] == [b.id, d.id, a.id]
        assert [w.status for w in listed.work_items] == ["done", "done", "backlog"]
        assert t0 <= listed.as_of_timestamp <= now() + 1
        # validation
        err = await c.error("get_work_items_request", project_id="xyz")
        assert_error(err, "VALIDATION_ERROR", "Invalid project_id: xyz")
        err = await stranger.error("get_work_items_request", project_id=p.id)
        assert_error(err, "UNAUTHORIZED", "Not a member of this project")
        empty = await c.call("get_work_items_request", project_id=(await c.project()).id)
        assert list(empty.work_items) == []


# --------------------------------------------------------------------------- update
async def test_update_work_item_all_fields_tracked(srv: ServerProcess) -> None:
    async with clients(srv.port, "new", "new") as (c, watcher):
        p = await c.project(subscribe=True)
        add_member(srv, p.id, watcher.user_id, "viewer")
        await watcher.subscribe([p.id])
        sprint = await c.sprint(p.id)
        w = await c.item(p.id, title="old")
        await c.sync()
        await watcher.sync()
        assignee = watcher.user_id
        t0 = now()
        reply, events = await c.request(
            UPD,
            work_item_id=w.id,
            expected_version=1,
            title="new",
            description="desc",
            status="in_progress",
            assignee_id=assignee,
            position=7,
            priority="high",
            sprint_id=sprint.id,
            story_points=8,
        )
        assert case_of(reply) == "work_item_updated", reply
        upd = reply.work_item_updated
        assert upd.user_id == c.user_id
        nw = upd.work_item
        assert (
            nw.title,
            nw.description,
            nw.status,
            nw.assignee_id,
            nw.position,
            nw.priority,
            nw.sprint_id,
            nw.story_points,
        ) == ("new", "desc", "in_progress", assignee, 7, "high", sprint.id, 8)
        assert nw.version == 2 and nw.updated_by == c.user_id and nw.updated_at >= t0
        assert nw.created_at == w.created_at and nw.item_number == w.item_number
        ch = field_changes(upd.changes)
        assert ch["title"] == ("old", "new")
        assert ch["description"][1] == "desc"  # old value: see the test below
        assert ch["status"] == ("backlog", "in_progress")
        assert ch["assignee_id"][1] == assignee
        assert ch["position"] == ("1", "7")
        # compat.md: priority, sprint and story points are compared and reported too
        assert ch["priority"] == ("medium", "high")
        assert ch["sprint_id"][1] == sprint.id
        assert ch["story_points"][1] == "8"
        assert set(ch) == {
            "title",
            "description",
            "status",
            "assignee_id",
            "position",
            "priority",
            "sprint_id",
            "story_points",
        }
        ev = assert_broadcast_pair(
            events, "work_item", w.id, "updated", "work_item_updated", c.user_id
        )
        assert ev == upd
        assert events[0].activity_log_created.entry.comment == f"{len(ch)} fields changed"
        assert [e.SerializeToString() for e in await watcher.sync()] == [
            e.SerializeToString() for e in events
        ]
        # only priority: no longer a silent no-op
        upd = await c.call(UPD, work_item_id=w.id, expected_version=2, priority="low")
        assert field_changes(upd.changes) == {"priority": ("high", "low")}
        assert upd.work_item.version == 3
        evs = await watcher.sync()
        assert [case_of(e) for e in evs] == ["activity_log_created", "work_item_updated"]
        assert evs[0].activity_log_created.entry.comment == "1 fields changed"
        # clear assignee and sprint with ""
        upd = await c.call(UPD, work_item_id=w.id, expected_version=3, assignee_id="", sprint_id="")
        assert not upd.work_item.HasField("assignee_id")
        assert not upd.work_item.HasField("sprint_id")
        assert set(field_changes(upd.changes)) == {"assignee_id", "sprint_id"}
        assert field_changes(upd.changes)["assignee_id"][0] == assignee
        await c.sync()
        await watcher.sync()


async def test_update_work_item_empty_old_values_are_absent(srv: ServerProcess) -> None:
    # docs/compat.md: an empty old value is absent for every entity (the original sent
    # "" for work-item description/assignee, spec §4.7.2 step 6)
    async with clients(srv.port, "new") as (c,):
        p = await c.project()
        w = await c.item(p.id)
        upd = await c.call(
            UPD, work_item_id=w.id, expected_version=1, description="d", assignee_id=c.user_id
        )
        ch = field_changes(upd.changes)
        assert ch["description"] == (None, "d")
        assert ch["assignee_id"] == (None, c.user_id)


async def test_invalid_uuid_message_names_the_field(srv: ServerProcess) -> None:
    # spec §4.1: `Validation failed: Invalid UUID format for <field>`
    async with clients(srv.port, "new") as (c,):
        err = await c.error(UPD, work_item_id="nope", expected_version=1)
        assert_error(
            err,
            "VALIDATION_ERROR",
            "Invalid UUID format for work_item_id",
            field="work_item_id",
            prefix="Validation failed: ",
        )
        err = await c.error("create_comment_request", work_item_id="nope", content="c")
        assert_error(
            err, "VALIDATION_ERROR", "Invalid UUID format for work_item_id", field="work_item_id"
        )


async def test_update_work_item_without_change(srv: ServerProcess) -> None:
    async with clients(srv.port, "new", "new") as (c, watcher):
        p = await c.project(subscribe=True)
        add_member(srv, p.id, watcher.user_id, "viewer")
        await watcher.subscribe([p.id])
        w = await c.item(p.id, title="same", priority="high")
        await c.sync()
        await watcher.sync()
        for fields in (
            {},
            {"title": "same"},
            {"priority": "high", "status": "backlog"},
            {"position": 1},
        ):
            reply, events = await c.request(UPD, work_item_id=w.id, expected_version=1, **fields)
            assert events == []
            upd = reply.work_item_updated
            assert list(upd.changes) == []
            assert upd.work_item.version == 1 and upd.work_item.updated_at == w.updated_at
            assert upd.work_item.title == "same"
        assert await watcher.sync() == []
        assert await c.sync() == []
        log = await c.call(
            "get_activity_log_request", entity_type="work_item", entity_id=w.id, limit=10
        )
        assert log.total_count == 1


async def test_update_work_item_validation_in_order(srv: ServerProcess) -> None:
    async with clients(srv.port, "new", "new", "new") as (c, viewer, stranger):
        p = await c.project()
        add_member(srv, p.id, viewer.user_id, "viewer")
        epic = await c.item(p.id, pb.EPIC)
        story = await c.item(p.id, pb.STORY, parent_id=epic.id)
        w = await c.item(p.id, pb.TASK, parent_id=story.id)
        # 1. UUID
        err = await c.error(UPD, work_item_id="nope", expected_version=9, title="")
        assert_error(err, "VALIDATION_ERROR", "Invalid UUID format", field="work_item_id")
        # 2. existence
        missing = new_id()
        err = await c.error(UPD, work_item_id=missing, expected_version=9, title="")
        assert_error(
            err, "NOT_FOUND", "Work item", missing, "not found", prefix="Resource not found: "
        )
        # 3. permission (before the version check)
        err = await viewer.error(UPD, work_item_id=w.id, expected_version=9, title="x")
        assert_error(err, "UNAUTHORIZED", "Required: Edit, have: viewer")
        err = await stranger.error(UPD, work_item_id=w.id, expected_version=9, title="x")
        assert_error(err, "UNAUTHORIZED", "Not a member of this project")
        # 4. version (before parent and field checks)
        err = await c.error(
            UPD, work_item_id=w.id, expected_version=9, title="", update_parent=True, parent_id=w.id
        )
        assert_error(err, "CONFLICT", "(current version: 1)", prefix="Conflict: ")
        # 5. parent checks
        err = await c.error(
            UPD, work_item_id=w.id, expected_version=1, update_parent=True, parent_id="bad"
        )
        assert_error(err, "VALIDATION_ERROR", field="parent_id")
        err = await c.error(
            UPD, work_item_id=w.id, expected_version=1, update_parent=True, parent_id=w.id
        )
        assert_error(err, "VALIDATION_ERROR", "cannot be its own parent", field="parent_id")
        err = await c.error(
            UPD, work_item_id=w.id, expected_version=1, update_parent=True, parent_id=epic.id
        )
        assert_error(err, "VALIDATION_ERROR", "Task cannot be a child of Epic", field="parent_id")
        err = await c.error(
            UPD, work_item_id=epic.id, expected_version=1, update_parent=True, parent_id=story.id
        )
        assert_error(err, "VALIDATION_ERROR", "Epic cannot be a child of Story", field="parent_id")
        # 8. field validation
        v: dict[str, Any] = {"work_item_id": w.id, "expected_version": 1}
        assert_error(await c.error(UPD, **v, title=""), "INVALID_MESSAGE", "title")
        assert_error(await c.error(UPD, **v, title="x" * 201), "INVALID_MESSAGE", "title")
        assert_error(
            await c.error(UPD, **v, description="d" * 10001),
            "VALIDATION_ERROR",
            "Description exceeds",
            "10000",
        )
        for status in ("TODO", "blocked", "nope"):
            assert_error(
                await c.error(UPD, **v, status=status),
                "VALIDATION_ERROR",
                "Invalid status",
                status,
                field="status",
            )
        assert_error(
            await c.error(UPD, **v, priority="HIGH"),
            "VALIDATION_ERROR",
            "Invalid priority",
            "HIGH",
            field="priority",
        )
        assert_error(
            await c.error(UPD, **v, assignee_id="not-a-uuid"),
            "VALIDATION_ERROR",
            field="assignee_id",
        )
        assert_error(
            await c.error(UPD, **v, sprint_id="not-a-uuid"), "VALIDATION_ERROR", field="sprint_id"
        )
        assert_error(
            await c.error(UPD, **v, position=-1),
            "VALIDATION_ERROR",
            "Position must be non-negative",
        )
        for points in (-1, 101):
            assert_error(
                await c.error(UPD, **v, story_points=points),
                "VALIDATION_ERROR",
                "Story points must be 0-100",
            )
        # compat.md: unknown assignee / sprint -> VALIDATION_ERROR (not a DB error)
        assert_error(
            await c.error(UPD, **v, assignee_id=new_id()), "VALIDATION_ERROR", field="assignee_id"
        )
        assert_error(
            await c.error(UPD, **v, sprint_id=new_id()), "VALIDATION_ERROR", field="sprint_id"
        )
        # nothing was written
        listed = await c.call("get_work_items_request", project_id=p.id)
        assert next(x for x in listed.work_items if x.id == w.id).version == 1
        # boundary values pass
        upd = await c.call(UPD, **v, story_points=100, position=0)
        assert (upd.work_item.story_points, upd.work_item.position) == (100, 0)


async def test_update_work_item_trims_and_reports_raw_values(srv: ServerProcess) -> None:
    # spec §6.19: "  hello  " is stored and returned as "hello"
    async with clients(srv.port, "new") as (c,):
        p = await c.project()
        w = await c.item(p.id, title="x")
        upd = await c.call(UPD, work_item_id=w.id, expected_version=1, title="  hello  ")
        assert upd.work_item.title == "hello"
        listed = await c.call("get_work_items_request", project_id=p.id)
        assert listed.work_items[0].title == "hello"


async def test_update_work_item_blank_title_refused(srv: ServerProcess) -> None:
    async with clients(srv.port, "new") as (c,):
        p = await c.project()
        w = await c.item(p.id, title="x")
        err = await c.error(UPD, work_item_id=w.id, expected_version=1, title="   ")
        assert_error(err, "INVALID_MESSAGE", "title")


async def test_version_conflict_between_two_clients(srv: ServerProcess) -> None:
    async with clients(srv.port, "new", "new") as (a, b):
        p = await a.project()
        add_member(srv, p.id, b.user_id, "editor")
        w = await a.item(p.id)
        await a.call(UPD, work_item_id=w.id, expected_version=1, title="by a")
        err = await b.error(UPD, work_item_id=w.id, expected_version=1, title="by b")
        assert_error(err, "CONFLICT", "(current version: 2)")
        upd = await b.call(UPD, work_item_id=w.id, expected_version=2, title="by b")
        assert upd.work_item.version == 3 and upd.work_item.updated_by == b.user_id


# --------------------------------------------------------------------------- delete
async def test_delete_work_item(srv: ServerProcess, api: httpx.Client) -> None:
    async with clients(srv.port, "new", "new", "new") as (c, editor, watcher):
        p = await c.project(subscribe=True)
        add_member(srv, p.id, editor.user_id, "editor")
        add_member(srv, p.id, watcher.user_id, "viewer")
        await watcher.subscribe([p.id])
        story = await c.item(p.id, pb.STORY)
        task = await c.item(p.id, pb.TASK, parent_id=story.id)
        await c.sync()
        await watcher.sync()
        req = "delete_work_item_request"
        assert_error(await c.error(req, work_item_id="x"), "VALIDATION_ERROR", field="work_item_id")
        assert_error(await c.error(req, work_item_id=new_id()), "NOT_FOUND", "Work item")
        err = await editor.error(req, work_item_id=task.id)
        assert_error(err, "UNAUTHORIZED", "Required: Admin, have: editor")
        err = await c.error(req, work_item_id=story.id)
        assert_error(err, "DELETE_BLOCKED", "1 child item(s)", prefix="Cannot delete: ")
        assert err.message.count("Cannot delete") == 1, err.message
        assert await watcher.sync() == []
        reply, events = await c.request(req, work_item_id=task.id)
        assert case_of(reply) == "work_item_deleted"
        assert reply.work_item_deleted.work_item_id == task.id
        assert reply.work_item_deleted.user_id == c.user_id
        ev = assert_broadcast_pair(
            events, "work_item", task.id, "deleted", "work_item_deleted", c.user_id
        )
        assert ev == reply.work_item_deleted
        assert [e.SerializeToString() for e in await watcher.sync()] == [
            e.SerializeToString() for e in events
        ]
        assert_error(await c.error(req, work_item_id=task.id), "NOT_FOUND")
        assert_error(
            await c.error(UPD, work_item_id=task.id, expected_version=1, title="z"), "NOT_FOUND"
        )
        # now the story has no live children
        await c.call(req, work_item_id=story.id)
        listed = await c.call("get_work_items_request", project_id=p.id)
        assert list(listed.work_items) == []
        assert api.get(f"/api/v1/work-items/{task.id}").status_code == 404
        await c.sync()
        await watcher.sync()


async def test_work_item_flow_ws_client_reused(srv: ServerProcess) -> None:
    # a client whose requests failed keeps working normally
    c = await WsClient.connect(srv.port)
    try:
        p = await c.project()
        for _ in range(3):
            await c.error(REQ, project_id=p.id, item_type=0, title="t")
        w = await c.item(p.id)
        assert w.item_number == 1
    finally:
        await c.close()
