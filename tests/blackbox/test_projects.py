"""§1.4 Projects: list / create / get / update / delete (+ compat.md decisions)."""

from __future__ import annotations

import time
import uuid

import httpx

from .helpers import (
    LLM_USER,
    PROJECT_KEYS,
    assert_error,
    assert_keys,
    assert_ts_between,
    assert_version_conflict,
    check_project,
    create_item,
    create_project,
    get_project,
    new_uuid,
    ok,
    uniq_key,
)


def test_create_project_shape_and_defaults(api: httpx.Client) -> None:
    key = uniq_key()
    t0 = time.time()
    r = api.post(
        "/api/v1/projects", json={"title": "  My Project  ", "key": key, "description": "  desc  "}
    )
    t1 = time.time()
    assert r.status_code == 200  # never 201
    body = ok(r)
    assert list(body.keys()) == ["project"]
    p = body["project"]
    assert_keys(p, PROJECT_KEYS)
    check_project(p)
    assert p["key"] == key
    assert p["title"] == "My Project"
    assert p["description"] == "desc"
    assert p["status"] == "active"
    assert p["version"] == 1
    assert p["next_work_item_number"] == 1
    assert p["created_by"] == LLM_USER
    assert p["updated_by"] == LLM_USER
    assert_ts_between(p["created_at"], t0, t1)
    assert p["updated_at"] == p["created_at"]


def test_create_project_key_trimmed_and_uppercased(api: httpx.Client) -> None:
    key = uniq_key()
    p = ok(api.post("/api/v1/projects", json={"title": "Lower", "key": f"  {key.lower()}  "}))[
        "project"
    ]
    assert p["key"] == key
    assert get_project(api, key)["id"] == p["id"]


def test_create_project_without_description_is_null(api: httpx.Client) -> None:
    p = create_project(api)
    assert p["description"] is None


def test_create_project_blank_description_is_null(api: httpx.Client) -> None:
    p = create_project(api, description="   ")
    assert p["description"] is None
    p2 = create_project(api, description="")
    assert p2["description"] is None


def test_create_project_with_user_header(api: httpx.Client) -> None:
    user = new_uuid()  # unknown well-formed id: created on first use (compat.md)
    p = create_project(api, user=user)
    assert p["created_by"] == user
    assert p["updated_by"] == user


def test_create_project_uppercase_user_header_normalised(api: httpx.Client) -> None:
    user = new_uuid()
    p = create_project(api, user=user.upper())
    assert p["created_by"] == user


def test_create_project_invalid_user_header_falls_back_to_llm(api: httpx.Client) -> None:
    key = uniq_key()
    r = api.post(
        "/api/v1/projects", json={"title": "t", "key": key}, headers={"X-User-Id": "not-a-uuid"}
    )
    p = ok(r)["project"]
    assert p["created_by"] == LLM_USER


def test_create_project_empty_title(api: httpx.Client) -> None:
    for title in ("", "   "):
        r = api.post("/api/v1/projects", json={"title": title, "key": uniq_key()})
        assert_error(r, 400, "VALIDATION_ERROR", field="title")


def test_create_project_empty_key(api: httpx.Client) -> None:
    for key in ("", "  "):
        r = api.post("/api/v1/projects", json={"title": "ok", "key": key})
        assert_error(r, 400, "VALIDATION_ERROR", field="key")


def test_create_project_no_length_limits_on_rest(api: httpx.Client) -> None:
    # spec §1.4 lists every project-create check: only emptiness of title and key; the
    # key has "no length or character-set validation on REST". compat.md changes none.
    long_title = "T" * 300
    p = create_project(api, title=long_title, description="d" * 12000)
    assert p["title"] == long_title
    assert p["description"] == "d" * 12000
    key = uniq_key() + "-" + "X" * 20
    q = ok(api.post("/api/v1/projects", json={"title": "k", "key": key.lower()}))["project"]
    assert q["key"] == key.upper()
    assert get_project(api, q["key"])["id"] == q["id"]
    u = ok(
        api.put(f"/api/v1/projects/{p['id']}", json={"title": "U" * 400, "expected_version": 1})
    )["project"]
    assert u["title"] == "U" * 400


def test_create_project_title_checked_before_key(api: httpx.Client) -> None:
    r = api.post("/api/v1/projects", json={"title": " ", "key": " "})
    assert_error(r, 400, "VALIDATION_ERROR", field="title")


def test_create_project_duplicate_key_conflict(api: httpx.Client) -> None:
    p = create_project(api)
    r = api.post("/api/v1/projects", json={"title": "Other", "key": p["key"]})
    assert_error(
        r, 409, "CONFLICT", f"Project with key '{p['key']}' already exists (current version: 1)"
    )
    # key is upper-cased before the check
    r = api.post("/api/v1/projects", json={"title": "Other", "key": p["key"].lower()})
    assert_error(
        r, 409, "CONFLICT", f"Project with key '{p['key']}' already exists (current version: 1)"
    )


def test_create_project_duplicate_key_reports_current_version(api: httpx.Client) -> None:
    p = create_project(api)
    p2 = ok(
        api.put(f"/api/v1/projects/{p['id']}", json={"title": "renamed", "expected_version": 1})
    )["project"]
    assert p2["version"] == 2
    r = api.post("/api/v1/projects", json={"title": "x", "key": p["key"]})
    assert_error(
        r, 409, "CONFLICT", f"Project with key '{p['key']}' already exists (current version: 2)"
    )


def test_create_project_missing_fields_422(api: httpx.Client) -> None:
    r = api.post("/api/v1/projects", json={"title": "only title"})
    assert_error(r, 422, "VALIDATION_ERROR", field=("key", "$.key"))
    r = api.post("/api/v1/projects", json={"key": uniq_key()})
    assert_error(r, 422, "VALIDATION_ERROR", field=("title", "$.title"))


def test_list_projects_envelope_and_order(api: httpx.Client) -> None:
    a = create_project(api, title="zz-order-b")
    b = create_project(api, title="zz-order-a")
    body = ok(api.get("/api/v1/projects"))
    assert list(body.keys()) == ["projects"]
    projects = body["projects"]
    for p in projects:
        check_project(p)
    titles = [p["title"] for p in projects]
    assert titles == sorted(titles)
    ids = [p["id"] for p in projects]
    assert ids.index(b["id"]) < ids.index(a["id"])
    listed = {p["id"]: p for p in projects}
    assert listed[a["id"]] == a


def test_list_projects_includes_archived(api: httpx.Client) -> None:
    p = create_project(api)
    ok(api.put(f"/api/v1/projects/{p['id']}", json={"status": "archived", "expected_version": 1}))
    listed = {x["id"]: x for x in ok(api.get("/api/v1/projects"))["projects"]}
    assert listed[p["id"]]["status"] == "archived"


def test_get_project_by_uuid_and_key(api: httpx.Client) -> None:
    p = create_project(api, description="d")
    body = ok(api.get(f"/api/v1/projects/{p['id']}"))
    assert list(body.keys()) == ["project"]
    assert body["project"] == p
    assert ok(api.get(f"/api/v1/projects/{p['key']}"))["project"] == p


def test_get_project_uuid_forms(api: httpx.Client) -> None:
    p = create_project(api)
    assert get_project(api, p["id"].upper())["id"] == p["id"]
    assert get_project(api, uuid.UUID(p["id"]).hex)["id"] == p["id"]


def test_get_project_not_found(api: httpx.Client) -> None:
    u = new_uuid()
    assert_error(
        api.get(f"/api/v1/projects/{u}"), 404, "NOT_FOUND", f"Project with ID {u} not found"
    )
    assert_error(
        api.get("/api/v1/projects/NOSUCHKEYX"),
        404,
        "NOT_FOUND",
        "Project with key 'NOSUCHKEYX' not found",
    )


def test_get_project_not_a_uuid_is_a_key(api: httpx.Client) -> None:
    assert_error(
        api.get("/api/v1/projects/not-a-uuid"),
        404,
        "NOT_FOUND",
        "Project with key 'not-a-uuid' not found",
    )


def test_get_project_key_is_case_sensitive(api: httpx.Client) -> None:
    p = create_project(api)
    assert_error(
        api.get(f"/api/v1/projects/{p['key'].lower()}"),
        404,
        "NOT_FOUND",
        f"Project with key '{p['key'].lower()}' not found",
    )


def test_update_project_fields(api: httpx.Client) -> None:
    p = create_project(api, description="old")
    user = new_uuid()
    t0 = time.time()
    r = api.put(
        f"/api/v1/projects/{p['id']}",
        json={
            "title": "  New title ",
            "description": " new ",
            "status": "archived",
            "expected_version": 1,
        },
        headers={"X-User-Id": user},
    )
    t1 = time.time()
    body = ok(r)
    assert list(body.keys()) == ["project"]
    u = body["project"]
    check_project(u)
    assert u["title"] == "New title"
    assert u["description"] == "new"
    assert u["status"] == "archived"
    assert u["version"] == 2
    assert u["updated_by"] == user
    assert u["created_by"] == LLM_USER
    assert u["created_at"] == p["created_at"]
    assert u["key"] == p["key"]
    assert u["next_work_item_number"] == 1
    assert_ts_between(u["updated_at"], t0, t1)
    assert get_project(api, p["id"]) == u


def test_update_project_by_key(api: httpx.Client) -> None:
    p = create_project(api)
    u = ok(
        api.put(f"/api/v1/projects/{p['key']}", json={"title": "by key", "expected_version": 1})
    )["project"]
    assert u["id"] == p["id"]
    assert u["title"] == "by key"
    assert u["version"] == 2


def test_update_project_empty_description_becomes_null(api: httpx.Client) -> None:
    p = create_project(api, description="something")
    u = ok(
        api.put(f"/api/v1/projects/{p['id']}", json={"description": "  ", "expected_version": 1})
    )["project"]
    assert u["description"] is None
    assert u["version"] == 2


def test_update_project_version_mismatch(api: httpx.Client) -> None:
    p = create_project(api)
    r = api.put(f"/api/v1/projects/{p['id']}", json={"title": "x", "expected_version": 5})
    assert_error(r, 409, "CONFLICT", "Version mismatch: expected 5, found 1 (current version: 1)")
    assert get_project(api, p["id"]) == p


def test_update_project_noop_keeps_version(api: httpx.Client) -> None:
    p = create_project(api, title="Same", description="same")
    r = api.put(
        f"/api/v1/projects/{p['id']}",
        json={"title": "Same", "description": "same", "status": "active", "expected_version": 1},
        headers={"X-User-Id": new_uuid()},
    )
    u = ok(r)["project"]
    assert u == p
    r = api.put(f"/api/v1/projects/{p['id']}", json={"expected_version": 1})
    assert ok(r)["project"] == p


def test_update_project_invalid_status(api: httpx.Client) -> None:
    p = create_project(api)
    r = api.put(f"/api/v1/projects/{p['id']}", json={"status": "closed", "expected_version": 1})
    assert_error(
        r,
        400,
        "VALIDATION_ERROR",
        "Invalid status: 'closed'. Valid values: active, archived",
        field="status",
    )


def test_update_project_empty_title(api: httpx.Client) -> None:
    p = create_project(api)
    r = api.put(f"/api/v1/projects/{p['id']}", json={"title": "   ", "expected_version": 1})
    assert_error(r, 400, "VALIDATION_ERROR", field="title")
    assert get_project(api, p["id"]) == p


def test_update_project_validation_order(api: httpx.Client) -> None:
    # 404 before version check
    u = new_uuid()
    r = api.put(f"/api/v1/projects/{u}", json={"title": "", "expected_version": 99})
    assert_error(r, 404, "NOT_FOUND", f"Project with ID {u} not found")
    # version check before field validation
    p = create_project(api)
    r = api.put(f"/api/v1/projects/{p['id']}", json={"title": "", "expected_version": 99})
    assert_version_conflict(r, 1)


def test_update_project_missing_expected_version_422(api: httpx.Client) -> None:
    p = create_project(api)
    r = api.put(f"/api/v1/projects/{p['id']}", json={"title": "x"})
    assert_error(r, 422, "VALIDATION_ERROR", field=("expected_version", "$.expected_version"))
    assert get_project(api, p["id"]) == p


def test_update_unknown_key_404(api: httpx.Client) -> None:
    r = api.put("/api/v1/projects/NOPEKEYZZ", json={"title": "x", "expected_version": 1})
    assert_error(r, 404, "NOT_FOUND", "Project with key 'NOPEKEYZZ' not found")


def test_delete_project_by_uuid(api: httpx.Client) -> None:
    p = create_project(api)
    r = api.delete(f"/api/v1/projects/{p['id']}")
    assert r.status_code == 200
    assert ok(r) == {"deleted_id": p["id"]}
    assert_error(api.get(f"/api/v1/projects/{p['id']}"), 404, "NOT_FOUND")
    assert_error(api.get(f"/api/v1/projects/{p['key']}"), 404, "NOT_FOUND")
    ids = [x["id"] for x in ok(api.get("/api/v1/projects"))["projects"]]
    assert p["id"] not in ids
    assert_error(
        api.delete(f"/api/v1/projects/{p['id']}"),
        404,
        "NOT_FOUND",
        f"Project with ID {p['id']} not found",
    )


def test_delete_project_by_key_returns_uuid(api: httpx.Client) -> None:
    p = create_project(api)
    assert ok(api.delete(f"/api/v1/projects/{p['key']}")) == {"deleted_id": p["id"]}
    assert_error(
        api.delete(f"/api/v1/projects/{p['key']}"),
        404,
        "NOT_FOUND",
        f"Project with key '{p['key']}' not found",
    )


def test_delete_project_with_live_items_refused(api: httpx.Client) -> None:
    # compat.md: a project with live work items cannot be deleted
    p = create_project(api)
    w = create_item(api, p["id"], "task")
    r = api.delete(f"/api/v1/projects/{p['id']}")
    assert_error(
        r,
        400,
        "VALIDATION_ERROR",
        field=(None, "project_id", "id"),
        contains="Cannot delete project with 1 work item(s)",
    )
    assert get_project(api, p["id"])["id"] == p["id"]
    ok(api.delete(f"/api/v1/work-items/{w['id']}"))
    assert ok(api.delete(f"/api/v1/projects/{p['id']}")) == {"deleted_id": p["id"]}


def test_delete_project_counts_live_items(api: httpx.Client) -> None:
    p = create_project(api)
    e = create_item(api, p["id"], "epic")
    create_item(api, p["id"], "story", parent_id=e["id"])
    create_item(api, p["id"], "task")
    r = api.delete(f"/api/v1/projects/{p['key']}")
    assert_error(
        r,
        400,
        "VALIDATION_ERROR",
        field=(None, "project_id", "id"),
        contains="Cannot delete project with 3 work item(s)",
    )


def test_reuse_key_of_deleted_project_conflict(api: httpx.Client) -> None:
    # compat.md: 409 "... already exists (deleted) (current version: V)"
    p = create_project(api)
    ok(api.put(f"/api/v1/projects/{p['id']}", json={"title": "v2", "expected_version": 1}))
    ok(api.delete(f"/api/v1/projects/{p['id']}"))
    r = api.post("/api/v1/projects", json={"title": "again", "key": p["key"]})
    assert_error(
        r,
        409,
        "CONFLICT",
        f"Project with key '{p['key']}' already exists (deleted) (current version: 2)",
    )


def test_archived_project_still_writable(api: httpx.Client) -> None:
    p = create_project(api)
    ok(api.put(f"/api/v1/projects/{p['id']}", json={"status": "archived", "expected_version": 1}))
    w = create_item(api, p["id"], "task", "in archived")
    assert w["display_key"] == f"{p['key']}-1"
    back = ok(
        api.put(f"/api/v1/projects/{p['id']}", json={"status": "active", "expected_version": 2})
    )["project"]
    assert back["status"] == "active"
    assert back["version"] == 3
    assert back["next_work_item_number"] == 2


def test_deleted_project_children_stay_reachable(api: httpx.Client) -> None:
    # soft deletes never cascade: a sprint of a deleted project is still readable by id
    from .helpers import create_sprint

    p = create_project(api)
    s = create_sprint(api, p["id"])
    ok(api.delete(f"/api/v1/projects/{p['id']}"))
    assert ok(api.get(f"/api/v1/sprints/{s['id']}"))["sprint"] == s
    assert_error(
        api.get(f"/api/v1/projects/{p['id']}/sprints"),
        404,
        "NOT_FOUND",
        f"Project with ID {p['id']} not found",
    )


def test_update_project_field_validation_order(api: httpx.Client) -> None:
    # §1.4: title -> description -> status
    p = create_project(api)
    r = api.put(
        f"/api/v1/projects/{p['id']}", json={"title": " ", "status": "bad", "expected_version": 1}
    )
    assert_error(r, 400, "VALIDATION_ERROR", field="title")
    r = api.put(
        f"/api/v1/projects/{p['id']}",
        json={"description": "", "status": "bad", "expected_version": 1},
    )
    assert_error(r, 400, "VALIDATION_ERROR", field="status")
    assert get_project(api, p["id"]) == p
