"""§1.4 Sprints + compat.md (state machine, single active sprint, completed read-only)."""

from __future__ import annotations

import time

import httpx

from .helpers import (
    ANY_FIELD,
    LLM_USER,
    SPRINT_KEYS,
    assert_error,
    assert_keys,
    assert_ts_between,
    assert_version_conflict,
    check_sprint,
    create_item,
    create_project,
    create_sprint,
    get_item,
    new_uuid,
    now,
    ok,
    update_item,
)

DAY = 86400
T0 = now()


def put_sprint(api: httpx.Client, sid: str, version: int, **fields: object) -> httpx.Response:
    body = dict(fields)
    body["expected_version"] = version
    return api.put(f"/api/v1/sprints/{sid}", json=body)


def test_create_sprint_shape(api: httpx.Client) -> None:
    p = create_project(api)
    start = now()
    t0 = time.time()
    r = api.post(
        "/api/v1/sprints",
        json={
            "project_id": p["id"],
            "name": "  Sprint 1  ",
            "goal": "  ship it ",
            "start_date": start,
            "end_date": start + 14 * DAY,
        },
    )
    t1 = time.time()
    assert r.status_code == 200
    body = ok(r)
    assert list(body.keys()) == ["sprint"]
    s = body["sprint"]
    assert_keys(s, SPRINT_KEYS)
    assert s["project_id"] == p["id"]
    assert s["name"] == "Sprint 1"
    assert s["goal"] == "ship it"
    assert s["start_date"] == start
    assert s["end_date"] == start + 14 * DAY
    assert s["status"] == "planned"
    assert s["version"] == 1
    assert s["created_by"] == LLM_USER and s["updated_by"] == LLM_USER
    assert_ts_between(s["created_at"], t0, t1)
    assert s["updated_at"] == s["created_at"]


def test_create_sprint_goal_blank_is_null(api: httpx.Client) -> None:
    p = create_project(api)
    assert create_sprint(api, p["id"], goal="   ")["goal"] is None
    assert create_sprint(api, p["id"])["goal"] is None


def test_create_sprint_dates_far_from_now_are_fine_on_rest(api: httpx.Client) -> None:
    p = create_project(api)
    s = create_sprint(api, p["id"], start=1000, end=2000)
    assert (s["start_date"], s["end_date"]) == (1000, 2000)


def test_create_sprint_name_has_no_max_length_on_rest(api: httpx.Client) -> None:
    # spec §1.4: "name trimmed, empty -> 400 (no max-length check on REST)";
    # compat.md records no change (validation.max_sprint_name_length is WS only, §3.2)
    p = create_project(api)
    s = create_sprint(api, p["id"], name="n" * 150)
    assert s["name"] == "n" * 150
    u = ok(put_sprint(api, s["id"], 1, name="m" * 300))["sprint"]
    assert u["name"] == "m" * 300


def test_create_sprint_user_header(api: httpx.Client) -> None:
    p = create_project(api)
    user = new_uuid()
    s = create_sprint(api, p["id"], user=user)
    assert s["created_by"] == user and s["updated_by"] == user


def test_create_sprint_empty_name(api: httpx.Client) -> None:
    p = create_project(api)
    for name in ("", "   "):
        r = api.post(
            "/api/v1/sprints",
            json={"project_id": p["id"], "name": name, "start_date": T0, "end_date": T0 + DAY},
        )
        assert_error(r, 400, "VALIDATION_ERROR", field="name")


def test_create_sprint_project_id_must_be_uuid(api: httpx.Client) -> None:
    p = create_project(api)
    r = api.post(
        "/api/v1/sprints",
        json={"project_id": p["key"], "name": "S", "start_date": T0, "end_date": T0 + DAY},
    )
    assert_error(
        r, 400, "VALIDATION_ERROR", f"Invalid project_id: '{p['key']}'", field="project_id"
    )


def test_create_sprint_end_not_after_start(api: httpx.Client) -> None:
    p = create_project(api)
    for start, end in ((100, 100), (100, 50)):
        r = api.post(
            "/api/v1/sprints",
            json={"project_id": p["id"], "name": "S", "start_date": start, "end_date": end},
        )
        assert_error(
            r, 400, "VALIDATION_ERROR", "end_date must be after start_date", field="end_date"
        )


def test_create_sprint_unrepresentable_timestamps(api: httpx.Client) -> None:
    p = create_project(api)
    r = api.post(
        "/api/v1/sprints",
        json={"project_id": p["id"], "name": "S", "start_date": 10**14, "end_date": 10**14 + 1},
    )
    assert_error(r, 400, "VALIDATION_ERROR", field="start_date")
    r = api.post(
        "/api/v1/sprints",
        json={"project_id": p["id"], "name": "S", "start_date": T0, "end_date": 10**14},
    )
    assert_error(r, 400, "VALIDATION_ERROR", field="end_date")


def test_create_sprint_unknown_project_404(api: httpx.Client) -> None:
    u = new_uuid()
    r = api.post(
        "/api/v1/sprints",
        json={"project_id": u, "name": "S", "start_date": T0, "end_date": T0 + DAY},
    )
    assert_error(r, 404, "NOT_FOUND", f"Project {u} not found")


def test_create_sprint_validation_order(api: httpx.Client) -> None:
    # name before project_id before dates
    r = api.post(
        "/api/v1/sprints", json={"project_id": "bad", "name": " ", "start_date": 5, "end_date": 1}
    )
    assert_error(r, 400, "VALIDATION_ERROR", field="name")
    r = api.post(
        "/api/v1/sprints", json={"project_id": "bad", "name": "n", "start_date": 5, "end_date": 1}
    )
    assert_error(r, 400, "VALIDATION_ERROR", field="project_id")


def test_create_sprint_missing_dates_422(api: httpx.Client) -> None:
    p = create_project(api)
    r = api.post("/api/v1/sprints", json={"project_id": p["id"], "name": "S", "end_date": 2})
    assert_error(r, 422, "VALIDATION_ERROR", field=("start_date", "$.start_date"))


def test_list_sprints_ordered_by_start_desc(api: httpx.Client) -> None:
    p = create_project(api)
    base = now()
    a = create_sprint(api, p["id"], "A", start=base, end=base + DAY)
    b = create_sprint(api, p["id"], "B", start=base + 10 * DAY, end=base + 11 * DAY)
    c = create_sprint(api, p["id"], "C", start=base - 10 * DAY, end=base - 9 * DAY)
    body = ok(api.get(f"/api/v1/projects/{p['id']}/sprints"))
    assert list(body.keys()) == ["sprints"]
    assert [s["id"] for s in body["sprints"]] == [b["id"], a["id"], c["id"]]
    for s in body["sprints"]:
        check_sprint(s)
    by_key = ok(api.get(f"/api/v1/projects/{p['key']}/sprints"))["sprints"]
    assert by_key == body["sprints"]


def test_list_sprints_unknown_project(api: httpx.Client) -> None:
    assert_error(
        api.get("/api/v1/projects/NOSPRINTPX/sprints"),
        404,
        "NOT_FOUND",
        "Project with key 'NOSPRINTPX' not found",
    )
    u = new_uuid()
    assert_error(
        api.get(f"/api/v1/projects/{u}/sprints"), 404, "NOT_FOUND", f"Project with ID {u} not found"
    )


def test_list_sprints_empty(api: httpx.Client) -> None:
    p = create_project(api)
    assert ok(api.get(f"/api/v1/projects/{p['id']}/sprints")) == {"sprints": []}


def test_get_sprint(api: httpx.Client) -> None:
    p = create_project(api)
    s = create_sprint(api, p["id"], goal="g")
    body = ok(api.get(f"/api/v1/sprints/{s['id']}"))
    assert body == {"sprint": s}


def test_get_sprint_errors(api: httpx.Client) -> None:
    r = api.get("/api/v1/sprints/not-a-uuid")
    err = assert_error(r, 400, "VALIDATION_ERROR")
    assert err["message"].startswith("Invalid UUID format: ")
    u = new_uuid()
    assert_error(api.get(f"/api/v1/sprints/{u}"), 404, "NOT_FOUND", f"Sprint {u} not found")


def test_update_sprint_fields(api: httpx.Client) -> None:
    p = create_project(api)
    s = create_sprint(api, p["id"], "old", goal="goal")
    user = new_uuid()
    r = api.put(
        f"/api/v1/sprints/{s['id']}",
        json={
            "name": "  new name ",
            "goal": " new goal ",
            "start_date": s["start_date"] + 10,
            "end_date": s["end_date"] + 10,
            "expected_version": 1,
        },
        headers={"X-User-Id": user},
    )
    body = ok(r)
    assert list(body.keys()) == ["sprint"]
    u = body["sprint"]
    check_sprint(u)
    assert u["name"] == "new name"
    assert u["goal"] == "new goal"
    assert u["start_date"] == s["start_date"] + 10
    assert u["end_date"] == s["end_date"] + 10
    assert u["version"] == 2
    assert u["updated_by"] == user
    assert u["created_by"] == LLM_USER
    assert ok(api.get(f"/api/v1/sprints/{s['id']}"))["sprint"] == u


def test_update_sprint_blank_goal_null(api: httpx.Client) -> None:
    p = create_project(api)
    s = create_sprint(api, p["id"], goal="g")
    u = ok(put_sprint(api, s["id"], 1, goal=" "))["sprint"]
    assert u["goal"] is None
    assert u["version"] == 2


def test_update_sprint_noop(api: httpx.Client) -> None:
    p = create_project(api)
    s = create_sprint(api, p["id"], "same", goal="g")
    u = ok(
        put_sprint(
            api,
            s["id"],
            1,
            name="same",
            goal="g",
            status="planned",
            start_date=s["start_date"],
            end_date=s["end_date"],
        )
    )["sprint"]
    assert u == s
    assert ok(put_sprint(api, s["id"], 1))["sprint"] == s


def test_update_sprint_version_mismatch(api: httpx.Client) -> None:
    p = create_project(api)
    s = create_sprint(api, p["id"])
    assert_version_conflict(put_sprint(api, s["id"], 3, name="x"), 1)


def test_update_sprint_errors(api: httpx.Client) -> None:
    p = create_project(api)
    s = create_sprint(api, p["id"])
    assert_error(put_sprint(api, s["id"], 1, name="  "), 400, "VALIDATION_ERROR", field="name")
    # range is re-evaluated even when only one date is sent
    r = put_sprint(api, s["id"], 1, start_date=s["end_date"])
    assert_error(r, 400, "VALIDATION_ERROR", "end_date must be after start_date", field="end_date")
    r = put_sprint(api, s["id"], 1, end_date=s["start_date"] - 1)
    assert_error(r, 400, "VALIDATION_ERROR", "end_date must be after start_date", field="end_date")
    r = put_sprint(api, s["id"], 1, status="bogus")
    assert_error(
        r,
        400,
        "VALIDATION_ERROR",
        "Invalid status: 'bogus'. Valid values: planned, active, completed, cancelled",
        field="status",
    )
    assert ok(api.get(f"/api/v1/sprints/{s['id']}"))["sprint"] == s


def test_update_sprint_not_found_and_bad_uuid(api: httpx.Client) -> None:
    u = new_uuid()
    assert_error(put_sprint(api, u, 1, name="x"), 404, "NOT_FOUND", f"Sprint {u} not found")
    err = assert_error(put_sprint(api, "nope", 1, name="x"), 400, "VALIDATION_ERROR")
    assert err["message"].startswith("Invalid UUID format: ")


def test_sprint_state_machine(api: httpx.Client) -> None:
    p = create_project(api)
    s = create_sprint(api, p["id"])
    # planned -> completed is not allowed (compat.md)
    r = put_sprint(api, s["id"], 1, status="completed")
    assert_error(r, 400, "VALIDATION_ERROR", field="status", contains="Invalid status transition")
    # planned -> planned is fine (no-op)
    assert ok(put_sprint(api, s["id"], 1, status="planned"))["sprint"]["version"] == 1
    a = ok(put_sprint(api, s["id"], 1, status="active"))["sprint"]
    assert a["status"] == "active" and a["version"] == 2
    r = put_sprint(api, s["id"], 2, status="planned")
    assert_error(r, 400, "VALIDATION_ERROR", field="status", contains="Invalid status transition")
    c = ok(put_sprint(api, s["id"], 2, status="completed"))["sprint"]
    assert c["status"] == "completed" and c["version"] == 3


def test_sprint_planned_to_cancelled_and_active_to_cancelled(api: httpx.Client) -> None:
    p = create_project(api)
    s1 = create_sprint(api, p["id"])
    assert ok(put_sprint(api, s1["id"], 1, status="cancelled"))["sprint"]["status"] == "cancelled"
    r = put_sprint(api, s1["id"], 2, status="active")
    assert_error(r, 400, "VALIDATION_ERROR", field="status", contains="Invalid status transition")
    s2 = create_sprint(api, p["id"])
    ok(put_sprint(api, s2["id"], 1, status="active"))
    assert ok(put_sprint(api, s2["id"], 2, status="cancelled"))["sprint"]["status"] == "cancelled"


def test_single_active_sprint_per_project(api: httpx.Client) -> None:
    p = create_project(api)
    s1 = create_sprint(api, p["id"])
    s2 = create_sprint(api, p["id"])
    ok(put_sprint(api, s1["id"], 1, status="active"))
    r = put_sprint(api, s2["id"], 1, status="active")
    err = assert_error(r, 409, "CONFLICT", field=ANY_FIELD)
    assert err["message"]
    assert ok(api.get(f"/api/v1/sprints/{s2['id']}"))["sprint"]["status"] == "planned"
    # another project may have its own active sprint
    q = create_project(api)
    s3 = create_sprint(api, q["id"])
    assert ok(put_sprint(api, s3["id"], 1, status="active"))["sprint"]["status"] == "active"
    # once the first is completed, the second can start
    ok(put_sprint(api, s1["id"], 2, status="completed"))
    assert ok(put_sprint(api, s2["id"], 1, status="active"))["sprint"]["status"] == "active"


def test_completed_sprint_is_read_only_and_undeletable(api: httpx.Client) -> None:
    p = create_project(api)
    s = create_sprint(api, p["id"])
    ok(put_sprint(api, s["id"], 1, status="active"))
    done = ok(put_sprint(api, s["id"], 2, status="completed"))["sprint"]
    r = put_sprint(api, s["id"], 3, name="renamed")
    assert_error(r, 409, "CONFLICT", field=ANY_FIELD)
    r = api.delete(f"/api/v1/sprints/{s['id']}")
    assert_error(r, 400, "VALIDATION_ERROR", field=ANY_FIELD)
    assert ok(api.get(f"/api/v1/sprints/{s['id']}"))["sprint"] == done


def test_delete_sprint(api: httpx.Client) -> None:
    p = create_project(api)
    s = create_sprint(api, p["id"])
    w = create_item(api, p["id"], "task")
    w = ok(update_item(api, w["id"], 1, sprint_id=s["id"]))["work_item"]
    assert w["sprint_id"] == s["id"]
    r = api.delete(f"/api/v1/sprints/{s['id']}")
    assert r.status_code == 200
    assert ok(r) == {"deleted_id": s["id"]}
    assert_error(
        api.get(f"/api/v1/sprints/{s['id']}"), 404, "NOT_FOUND", f"Sprint {s['id']} not found"
    )
    assert_error(api.delete(f"/api/v1/sprints/{s['id']}"), 404, "NOT_FOUND")
    assert ok(api.get(f"/api/v1/projects/{p['id']}/sprints")) == {"sprints": []}
    # work items keep their sprint_id
    assert get_item(api, w["id"])["sprint_id"] == s["id"]


def test_delete_sprint_bad_uuid(api: httpx.Client) -> None:
    err = assert_error(api.delete("/api/v1/sprints/xyz"), 400, "VALIDATION_ERROR")
    assert err["message"].startswith("Invalid UUID format: ")


def test_delete_active_sprint_allowed(api: httpx.Client) -> None:
    p = create_project(api)
    s = create_sprint(api, p["id"])
    ok(put_sprint(api, s["id"], 1, status="active"))
    assert ok(api.delete(f"/api/v1/sprints/{s['id']}")) == {"deleted_id": s["id"]}


def test_update_validation_order(api: httpx.Client) -> None:
    # §1.4: name -> goal -> dates -> range -> status
    p = create_project(api)
    s = create_sprint(api, p["id"])
    r = put_sprint(api, s["id"], 1, name=" ", end_date=s["start_date"] - 5, status="bad")
    assert_error(r, 400, "VALIDATION_ERROR", field="name")
    r = put_sprint(api, s["id"], 1, start_date=10**14, end_date=s["start_date"] - 5, status="bad")
    assert_error(r, 400, "VALIDATION_ERROR", field="start_date")
    r = put_sprint(api, s["id"], 1, end_date=s["start_date"] - 5, status="bad")
    assert_error(r, 400, "VALIDATION_ERROR", "end_date must be after start_date", field="end_date")
    assert ok(api.get(f"/api/v1/sprints/{s['id']}"))["sprint"] == s


def test_equal_start_dates_list_oldest_first(api: httpx.Client) -> None:
    # the spec orders by start_date desc; the original lists ties in creation order
    p = create_project(api)
    names = ["s1", "s2", "s3", "s4"]
    for n in names:
        end = 1700500000 if n == "s3" else 1800000000
        create_sprint(api, p["id"], n, start=1700000000, end=end)
    create_sprint(api, p["id"], "later", start=1700000001, end=1800000000)
    listed = ok(api.get(f"/api/v1/projects/{p['id']}/sprints"))["sprints"]
    assert [s["name"] for s in listed] == ["later", *names]
