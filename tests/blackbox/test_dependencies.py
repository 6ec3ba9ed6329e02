# mypy: disable-error-code="no-any-return"
"""§1.4 Dependencies, §2.7 cycle detection (+ compat.md: same project, 50 limit, re-create)."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx

from .helpers import (
    ANY_FIELD,
    DEPENDENCY_KEYS,
    LLM_USER,
    assert_error,
    assert_keys,
    assert_ts_between,
    check_dependency,
    create_dependency,
    create_item,
    create_project,
    new_uuid,
    ok,
)

Obj = dict[str, Any]


def post_dep(
    api: httpx.Client, blocking: str, blocked: str, kind: str = "blocks", **headers: str
) -> httpx.Response:
    return api.post(
        "/api/v1/dependencies",
        json={
            "blocking_item_id": blocking,
            "blocked_item_id": blocked,
            "dependency_type": kind,
        },
        headers=headers,
    )


def deps_of(api: httpx.Client, ident: str) -> list[dict[str, Any]]:
    body = ok(api.get(f"/api/v1/work-items/{ident}/dependencies"))
    assert list(body.keys()) == ["dependencies"]
    return body["dependencies"]


def three(api: httpx.Client) -> tuple[Obj, Obj, Obj, Obj]:
    p = create_project(api)
    a = create_item(api, p["id"], "task", "A")
    b = create_item(api, p["id"], "task", "B")
    c = create_item(api, p["id"], "task", "C")
    return p, a, b, c


def test_create_dependency_bare_object(api: httpx.Client) -> None:
    _, a, b, _ = three(api)
    t0 = time.time()
    r = post_dep(api, a["id"], b["id"])
    t1 = time.time()
    assert r.status_code == 200
    d = ok(r)
    assert_keys(d, DEPENDENCY_KEYS)  # bare object, no envelope
    check_dependency(d)
    assert d["blocking_item_id"] == a["id"]
    assert d["blocked_item_id"] == b["id"]
    assert d["dependency_type"] == "blocks"
    assert d["created_by"] == LLM_USER
    assert_ts_between(d["created_at"], t0, t1)


def test_create_relates_to_with_user(api: httpx.Client) -> None:
    _, a, b, _ = three(api)
    user = new_uuid()
    d = ok(post_dep(api, a["id"], b["id"], "relates_to", **{"X-User-Id": user}))
    assert d["dependency_type"] == "relates_to"
    assert d["created_by"] == user


def test_list_dependencies_both_directions_sorted(api: httpx.Client) -> None:
    _, a, b, c = three(api)
    d1 = create_dependency(api, a["id"], b["id"])
    d2 = create_dependency(api, b["id"], c["id"])
    d3 = create_dependency(api, c["id"], b["id"], "relates_to")
    got = deps_of(api, b["id"])
    assert {d["id"] for d in got} == {d1["id"], d2["id"], d3["id"]}
    order = sorted((d["id"] for d in got), key=lambda s: uuid.UUID(s).bytes)
    assert [d["id"] for d in got] == order
    listed = {d["id"]: d for d in got}
    assert listed[d1["id"]] == d1
    for d in got:
        check_dependency(d)
    assert [d["id"] for d in deps_of(api, a["id"])] == [d1["id"]]
    assert deps_of(api, b["display_key"]) == got


def test_list_dependencies_empty_and_unknown(api: httpx.Client) -> None:
    _, a, _, _ = three(api)
    assert deps_of(api, a["id"]) == []
    u = new_uuid()
    assert_error(
        api.get(f"/api/v1/work-items/{u}/dependencies"),
        404,
        "NOT_FOUND",
        f"Work item with ID {u} not found",
    )


def test_ids_must_be_uuids(api: httpx.Client) -> None:
    _, a, b, _ = three(api)
    for blocking, blocked in ((a["display_key"], b["id"]), (a["id"], b["display_key"]), ("x", "y")):
        err = assert_error(
            post_dep(api, blocking, blocked), 400, "VALIDATION_ERROR", field=ANY_FIELD
        )
        assert err["message"].startswith("Invalid UUID format")
    assert deps_of(api, a["id"]) == []


def test_bad_dependency_type(api: httpx.Client) -> None:
    _, a, b, _ = three(api)
    assert_error(
        post_dep(api, a["id"], b["id"], "depends_on"),
        400,
        "VALIDATION_ERROR",
        field="dependency_type",
    )


def test_self_dependency(api: httpx.Client) -> None:
    _, a, _, _ = three(api)
    for kind in ("blocks", "relates_to"):
        assert_error(
            post_dep(api, a["id"], a["id"], kind),
            400,
            "VALIDATION_ERROR",
            "A work item cannot depend on itself",
            field="blocked_item_id",
        )


def test_unknown_items(api: httpx.Client) -> None:
    _, a, _, _ = three(api)
    u = new_uuid()
    assert_error(post_dep(api, u, a["id"]), 404, "NOT_FOUND", f"Work item {u} not found")
    assert_error(post_dep(api, a["id"], u), 404, "NOT_FOUND", f"Work item {u} not found")
    p = create_project(api)
    gone = create_item(api, p["id"], "task")
    ok(api.delete(f"/api/v1/work-items/{gone['id']}"))
    assert_error(
        post_dep(api, a["id"], gone["id"]), 404, "NOT_FOUND", f"Work item {gone['id']} not found"
    )


def test_duplicate_pair(api: httpx.Client) -> None:
    _, a, b, _ = three(api)
    create_dependency(api, a["id"], b["id"], "relates_to")
    for kind in ("relates_to", "blocks"):
        assert_error(
            post_dep(api, a["id"], b["id"], kind),
            400,
            "VALIDATION_ERROR",
            "This dependency already exists",
        )
    # the reverse direction is a different pair
    d = create_dependency(api, b["id"], a["id"], "relates_to")
    assert d["blocking_item_id"] == b["id"]
    assert len(deps_of(api, a["id"])) == 2


def test_cycle_two_items(api: httpx.Client) -> None:
    _, a, b, _ = three(api)
    create_dependency(api, a["id"], b["id"])
    r = post_dep(api, b["id"], a["id"])
    err = assert_error(
        r, 400, "VALIDATION_ERROR", field="blocking_item_id", contains="Circular dependency"
    )
    assert err["message"].startswith("Circular dependency detected: ")
    assert "This would create a cycle." in err["message"]
    assert "→" in err["message"]
    assert len(deps_of(api, a["id"])) == 1


def test_cycle_three_items_path_in_message(api: httpx.Client) -> None:
    _, a, b, c = three(api)
    create_dependency(api, a["id"], b["id"])
    create_dependency(api, b["id"], c["id"])
    r = post_dep(api, c["id"], a["id"])
    err = assert_error(
        r, 400, "VALIDATION_ERROR", field="blocking_item_id", contains="Circular dependency"
    )
    for w in (a, b, c):
        assert w["id"][:8] in err["message"]
    assert len(deps_of(api, c["id"])) == 1


def test_relates_to_never_a_cycle(api: httpx.Client) -> None:
    _, a, b, c = three(api)
    create_dependency(api, a["id"], b["id"])
    create_dependency(api, b["id"], c["id"])
    d = create_dependency(api, c["id"], a["id"], "relates_to")
    assert d["dependency_type"] == "relates_to"
    d2 = create_dependency(api, b["id"], a["id"], "relates_to")
    assert d2["dependency_type"] == "relates_to"


def test_relates_to_links_not_followed_by_cycle_search(api: httpx.Client) -> None:
    _, a, b, c = three(api)
    create_dependency(api, a["id"], b["id"], "relates_to")
    create_dependency(api, b["id"], c["id"])
    # c blocks a: path a -> b is relates_to only, so no cycle
    d = create_dependency(api, c["id"], a["id"])
    assert d["dependency_type"] == "blocks"


def test_deleted_links_not_followed_by_cycle_search(api: httpx.Client) -> None:
    _, a, b, _ = three(api)
    d = create_dependency(api, a["id"], b["id"])
    ok(api.delete(f"/api/v1/dependencies/{d['id']}"))
    assert create_dependency(api, b["id"], a["id"])["blocking_item_id"] == b["id"]


def test_same_project_required(api: httpx.Client) -> None:
    # compat.md: dependencies between items of different projects are refused on REST
    _, a, _, _ = three(api)
    _, x, _, _ = three(api)
    for kind in ("blocks", "relates_to"):
        assert_error(
            post_dep(api, a["id"], x["id"], kind),
            400,
            "VALIDATION_ERROR",
            field=ANY_FIELD,
            contains="same project",
        )
    assert deps_of(api, a["id"]) == []


def test_fifty_blockers_limit(api: httpx.Client) -> None:
    # compat.md: at most 50 blockers and 50 blocked per item
    p = create_project(api)
    target = create_item(api, p["id"], "task", "target")
    blockers = [create_item(api, p["id"], "task", f"b{i}") for i in range(51)]
    for b in blockers[:50]:
        create_dependency(api, b["id"], target["id"])
    r = post_dep(api, blockers[50]["id"], target["id"])
    assert_error(r, 400, "VALIDATION_ERROR", field=ANY_FIELD, contains="50")
    assert len(deps_of(api, target["id"])) == 50
    # the other direction has its own limit: target may still block items
    d = create_dependency(api, target["id"], blockers[50]["id"], "relates_to")
    assert d["blocking_item_id"] == target["id"]
    # 50 items blocked by one item
    src = blockers[50]
    extra = [create_item(api, p["id"], "task", f"x{i}") for i in range(50)]
    for x in extra[:49]:
        create_dependency(api, src["id"], x["id"])
    # src already blocks 49 now; one more is fine, then the limit applies
    create_dependency(api, src["id"], extra[49]["id"])
    last = create_item(api, p["id"], "task", "last")
    assert_error(
        post_dep(api, src["id"], last["id"]),
        400,
        "VALIDATION_ERROR",
        field=ANY_FIELD,
        contains="50",
    )


def test_delete_dependency(api: httpx.Client) -> None:
    _, a, b, _ = three(api)
    d = create_dependency(api, a["id"], b["id"])
    r = api.delete(f"/api/v1/dependencies/{d['id']}")
    assert r.status_code == 200
    assert ok(r) == {"deleted_id": d["id"]}
    assert deps_of(api, a["id"]) == []
    assert_error(
        api.delete(f"/api/v1/dependencies/{d['id']}"),
        404,
        "NOT_FOUND",
        f"Dependency {d['id']} not found",
    )
    err = assert_error(api.delete("/api/v1/dependencies/nope"), 400, "VALIDATION_ERROR")
    assert err["message"].startswith("Invalid UUID format: ")
    u = new_uuid()
    assert_error(
        api.delete(f"/api/v1/dependencies/{u}"), 404, "NOT_FOUND", f"Dependency {u} not found"
    )


def test_delete_dependency_echoes_id_as_given(api: httpx.Client) -> None:
    _, a, b, _ = three(api)
    d = create_dependency(api, a["id"], b["id"])
    upper = d["id"].upper()
    assert ok(api.delete(f"/api/v1/dependencies/{upper}")) == {"deleted_id": upper}


def test_recreate_deleted_pair(api: httpx.Client) -> None:
    # compat.md: re-creating a soft-deleted dependency brings the deleted row back, under
    # its id (its activity rows keep naming a link that exists)
    _, a, b, _ = three(api)
    d = create_dependency(api, a["id"], b["id"])
    ok(api.delete(f"/api/v1/dependencies/{d['id']}"))
    d2 = create_dependency(api, a["id"], b["id"], "relates_to")
    assert d2["id"] == d["id"]
    assert d2["dependency_type"] == "relates_to"
    assert d2["created_at"] >= d["created_at"]
    got = deps_of(api, a["id"])
    assert got == [d2]
    ok(api.delete(f"/api/v1/dependencies/{d['id']}"))
    assert deps_of(api, a["id"]) == []


def test_links_to_deleted_items_still_listed(api: httpx.Client) -> None:
    _, a, b, _ = three(api)
    d = create_dependency(api, a["id"], b["id"])
    ok(api.delete(f"/api/v1/work-items/{b['id']}"))
    assert deps_of(api, a["id"]) == [d]


def test_missing_fields_422(api: httpx.Client) -> None:
    _, a, b, _ = three(api)
    r = api.post(
        "/api/v1/dependencies", json={"blocking_item_id": a["id"], "blocked_item_id": b["id"]}
    )
    assert_error(r, 422, "VALIDATION_ERROR", field=("dependency_type", "$.dependency_type"))
    assert deps_of(api, a["id"]) == []


def test_validation_order(api: httpx.Client) -> None:
    # §1.4: UUIDs -> type -> self -> existence -> duplicate -> cycle
    _, a, b, _ = three(api)
    u = new_uuid()
    err = assert_error(
        post_dep(api, "bad", a["id"], "nope"), 400, "VALIDATION_ERROR", field=ANY_FIELD
    )
    assert err["message"].startswith("Invalid UUID format")
    assert_error(
        post_dep(api, a["id"], a["id"], "nope"), 400, "VALIDATION_ERROR", field="dependency_type"
    )
    assert_error(
        post_dep(api, u, u),
        400,
        "VALIDATION_ERROR",
        "A work item cannot depend on itself",
        field="blocked_item_id",
    )
    create_dependency(api, a["id"], b["id"])
    # an existing pair that would also close a cycle reports the duplicate
    create_dependency(api, b["id"], a["id"], "relates_to")
    assert_error(
        post_dep(api, b["id"], a["id"]), 400, "VALIDATION_ERROR", "This dependency already exists"
    )
