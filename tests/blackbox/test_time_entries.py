# mypy: disable-error-code="no-any-return"
"""§1.4 Time entries (+ compat.md: owner-only, auto-stop, no-op PUT writes nothing)."""

from __future__ import annotations

import time
from typing import Any

import httpx

from .helpers import (
    LLM_USER,
    TIME_ENTRY_KEYS,
    assert_error,
    assert_keys,
    assert_ts_between,
    check_time_entry,
    create_item,
    create_project,
    new_uuid,
    ok,
    start_timer,
    wait_for_second_after,
)


def item(api: httpx.Client) -> dict[str, Any]:
    p = create_project(api)
    return create_item(api, p["id"], "task")


def get_entry(api: httpx.Client, tid: str) -> dict[str, Any]:
    body = ok(api.get(f"/api/v1/time-entries/{tid}"))
    assert list(body.keys()) == ["time_entry"]
    check_time_entry(body["time_entry"])
    return body["time_entry"]


def test_start_timer_shape(api: httpx.Client) -> None:
    w = item(api)
    user = new_uuid()
    t0 = time.time()
    r = api.post(
        "/api/v1/time-entries",
        json={"work_item_id": w["id"], "description": "  work  "},
        headers={"X-User-Id": user},
    )
    t1 = time.time()
    assert r.status_code == 200
    body = ok(r)
    assert list(body.keys()) == ["time_entry"]
    t = body["time_entry"]
    assert_keys(t, TIME_ENTRY_KEYS)
    check_time_entry(t)
    assert t["work_item_id"] == w["id"]
    assert t["user_id"] == user
    assert t["description"] == "work"
    assert t["ended_at"] is None
    assert t["duration_seconds"] is None
    assert t["is_running"] is True
    assert_ts_between(t["started_at"], t0, t1)
    assert t["created_at"] == t["started_at"] == t["updated_at"]
    assert get_entry(api, t["id"]) == t


def test_start_timer_defaults(api: httpx.Client) -> None:
    w = item(api)
    t = start_timer(api, w["id"], user=new_uuid())
    assert t["description"] is None
    t2 = start_timer(api, w["id"], "   ", user=new_uuid())
    assert t2["description"] is None
    t3 = start_timer(api, w["id"])
    assert t3["user_id"] == LLM_USER


def test_description_has_no_length_cap_on_rest(api: httpx.Client) -> None:
    # spec §1.4: "description trimmed, empty -> null (no length check on REST; WS caps at
    # 1000)"; compat.md records no change
    w = item(api)
    user = new_uuid()
    t = start_timer(api, w["id"], "d" * 1500, user=user)
    assert t["description"] == "d" * 1500
    u = ok(
        api.put(
            f"/api/v1/time-entries/{t['id']}",
            json={"description": "e" * 2000},
            headers={"X-User-Id": user},
        )
    )["time_entry"]
    assert u["description"] == "e" * 2000


def test_start_timer_errors(api: httpx.Client) -> None:
    w = item(api)
    r = api.post("/api/v1/time-entries", json={"work_item_id": w["display_key"]})
    assert_error(
        r,
        400,
        "VALIDATION_ERROR",
        f"Invalid work_item_id: '{w['display_key']}'",
        field="work_item_id",
    )
    u = new_uuid()
    r = api.post("/api/v1/time-entries", json={"work_item_id": u})
    assert_error(r, 404, "NOT_FOUND", field=(None, "work_item_id"), contains=u)
    r = api.post("/api/v1/time-entries", json={})
    assert_error(r, 422, "VALIDATION_ERROR", field=("work_item_id", "$.work_item_id"))
    assert ok(api.get(f"/api/v1/work-items/{w['id']}/time-entries")) == {"time_entries": []}


def test_starting_a_timer_stops_the_callers_running_timer(api: httpx.Client) -> None:
    # compat.md: starting a timer stops the caller's running timer
    w1 = item(api)
    w2 = item(api)
    user = new_uuid()
    other = new_uuid()
    first = start_timer(api, w1["id"], user=user)
    theirs = start_timer(api, w1["id"], user=other)
    t0 = time.time()
    second = start_timer(api, w2["id"], user=user)
    t1 = time.time()
    stopped = get_entry(api, first["id"])
    assert stopped["is_running"] is False
    assert_ts_between(stopped["ended_at"], t0 - 1, t1)
    assert stopped["duration_seconds"] == stopped["ended_at"] - stopped["started_at"]
    assert stopped["started_at"] == first["started_at"]
    assert second["is_running"] is True
    # another user's timer is untouched
    assert get_entry(api, theirs["id"]) == theirs


def test_get_time_entry_errors(api: httpx.Client) -> None:
    err = assert_error(api.get("/api/v1/time-entries/nope"), 400, "VALIDATION_ERROR")
    assert err["message"].startswith("Invalid UUID format: ")
    u = new_uuid()
    assert_error(
        api.get(f"/api/v1/time-entries/{u}"), 404, "NOT_FOUND", f"Time entry {u} not found"
    )


def test_list_time_entries(api: httpx.Client) -> None:
    w = item(api)
    assert ok(api.get(f"/api/v1/work-items/{w['id']}/time-entries")) == {"time_entries": []}
    made = [start_timer(api, w["id"], f"e{i}", user=new_uuid()) for i in range(3)]
    body = ok(api.get(f"/api/v1/work-items/{w['id']}/time-entries"))
    assert list(body.keys()) == ["time_entries"]
    got = body["time_entries"]
    assert {t["id"] for t in got} == {t["id"] for t in made}
    starts = [t["started_at"] for t in got]
    assert starts == sorted(starts, reverse=True)
    for t in got:
        check_time_entry(t)
    assert ok(api.get(f"/api/v1/work-items/{w['display_key']}/time-entries")) == body
    u = new_uuid()
    assert_error(
        api.get(f"/api/v1/work-items/{u}/time-entries"),
        404,
        "NOT_FOUND",
        f"Work item with ID {u} not found",
    )


def test_stop_timer(api: httpx.Client) -> None:
    w = item(api)
    user = new_uuid()
    t = start_timer(api, w["id"], "x", user=user)
    t0 = time.time()
    r = api.put(f"/api/v1/time-entries/{t['id']}", json={"stop": True}, headers={"X-User-Id": user})
    t1 = time.time()
    body = ok(r)
    assert list(body.keys()) == ["time_entry"]
    s = body["time_entry"]
    check_time_entry(s)
    assert s["is_running"] is False
    assert_ts_between(s["ended_at"], t0, t1)
    assert s["duration_seconds"] == s["ended_at"] - s["started_at"]
    assert s["duration_seconds"] >= 0
    assert s["updated_at"] == s["ended_at"]
    assert s["started_at"] == t["started_at"]
    assert s["description"] == "x"
    # stopping again is silently ignored
    again = ok(
        api.put(f"/api/v1/time-entries/{t['id']}", json={"stop": True}, headers={"X-User-Id": user})
    )["time_entry"]
    assert again == s
    assert get_entry(api, t["id"]) == s


def test_stop_false_and_empty_body_are_noops(api: httpx.Client) -> None:
    w = item(api)
    user = new_uuid()
    t = start_timer(api, w["id"], "keep", user=user)
    for body in ({}, {"stop": False}, {"description": "keep"}):
        r = api.put(f"/api/v1/time-entries/{t['id']}", json=body, headers={"X-User-Id": user})
        assert ok(r)["time_entry"] == t
    assert get_entry(api, t["id"]) == t


def test_edit_description(api: httpx.Client) -> None:
    w = item(api)
    user = new_uuid()
    t = start_timer(api, w["id"], "old", user=user)
    r = api.put(
        f"/api/v1/time-entries/{t['id']}",
        json={"description": "  new  "},
        headers={"X-User-Id": user},
    )
    u = ok(r)["time_entry"]
    assert u["description"] == "new"
    assert u["is_running"] is True and u["ended_at"] is None
    assert u["updated_at"] >= t["updated_at"]
    u = ok(
        api.put(
            f"/api/v1/time-entries/{t['id']}",
            json={"description": " "},
            headers={"X-User-Id": user},
        )
    )["time_entry"]
    assert u["description"] is None


def test_time_entries_owner_only(api: httpx.Client) -> None:
    # compat.md: time entries changed by their owner only -> 403 UNAUTHORIZED
    w = item(api)
    owner = new_uuid()
    other = new_uuid()
    t = start_timer(api, w["id"], "mine", user=owner)
    for body in ({"stop": True}, {"description": "theirs"}):
        r = api.put(f"/api/v1/time-entries/{t['id']}", json=body, headers={"X-User-Id": other})
        assert_error(
            r,
            403,
            "UNAUTHORIZED",
            field=(None, "user_id", "id", "time_entry_id"),
            contains="another user",
        )
    r = api.delete(f"/api/v1/time-entries/{t['id']}", headers={"X-User-Id": other})
    assert_error(
        r,
        403,
        "UNAUTHORIZED",
        field=(None, "user_id", "id", "time_entry_id"),
        contains="another user",
    )
    r = api.delete(f"/api/v1/time-entries/{t['id']}")  # LLM user is not the owner either
    assert_error(r, 403, "UNAUTHORIZED", field=(None, "user_id", "id", "time_entry_id"))
    assert get_entry(api, t["id"]) == t


def test_update_errors(api: httpx.Client) -> None:
    err = assert_error(
        api.put("/api/v1/time-entries/zzz", json={"stop": True}), 400, "VALIDATION_ERROR"
    )
    assert err["message"].startswith("Invalid UUID format: ")
    u = new_uuid()
    assert_error(
        api.put(f"/api/v1/time-entries/{u}", json={"stop": True}),
        404,
        "NOT_FOUND",
        f"Time entry {u} not found",
    )
    w = item(api)
    user = new_uuid()
    t = start_timer(api, w["id"], user=user)
    r = api.put(
        f"/api/v1/time-entries/{t['id']}", json={"stop": "yes"}, headers={"X-User-Id": user}
    )
    assert_error(r, 422, "VALIDATION_ERROR", field=("stop", "$.stop"))
    assert get_entry(api, t["id"]) == t


def test_delete_time_entry(api: httpx.Client) -> None:
    w = item(api)
    user = new_uuid()
    t = start_timer(api, w["id"], user=user)
    r = api.delete(f"/api/v1/time-entries/{t['id']}", headers={"X-User-Id": user})
    assert r.status_code == 200
    assert ok(r) == {"deleted_id": t["id"]}
    assert_error(
        api.get(f"/api/v1/time-entries/{t['id']}"),
        404,
        "NOT_FOUND",
        f"Time entry {t['id']} not found",
    )
    assert ok(api.get(f"/api/v1/work-items/{w['id']}/time-entries")) == {"time_entries": []}
    assert_error(
        api.delete(f"/api/v1/time-entries/{t['id']}", headers={"X-User-Id": user}),
        404,
        "NOT_FOUND",
        f"Time entry {t['id']} not found",
    )
    err = assert_error(api.delete("/api/v1/time-entries/1"), 400, "VALIDATION_ERROR")
    assert err["message"].startswith("Invalid UUID format: ")


def test_description_change_bumps_updated_at_noop_does_not(api: httpx.Client) -> None:
    # compat.md: a change bumps updated_at and logs; a no-op PUT writes nothing
    w = item(api)
    user = new_uuid()
    t = start_timer(api, w["id"], "first", user=user)
    wait_for_second_after(t["updated_at"])
    same = ok(
        api.put(
            f"/api/v1/time-entries/{t['id']}",
            json={"description": "first"},
            headers={"X-User-Id": user},
        )
    )["time_entry"]
    assert same == t
    u = ok(
        api.put(
            f"/api/v1/time-entries/{t['id']}",
            json={"description": "second"},
            headers={"X-User-Id": user},
        )
    )["time_entry"]
    assert u["description"] == "second"
    assert u["updated_at"] > t["updated_at"]
    assert u["started_at"] == t["started_at"] and u["created_at"] == t["created_at"]


def test_stop_after_a_second_has_positive_duration(api: httpx.Client) -> None:
    w = item(api)
    user = new_uuid()
    t = start_timer(api, w["id"], user=user)
    wait_for_second_after(t["started_at"])
    s = ok(
        api.put(f"/api/v1/time-entries/{t['id']}", json={"stop": True}, headers={"X-User-Id": user})
    )["time_entry"]
    assert s["duration_seconds"] >= 1
    assert s["duration_seconds"] == s["ended_at"] - s["started_at"]
    assert s["updated_at"] > t["updated_at"]
