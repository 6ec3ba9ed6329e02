# mypy: disable-error-code="no-any-return"
"""Subscriptions, broadcasts and membership roles over WebSocket (spec §2.3, §4.1, §4.5,
§6.4, §6.5, §6.13, §6.14) with pm-fast's documented changes (docs/compat.md: Subscribe
keeps only viewable ids, REST and WS mutations broadcast the same events)."""

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


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    yield from module_server(tmp_path_factory, "ws-bcast")


@pytest.fixture
def api(srv: ServerProcess) -> Iterator[httpx.Client]:
    with srv.client() as c:
        yield c


def raw(events: list[pb.WebSocketMessage]) -> list[bytes]:
    return [e.SerializeToString() for e in events]


# --------------------------------------------------------------------------- subscribe
async def test_subscribe_and_unsubscribe_acks_are_empty(srv: ServerProcess) -> None:
    # §6.4: the reply is the request's id with no payload, whatever the ids
    async with clients(srv.port, "new") as (c,):
        p = await c.project()
        for case, fields in (
            ("subscribe", {"project_ids": [p.id], "sprint_ids": ["s1"]}),
            ("subscribe", {"project_ids": [p.id, p.id, "p1", "", p.id.upper()]}),
            ("subscribe", {}),
            ("unsubscribe", {"project_ids": ["never-subscribed"], "sprint_ids": ["x"]}),
            ("unsubscribe", {"project_ids": [p.id], "sprint_ids": ["s1"]}),
            ("unsubscribe", {}),
        ):
            reply, events = await c.request(case, message_id=f"ack-{case}", **fields)
            assert events == []
            assert reply.message_id == f"ack-{case}"
            assert case_of(reply) is None, reply
            assert reply.timestamp > 0
            fields_set = reply.ListFields()
            assert fields_set[:2] == [
                (pb.WebSocketMessage.DESCRIPTOR.fields_by_name["message_id"], f"ack-{case}"),
                (pb.WebSocketMessage.DESCRIPTOR.fields_by_name["timestamp"], reply.timestamp),
            ]
            # pm-fast's extension (docs/events.md, a field number the original leaves
            # unused): a Subscribe ack gives the position of each project it subscribed
            subscribed = [p.id] if case == "subscribe" and fields else []
            assert [(q.project_id, q.seq) for q in reply.positions] == [
                (pid, 2) for pid in subscribed
            ]
            assert len(fields_set) == 2 + bool(subscribed)


async def test_broadcast_reaches_every_subscriber_in_order(srv: ServerProcess) -> None:
    # §2.3: subscribed caller gets ActivityLogCreated, entity event, then its reply; every
    # other subscribed connection (any user, the same user's other connection included)
    # gets the two events; unsubscribed connections get nothing.
    async with clients(srv.port, "new", "new", "new", "new") as (a, b, idle, other_proj):
        p = await a.project(subscribe=True)
        add_member(srv, p.id, b.user_id, "viewer")
        add_member(srv, p.id, idle.user_id, "editor")
        q = await other_proj.project(subscribe=True)
        await b.subscribe([p.id])
        async with clients(srv.port, a.user_id) as (a2,):
            await a2.subscribe([p.id])
            reply, events = await a.request(
                "create_work_item_request", project_id=p.id, item_type=pb.TASK, title="broadcast me"
            )
            assert case_of(reply) == "work_item_created"
            w = reply.work_item_created.work_item
            ev = assert_broadcast_pair(
                events, "work_item", w.id, "created", "work_item_created", a.user_id
            )
            assert ev == reply.work_item_created
            assert reply.message_id not in {e.message_id for e in events}
            for listener in (b, a2):
                assert raw(await listener.sync()) == raw(events)
            assert await idle.sync() == []
            assert await other_proj.sync() == []
            # a third connection (a member) mutates: the subscribers get it, not the others
            upd = await idle.call(
                "update_work_item_request", work_item_id=w.id, expected_version=1, status="todo"
            )
            evs_a = await a.sync()
            assert_broadcast_pair(
                evs_a, "work_item", w.id, "updated", "work_item_updated", idle.user_id
            )
            assert raw(await b.sync()) == raw(evs_a) == raw(await a2.sync())
            assert evs_a[1].work_item_updated == upd
            assert await idle.sync() == []
            assert await other_proj.sync() == []
            assert q.id != p.id


async def test_unsubscribe_stops_delivery(srv: ServerProcess) -> None:
    # §6.4.2, §6.13.3
    async with clients(srv.port, "new", "new") as (a, b):
        p = await a.project()
        add_member(srv, p.id, b.user_id, "viewer")
        await b.subscribe([p.id])
        await a.item(p.id)
        assert len(await b.sync()) == 2
        await b.unsubscribe([p.id])
        await a.item(p.id)
        assert await b.sync() == []
        # subscribing again resumes delivery; duplicates are harmless (set semantics)
        await b.subscribe([p.id, p.id])
        await b.subscribe([p.id])
        await a.item(p.id)
        assert [case_of(e) for e in await b.sync()] == ["activity_log_created", "work_item_created"]


async def test_subscription_to_two_projects(srv: ServerProcess) -> None:
    # §6.13.5
    async with clients(srv.port, "new") as (a,):
        p1 = await a.project()
        p2 = await a.project()
        await a.subscribe([p1.id, p2.id])
        w1 = await a.item(p1.id)
        w2 = await a.item(p2.id)
        evs = await a.sync()
        assert [
            e.work_item_created.work_item.id for e in evs if case_of(e) == "work_item_created"
        ] == [w1.id, w2.id]
        await a.unsubscribe([p1.id])
        await a.item(p1.id)
        assert await a.sync() == []
        await a.item(p2.id)
        assert len(await a.sync()) == 2


async def test_subscribe_keeps_only_viewable_projects(srv: ServerProcess) -> None:
    # compat.md: a non-member's subscription is dropped silently (ack still empty)
    async with clients(srv.port, "new", "new") as (owner, snoop):
        p = await owner.project()
        s = await owner.sprint(p.id)
        await snoop.subscribe([p.id], [s.id])
        await owner.item(p.id)
        await owner.call("update_sprint_request", sprint_id=s.id, expected_version=1, name="n")
        assert await snoop.sync() == []
        # becoming a member later does not revive the dropped subscription ...
        add_member(srv, p.id, snoop.user_id, "viewer")
        await owner.item(p.id)
        assert await snoop.sync() == []
        # ... a new Subscribe does
        await snoop.subscribe([p.id])
        await owner.item(p.id)
        assert len(await snoop.sync()) == 2


async def test_subscription_ids_must_be_canonical(srv: ServerProcess) -> None:
    # §4.5.1: ids are compared with the canonical lower-case form
    async with clients(srv.port, "new") as (a,):
        p = await a.project()
        await a.subscribe([p.id.upper(), "{" + p.id + "}"])
        await a.item(p.id)
        assert await a.sync() == []


async def test_subscriptions_are_per_connection(srv: ServerProcess) -> None:
    # §1.9: state is lost on disconnect; the same user must subscribe again
    async with clients(srv.port, "new") as (a,):
        p = await a.project(subscribe=True)
        u = a.user_id
    async with clients(srv.port, u, "new") as (again, writer):
        add_member(srv, p.id, writer.user_id, "editor")
        await writer.item(p.id)
        assert await again.sync() == []
        await again.subscribe([p.id])
        await writer.item(p.id)
        assert len(await again.sync()) == 2


async def test_non_member_connection_never_receives(srv: ServerProcess) -> None:
    # §6.5.1 (BB): A subscribed, B connected without subscription, C mutates
    async with clients(srv.port, "new", "new", "new") as (a, b, c):
        p = await c.project()
        add_member(srv, p.id, a.user_id, "viewer")
        await a.subscribe([p.id])
        w = await c.item(p.id)
        evs = await a.sync()
        assert [case_of(e) for e in evs] == ["activity_log_created", "work_item_created"]
        assert_activity(evs[0], "work_item", w.id, "created", c.user_id)
        assert await b.sync() == []


async def test_events_for_every_ws_mutation_kind(srv: ServerProcess) -> None:
    # every mutation: ActivityLogCreated then its entity event, before the reply
    async with clients(srv.port, "new", "new") as (c, watcher):
        p = await c.project(subscribe=True)
        add_member(srv, p.id, watcher.user_id, "viewer")
        await watcher.subscribe([p.id])
        t = now()

        async def step(case: str, etype: str, action: str, event: str, **fields: Any) -> Any:
            reply, events = await c.request(case, **fields)
            assert case_of(reply) not in (None, "error"), reply
            got = case_of(reply)
            assert got is not None
            payload = getattr(reply, got)
            entity = getattr(payload, etype, None)
            eid = (
                entity.id
                if entity is not None and hasattr(entity, "id")
                else next(
                    getattr(payload, f)
                    for f in (f"{etype}_id", "work_item_id", "project_id")
                    if hasattr(payload, f)
                )
            )
            assert_broadcast_pair(events, etype, eid, action, event, c.user_id)
            assert raw(await watcher.sync()) == raw(events)
            return payload

        w = (
            await step(
                "create_work_item_request",
                "work_item",
                "created",
                "work_item_created",
                project_id=p.id,
                item_type=pb.TASK,
                title="w",
            )
        ).work_item
        w2 = (
            await step(
                "create_work_item_request",
                "work_item",
                "created",
                "work_item_created",
                project_id=p.id,
                item_type=pb.TASK,
                title="w2",
            )
        ).work_item
        await step(
            "update_work_item_request",
            "work_item",
            "updated",
            "work_item_updated",
            work_item_id=w.id,
            expected_version=1,
            title="w'",
        )
        s = (
            await step(
                "create_sprint_request",
                "sprint",
                "created",
                "sprint_created",
                project_id=p.id,
                name="s",
                start_date=t + 100,
                end_date=t + 1000,
            )
        ).sprint
        await step(
            "update_sprint_request",
            "sprint",
            "updated",
            "sprint_updated",
            sprint_id=s.id,
            expected_version=1,
            name="s'",
        )
        cm = (
            await step(
                "create_comment_request",
                "comment",
                "created",
                "comment_created",
                work_item_id=w.id,
                content="hi",
            )
        ).comment
        await step(
            "update_comment_request",
            "comment",
            "updated",
            "comment_updated",
            comment_id=cm.id,
            content="hi!",
        )
        await step(
            "delete_comment_request", "comment", "deleted", "comment_deleted", comment_id=cm.id
        )
        te = (
            await step(
                "create_time_entry_request",
                "time_entry",
                "created",
                "time_entry_created",
                work_item_id=w.id,
                started_at=t - 100,
                ended_at=t - 10,
            )
        ).time_entry
        await step(
            "update_time_entry_request",
            "time_entry",
            "updated",
            "time_entry_updated",
            time_entry_id=te.id,
            description="d",
        )
        await step(
            "delete_time_entry_request",
            "time_entry",
            "deleted",
            "time_entry_deleted",
            time_entry_id=te.id,
        )
        d = (
            await step(
                "create_dependency_request",
                "dependency",
                "created",
                "dependency_created",
                blocking_item_id=w.id,
                blocked_item_id=w2.id,
                dependency_type=pb.BLOCKS,
            )
        ).dependency
        await step(
            "delete_dependency_request",
            "dependency",
            "deleted",
            "dependency_deleted",
            dependency_id=d.id,
        )
        await step("delete_sprint_request", "sprint", "deleted", "sprint_deleted", sprint_id=s.id)
        await step(
            "delete_work_item_request",
            "work_item",
            "deleted",
            "work_item_deleted",
            work_item_id=w2.id,
        )
        await step(
            "update_project_request",
            "project",
            "updated",
            "project_updated",
            project_id=p.id,
            expected_version=1,
            description="x",
        )
        # reads, pings and errors broadcast nothing
        for case, fields in (
            ("get_work_items_request", {"project_id": p.id}),
            ("get_sprints_request", {"project_id": p.id}),
            ("get_comments_request", {"work_item_id": w.id}),
            ("get_time_entries_request", {"work_item_id": w.id}),
            ("get_dependencies_request", {"work_item_id": w.id}),
            ("get_running_timer_request", {}),
            ("list_projects_request", {}),
            ("get_llm_context_request", {}),
            ("update_work_item_request", {"work_item_id": w.id, "expected_version": 99}),
        ):
            _, events = await c.request(case, **fields)
            assert events == [], case
        assert await watcher.sync() == []


async def test_rest_mutations_reach_ws_subscribers(srv: ServerProcess, api: httpx.Client) -> None:
    # §4.5.4: REST mutations on the same server push into the same registry
    async with clients(srv.port, "new") as (c,):
        p = await c.project(subscribe=True)
        hdr = {"X-User-Id": c.user_id}
        r = api.post(
            "/api/v1/work-items",
            headers=hdr,
            json={"project_id": p.id, "item_type": "task", "title": "from REST"},
        )
        assert r.status_code == 200, r.text
        wid = r.json()["work_item"]["id"]
        evs = await c.sync()
        ev = assert_broadcast_pair(evs, "work_item", wid, "created", "work_item_created", c.user_id)
        assert ev.work_item.title == "from REST" and ev.work_item.project_id == p.id
        r = api.put(
            f"/api/v1/work-items/{wid}",
            headers=hdr,
            json={"title": "REST 2", "expected_version": 1},
        )
        assert r.status_code == 200, r.text
        ev = assert_broadcast_pair(
            await c.sync(), "work_item", wid, "updated", "work_item_updated", c.user_id
        )
        assert ev.work_item.title == "REST 2" and ev.work_item.version == 2
        assert {ch.field_name for ch in ev.changes} == {"title"}
        r = api.post(f"/api/v1/work-items/{wid}/comments", headers=hdr, json={"content": "c"})
        assert r.status_code == 200, r.text
        cid = r.json()["comment"]["id"]
        assert_broadcast_pair(
            await c.sync(), "comment", cid, "created", "comment_created", c.user_id
        )
        r = api.post(
            "/api/v1/sprints",
            headers=hdr,
            json={"project_id": p.id, "name": "S", "start_date": now(), "end_date": now() + 86400},
        )
        assert r.status_code == 200, r.text
        sid = r.json()["sprint"]["id"]
        assert_broadcast_pair(await c.sync(), "sprint", sid, "created", "sprint_created", c.user_id)
        r = api.delete(f"/api/v1/comments/{cid}", headers=hdr)
        assert r.status_code == 200, r.text
        assert_broadcast_pair(
            await c.sync(), "comment", cid, "deleted", "comment_deleted", c.user_id
        )
        r = api.delete(f"/api/v1/work-items/{wid}", headers=hdr)
        assert r.status_code == 200, r.text
        ev = assert_broadcast_pair(
            await c.sync(), "work_item", wid, "deleted", "work_item_deleted", c.user_id
        )
        assert ev.work_item_id == wid
        # a REST sprint update is sprint-scoped activity for sprint subscribers
        async with clients(srv.port, c.user_id) as (sprint_only,):
            await sprint_only.subscribe(sprint_ids=[sid])
            r = api.put(
                f"/api/v1/sprints/{sid}", headers=hdr, json={"name": "S2", "expected_version": 1}
            )
            assert r.status_code == 200, r.text
            assert [case_of(e) for e in await sprint_only.sync()] == ["activity_log_created"]
            assert_broadcast_pair(
                await c.sync(), "sprint", sid, "updated", "sprint_updated", c.user_id
            )


# --------------------------------------------------------------------------- roles
async def test_roles_viewer_editor_admin(srv: ServerProcess) -> None:
    # §4.1: View / Edit / Admin per role; the message names the required and actual role
    async with clients(srv.port, "new", "new", "new", "new") as (admin, editor, viewer, stranger):
        p = await admin.project()
        add_member(srv, p.id, editor.user_id, "editor")
        add_member(srv, p.id, viewer.user_id, "viewer")
        w = await admin.item(p.id)
        w2 = await admin.item(p.id)
        s = await admin.sprint(p.id)
        cm = await admin.comment(w.id)
        t = now()
        te = await admin.manual_entry(w.id, t - 100, t - 50)
        dep = await admin.dependency(w.id, w2.id)

        reads: list[tuple[str, dict[str, Any]]] = [
            ("get_work_items_request", {"project_id": p.id}),
            ("get_sprints_request", {"project_id": p.id}),
            ("get_comments_request", {"work_item_id": w.id}),
            ("get_time_entries_request", {"work_item_id": w.id}),
            ("get_dependencies_request", {"work_item_id": w.id}),
            (
                "get_activity_log_request",
                {"entity_type": "work_item", "entity_id": w.id, "limit": 10},
            ),
        ]
        for who in (viewer, editor, admin):
            for case, fields in reads:
                reply, _ = await who.request(case, **fields)
                assert case_of(reply) not in (None, "error"), (case, reply)
        for case, fields in reads:
            err = await stranger.error(case, **fields)
            assert_error(
                err, "UNAUTHORIZED", "Not a member of this project", prefix="Unauthorized: "
            )

        edits: list[tuple[str, dict[str, Any]]] = [
            ("create_work_item_request", {"project_id": p.id, "item_type": pb.TASK, "title": "x"}),
            (
                "update_work_item_request",
                {"work_item_id": w.id, "expected_version": 1, "title": "x"},
            ),
            (
                "create_sprint_request",
                {"project_id": p.id, "name": "x", "start_date": t + 10, "end_date": t + 1000},
            ),
            ("update_sprint_request", {"sprint_id": s.id, "expected_version": 1, "name": "x"}),
            ("create_comment_request", {"work_item_id": w.id, "content": "x"}),
            ("start_timer_request", {"work_item_id": w.id}),
            (
                "create_time_entry_request",
                {"work_item_id": w.id, "started_at": t - 100, "ended_at": t - 50},
            ),
            (
                "create_dependency_request",
                {
                    "blocking_item_id": w2.id,
                    "blocked_item_id": w.id,
                    "dependency_type": pb.RELATES_TO,
                },
            ),
            ("delete_dependency_request", {"dependency_id": dep.id}),
        ]
        for case, fields in edits:
            err = await viewer.error(case, **fields)
            assert_error(
                err,
                "UNAUTHORIZED",
                "Unauthorized: Insufficient permission. Required: Edit, have: viewer",
            )
        admins: list[tuple[str, dict[str, Any]]] = [
            ("delete_work_item_request", {"work_item_id": w2.id}),
            ("delete_sprint_request", {"sprint_id": s.id}),
            ("update_project_request", {"project_id": p.id, "expected_version": 1, "title": "x"}),
            ("delete_project_request", {"project_id": p.id, "expected_version": 1}),
        ]
        for who, role in ((viewer, "viewer"), (editor, "editor")):
            for case, fields in admins:
                err = await who.error(case, **fields)
                assert_error(
                    err, "UNAUTHORIZED", f"Insufficient permission. Required: Admin, have: {role}"
                )
        # the editor may do every Edit request
        for case, fields in edits[:-1]:
            reply, _ = await editor.request(case, **fields)
            assert case_of(reply) not in (None, "error"), (case, reply)
        # nobody but the author / owner may change comments and time entries
        for who in (editor, viewer):
            assert_error(
                await who.error("update_comment_request", comment_id=cm.id, content="x"),
                "UNAUTHORIZED",
                "another user",
            )
            assert_error(
                await who.error("delete_time_entry_request", time_entry_id=te.id),
                "UNAUTHORIZED",
                "another user",
            )
        # the admin may do the Admin requests
        await admin.call("delete_dependency_request", dependency_id=dep.id)
        await admin.call("delete_work_item_request", work_item_id=w2.id)
        await admin.call("delete_sprint_request", sprint_id=s.id)
        upd = await admin.call(
            "update_project_request", project_id=p.id, expected_version=1, title="renamed"
        )
        assert upd.project.version == 2
        # a viewer may subscribe and receives events
        await viewer.subscribe([p.id])
        await editor.item(p.id)
        assert len(await viewer.sync()) == 2
        # promotion takes effect at once
        add_member(srv, p.id, viewer.user_id, "admin")
        created = await viewer.item(p.id)
        await viewer.call("delete_work_item_request", work_item_id=created.id)
        await viewer.sync()


async def test_member_of_one_project_only(srv: ServerProcess) -> None:
    async with clients(srv.port, "new", "new") as (a, b):
        pa = await a.project()
        pb_ = await b.project()
        wa = await a.item(pa.id)
        for case, fields in (
            ("get_work_items_request", {"project_id": pb_.id}),
            (
                "create_work_item_request",
                {"project_id": pb_.id, "item_type": pb.TASK, "title": "x"},
            ),
            ("get_sprints_request", {"project_id": pb_.id}),
        ):
            assert_error(await a.error(case, **fields), "UNAUTHORIZED")
        assert_error(await b.error("get_comments_request", work_item_id=wa.id), "UNAUTHORIZED")
        assert_error(
            await b.error("delete_work_item_request", work_item_id=wa.id),
            "UNAUTHORIZED",
            "Not a member of this project",
        )


async def test_unknown_project_is_refused(srv: ServerProcess) -> None:
    # a random project id: not a member (original: UNAUTHORIZED); pm-fast may say NOT_FOUND
    async with clients(srv.port, "new") as (c,):
        for case, fields in (
            ("get_work_items_request", {"project_id": new_id()}),
            ("get_sprints_request", {"project_id": new_id()}),
            (
                "create_work_item_request",
                {"project_id": new_id(), "item_type": pb.TASK, "title": "t"},
            ),
        ):
            err = await c.error(case, **fields)
            assert err.code in ("UNAUTHORIZED", "NOT_FOUND"), (case, err)


async def test_many_short_lived_connections(srv: ServerProcess) -> None:
    # many short-lived connections in a row: each one works and is cleaned up
    for _ in range(10):
        c = await WsClient.connect(srv.port)
        reply, _ = await c.request("ping", timestamp=1)
        assert reply.pong.timestamp == 1
        await c.close()


# ------------------------------------------------------------ roles change between writes
async def test_a_role_change_applies_to_the_very_next_mutation(srv: ServerProcess) -> None:
    """The SQLite writer keeps projects' states and members between its transactions
    (sqlite.WriterCache): a change by another process (here the test's own connection
    to the database), and a change the server itself commits, must show in the next
    check, never the one after."""
    async with clients(srv.port, "new", "new") as (owner, other):

        async def create(pid: str) -> Any:
            return await other.call(
                "create_work_item_request", project_id=pid, item_type=pb.TASK, title="t"
            )

        async def refused(pid: str, *contains: str) -> None:
            err = await other.error(
                "create_work_item_request", project_id=pid, item_type=pb.TASK, title="t"
            )
            assert_error(err, "UNAUTHORIZED", *contains)

        p = await owner.project()
        add_member(srv, p.id, other.user_id, "editor")
        await create(p.id)
        await create(p.id)  # the second check may be answered from the writer's cache
        who = (p.id, other.user_id)
        srv.sql(
            "UPDATE pm_project_members SET role = 'viewer' WHERE project_id = ? AND user_id = ?",
            who,
        )
        await refused(p.id, "Required: Edit", "have: viewer")
        srv.sql("DELETE FROM pm_project_members WHERE project_id = ? AND user_id = ?", who)
        await refused(p.id, "Not a member")
        add_member(srv, p.id, other.user_id, "editor")
        await create(p.id)

        # committed by the server itself: the project deleted over WebSocket (once its
        # item is) right after a check that found it live
        q = await owner.project()
        add_member(srv, q.id, other.user_id, "editor")
        item = (await create(q.id)).work_item
        await owner.call("delete_work_item_request", work_item_id=item.id)
        await owner.call("delete_project_request", project_id=q.id, expected_version=1)
        await refused(q.id)
