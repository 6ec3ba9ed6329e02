"""References into a project the caller may not write, and links across projects
(docs/compat.md, "Authorization and broadcasts" and "Sync import").

WebSocket with JWT auth: Bob, who is no member of Alice's project, can neither link,
comment, log time nor change a sprint there; what he wrote while he was a member he can
no longer change once he is removed. REST (auth disabled: no members, but the same
project rules): links, parents and sprints stay in their project. Links that an older
version or the original stored across projects: the parent's owners may still delete
it, either side may remove a link, and an export leaves them out, so it imports. An
import stores no reference across projects either (the original's backups may hold
some: they are dropped, the rest imports), and one that would move an item or sprint
to another project is refused as a whole, naming the record.
"""

from __future__ import annotations

import copy
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest
from harness import not_on_robyn

from pm_fast.api import pm_pb2 as pb

from .conftest import ServerFactory
from .helpers import (
    assert_error,
    create_comment,
    create_dependency,
    create_item,
    create_project,
    create_sprint,
    export_all,
    ok,
    update_item,
)
from .wsclient import ServerProcess, WsClient, add_member, module_server
from .wsclient import assert_error as ws_error

SECRET = "cross-project-secret-of-at-least-32-bytes"


def bearer(sub: str) -> dict[str, str]:
    t = int(time.time())
    return {
        "Authorization": "Bearer "
        + jwt.encode({"sub": sub, "iat": t, "exp": t + 3600}, SECRET, algorithm="HS256")
    }


@pytest.fixture(scope="module")
def jwt_srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    yield from module_server(
        tmp_path_factory,
        "cross-refs-jwt",
        env={"PM_AUTH_ENABLED": "true", "PM_AUTH_JWT_SECRET": SECRET},
    )


async def connect(srv: ServerProcess, user: str) -> WsClient:
    return await WsClient.connect(srv.port, None, headers=bearer(user))


def remove_member(srv: ServerProcess, project_id: str, user_id: str) -> None:
    srv.sql(
        "DELETE FROM pm_project_members WHERE project_id = ? AND user_id = ?", (project_id, user_id)
    )


def denied(err: pb.Error) -> None:
    ws_error(err, "UNAUTHORIZED", "Not a member of this project")


@not_on_robyn("WebSocket upgrade headers")
async def test_a_non_member_cannot_write_through_references(jwt_srv: ServerProcess) -> None:
    alice_id, bob_id = str(uuid.uuid4()), str(uuid.uuid4())
    alice = await connect(jwt_srv, alice_id)
    bob = await connect(jwt_srv, bob_id)
    try:
        hers = await alice.project()
        a1 = await alice.item(hers.id, pb.TASK)
        a2 = await alice.item(hers.id, pb.TASK)
        sprint = await alice.sprint(hers.id)
        his = await bob.project()
        b1 = await bob.item(his.id, pb.TASK)

        # dependencies: both ends in one project, and a project the caller may write
        err = await bob.error(
            "create_dependency_request",
            blocking_item_id=b1.id,
            blocked_item_id=a1.id,
            dependency_type=pb.BLOCKS,
        )
        ws_error(err, "VALIDATION_ERROR", "same project")
        err = await bob.error(
            "create_dependency_request",
            blocking_item_id=a1.id,
            blocked_item_id=b1.id,
            dependency_type=pb.BLOCKS,
        )
        ws_error(err, "VALIDATION_ERROR", "same project")
        denied(
            await bob.error(
                "create_dependency_request",
                blocking_item_id=a1.id,
                blocked_item_id=a2.id,
                dependency_type=pb.BLOCKS,
            )
        )
        dep = (
            await alice.call(
                "create_dependency_request",
                blocking_item_id=a1.id,
                blocked_item_id=a2.id,
                dependency_type=pb.BLOCKS,
            )
        ).dependency
        denied(await bob.error("delete_dependency_request", dependency_id=dep.id))

        # comments, timers and time entries on her items
        denied(await bob.error("create_comment_request", work_item_id=a1.id, content="mine"))
        denied(await bob.error("start_timer_request", work_item_id=a1.id))
        t = int(time.time())
        denied(
            await bob.error(
                "create_time_entry_request", work_item_id=a1.id, started_at=t - 600, ended_at=t
            )
        )
        # her sprint
        denied(
            await bob.error(
                "update_sprint_request",
                sprint_id=sprint.id,
                expected_version=sprint.version,
                name="taken",
            )
        )

        # what Bob wrote as an editor, he cannot change once he is no member
        add_member(jwt_srv, hers.id, bob_id, "editor")
        comment = (
            await bob.call("create_comment_request", work_item_id=a1.id, content="as editor")
        ).comment
        manual = (
            await bob.call(
                "create_time_entry_request",
                work_item_id=a1.id,
                started_at=t - 600,
                ended_at=t - 300,
            )
        ).time_entry
        running = (await bob.call("start_timer_request", work_item_id=a2.id)).time_entry
        remove_member(jwt_srv, hers.id, bob_id)
        denied(await bob.error("update_comment_request", comment_id=comment.id, content="x"))
        denied(await bob.error("delete_comment_request", comment_id=comment.id))
        denied(
            await bob.error(
                "update_time_entry_request", time_entry_id=manual.id, description="changed"
            )
        )
        denied(await bob.error("delete_time_entry_request", time_entry_id=manual.id))
        denied(await bob.error("stop_timer_request", time_entry_id=running.id))

        # her project is as she left it (plus what Bob wrote as a member)
        comments = await alice.call("get_comments_request", work_item_id=a1.id)
        assert [(c.id, c.content) for c in comments.comments] == [(comment.id, "as editor")]
        entries = await alice.call("get_time_entries_request", work_item_id=a1.id)
        assert [(e.id, e.description) for e in entries.time_entries] == [(manual.id, "")]
        entries = await alice.call("get_time_entries_request", work_item_id=a2.id)
        assert [(e.id, e.ended_at) for e in entries.time_entries] == [(running.id, 0)]
        deps = await alice.call("get_dependencies_request", work_item_id=a2.id)
        assert [d.id for d in deps.blocking] == [dep.id]
        sprints = await alice.call("get_sprints_request", project_id=hers.id)
        assert [s.name for s in sprints.sprints] == [sprint.name]
        # and she may still do all of it
        await alice.call("delete_dependency_request", dependency_id=dep.id)
        await alice.call(
            "update_sprint_request", sprint_id=sprint.id, expected_version=sprint.version, name="S"
        )
    finally:
        await alice.close()
        await bob.close()


# -- REST, auth disabled: the project rules without members ------------------------
def test_rest_references_stay_in_their_project(api: httpx.Client) -> None:
    a = create_project(api)
    b = create_project(api)
    epic = create_item(api, a["id"], "epic")
    a_task = create_item(api, a["id"], "task")
    b_task = create_item(api, b["id"], "task")
    b_story = create_item(api, b["id"], "story")
    sprint = create_sprint(api, a["id"])

    r = api.post(
        "/api/v1/dependencies",
        json={
            "blocking_item_id": a_task["id"],
            "blocked_item_id": b_task["id"],
            "dependency_type": "blocks",
        },
    )
    assert_error(r, 400, "VALIDATION_ERROR", contains="same project", field="blocking_item_id")
    r = api.post(
        "/api/v1/work-items",
        json={"project_id": b["id"], "item_type": "story", "title": "s", "parent_id": epic["id"]},
    )
    assert_error(r, 400, "VALIDATION_ERROR", contains="same project", field="parent_id")
    r = update_item(
        api, b_story["id"], b_story["version"], parent_id=epic["id"], update_parent=True
    )
    assert_error(r, 400, "VALIDATION_ERROR", contains="same project", field="parent_id")
    r = update_item(api, b_task["id"], b_task["version"], sprint_id=sprint["id"])
    assert_error(r, 400, "VALIDATION_ERROR", contains="same project", field="sprint_id")
    assert ok(api.get(f"/api/v1/work-items/{b_task['id']}"))["work_item"]["version"] == 1


# -- links stored across projects ----------------------------------------------------
def _stored_cross_links(srv: ServerProcess, api: httpx.Client) -> dict[str, Any]:
    """Alice's epic with Bob's story (his project) as its only child, his task in her
    sprint, and a link from her task to his: written directly, as older versions could."""
    a = create_project(api)
    b = create_project(api)
    epic = create_item(api, a["id"], "epic")
    a_task = create_item(api, a["id"], "task")
    sprint = create_sprint(api, a["id"])
    b_story = create_item(api, b["id"], "story")
    b_task = create_item(api, b["id"], "task")
    srv.sql("UPDATE pm_work_items SET parent_id = ? WHERE id = ?", (epic["id"], b_story["id"]))
    srv.sql("UPDATE pm_work_items SET sprint_id = ? WHERE id = ?", (sprint["id"], b_task["id"]))
    dep = create_dependency(api, a_task["id"], create_item(api, a["id"], "task")["id"])
    srv.sql(
        "UPDATE pm_dependencies SET blocked_item_id = ? WHERE id = ?", (b_task["id"], dep["id"])
    )
    return {
        "a": a,
        "b": b,
        "epic": epic,
        "a_task": a_task,
        "sprint": sprint,
        "b_story": b_story,
        "b_task": b_task,
        "dep": dep["id"],
    }


def test_stored_cross_project_links_do_not_lock_anyone_out(
    server_factory: ServerFactory,
) -> None:
    srv = server_factory()
    with srv.client() as api:
        w = _stored_cross_links(srv, api)
        # both projects still read
        assert [
            i["id"]
            for i in ok(api.get(f"/api/v1/projects/{w['b']['id']}/work-items"))["work_items"]
        ] == [w["b_story"]["id"], w["b_task"]["id"]]
        # an export holds no reference across projects, and restores elsewhere
        data = export_all(api)
        items = {i["id"]: i for i in data["work_items"]}
        assert items[w["b_story"]["id"]]["parent_id"] is None
        assert items[w["b_task"]["id"]]["sprint_id"] is None
        assert w["dep"] not in [d["id"] for d in data["dependencies"]]
        other = server_factory()
        with other.client() as fresh:
            result = ok(fresh.post("/api/v1/sync/import", json=data))
            assert result["work_items"]["created"] == len(data["work_items"])
        # Alice's epic is not held by Bob's story: it deletes; his story stays his
        r = api.delete(f"/api/v1/work-items/{w['epic']['id']}")
        assert r.status_code in (200, 204), r.text
        story = ok(api.get(f"/api/v1/work-items/{w['b_story']['id']}"))["work_item"]
        assert story["project_id"] == w["b"]["id"]
        # the cross link can be removed
        r = api.delete(f"/api/v1/dependencies/{w['dep']}")
        assert r.status_code in (200, 204), r.text


@not_on_robyn("WebSocket upgrade headers")
async def test_stored_cross_links_over_websocket_with_members(
    server_factory: ServerFactory,
) -> None:
    srv = server_factory(env={"PM_AUTH_ENABLED": "true", "PM_AUTH_JWT_SECRET": SECRET})
    alice_id, bob_id = str(uuid.uuid4()), str(uuid.uuid4())
    alice = await connect(srv, alice_id)
    bob = await connect(srv, bob_id)
    try:
        hers = await alice.project()
        epic = await alice.item(hers.id, pb.EPIC)
        a_task = await alice.item(hers.id, pb.TASK)
        a_other = await alice.item(hers.id, pb.TASK)
        his = await bob.project()
        b_story = await bob.item(his.id, pb.STORY)
        b_task = await bob.item(his.id, pb.TASK)
        dep = (
            await alice.call(
                "create_dependency_request",
                blocking_item_id=a_task.id,
                blocked_item_id=a_other.id,
                dependency_type=pb.BLOCKS,
            )
        ).dependency
        srv.sql("UPDATE pm_work_items SET parent_id = ? WHERE id = ?", (epic.id, b_story.id))
        srv.sql("UPDATE pm_dependencies SET blocked_item_id = ? WHERE id = ?", (b_task.id, dep.id))
        # she sees only her items, and deletes her epic
        listed = await alice.call("get_work_items_request", project_id=hers.id)
        assert epic.id in [w.id for w in listed.work_items]
        assert b_story.id not in [w.id for w in listed.work_items]
        await alice.call("delete_work_item_request", work_item_id=epic.id)
        # Bob, editor of one end only, may remove the link into his project
        await bob.call("delete_dependency_request", dependency_id=dep.id)
        # a stranger to both projects may not
        carol = await connect(srv, str(uuid.uuid4()))
        try:
            srv.sql("UPDATE pm_dependencies SET deleted_at = NULL WHERE id = ?", (dep.id,))
            denied(await carol.error("delete_dependency_request", dependency_id=dep.id))
        finally:
            await carol.close()
    finally:
        await alice.close()
        await bob.close()


# -- import -------------------------------------------------------------------------
def _payload(api: httpx.Client) -> dict[str, Any]:
    a = create_project(api)
    b = create_project(api)
    epic = create_item(api, a["id"], "epic")
    create_item(api, a["id"], "story", parent_id=epic["id"])
    a_task = create_item(api, a["id"], "task")
    a_task2 = create_item(api, a["id"], "task")
    create_sprint(api, a["id"])
    create_item(api, b["id"], "story")
    create_item(api, b["id"], "task")
    create_dependency(api, a_task["id"], a_task2["id"])
    create_comment(api, a_task["id"], "hello")
    return export_all(api)


def _by_key(data: dict[str, Any], project: dict[str, Any], item_type: str) -> dict[str, Any]:
    return next(
        w
        for w in data["work_items"]
        if w["project_id"] == project["id"] and w["item_type"] == item_type
    )


@pytest.mark.parametrize("reference", ["parent", "sprint", "dependency"])
def test_an_import_keeps_references_inside_their_project(
    server_factory: ServerFactory, reference: str
) -> None:
    source = server_factory()
    with source.client() as api:
        data = _payload(api)
    owner = next(w["project_id"] for w in data["work_items"] if w["item_type"] == "epic")
    a = next(p for p in data["projects"] if p["id"] == owner)
    b = next(p for p in data["projects"] if p["id"] != owner)
    crossing = copy.deepcopy(data)
    epic = _by_key(crossing, a, "epic")
    b_story = _by_key(crossing, b, "story")
    b_task = _by_key(crossing, b, "task")
    if reference == "parent":
        b_story["parent_id"] = epic["id"]
    elif reference == "sprint":
        b_task["sprint_id"] = crossing["sprints"][0]["id"]
    else:
        crossing["dependencies"][0]["blocked_item_id"] = b_task["id"]

    target = server_factory()
    with target.client() as fresh:
        result = ok(fresh.post("/api/v1/sync/import", json=crossing))
        assert result["work_items"]["created"] == len(data["work_items"])
        got = export_all(fresh)
        items = {w["id"]: w for w in got["work_items"]}
        # everything but the crossing reference
        assert items[b_story["id"]]["parent_id"] is None
        assert items[b_task["id"]]["sprint_id"] is None
        if reference == "dependency":
            assert got["dependencies"] == []
            assert result["dependencies"] == {"created": 0, "updated": 0, "skipped": 1}
        else:
            assert [d["id"] for d in got["dependencies"]] == [d["id"] for d in data["dependencies"]]
        r = fresh.get(f"/api/v1/work-items/{b_story['id']}")
        assert ok(r)["work_item"]["parent_id"] is None
        # the epic of project A has no child in project B: it deletes after its story
        story_a = next(w for w in got["work_items"] if w["parent_id"] == epic["id"])
        assert story_a["project_id"] == a["id"]


def test_an_import_that_moves_a_row_to_another_project_is_refused(
    server_factory: ServerFactory,
) -> None:
    source = server_factory()
    with source.client() as api:
        data = _payload(api)
    target = server_factory()
    with target.client() as fresh:
        ok(fresh.post("/api/v1/sync/import", json=data))
        before = export_all(fresh)
        for kind in ("work_items", "sprints"):
            moved = copy.deepcopy(data)
            # the project with the sprint (projects are exported by title, random here)
            home = next(
                p for p in moved["projects"] if p["id"] == moved["sprints"][0]["project_id"]
            )
            other = next(p for p in moved["projects"] if p["id"] != home["id"])
            row = next(x for x in moved[kind] if x["project_id"] == home["id"])
            row["project_id"] = other["id"]
            row["updated_at"] += 10
            moved["projects"].append(dict(home, id=str(uuid.uuid4()), key="NEWPRJ"))
            r = fresh.post("/api/v1/sync/import", json=moved)
            err = assert_error(r, 400, "VALIDATION_ERROR", field="project_id")
            assert row["id"] in err["message"], err
            after = export_all(fresh)
            assert {k: v for k, v in after.items() if k != "exported_at"} == {
                k: v for k, v in before.items() if k != "exported_at"
            }


def test_a_parent_stored_in_another_project_is_not_taken(
    server_factory: ServerFactory,
) -> None:
    srv = server_factory()
    with srv.client() as api:
        a = create_project(api)
        epic = create_item(api, a["id"], "epic")
        data = export_all(api)
        for key in ("projects", "work_items", "sprints", "comments", "dependencies"):
            data[key] = []
        b = create_project(api)
        story = dict(create_item(api, b["id"], "story"))
        story["id"] = str(uuid.uuid4())
        story["item_number"] = 99
        story["parent_id"] = epic["id"]
        data["work_items"] = [story]
        ok(api.post("/api/v1/sync/import", json=data))
        assert ok(api.get(f"/api/v1/work-items/{story['id']}"))["work_item"]["parent_id"] is None
        r = api.delete(f"/api/v1/work-items/{epic['id']}")
        assert r.status_code in (200, 204), r.text
