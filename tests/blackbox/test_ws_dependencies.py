# mypy: disable-error-code="no-any-return"
"""WebSocket dependency requests (spec §3.11, §4.7.6, §6.12) with pm-fast's documented
changes (docs/compat.md: Dependency* broadcasts, re-creating a deleted link allowed)."""

from __future__ import annotations

from collections.abc import Iterator

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
    module_server,
    new_id,
    now,
)

CD, DD, GD = "create_dependency_request", "delete_dependency_request", "get_dependencies_request"


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    yield from module_server(tmp_path_factory, "ws-deps")


@pytest.fixture
def api(srv: ServerProcess) -> Iterator[httpx.Client]:
    with srv.client() as c:
        yield c


async def tasks(c: WsClient, n: int = 3) -> tuple[pb.Project, list[pb.WorkItem]]:
    p = await c.project()
    return p, [await c.item(p.id, title=f"task {i}") for i in range(n)]


async def test_create_dependency(srv: ServerProcess) -> None:
    # §6.12.1
    async with clients(srv.port, "new", "new") as (c, watcher):
        p, (a, b, _) = await tasks(c)
        add_member(srv, p.id, watcher.user_id, "viewer")
        await watcher.subscribe([p.id])
        t0 = now()
        reply, events = await c.request(
            CD, blocking_item_id=a.id, blocked_item_id=b.id, dependency_type=pb.BLOCKS
        )
        assert case_of(reply) == "dependency_created", reply
        created = reply.dependency_created
        d = created.dependency
        assert created.user_id == c.user_id
        assert (d.blocking_item_id, d.blocked_item_id, d.dependency_type) == (a.id, b.id, pb.BLOCKS)
        assert d.created_by == c.user_id and t0 <= d.created_at <= now() + 1
        assert not d.HasField("deleted_at") and len(d.id) == 36
        assert events == []
        evs = await watcher.sync()
        ev = assert_broadcast_pair(
            evs, "dependency", d.id, "created", "dependency_created", c.user_id
        )
        assert ev == created


async def test_create_dependency_validation_in_order(srv: ServerProcess) -> None:
    # §6.12.2, §6.12.7 and the order of §4.7.6
    async with clients(srv.port, "new", "new") as (c, viewer):
        p, (a, b, _) = await tasks(c)
        add_member(srv, p.id, viewer.user_id, "viewer")
        other_owner = await WsClient.connect(srv.port)
        try:
            q = await other_owner.project()
            foreign = await other_owner.item(q.id)
        finally:
            await other_owner.close()
        # 1. UUIDs
        err = await c.error(CD, blocking_item_id="x", blocked_item_id="x", dependency_type=0)
        assert_error(err, "VALIDATION_ERROR", "Invalid UUID format", field="blocking_item_id")
        err = await c.error(CD, blocking_item_id=a.id, blocked_item_id="x", dependency_type=0)
        assert_error(err, "VALIDATION_ERROR", "Invalid UUID format", field="blocked_item_id")
        # 2. self (compared as UUIDs), before the type check
        for other_form in (a.id, a.id.upper()):
            err = await c.error(
                CD, blocking_item_id=a.id, blocked_item_id=other_form, dependency_type=0
            )
            assert_error(
                err, "VALIDATION_ERROR", "Work item cannot block itself", field="blocked_item_id"
            )
        # 3. type
        for bad in (0, 3, 17):
            err = await c.error(
                CD, blocking_item_id=a.id, blocked_item_id=new_id(), dependency_type=bad
            )
            assert_error(
                err, "VALIDATION_ERROR", "Invalid dependency_type. Must be BLOCKS or RELATES_TO"
            )
        # 5./6. existence
        missing = new_id()
        err = await c.error(
            CD, blocking_item_id=missing, blocked_item_id=b.id, dependency_type=pb.BLOCKS
        )
        assert_error(err, "NOT_FOUND", "Work item", missing)
        err = await c.error(
            CD, blocking_item_id=a.id, blocked_item_id=missing, dependency_type=pb.BLOCKS
        )
        assert_error(err, "NOT_FOUND", "Work item", missing)
        # 7. same project (before the permission check: the caller is not a member of q)
        err = await c.error(
            CD, blocking_item_id=a.id, blocked_item_id=foreign.id, dependency_type=pb.BLOCKS
        )
        assert_error(err, "VALIDATION_ERROR", "same project", field="blocking_item_id")
        err = await viewer.error(
            CD, blocking_item_id=a.id, blocked_item_id=foreign.id, dependency_type=pb.RELATES_TO
        )
        assert_error(err, "VALIDATION_ERROR", "same project")
        # 8. permission Edit
        err = await viewer.error(
            CD, blocking_item_id=a.id, blocked_item_id=b.id, dependency_type=pb.BLOCKS
        )
        assert_error(err, "UNAUTHORIZED", "Required: Edit, have: viewer")
        listed = await c.call(GD, work_item_id=a.id)
        assert list(listed.blocking) == [] and list(listed.blocked) == []


async def test_missing_item_names_its_side(srv: ServerProcess) -> None:
    # spec §4.2 / §4.7.6 steps 5-6: "Work item <id> not found (blocking)" / "(blocked)"
    async with clients(srv.port, "new") as (c,):
        _p, (a, b, _) = await tasks(c)
        missing = new_id()
        err = await c.error(
            CD, blocking_item_id=missing, blocked_item_id=b.id, dependency_type=pb.BLOCKS
        )
        assert_error(err, "NOT_FOUND", missing, "(blocking)")
        err = await c.error(
            CD, blocking_item_id=a.id, blocked_item_id=missing, dependency_type=pb.BLOCKS
        )
        assert_error(err, "NOT_FOUND", missing, "(blocked)")


async def test_duplicate_dependency(srv: ServerProcess) -> None:
    # §6.12.3; §4.7.6 step 9: field blocked_item_id, any type counts for the ordered pair
    async with clients(srv.port, "new") as (c,):
        _p, (a, b, _) = await tasks(c)
        await c.dependency(a.id, b.id)
        for kind in (pb.BLOCKS, pb.RELATES_TO):
            err = await c.error(
                CD, blocking_item_id=a.id, blocked_item_id=b.id, dependency_type=kind
            )
            assert_error(err, "VALIDATION_ERROR", "already exists", field="blocked_item_id")
        assert len((await c.call(GD, work_item_id=a.id)).blocked) == 1


async def test_cycles(srv: ServerProcess) -> None:
    # §6.12.4 - §6.12.6
    async with clients(srv.port, "new") as (c,):
        _p, (a, b, cc) = await tasks(c)
        ab = await c.dependency(a.id, b.id)
        # direct cycle
        err = await c.error(
            CD, blocking_item_id=b.id, blocked_item_id=a.id, dependency_type=pb.BLOCKS
        )
        assert_error(err, "VALIDATION_ERROR", "Circular dependency", field="blocking_item_id")
        # indirect cycle with the path (first 8 chars, joined by " → ")
        await c.dependency(b.id, cc.id)
        err = await c.error(
            CD, blocking_item_id=cc.id, blocked_item_id=a.id, dependency_type=pb.BLOCKS
        )
        assert_error(
            err,
            "VALIDATION_ERROR",
            "Circular dependency",
            "→",
            f"{a.id[:8]} → {b.id[:8]} → {cc.id[:8]}",
            field="blocking_item_id",
        )
        assert "cycle" in err.message
        # RELATES_TO is never cycle-checked (§6.12.6)
        rel = await c.dependency(b.id, a.id, pb.RELATES_TO)
        assert rel.dependency_type == pb.RELATES_TO
        rel2 = await c.dependency(cc.id, a.id, pb.RELATES_TO)
        assert rel2.dependency_type == pb.RELATES_TO
        # and RELATES_TO edges are ignored by the BFS
        _p2, (x, y) = await tasks(c, 2)
        await c.dependency(x.id, y.id, pb.RELATES_TO)
        d = await c.dependency(y.id, x.id, pb.BLOCKS)
        assert d.dependency_type == pb.BLOCKS
        assert ab.blocking_item_id == a.id


async def test_delete_and_recreate_dependency(srv: ServerProcess) -> None:
    # §6.12.9 + compat.md (re-creating a deleted link is allowed)
    async with clients(srv.port, "new", "new") as (c, viewer):
        p, (a, b, _) = await tasks(c)
        add_member(srv, p.id, viewer.user_id, "viewer")
        await c.subscribe([p.id])
        d = await c.dependency(a.id, b.id)
        await c.sync()
        assert_error(
            await c.error(DD, dependency_id="x"), "VALIDATION_ERROR", field="dependency_id"
        )
        missing = new_id()
        assert_error(await c.error(DD, dependency_id=missing), "NOT_FOUND", "Dependency", missing)
        err = await viewer.error(DD, dependency_id=d.id)
        assert_error(err, "UNAUTHORIZED", "Required: Edit, have: viewer")
        reply, events = await c.request(DD, dependency_id=d.id)
        assert case_of(reply) == "dependency_deleted", reply
        dd = reply.dependency_deleted
        assert (dd.dependency_id, dd.blocking_item_id, dd.blocked_item_id, dd.user_id) == (
            d.id,
            a.id,
            b.id,
            c.user_id,
        )
        ev = assert_broadcast_pair(
            events, "dependency", d.id, "deleted", "dependency_deleted", c.user_id
        )
        assert ev == dd
        assert_error(await c.error(DD, dependency_id=d.id), "NOT_FOUND")
        listed = await c.call(GD, work_item_id=a.id)
        assert list(listed.blocked) == []
        again = await c.dependency(a.id, b.id)
        assert again.id == d.id  # compat.md: the deleted link comes back under its id
        listed = await c.call(GD, work_item_id=b.id)
        assert [x.id for x in listed.blocking] == [again.id]
        await c.sync()


async def test_recreated_dependency_keeps_the_id_its_history_names(srv: ServerProcess) -> None:
    # compat.md: a re-created link is the deleted row brought back, so the activity rows
    # and the stored reply of the first create name a link that exists
    async with clients(srv.port, "new") as (c,):
        p, (a, b, _) = await tasks(c)
        await c.subscribe([p.id])
        mid = new_id()
        pair = {"blocking_item_id": a.id, "blocked_item_id": b.id}
        first, _ = await c.request(CD, message_id=mid, dependency_type=pb.BLOCKS, **pair)
        d = first.dependency_created.dependency
        await c.call(DD, dependency_id=d.id)
        reply, events = await c.request(CD, dependency_type=pb.RELATES_TO, **pair)
        again = reply.dependency_created.dependency
        assert (again.id, again.dependency_type) == (d.id, pb.RELATES_TO)
        assert_broadcast_pair(events, "dependency", d.id, "created", "dependency_created")
        log = await c.call(
            "get_activity_log_request", entity_type="dependency", entity_id=d.id, limit=10
        )
        assert sorted(e.action for e in log.entries) == ["created", "created", "deleted"]
        assert {e.entity_id for e in log.entries} == {d.id}
        replay, events = await c.request(CD, message_id=mid, dependency_type=pb.BLOCKS, **pair)
        assert events == [] and replay == first
        listed = await c.call(GD, work_item_id=a.id)
        assert [(x.id, x.dependency_type) for x in listed.blocked] == [(d.id, pb.RELATES_TO)]
        await c.sync()


async def test_get_dependencies_both_directions(srv: ServerProcess) -> None:
    # §6.12.10
    async with clients(srv.port, "new", "new", "new") as (c, viewer, stranger):
        p, (a, b, cc) = await tasks(c)
        add_member(srv, p.id, viewer.user_id, "viewer")
        ab = await c.dependency(a.id, b.id)
        bc = await c.dependency(b.id, cc.id)
        reply, events = await viewer.request(GD, work_item_id=b.id)
        assert events == [] and case_of(reply) == "dependencies_list"
        lst = reply.dependencies_list
        assert list(lst.blocking) == [ab] and list(lst.blocked) == [bc]
        assert lst.blocking[0].blocking_item_id == a.id
        assert lst.blocked[0].blocked_item_id == cc.id
        assert_error(await stranger.error(GD, work_item_id=b.id), "UNAUTHORIZED")
        assert_error(await c.error(GD, work_item_id=new_id()), "NOT_FOUND", "Work item")
        assert_error(await c.error(GD, work_item_id="x"), "VALIDATION_ERROR", field="work_item_id")


async def test_fifty_dependency_limits(srv: ServerProcess, api: httpx.Client) -> None:
    # §6.12.8: 50 tasks each BLOCK A (made quickly over REST), the 51st over WS fails;
    # likewise A blocking 50 items.
    async with clients(srv.port, "new") as (c,):
        p = await c.project()
        hdr = {"X-User-Id": c.user_id}

        def task(title: str) -> str:
            r = api.post(
                "/api/v1/work-items",
                headers=hdr,
                json={"project_id": p.id, "item_type": "task", "title": title},
            )
            assert r.status_code == 200, r.text
            return r.json()["work_item"]["id"]

        def link(blocking: str, blocked: str) -> None:
            r = api.post(
                "/api/v1/dependencies",
                headers=hdr,
                json={
                    "blocking_item_id": blocking,
                    "blocked_item_id": blocked,
                    "dependency_type": "blocks",
                },
            )
            assert r.status_code == 200, r.text

        a = task("A")
        blockers = [task(f"b{i}") for i in range(51)]
        for t in blockers[:50]:
            link(t, a)
        err = await c.error(
            CD, blocking_item_id=blockers[50], blocked_item_id=a, dependency_type=pb.BLOCKS
        )
        assert_error(err, "VALIDATION_ERROR", "50", "max", field="blocked_item_id")
        assert "Item already has 50 blocking dependencies (max 50)" in err.message
        err = await c.error(
            CD, blocking_item_id=blockers[50], blocked_item_id=a, dependency_type=pb.RELATES_TO
        )
        assert_error(err, "VALIDATION_ERROR", "50")
        # A blocks 50 items -> the 51st fails on the blocking side
        z = task("Z")
        for t in blockers[:50]:
            link(z, t)
        err = await c.error(
            CD, blocking_item_id=z, blocked_item_id=blockers[50], dependency_type=pb.BLOCKS
        )
        assert_error(
            err,
            "VALIDATION_ERROR",
            "Item already blocks 50 items (max 50)",
            field="blocking_item_id",
        )
        listed = await c.call(GD, work_item_id=a)
        assert len(listed.blocking) == 50 and list(listed.blocked) == []
        # deleting one frees a slot
        await c.call(DD, dependency_id=listed.blocking[0].id)
        d = await c.dependency(blockers[50], a)
        assert d.blocked_item_id == a


async def test_create_dependency_is_idempotent(srv: ServerProcess) -> None:
    async with clients(srv.port, "new") as (c,):
        p, (a, b, _) = await tasks(c)
        await c.subscribe([p.id])
        mid = new_id()
        first, events = await c.request(
            CD,
            message_id=mid,
            blocking_item_id=a.id,
            blocked_item_id=b.id,
            dependency_type=pb.BLOCKS,
        )
        assert len(events) == 2
        raw = c.raw[mid]
        again, events = await c.request(
            CD,
            message_id=mid,
            blocking_item_id=a.id,
            blocked_item_id=b.id,
            dependency_type=pb.BLOCKS,
        )
        assert events == [] and c.raw[mid] == raw and again == first
        assert await c.sync() == []
        assert len((await c.call(GD, work_item_id=a.id)).blocked) == 1


async def test_rest_dependency_mutations_reach_ws_subscribers(
    srv: ServerProcess, api: httpx.Client
) -> None:
    async with clients(srv.port, "new") as (c,):
        p, (a, b, _) = await tasks(c)
        await c.subscribe([p.id])
        r = api.post(
            "/api/v1/dependencies",
            headers={"X-User-Id": c.user_id},
            json={"blocking_item_id": a.id, "blocked_item_id": b.id, "dependency_type": "blocks"},
        )
        assert r.status_code == 200, r.text
        did = r.json()["id"]
        evs = await c.sync()
        ev = assert_broadcast_pair(
            evs, "dependency", did, "created", "dependency_created", c.user_id
        )
        assert (ev.dependency.blocking_item_id, ev.dependency.blocked_item_id) == (a.id, b.id)
        r = api.delete(f"/api/v1/dependencies/{did}", headers={"X-User-Id": c.user_id})
        assert r.status_code == 200, r.text
        evs = await c.sync()
        ev = assert_broadcast_pair(
            evs, "dependency", did, "deleted", "dependency_deleted", c.user_id
        )
        assert ev.dependency_id == did


async def test_dependencies_survive_a_deleted_end(srv: ServerProcess) -> None:
    # §4.8.2: no cascade; the other item still lists the dependency
    async with clients(srv.port, "new") as (c,):
        _p, (a, b, _) = await tasks(c)
        d = await c.dependency(a.id, b.id)
        await c.call("delete_work_item_request", work_item_id=a.id)
        listed = await c.call(GD, work_item_id=b.id)
        assert [x.id for x in listed.blocking] == [d.id]
        assert_error(await c.error(GD, work_item_id=a.id), "NOT_FOUND")
