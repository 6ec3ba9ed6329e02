# mypy: disable-error-code="no-any-return"
"""WebSocket project requests (spec §3.6, §4.7.8) with pm-fast's documented changes:
update/delete need Admin, ListProjects lists only viewable projects, shared projects,
project mutations broadcast ActivityLogCreated + Project* (docs/compat.md)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from pm_fast.api import pm_pb2 as pb

from .wsclient import (
    LLM_USER,
    ServerProcess,
    assert_activity,
    assert_broadcast_pair,
    assert_error,
    case_of,
    clients,
    field_changes,
    module_server,
    new_id,
    now,
    uniq_key,
)


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    yield from module_server(tmp_path_factory, "ws-projects")


@pytest.fixture
def api(srv: ServerProcess) -> Iterator[httpx.Client]:
    with srv.client() as c:
        yield c


def rest_project(api: httpx.Client, user: str | None = None) -> dict[str, Any]:
    headers = {"X-User-Id": user} if user else {}
    key = uniq_key("R")
    r = api.post("/api/v1/projects", json={"title": f"REST {key}", "key": key}, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()["project"]


# --------------------------------------------------------------------------- create
async def test_create_project_reply_shape(srv: ServerProcess) -> None:
    async with clients(srv.port, "new") as (c,):
        key = uniq_key("c").lower()
        t0 = now()
        reply, events = await c.request(
            "create_project_request", title="  My Project  ", description="  about it  ", key=key
        )
        t1 = now()
        assert events == []
        assert case_of(reply) == "project_created"
        created = reply.project_created
        p = created.project
        assert created.user_id == c.user_id
        assert p.id == p.id.lower() and len(p.id) == 36
        assert p.title == "My Project"
        assert p.HasField("description") and p.description == "about it"
        assert p.key == key.upper()
        assert p.status == pb.PROJECT_STATUS_ACTIVE
        assert p.version == 1
        assert t0 <= p.created_at == p.updated_at <= t1 + 1
        assert p.created_by == p.updated_by == c.user_id
        assert not p.HasField("deleted_at")
        assert p.next_work_item_number == 1
        # without a description the field is absent
        p2 = await c.project()
        assert not p2.HasField("description")


async def test_create_project_validation_in_order(srv: ServerProcess) -> None:
    async with clients(srv.port, "new") as (c,):
        req = "create_project_request"
        # 1. title (before key checks)
        assert_error(
            await c.error(req, title="", key="a"),
            "INVALID_MESSAGE",
            "title",
            prefix="Invalid message: ",
        )
        assert_error(
            await c.error(req, title="x" * 201, key=uniq_key()), "INVALID_MESSAGE", "title", "200"
        )
        # 2. description (before key checks)
        assert_error(
            await c.error(req, title="t", description="d" * 10001, key="a"),
            "INVALID_MESSAGE",
            "description",
            "10000",
        )
        # 3. key length in bytes (before the character check)
        for key in ("a", "", "A" * 21, "Ä" * 11, "-"):
            assert_error(
                await c.error(req, title="t", key=key),
                "INVALID_MESSAGE",
                "key must be 2-20 characters",
            )
        # 4. key characters
        for key in ("a-b", "AB CD", "ÄÄ", "ab.c"):
            assert_error(
                await c.error(req, title="t", key=key),
                "INVALID_MESSAGE",
                "key must contain only letters, numbers, and underscores",
            )
        # limits are inclusive and counted in characters
        p = await c.project(
            key=uniq_key() + "_" + "9" * 9, title="🔥" * 200, description="日" * 10000
        )
        assert p.title == "🔥" * 200 and len(p.key) == 20
        assert (await c.project(key="Z" + uniq_key()[:1])).key.startswith("Z")


async def test_create_project_blank_title_is_invalid_message(srv: ServerProcess) -> None:
    # compat.md (WebSocket / Requests): whitespace-only titles are refused (INVALID_MESSAGE)
    async with clients(srv.port, "new") as (c,):
        err = await c.error("create_project_request", title="    ", key=uniq_key())
        assert_error(err, "INVALID_MESSAGE", "title")


async def test_create_project_duplicate_key(srv: ServerProcess, api: httpx.Client) -> None:
    async with clients(srv.port, "new", "new") as (c, other):
        key = uniq_key("D")
        await c.project(key=key)
        err = await other.error("create_project_request", title="again", key=key.lower())
        assert_error(err, "VALIDATION_ERROR", f"'{key}'", "already exists", field="key")
        listed = api.get("/api/v1/projects").json()["projects"]
        assert [p["key"] for p in listed].count(key) == 1


async def test_create_project_reusing_a_deleted_key(srv: ServerProcess) -> None:
    # compat.md: the key of a soft-deleted project stays taken; pm-fast refuses it with a
    # client error (REST: 409 CONFLICT) instead of the original's DATABASE_ERROR. Over WS
    # the code is not documented: accept CONFLICT or VALIDATION_ERROR.
    async with clients(srv.port, "new") as (c,):
        p = await c.project()
        await c.call("delete_project_request", project_id=p.id, expected_version=1)
        err = await c.error("create_project_request", title="again", key=p.key)
        assert err.code in ("CONFLICT", "VALIDATION_ERROR"), err
        assert "already exists" in err.message and p.key in err.message, err


async def test_create_project_is_idempotent(srv: ServerProcess, api: httpx.Client) -> None:
    async with clients(srv.port, "new") as (c,):
        mid = new_id()
        key = uniq_key("I")
        first = await c.call("create_project_request", message_id=mid, title="idem", key=key)
        raw = c.raw[mid]
        again, events = await c.request(
            "create_project_request", message_id=mid, title="idem", key=key
        )
        assert events == []
        assert c.raw[mid] == raw  # the stored reply, byte for byte
        assert again.project_created.project.id == first.project.id
        assert [p["key"] for p in api.get("/api/v1/projects").json()["projects"]].count(key) == 1
        # validation still runs before the idempotency lookup
        err = await c.error("create_project_request", message_id=mid, title="", key=key)
        assert_error(err, "INVALID_MESSAGE", "title")


# --------------------------------------------------------------------------- list
async def test_list_projects_only_viewable_ordered_by_title(
    srv: ServerProcess, api: httpx.Client
) -> None:
    async with clients(srv.port, "new", "new") as (a, b):
        tag = uniq_key("L")
        pa2 = await a.project(title=f"{tag} b-second")
        pa1 = await a.project(title=f"{tag} a-first")
        pb1 = await b.project(title=f"{tag} c-of-b")
        archived = await a.project(title=f"{tag} d-archived")
        await a.call(
            "update_project_request",
            project_id=archived.id,
            expected_version=1,
            status=pb.PROJECT_STATUS_ARCHIVED,
        )
        gone = await a.project(title=f"{tag} e-deleted")
        await a.call("delete_project_request", project_id=gone.id, expected_version=1)
        shared = rest_project(api)  # no X-User-Id: only the LLM user -> shared
        private = rest_project(api, new_id())  # a named creator: private

        def mine(lst: pb.ProjectList) -> list[str]:
            return [p.id for p in lst.projects if p.title.startswith(tag)]

        la = await a.call("list_projects_request")
        lb = await b.call("list_projects_request")
        assert mine(la) == [pa1.id, pa2.id, archived.id]
        assert mine(lb) == [pb1.id]
        titles = [p.title for p in la.projects]
        assert titles == sorted(titles)
        ids_a = {p.id for p in la.projects}
        ids_b = {p.id for p in lb.projects}
        assert shared["id"] in ids_a and shared["id"] in ids_b
        assert private["id"] not in ids_a | ids_b
        st = {p.id: p.status for p in la.projects}
        assert st[archived.id] == pb.PROJECT_STATUS_ARCHIVED


# --------------------------------------------------------------------------- update
async def test_update_project_changes_and_broadcast(srv: ServerProcess) -> None:
    async with clients(srv.port, "new", "new") as (c, watcher):
        p = await c.project(title="Before", subscribe=True)
        # the watcher may not view the project: its subscription is dropped silently
        await watcher.subscribe([p.id])
        t0 = now()
        reply, events = await c.request(
            "update_project_request",
            project_id=p.id,
            expected_version=1,
            title="After",
            description="desc",
            status=pb.PROJECT_STATUS_ARCHIVED,
        )
        assert case_of(reply) == "project_updated", reply
        upd = reply.project_updated
        assert upd.user_id == c.user_id
        assert upd.project.title == "After"
        assert upd.project.description == "desc"
        assert upd.project.status == pb.PROJECT_STATUS_ARCHIVED
        assert upd.project.version == 2
        assert upd.project.key == p.key
        assert upd.project.updated_at >= t0 and upd.project.updated_by == c.user_id
        assert [ch.field_name for ch in upd.changes] == ["title", "description", "status"]
        assert field_changes(upd.changes) == {
            "title": ("Before", "After"),
            "description": (None, "desc"),
            "status": ("active", "archived"),
        }
        ev = assert_broadcast_pair(events, "project", p.id, "updated", "project_updated", c.user_id)
        assert ev == upd
        assert events[0].activity_log_created.entry.comment == "3 fields changed"
        assert await watcher.sync() == []
        # no effective change: unchanged reply, no version bump, no broadcast
        reply, events = await c.request(
            "update_project_request", project_id=p.id, expected_version=2, title="After"
        )
        assert events == []
        assert reply.project_updated.project.version == 2
        assert list(reply.project_updated.changes) == []
        assert await c.sync() == []
        # description change: old value present now
        upd = await c.call(
            "update_project_request",
            project_id=p.id,
            expected_version=2,
            description="new desc",
            status=pb.PROJECT_STATUS_ACTIVE,
        )
        assert field_changes(upd.changes) == {
            "description": ("desc", "new desc"),
            "status": ("archived", "active"),
        }
        assert upd.project.version == 3
        await c.sync()


async def test_update_project_change_values_are_the_stored_values(srv: ServerProcess) -> None:
    # docs/compat.md: FieldChange.new_value is the stored (trimmed) value; the original
    # echoed the raw request string (spec §4.1, §7.11)
    async with clients(srv.port, "new") as (c,):
        p = await c.project(title="Before")
        upd = await c.call(
            "update_project_request", project_id=p.id, expected_version=1, title="  After  "
        )
        assert upd.project.title == "After"
        assert field_changes(upd.changes) == {"title": ("Before", "After")}


async def test_update_project_validation_in_order(srv: ServerProcess) -> None:
    async with clients(srv.port, "new", "new") as (c, stranger):
        p = await c.project()
        req = "update_project_request"
        # 1. UUID
        err = await c.error(req, project_id="nope", expected_version=1, title="")
        assert_error(err, "VALIDATION_ERROR", "Invalid project_id format", field="project_id")
        # 2. existence (before version and field checks)
        missing = new_id()
        err = await c.error(req, project_id=missing, expected_version=1, title="")
        assert_error(
            err, "NOT_FOUND", "Project", missing, "not found", prefix="Resource not found: "
        )
        # (compat.md) Admin role needed
        err = await stranger.error(req, project_id=p.id, expected_version=1, title="x")
        assert_error(err, "UNAUTHORIZED", "Not a member of this project", prefix="Unauthorized: ")
        # 3. version (before field checks)
        err = await c.error(req, project_id=p.id, expected_version=5, title="")
        assert_error(err, "CONFLICT", "(current version: 1)", prefix="Conflict: ")
        err = await c.error(req, project_id=p.id, expected_version=0, status=0)
        assert_error(err, "CONFLICT", "(current version: 1)")
        # 4. field checks
        assert_error(
            await c.error(req, project_id=p.id, expected_version=1, title=""),
            "INVALID_MESSAGE",
            "title",
        )
        assert_error(
            await c.error(req, project_id=p.id, expected_version=1, title="y" * 201),
            "INVALID_MESSAGE",
            "title",
        )
        err = await c.error(req, project_id=p.id, expected_version=1, description="d" * 10001)
        assert_error(err, "VALIDATION_ERROR", "description exceeds maximum length")
        for bad in (0, 3, 99):
            err = await c.error(req, project_id=p.id, expected_version=1, status=bad)
            assert_error(err, "VALIDATION_ERROR", f"Invalid status value: {bad}", field="status")
        # nothing changed
        lst = await c.call("list_projects_request")
        mine = next(x for x in lst.projects if x.id == p.id)
        assert mine.version == 1 and mine.title == p.title


# --------------------------------------------------------------------------- delete
async def test_delete_project_flow(srv: ServerProcess, api: httpx.Client) -> None:
    async with clients(srv.port, "new", "new") as (c, stranger):
        p = await c.project(subscribe=True)
        req = "delete_project_request"
        assert_error(
            await c.error(req, project_id="x", expected_version=1),
            "VALIDATION_ERROR",
            "Invalid project_id format",
            field="project_id",
        )
        missing = new_id()
        assert_error(
            await c.error(req, project_id=missing, expected_version=1),
            "NOT_FOUND",
            "Project",
            missing,
            "not found",
        )
        assert_error(await stranger.error(req, project_id=p.id, expected_version=1), "UNAUTHORIZED")
        assert_error(
            await c.error(req, project_id=p.id, expected_version=2),
            "CONFLICT",
            "(current version: 1)",
        )
        w = await c.item(p.id)
        assert len(await c.sync()) == 2
        err = await c.error(req, project_id=p.id, expected_version=1)
        assert_error(err, "DELETE_BLOCKED", "1 work item", prefix="Cannot delete: ")
        assert err.message.count("Cannot delete") == 1, err.message
        await c.call("delete_work_item_request", work_item_id=w.id)
        assert len(await c.sync()) == 2
        reply, events = await c.request(req, project_id=p.id, expected_version=1)
        assert case_of(reply) == "project_deleted"
        assert reply.project_deleted.project_id == p.id
        assert reply.project_deleted.user_id == c.user_id
        ev = assert_broadcast_pair(events, "project", p.id, "deleted", "project_deleted", c.user_id)
        assert ev == reply.project_deleted
        # gone everywhere
        assert_error(await c.error(req, project_id=p.id, expected_version=1), "NOT_FOUND")
        lst = await c.call("list_projects_request")
        assert p.id not in {x.id for x in lst.projects}
        assert api.get(f"/api/v1/projects/{p.id}").status_code == 404
        assert await c.sync() == []


# --------------------------------------------------------------------------- shared / REST
async def test_rest_project_without_user_is_shared(srv: ServerProcess, api: httpx.Client) -> None:
    shared = rest_project(api)
    assert shared["created_by"] == LLM_USER
    async with clients(srv.port, "new", "new") as (a, b):
        await b.subscribe([shared["id"]])
        w = await a.item(shared["id"], title="in shared")
        evs = await b.sync()
        assert [case_of(e) for e in evs] == ["activity_log_created", "work_item_created"]
        assert evs[1].work_item_created.work_item.id == w.id
        listed = await b.call("get_work_items_request", project_id=shared["id"])
        assert [x.id for x in listed.work_items] == [w.id]
        # everyone is admin there
        upd = await b.call(
            "update_project_request",
            project_id=shared["id"],
            expected_version=1,
            title="renamed by b",
        )
        assert upd.project.version == 2
        await b.call("delete_work_item_request", work_item_id=w.id)
        await a.sync()
        await b.sync()


async def test_rest_project_with_user_is_private(srv: ServerProcess, api: httpx.Client) -> None:
    async with clients(srv.port, "new", "new") as (owner, stranger):
        p = rest_project(api, owner.user_id)
        assert p["created_by"] == owner.user_id
        # the REST creator is admin over WS
        w = await owner.item(p["id"])
        upd = await owner.call(
            "update_project_request", project_id=p["id"], expected_version=1, description="x"
        )
        assert upd.project.version == 2
        err = await stranger.error("get_work_items_request", project_id=p["id"])
        assert_error(err, "UNAUTHORIZED", "Not a member of this project")
        err = await stranger.error(
            "create_work_item_request", project_id=p["id"], item_type=pb.TASK, title="t"
        )
        assert_error(err, "UNAUTHORIZED", "Not a member of this project")
        assert w.project_id == p["id"]


async def test_rest_project_mutations_reach_ws_subscribers(
    srv: ServerProcess, api: httpx.Client
) -> None:
    async with clients(srv.port, "new") as (c,):
        p = await c.project(subscribe=True)
        r = api.put(
            f"/api/v1/projects/{p.id}",
            json={"title": "via REST", "expected_version": 1},
            headers={"X-User-Id": c.user_id},
        )
        assert r.status_code == 200, r.text
        evs = await c.sync()
        upd = assert_broadcast_pair(evs, "project", p.id, "updated", "project_updated", c.user_id)
        assert upd.project.title == "via REST" and upd.project.version == 2
        assert field_changes(upd.changes)["title"][1] == "via REST"
        r = api.delete(f"/api/v1/projects/{p.id}", headers={"X-User-Id": c.user_id})
        assert r.status_code == 200, r.text
        evs = await c.sync()
        dele = assert_broadcast_pair(evs, "project", p.id, "deleted", "project_deleted")
        assert dele.project_id == p.id
        assert_activity(evs[0], "project", p.id, "deleted", c.user_id)


async def test_project_activity_is_queryable(srv: ServerProcess) -> None:
    async with clients(srv.port, "new") as (c,):
        p = await c.project()
        await c.call("update_project_request", project_id=p.id, expected_version=1, title="n")
        log = await c.call(
            "get_activity_log_request", entity_type="project", entity_id=p.id, limit=10
        )
        assert [(e.action, e.comment if e.HasField("comment") else None) for e in log.entries] == [
            ("updated", "1 fields changed"),
            ("created", None),
        ]
        assert log.total_count == 2 and not log.has_more
