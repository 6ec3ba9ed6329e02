"""§1.4 Work items: create / get / update / delete, hierarchy and numbering rules."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from .helpers import (
    ANY_FIELD,
    LLM_USER,
    WORK_ITEM_KEYS,
    assert_error,
    assert_keys,
    assert_ts_between,
    assert_version_conflict,
    check_work_item,
    create_item,
    create_project,
    create_sprint,
    get_item,
    get_project,
    list_items,
    new_uuid,
    ok,
    uniq_key,
    update_item,
    wait_for_second_after,
)


def post_item(api: httpx.Client, **body: object) -> httpx.Response:
    return api.post("/api/v1/work-items", json=body)


# --------------------------------------------------------------------------- create
def test_create_work_item_shape(api: httpx.Client) -> None:
    p = create_project(api)
    t0 = time.time()
    r = post_item(
        api, project_id=p["id"], item_type="task", title="  Do it  ", description="  details  "
    )
    t1 = time.time()
    assert r.status_code == 200
    body = ok(r)
    assert list(body.keys()) == ["work_item"]
    w = body["work_item"]
    assert_keys(w, WORK_ITEM_KEYS)
    check_work_item(w)
    assert w["display_key"] == f"{p['key']}-1"
    assert w["item_type"] == "task"
    assert w["title"] == "Do it"
    assert w["description"] == "details"
    assert w["status"] == "backlog"
    assert w["priority"] == "medium"
    assert w["parent_id"] is None
    assert w["project_id"] == p["id"]
    assert w["assignee_id"] is None
    assert w["sprint_id"] is None
    assert w["story_points"] is None
    assert w["item_number"] == 1
    assert w["position"] == 1
    assert w["version"] == 1
    assert w["created_by"] == LLM_USER and w["updated_by"] == LLM_USER
    assert_ts_between(w["created_at"], t0, t1)
    assert w["updated_at"] == w["created_at"]
    assert get_item(api, w["id"]) == w


def test_create_work_item_with_status_priority_and_user(api: httpx.Client) -> None:
    p = create_project(api)
    user = new_uuid()
    w = create_item(
        api, p["id"], "story", "S", status="in_progress", priority="critical", user=user
    )
    assert (w["status"], w["priority"]) == ("in_progress", "critical")
    assert w["created_by"] == user and w["updated_by"] == user


@pytest.mark.parametrize("status", ["backlog", "todo", "in_progress", "review", "done"])
def test_create_work_item_each_status(api: httpx.Client, status: str) -> None:
    p = create_project(api)
    assert create_item(api, p["id"], "task", status=status)["status"] == status


@pytest.mark.parametrize("priority", ["low", "medium", "high", "critical"])
def test_create_work_item_each_priority(api: httpx.Client, priority: str) -> None:
    p = create_project(api)
    assert create_item(api, p["id"], "task", priority=priority)["priority"] == priority


def test_create_work_item_description_empty_string_kept(api: httpx.Client) -> None:
    p = create_project(api)
    assert create_item(api, p["id"], "task", description="")["description"] == ""
    assert create_item(api, p["id"], "task", description="   ")["description"] == ""
    assert create_item(api, p["id"], "task")["description"] is None


def test_numbering_and_project_counter(api: httpx.Client) -> None:
    p = create_project(api)
    items = [create_item(api, p["id"], "task") for _ in range(3)]
    assert [w["item_number"] for w in items] == [1, 2, 3]
    assert [w["display_key"] for w in items] == [f"{p['key']}-{n}" for n in (1, 2, 3)]
    proj = get_project(api, p["id"])
    assert proj["next_work_item_number"] == 4
    # creating items does not bump the project's version
    assert proj["version"] == 1
    # numbers are never reused
    ok(api.delete(f"/api/v1/work-items/{items[2]['id']}"))
    w4 = create_item(api, p["id"], "task")
    assert w4["item_number"] == 4
    assert w4["display_key"] == f"{p['key']}-4"


def test_numbering_is_per_project(api: httpx.Client) -> None:
    p = create_project(api)
    q = create_project(api)
    create_item(api, p["id"], "task")
    assert create_item(api, q["id"], "task")["item_number"] == 1
    assert create_item(api, p["id"], "task")["item_number"] == 2


def test_positions_per_parent_group(api: httpx.Client) -> None:
    p = create_project(api)
    e1 = create_item(api, p["id"], "epic")
    e2 = create_item(api, p["id"], "epic")
    o = create_item(api, p["id"], "task")  # orphan: same NULL-parent group as epics
    assert (e1["position"], e2["position"], o["position"]) == (1, 2, 3)
    s1 = create_item(api, p["id"], "story", parent_id=e1["id"])
    s2 = create_item(api, p["id"], "story", parent_id=e1["id"])
    s3 = create_item(api, p["id"], "story", parent_id=e2["id"])
    assert (s1["position"], s2["position"], s3["position"]) == (1, 2, 1)
    # position = max live sibling position + 1 (deleted siblings do not count)
    ok(api.delete(f"/api/v1/work-items/{s2['id']}"))
    s4 = create_item(api, p["id"], "story", parent_id=e1["id"])
    assert s4["position"] == 2
    # a sibling moved far away raises the max
    ok(update_item(api, s4["id"], 1, position=10))
    assert create_item(api, p["id"], "story", parent_id=e1["id"])["position"] == 11


def test_empty_parent_id_means_none(api: httpx.Client) -> None:
    p = create_project(api)
    w = create_item(api, p["id"], "story", parent_id="")
    assert w["parent_id"] is None


def test_valid_hierarchy(api: httpx.Client) -> None:
    p = create_project(api)
    e = create_item(api, p["id"], "epic")
    s = create_item(api, p["id"], "story", parent_id=e["id"])
    t = create_item(api, p["id"], "task", parent_id=s["id"])
    assert s["parent_id"] == e["id"] and t["parent_id"] == s["id"]


@pytest.mark.parametrize(
    ("parent_type", "child_type", "message"),
    [
        ("epic", "task", "Validation failed: Invalid hierarchy: Task cannot be a child of Epic"),
        ("epic", "epic", "Validation failed: Invalid hierarchy: Epic cannot be a child of Epic"),
        (
            "story",
            "story",
            "Validation failed: Invalid hierarchy: Story cannot be a child of Story",
        ),
        ("story", "epic", "Validation failed: Invalid hierarchy: Epic cannot be a child of Story"),
        ("task", "task", "Validation failed: Invalid hierarchy: Task cannot be a child of Task"),
        ("task", "story", "Validation failed: Invalid hierarchy: Story cannot be a child of Task"),
    ],
)
def test_invalid_hierarchy_on_create(
    api: httpx.Client, parent_type: str, child_type: str, message: str
) -> None:
    p = create_project(api)
    if parent_type == "epic":
        parent = create_item(api, p["id"], "epic")
    elif parent_type == "story":
        parent = create_item(api, p["id"], "story")
    else:
        parent = create_item(api, p["id"], "task")
    r = post_item(api, project_id=p["id"], item_type=child_type, title="c", parent_id=parent["id"])
    assert_error(r, 400, "VALIDATION_ERROR", message, field="parent_id")
    assert get_project(api, p["id"])["next_work_item_number"] == 2


def test_parent_not_found(api: httpx.Client) -> None:
    p = create_project(api)
    r = post_item(api, project_id=p["id"], item_type="story", title="c", parent_id=new_uuid())
    assert_error(
        r,
        400,
        "VALIDATION_ERROR",
        "Validation failed: Parent work item not found",
        field="parent_id",
    )
    e = create_item(api, p["id"], "epic")
    ok(api.delete(f"/api/v1/work-items/{e['id']}"))
    r = post_item(api, project_id=p["id"], item_type="story", title="c", parent_id=e["id"])
    assert_error(
        r,
        400,
        "VALIDATION_ERROR",
        "Validation failed: Parent work item not found",
        field="parent_id",
    )


def test_cross_project_parent_refused(api: httpx.Client) -> None:
    # the original allowed it (docs/compat.md): an item under another project's epic
    p = create_project(api)
    q = create_project(api)
    e = create_item(api, p["id"], "epic")
    r = post_item(api, project_id=q["id"], item_type="story", title="x", parent_id=e["id"])
    assert_error(
        r,
        400,
        "VALIDATION_ERROR",
        "Validation failed: Parent work item must be in the same project",
        field="parent_id",
    )
    s = create_item(api, q["id"], "story")
    r = api.put(
        f"/api/v1/work-items/{s['id']}",
        json={"parent_id": e["id"], "update_parent": True, "expected_version": s["version"]},
    )
    assert_error(r, 400, "VALIDATION_ERROR", field="parent_id")
    assert list_items(api, q["id"]) == [s] and get_item(api, e["id"])["version"] == 1


def test_sprint_of_another_project_refused(api: httpx.Client) -> None:
    p = create_project(api)
    q = create_project(api)
    sprint = create_sprint(api, p["id"])
    w = create_item(api, q["id"], "task")
    r = api.put(
        f"/api/v1/work-items/{w['id']}",
        json={"sprint_id": sprint["id"], "expected_version": w["version"]},
    )
    assert_error(
        r,
        400,
        "VALIDATION_ERROR",
        f"Sprint {sprint['id']} must be in the same project as the work item",
        field="sprint_id",
    )
    assert get_item(api, w["id"]) == w


def test_invalid_item_type(api: httpx.Client) -> None:
    p = create_project(api)
    r = post_item(api, project_id=p["id"], item_type="bug", title="x")
    assert_error(
        r,
        400,
        "VALIDATION_ERROR",
        "Invalid item_type: bug. Valid values: epic, story, task",
        field="item_type",
    )
    r = post_item(api, project_id=p["id"], item_type="Epic", title="x")
    assert_error(r, 400, "VALIDATION_ERROR", field="item_type")


def test_title_validation(api: httpx.Client) -> None:
    p = create_project(api)
    for title in ("", "   "):
        r = post_item(api, project_id=p["id"], item_type="task", title=title)
        err = assert_error(r, 400, "VALIDATION_ERROR", field="title")
        assert err["message"].startswith("Invalid message: ")
    r = post_item(api, project_id=p["id"], item_type="task", title="x" * 201)
    err = assert_error(r, 400, "VALIDATION_ERROR", field="title")
    assert err["message"].startswith("Invalid message: ")
    assert "200" in err["message"]
    assert create_item(api, p["id"], "task", "x" * 200)["title"] == "x" * 200
    assert get_project(api, p["id"])["next_work_item_number"] == 2


def test_title_length_counts_characters_not_bytes(api: httpx.Client) -> None:
    p = create_project(api)
    title = "\U0001f600" * 200  # 200 chars, 800 UTF-8 bytes
    assert create_item(api, p["id"], "task", title)["title"] == title
    r = post_item(api, project_id=p["id"], item_type="task", title="é" * 201)
    assert_error(r, 400, "VALIDATION_ERROR", field="title")


def test_title_trimmed_before_length_check(api: httpx.Client) -> None:
    # compat.md: text is trimmed first
    p = create_project(api)
    w = create_item(api, p["id"], "task", "   " + "y" * 200 + "   ")
    assert w["title"] == "y" * 200


def test_description_length(api: httpx.Client) -> None:
    p = create_project(api)
    r = post_item(api, project_id=p["id"], item_type="task", title="t", description="d" * 10001)
    assert_error(r, 400, "VALIDATION_ERROR", field="description")
    w = create_item(api, p["id"], "task", description="d" * 10000)
    assert w["description"] == "d" * 10000


def test_bad_uuids_on_create(api: httpx.Client) -> None:
    p = create_project(api)
    r = post_item(api, project_id=p["key"], item_type="task", title="t")
    err = assert_error(r, 400, "VALIDATION_ERROR", field=ANY_FIELD)
    assert err["message"].startswith("Invalid UUID format: ")
    e = create_item(api, p["id"], "epic")
    r = post_item(api, project_id=p["id"], item_type="story", title="t", parent_id=e["display_key"])
    err = assert_error(r, 400, "VALIDATION_ERROR", field=ANY_FIELD)
    assert err["message"].startswith("Invalid UUID format: ")


def test_unknown_project_on_create(api: httpx.Client) -> None:
    u = new_uuid()
    r = post_item(api, project_id=u, item_type="task", title="t")
    assert_error(r, 404, "NOT_FOUND", f"Project {u} not found")


def test_deleted_project_on_create(api: httpx.Client) -> None:
    p = create_project(api)
    ok(api.delete(f"/api/v1/projects/{p['id']}"))
    r = post_item(api, project_id=p["id"], item_type="task", title="t")
    assert_error(r, 404, "NOT_FOUND", f"Project {p['id']} not found")


def test_create_status_priority_validated(api: httpx.Client) -> None:
    # compat.md: 400 instead of 500; `blocked` refused
    p = create_project(api)
    for status in ("blocked", "bogus", "Done"):
        r = post_item(api, project_id=p["id"], item_type="task", title="t", status=status)
        assert_error(r, 400, "VALIDATION_ERROR", field="status")
    for priority in ("urgent", "HIGH"):
        r = post_item(api, project_id=p["id"], item_type="task", title="t", priority=priority)
        assert_error(r, 400, "VALIDATION_ERROR", field="priority")
    assert get_project(api, p["id"])["next_work_item_number"] == 1
    assert ok(
        api.get(f"/api/v1/projects/{p['id']}/work-items", params={"include_done": "true"})
    ) == {"work_items": []}


def test_create_validation_order(api: httpx.Client) -> None:
    p = create_project(api)
    u = new_uuid()
    # item_type first
    r = post_item(api, project_id="bad", item_type="bug", title="", parent_id="bad")
    assert_error(r, 400, "VALIDATION_ERROR", field="item_type")
    # then title
    r = post_item(api, project_id="bad", item_type="task", title="", parent_id="bad")
    assert_error(r, 400, "VALIDATION_ERROR", field="title")
    # then UUIDs
    r = post_item(api, project_id="bad", item_type="task", title="t")
    err = assert_error(r, 400, "VALIDATION_ERROR", field=ANY_FIELD)
    assert err["message"].startswith("Invalid UUID format")
    # parent checks come before the project lookup
    r = post_item(api, project_id=u, item_type="story", title="t", parent_id=new_uuid())
    assert_error(
        r,
        400,
        "VALIDATION_ERROR",
        "Validation failed: Parent work item not found",
        field="parent_id",
    )
    assert p


def test_create_missing_fields_422(api: httpx.Client) -> None:
    p = create_project(api)
    r = post_item(api, project_id=p["id"], title="t")
    assert_error(r, 422, "VALIDATION_ERROR", field=("item_type", "$.item_type"))
    r = post_item(api, project_id=p["id"], item_type="task")
    assert_error(r, 422, "VALIDATION_ERROR", field=("title", "$.title"))
    r = post_item(api, item_type="task", title="t")
    assert_error(r, 422, "VALIDATION_ERROR", field=("project_id", "$.project_id"))


# --------------------------------------------------------------------------- get
def test_get_by_uuid_and_display_key(api: httpx.Client) -> None:
    p = create_project(api)
    w = create_item(api, p["id"], "task")
    body = ok(api.get(f"/api/v1/work-items/{w['id']}"))
    assert list(body.keys()) == ["work_item"]
    assert body["work_item"] == w
    assert ok(api.get(f"/api/v1/work-items/{w['display_key']}"))["work_item"] == w
    assert ok(api.get(f"/api/v1/work-items/{w['id'].upper()}"))["work_item"] == w


def test_get_not_found(api: httpx.Client) -> None:
    u = new_uuid()
    assert_error(
        api.get(f"/api/v1/work-items/{u}"), 404, "NOT_FOUND", f"Work item with ID {u} not found"
    )
    p = create_project(api)
    assert_error(
        api.get(f"/api/v1/work-items/{p['key']}-999"),
        404,
        "NOT_FOUND",
        f"Work item {p['key']}-999 not found in project {p['key']}",
    )


# --------------------------------------------------------------------------- update
def test_update_all_fields(api: httpx.Client) -> None:
    p = create_project(api)
    s = create_sprint(api, p["id"])
    e = create_item(api, p["id"], "epic")
    st = create_item(api, p["id"], "story")
    assignee = new_uuid()
    ok(
        api.post(
            "/api/v1/projects",
            json={"title": "mk user", "key": uniq_key()},
            headers={"X-User-Id": assignee},
        )
    )  # makes the user exist
    editor = new_uuid()
    t0 = time.time()
    r = update_item(
        api,
        st["id"],
        1,
        user=editor,
        title="  new  ",
        description=" d ",
        status="in_progress",
        priority="high",
        assignee_id=assignee,
        sprint_id=s["id"],
        story_points=8,
        parent_id=e["id"],
        update_parent=True,
        position=7,
    )
    t1 = time.time()
    body = ok(r)
    assert list(body.keys()) == ["work_item"]
    u = body["work_item"]
    check_work_item(u)
    assert u["title"] == "new"
    assert u["description"] == "d"
    assert u["status"] == "in_progress"
    assert u["priority"] == "high"
    assert u["assignee_id"] == assignee
    assert u["sprint_id"] == s["id"]
    assert u["story_points"] == 8
    assert u["parent_id"] == e["id"]
    assert u["position"] == 7
    assert u["version"] == 2
    assert u["updated_by"] == editor
    assert u["created_by"] == LLM_USER
    assert u["created_at"] == st["created_at"]
    assert u["item_number"] == st["item_number"]
    assert u["display_key"] == st["display_key"]
    assert_ts_between(u["updated_at"], t0, t1)
    assert get_item(api, st["id"]) == u


def test_update_by_display_key(api: httpx.Client) -> None:
    p = create_project(api)
    w = create_item(api, p["id"], "task")
    u = ok(update_item(api, w["display_key"], 1, title="via key"))["work_item"]
    assert u["id"] == w["id"] and u["title"] == "via key" and u["version"] == 2


def test_update_version_mismatch(api: httpx.Client) -> None:
    p = create_project(api)
    w = create_item(api, p["id"], "task")
    ok(update_item(api, w["id"], 1, title="v2"))
    r = update_item(api, w["id"], 1, title="stale")
    assert_version_conflict(
        r, 2, "Version mismatch - work item was modified by another user (current version: 2)"
    )
    assert get_item(api, w["id"])["title"] == "v2"


def test_update_noop_does_not_bump(api: httpx.Client) -> None:
    # compat.md: a no-op update returns the item unchanged
    p = create_project(api)
    w = create_item(api, p["id"], "task", "same", description="d", priority="low")
    assert ok(update_item(api, w["id"], 1))["work_item"] == w
    assert (
        ok(
            update_item(
                api,
                w["id"],
                1,
                title="same",
                description="d",
                priority="low",
                status="backlog",
                user=new_uuid(),
            )
        )["work_item"]
        == w
    )
    assert get_item(api, w["id"]) == w


def test_update_clears_assignee_and_sprint(api: httpx.Client) -> None:
    p = create_project(api)
    s = create_sprint(api, p["id"])
    w = create_item(api, p["id"], "task")
    w = ok(update_item(api, w["id"], 1, assignee_id=LLM_USER, sprint_id=s["id"]))["work_item"]
    assert (w["assignee_id"], w["sprint_id"]) == (LLM_USER, s["id"])
    w = ok(update_item(api, w["id"], 2, assignee_id="", sprint_id=""))["work_item"]
    assert (w["assignee_id"], w["sprint_id"]) == (None, None)
    assert w["version"] == 3


def test_update_description_empty_stays_empty_string(api: httpx.Client) -> None:
    p = create_project(api)
    w = create_item(api, p["id"], "task", description="text")
    u = ok(update_item(api, w["id"], 1, description="  "))["work_item"]
    assert u["description"] == ""


def test_parent_only_applied_with_update_parent(api: httpx.Client) -> None:
    p = create_project(api)
    e1 = create_item(api, p["id"], "epic")
    e2 = create_item(api, p["id"], "epic")
    s = create_item(api, p["id"], "story", parent_id=e1["id"])
    u = ok(update_item(api, s["id"], 1, parent_id=e2["id"], title="t2"))["work_item"]
    assert u["parent_id"] == e1["id"]
    u = ok(update_item(api, s["id"], 2, parent_id=e2["id"], update_parent=True))["work_item"]
    assert u["parent_id"] == e2["id"] and u["version"] == 3
    # update_parent with no parent_id clears, as does ""
    u = ok(update_item(api, s["id"], 3, update_parent=True))["work_item"]
    assert u["parent_id"] is None
    u = ok(update_item(api, s["id"], 4, parent_id=e1["id"], update_parent=True))["work_item"]
    assert u["parent_id"] == e1["id"]
    u = ok(update_item(api, s["id"], 5, parent_id="", update_parent=True))["work_item"]
    assert u["parent_id"] is None


def test_update_status_values(api: httpx.Client) -> None:
    p = create_project(api)
    w = create_item(api, p["id"], "task")
    v = 1
    for status in ("todo", "in_progress", "review", "done", "backlog"):
        w = ok(update_item(api, w["id"], v, status=status))["work_item"]
        v += 1
        assert w["status"] == status and w["version"] == v
    for bad in ("blocked", "bogus"):
        assert_error(
            update_item(api, w["id"], v, status=bad), 400, "VALIDATION_ERROR", field="status"
        )
    assert_error(
        update_item(api, w["id"], v, priority="urgent"), 400, "VALIDATION_ERROR", field="priority"
    )
    assert get_item(api, w["id"]) == w


def test_update_title_and_description_limits(api: httpx.Client) -> None:
    p = create_project(api)
    w = create_item(api, p["id"], "task")
    assert_error(update_item(api, w["id"], 1, title=" "), 400, "VALIDATION_ERROR", field="title")
    assert_error(
        update_item(api, w["id"], 1, title="z" * 201), 400, "VALIDATION_ERROR", field="title"
    )
    assert_error(
        update_item(api, w["id"], 1, description="d" * 10001),
        400,
        "VALIDATION_ERROR",
        "Description exceeds maximum length (10000 characters)",
        field="description",
    )
    assert get_item(api, w["id"]) == w


def test_update_story_points_and_position_ranges(api: httpx.Client) -> None:
    # compat.md: story points 0-100, position >= 0 on REST too
    p = create_project(api)
    w = create_item(api, p["id"], "task")
    for sp in (-1, 101, 1000):
        assert_error(
            update_item(api, w["id"], 1, story_points=sp),
            400,
            "VALIDATION_ERROR",
            field=(None, "story_points"),
        )
    assert_error(
        update_item(api, w["id"], 1, position=-1), 400, "VALIDATION_ERROR", field=(None, "position")
    )
    assert get_item(api, w["id"]) == w
    w = ok(update_item(api, w["id"], 1, story_points=0, position=0))["work_item"]
    assert (w["story_points"], w["position"]) == (0, 0)
    w = ok(update_item(api, w["id"], 2, story_points=100))["work_item"]
    assert w["story_points"] == 100


def test_update_unknown_assignee_or_sprint(api: httpx.Client) -> None:
    # compat.md: 400 field assignee_id / sprint_id (assignees are not auto-created)
    p = create_project(api)
    w = create_item(api, p["id"], "task")
    assert_error(
        update_item(api, w["id"], 1, assignee_id=new_uuid()),
        400,
        "VALIDATION_ERROR",
        field="assignee_id",
    )
    assert_error(
        update_item(api, w["id"], 1, sprint_id=new_uuid()),
        400,
        "VALIDATION_ERROR",
        field="sprint_id",
    )
    err = assert_error(
        update_item(api, w["id"], 1, assignee_id="nope"), 400, "VALIDATION_ERROR", field=ANY_FIELD
    )
    assert "nope" in err["message"] or err["message"].startswith("Invalid UUID format")
    assert_error(
        update_item(api, w["id"], 1, sprint_id="nope"), 400, "VALIDATION_ERROR", field=ANY_FIELD
    )
    assert get_item(api, w["id"]) == w


def test_update_soft_deleted_sprint_accepted(api: httpx.Client) -> None:
    p = create_project(api)
    s = create_sprint(api, p["id"])
    ok(api.delete(f"/api/v1/sprints/{s['id']}"))
    w = create_item(api, p["id"], "task")
    r = update_item(api, w["id"], 1, sprint_id=s["id"])
    # the spec accepts a soft-deleted sprint id; compat.md only turns unknown ids into 400
    assert ok(r)["work_item"]["sprint_id"] == s["id"]


def test_reparent_rules(api: httpx.Client) -> None:
    # compat.md: reparenting checks hierarchy type, self-parent and cycles
    p = create_project(api)
    e = create_item(api, p["id"], "epic")
    s = create_item(api, p["id"], "story", parent_id=e["id"])
    t = create_item(api, p["id"], "task", parent_id=s["id"])
    cases = [
        (t["id"], e["id"]),  # task under epic
        (s["id"], s["id"]),  # self
        (s["id"], t["id"]),  # story under its own task (cycle + type)
        (e["id"], s["id"]),  # epic under story (cycle + type)
        (e["id"], e["id"]),  # self
    ]
    for child, parent in cases:
        cur = get_item(api, child)
        r = update_item(api, child, cur["version"], parent_id=parent, update_parent=True)
        assert_error(r, 400, "VALIDATION_ERROR", field="parent_id")
        assert get_item(api, child) == cur
    r = update_item(api, s["id"], 1, parent_id=s["id"], update_parent=True)
    assert_error(r, 400, "VALIDATION_ERROR", field="parent_id", contains="own parent")
    r = update_item(api, t["id"], 1, parent_id=e["id"], update_parent=True)
    assert_error(
        r, 400, "VALIDATION_ERROR", field="parent_id", contains="Task cannot be a child of Epic"
    )


def test_reparent_parent_must_be_uuid_and_exist(api: httpx.Client) -> None:
    p = create_project(api)
    e = create_item(api, p["id"], "epic")
    s = create_item(api, p["id"], "story")
    r = update_item(api, s["id"], 1, parent_id=e["display_key"], update_parent=True)
    assert_error(r, 400, "VALIDATION_ERROR", field=ANY_FIELD)
    r = update_item(api, s["id"], 1, parent_id=new_uuid(), update_parent=True)
    assert_error(r, 400, "VALIDATION_ERROR", field="parent_id")
    assert get_item(api, s["id"]) == s


def test_update_not_found_before_version(api: httpx.Client) -> None:
    u = new_uuid()
    assert_error(
        update_item(api, u, 99, title=""), 404, "NOT_FOUND", f"Work item with ID {u} not found"
    )
    p = create_project(api)
    w = create_item(api, p["id"], "task")
    # version checked before field validation
    assert_version_conflict(update_item(api, w["id"], 99, title=""), 1)


def test_update_missing_expected_version(api: httpx.Client) -> None:
    p = create_project(api)
    w = create_item(api, p["id"], "task")
    r = api.put(f"/api/v1/work-items/{w['id']}", json={"title": "x"})
    assert_error(r, 422, "VALIDATION_ERROR", field=("expected_version", "$.expected_version"))
    r = api.put(f"/api/v1/work-items/{w['id']}", json={"title": "x", "expected_version": "1"})
    assert_error(r, 422, "VALIDATION_ERROR", field=("expected_version", "$.expected_version"))
    assert get_item(api, w["id"]) == w


# --------------------------------------------------------------------------- delete
def test_delete_work_item(api: httpx.Client) -> None:
    p = create_project(api)
    w = create_item(api, p["id"], "task")
    r = api.delete(f"/api/v1/work-items/{w['id']}")
    assert r.status_code == 200
    assert ok(r) == {"deleted_id": w["id"]}
    assert_error(
        api.get(f"/api/v1/work-items/{w['id']}"),
        404,
        "NOT_FOUND",
        f"Work item with ID {w['id']} not found",
    )
    assert_error(
        api.get(f"/api/v1/work-items/{w['display_key']}"),
        404,
        "NOT_FOUND",
        f"Work item {w['display_key']} not found in project {p['key']}",
    )
    assert_error(api.delete(f"/api/v1/work-items/{w['id']}"), 404, "NOT_FOUND")
    assert_error(update_item(api, w["id"], 1, title="x"), 404, "NOT_FOUND")


def test_delete_by_display_key_returns_uuid(api: httpx.Client) -> None:
    p = create_project(api)
    w = create_item(api, p["id"], "task")
    assert ok(api.delete(f"/api/v1/work-items/{w['display_key']}")) == {"deleted_id": w["id"]}


def test_delete_with_children_refused(api: httpx.Client) -> None:
    p = create_project(api)
    e = create_item(api, p["id"], "epic")
    s1 = create_item(api, p["id"], "story", parent_id=e["id"])
    s2 = create_item(api, p["id"], "story", parent_id=e["id"])
    r = api.delete(f"/api/v1/work-items/{e['id']}")
    assert_error(
        r,
        400,
        "VALIDATION_ERROR",
        "Cannot delete work item with 2 child item(s). Delete children first.",
    )
    ok(api.delete(f"/api/v1/work-items/{s1['id']}"))
    r = api.delete(f"/api/v1/work-items/{e['display_key']}")
    assert_error(
        r,
        400,
        "VALIDATION_ERROR",
        "Cannot delete work item with 1 child item(s). Delete children first.",
    )
    ok(api.delete(f"/api/v1/work-items/{s2['id']}"))
    assert ok(api.delete(f"/api/v1/work-items/{e['id']}")) == {"deleted_id": e["id"]}


def test_deleted_item_keeps_children_data_alive(api: httpx.Client, server: Any) -> None:
    # soft deletes never cascade: the comment row of a deleted item stays live; the
    # export leaves it out, as an import could not restore it (docs/compat.md)
    p = create_project(api)
    w = create_item(api, p["id"], "task")
    cm = ok(api.post(f"/api/v1/work-items/{w['id']}/comments", json={"content": "c"}))["comment"]
    ok(api.delete(f"/api/v1/work-items/{w['id']}"))
    assert server.sql("SELECT deleted_at FROM pm_comments WHERE id = ?", (cm["id"],)) == [(None,)]
    exported = ok(api.get("/api/v1/sync/export"))
    assert cm["id"] not in {c["id"] for c in exported["comments"]}
    assert w["id"] not in {x["id"] for x in exported["work_items"]}


# --------------------------------------------------------------------------- concurrency
def test_concurrent_creates_get_unique_numbers(server) -> None:  # type: ignore[no-untyped-def]
    from concurrent.futures import ThreadPoolExecutor

    with server.client() as c:
        p = create_project(c)

    def worker(n: int) -> list[int]:
        with server.client() as c:
            return [create_item(c, p["id"], "task", f"w{n}-{i}")["item_number"] for i in range(10)]

    with ThreadPoolExecutor(4) as pool:
        numbers = [x for chunk in pool.map(worker, range(4)) for x in chunk]
    assert sorted(numbers) == list(range(1, 41))
    with server.client() as c:
        assert get_project(c, p["id"])["next_work_item_number"] == 41
        items = ok(c.get(f"/api/v1/projects/{p['id']}/work-items"))["work_items"]
        assert sorted(w["display_key"] for w in items) == sorted(
            f"{p['key']}-{n}" for n in range(1, 41)
        )


def test_concurrent_updates_same_version_one_wins(server) -> None:  # type: ignore[no-untyped-def]
    from concurrent.futures import ThreadPoolExecutor

    with server.client() as c:
        p = create_project(c)
        w = create_item(c, p["id"], "task")

    def worker(n: int) -> int:
        with server.client() as c:
            return update_item(c, w["id"], 1, title=f"writer {n}").status_code

    with ThreadPoolExecutor(6) as pool:
        statuses = list(pool.map(worker, range(6)))
    assert sorted(statuses) == [200] + [409] * 5
    with server.client() as c:
        final = get_item(c, w["id"])
    assert final["version"] == 2
    assert final["title"].startswith("writer ")


def test_deleted_item_rejects_sub_resources(api: httpx.Client) -> None:
    p = create_project(api)
    w = create_item(api, p["id"], "task")
    ok(api.delete(f"/api/v1/work-items/{w['id']}"))
    msg = f"Work item with ID {w['id']} not found"
    assert_error(
        api.post(f"/api/v1/work-items/{w['id']}/comments", json={"content": "x"}),
        404,
        "NOT_FOUND",
        msg,
    )
    assert_error(api.get(f"/api/v1/work-items/{w['id']}/comments"), 404, "NOT_FOUND", msg)
    assert_error(api.get(f"/api/v1/work-items/{w['id']}/time-entries"), 404, "NOT_FOUND", msg)
    assert_error(api.get(f"/api/v1/work-items/{w['id']}/dependencies"), 404, "NOT_FOUND", msg)
    r = api.post(
        "/api/v1/time-entries", json={"work_item_id": w["id"]}, headers={"X-User-Id": new_uuid()}
    )
    assert_error(r, 404, "NOT_FOUND", field=(None, "work_item_id"), contains=w["id"])


def test_update_bumps_updated_at_noop_keeps_it(api: httpx.Client, server) -> None:  # type: ignore[no-untyped-def]
    from .helpers import db_query

    p = create_project(api)
    w = create_item(api, p["id"], "task", "v1")
    wait_for_second_after(w["updated_at"])
    assert ok(update_item(api, w["id"], 1, title="v1"))["work_item"] == w
    u = ok(update_item(api, w["id"], 1, title="v2"))["work_item"]
    assert u["updated_at"] > w["updated_at"]
    assert u["created_at"] == w["created_at"]
    # soft delete sets deleted_at, updated_at and updated_by; the version is unchanged
    other = new_uuid()
    wait_for_second_after(u["updated_at"])
    t0 = time.time()
    ok(api.delete(f"/api/v1/work-items/{w['id']}", headers={"X-User-Id": other}))
    t1 = time.time()
    row = db_query(
        server.db_path,
        "SELECT version, updated_by, updated_at, deleted_at FROM pm_work_items WHERE id = ?",
        (w["id"],),
    )
    assert len(row) == 1
    version, updated_by, updated_at, deleted_at = row[0]
    assert (version, updated_by) == (2, other)
    assert_ts_between(deleted_at, t0, t1)
    assert updated_at == deleted_at


def test_update_validation_order(api: httpx.Client) -> None:
    # §1.4: title -> description -> status -> priority -> assignee/sprint
    p = create_project(api)
    w = create_item(api, p["id"], "task")
    r = update_item(
        api, w["id"], 1, title="", description="d" * 10001, status="bad", priority="bad"
    )
    assert_error(r, 400, "VALIDATION_ERROR", field="title")
    r = update_item(api, w["id"], 1, description="d" * 10001, status="bad", priority="bad")
    assert_error(r, 400, "VALIDATION_ERROR", field="description")
    r = update_item(api, w["id"], 1, status="bad", priority="bad", assignee_id="x")
    assert_error(r, 400, "VALIDATION_ERROR", field="status")
    r = update_item(api, w["id"], 1, priority="bad", assignee_id="x", sprint_id="y")
    assert_error(r, 400, "VALIDATION_ERROR", field="priority")
    assert get_item(api, w["id"]) == w
