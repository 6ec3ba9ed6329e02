# mypy: disable-error-code="no-any-return"
"""Shared helpers for the black-box suite: key orders, error assertions, builders."""

from __future__ import annotations

import re
import secrets
import sqlite3
import string
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

LLM_USER = "00000000-0000-0000-0000-000000000001"

PROJECT_KEYS = [
    "id",
    "key",
    "title",
    "description",
    "status",
    "version",
    "created_at",
    "updated_at",
    "created_by",
    "updated_by",
    "next_work_item_number",
]
SPRINT_KEYS = [
    "id",
    "project_id",
    "name",
    "goal",
    "start_date",
    "end_date",
    "status",
    "version",
    "created_at",
    "updated_at",
    "created_by",
    "updated_by",
]
WORK_ITEM_KEYS = [
    "id",
    "display_key",
    "item_type",
    "title",
    "description",
    "status",
    "priority",
    "parent_id",
    "project_id",
    "assignee_id",
    "sprint_id",
    "story_points",
    "item_number",
    "position",
    "version",
    "created_at",
    "updated_at",
    "created_by",
    "updated_by",
]
COMMENT_KEYS = [
    "id",
    "work_item_id",
    "content",
    "created_at",
    "updated_at",
    "created_by",
    "updated_by",
]
DEPENDENCY_KEYS = [
    "id",
    "blocking_item_id",
    "blocked_item_id",
    "dependency_type",
    "created_at",
    "created_by",
]
SWIM_LANE_KEYS = [
    "id",
    "project_id",
    "name",
    "status_value",
    "position",
    "is_default",
    "created_at",
    "updated_at",
]
TIME_ENTRY_KEYS = [
    "id",
    "work_item_id",
    "user_id",
    "started_at",
    "ended_at",
    "duration_seconds",
    "description",
    "is_running",
    "created_at",
    "updated_at",
]
EXPORT_KEYS = [
    "schema_version",
    "exported_at",
    "exported_by",
    "projects",
    "work_items",
    "sprints",
    "comments",
    "swim_lanes",
    "dependencies",
    "time_entries",
]
IMPORT_RESULT_KEYS = [
    "projects",
    "sprints",
    "swim_lanes",
    "work_items",
    "comments",
    "dependencies",
    "time_entries",
]
EXPORT_DTO_KEYS = {
    "projects": PROJECT_KEYS,
    "work_items": WORK_ITEM_KEYS,
    "sprints": SPRINT_KEYS,
    "comments": COMMENT_KEYS,
    "swim_lanes": SWIM_LANE_KEYS,
    "dependencies": DEPENDENCY_KEYS,
    "time_entries": TIME_ENTRY_KEYS,
}

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
VERSION_SUFFIX_RE = re.compile(r" \(current version: (\d+)\)$")

#: sentinel: the error must not carry a ``field``
NO_FIELD = object()
#: sentinel: the error may or may not carry a ``field``
ANY_FIELD = object()


def uniq_key(prefix: str = "") -> str:
    """A random project key of A-Z only (addressable by display keys), <= 10 chars."""
    n = 10 - len(prefix)
    return prefix + "".join(secrets.choice(string.ascii_uppercase) for _ in range(n))


def new_uuid() -> str:
    return str(uuid.uuid4())


def now() -> int:
    return int(time.time())


def wait_for_second_after(ts: int, timeout: float = 3.0) -> None:
    """Wait (bounded) until the wall clock is past second ``ts``: timestamps are whole
    seconds, so a later change can only show a larger value after that."""
    deadline = time.monotonic() + timeout
    while time.time() < ts + 1:
        assert time.monotonic() < deadline, "clock did not advance"
        time.sleep(0.02)


def user_headers(user_id: str) -> dict[str, str]:
    return {"X-User-Id": user_id}


# --------------------------------------------------------------------------- assertions
def assert_json(resp: httpx.Response, status: int = 200) -> Any:
    assert resp.status_code == status, (
        f"{resp.request.method} {resp.request.url}: expected {status}, "
        f"got {resp.status_code}: {resp.text[:2000]}"
    )
    ctype = resp.headers.get("content-type", "")
    assert ctype.split(";")[0].strip() == "application/json", (
        f"content-type {ctype!r} for {resp.request.method} {resp.request.url}"
    )
    return resp.json()


def ok(resp: httpx.Response) -> Any:
    return assert_json(resp, 200)


def assert_error(
    resp: httpx.Response,
    status: int,
    code: str,
    message: str | None = None,
    *,
    field: Any = NO_FIELD,
    contains: str | list[str] | None = None,
    startswith: str | None = None,
) -> dict[str, Any]:
    """Check the JSON error envelope ``{"error": {"code", "message"[, "field"]}}``."""
    body = assert_json(resp, status)
    assert isinstance(body, dict) and list(body.keys()) == ["error"], body
    err = body["error"]
    assert isinstance(err, dict), body
    keys = list(err.keys())
    assert keys in (["code", "message"], ["code", "message", "field"]), keys
    assert err["code"] == code, body
    assert isinstance(err["message"], str), body
    if field is NO_FIELD:
        assert "field" not in err, f"unexpected field in {body}"
    elif field is not ANY_FIELD:
        if isinstance(field, (tuple, list, set)):
            assert err.get("field") in field, body
        else:
            assert err.get("field") == field, body
    if "field" in err:
        assert isinstance(err["field"], str), body
    if message is not None:
        assert err["message"] == message, body
    if contains is not None:
        for part in [contains] if isinstance(contains, str) else contains:
            assert part in err["message"], body
    if startswith is not None:
        assert err["message"].startswith(startswith), body
    # compat.md: validator messages carry no Rust source-location suffix
    assert not re.search(r"src/\S+:\d+:\d+", err["message"]), body
    return err


def assert_version_conflict(resp: httpx.Response, current: int, message: str | None = None) -> None:
    err = assert_error(resp, 409, "CONFLICT", message, field=ANY_FIELD)
    m = VERSION_SUFFIX_RE.search(err["message"])
    assert m is not None, err
    assert int(m.group(1)) == current, err


def assert_keys(obj: dict[str, Any], keys: list[str]) -> None:
    assert isinstance(obj, dict), obj
    assert list(obj.keys()) == keys, f"key order {list(obj.keys())} != {keys}"


def assert_ts_between(value: Any, t0: float, t1: float) -> None:
    assert isinstance(value, int) and not isinstance(value, bool), value
    assert int(t0) <= value <= int(t1) + 1, (value, t0, t1)


def check_project(p: dict[str, Any]) -> None:
    assert_keys(p, PROJECT_KEYS)
    assert UUID_RE.match(p["id"]), p
    assert p["status"] in ("active", "archived")
    for k in ("version", "created_at", "updated_at", "next_work_item_number"):
        assert isinstance(p[k], int) and not isinstance(p[k], bool), (k, p)


def check_work_item(w: dict[str, Any]) -> None:
    assert_keys(w, WORK_ITEM_KEYS)
    assert UUID_RE.match(w["id"]), w
    for k in ("item_number", "position", "version", "created_at", "updated_at"):
        assert isinstance(w[k], int) and not isinstance(w[k], bool), (k, w)


def check_sprint(s: dict[str, Any]) -> None:
    assert_keys(s, SPRINT_KEYS)
    assert UUID_RE.match(s["id"]), s


def check_comment(c: dict[str, Any]) -> None:
    assert_keys(c, COMMENT_KEYS)
    assert UUID_RE.match(c["id"]), c


def check_dependency(d: dict[str, Any]) -> None:
    assert_keys(d, DEPENDENCY_KEYS)
    assert UUID_RE.match(d["id"]), d


def check_time_entry(t: dict[str, Any]) -> None:
    assert_keys(t, TIME_ENTRY_KEYS)
    assert UUID_RE.match(t["id"]), t
    assert t["is_running"] is (t["ended_at"] is None), t


# --------------------------------------------------------------------------- builders
def create_project(
    c: httpx.Client,
    key: str | None = None,
    title: str | None = None,
    description: str | None = None,
    user: str | None = None,
) -> dict[str, Any]:
    key = key or uniq_key()
    body: dict[str, Any] = {"title": title or f"Project {key}", "key": key}
    if description is not None:
        body["description"] = description
    headers = user_headers(user) if user else {}
    p = ok(c.post("/api/v1/projects", json=body, headers=headers))["project"]
    check_project(p)
    return p


def create_item(
    c: httpx.Client,
    project_id: str,
    item_type: str,
    title: str | None = None,
    parent_id: str | None = None,
    user: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "project_id": project_id,
        "item_type": item_type,
        "title": title or f"{item_type} {secrets.token_hex(3)}",
    }
    if parent_id is not None:
        body["parent_id"] = parent_id
    body.update(extra)
    headers = user_headers(user) if user else {}
    w = ok(c.post("/api/v1/work-items", json=body, headers=headers))["work_item"]
    check_work_item(w)
    return w


def create_sprint(
    c: httpx.Client,
    project_id: str,
    name: str = "Sprint",
    start: int | None = None,
    end: int | None = None,
    goal: str | None = None,
    user: str | None = None,
) -> dict[str, Any]:
    start = now() if start is None else start
    end = start + 14 * 86400 if end is None else end
    body: dict[str, Any] = {
        "project_id": project_id,
        "name": name,
        "start_date": start,
        "end_date": end,
    }
    if goal is not None:
        body["goal"] = goal
    headers = user_headers(user) if user else {}
    s = ok(c.post("/api/v1/sprints", json=body, headers=headers))["sprint"]
    check_sprint(s)
    return s


def update_item(
    c: httpx.Client, ident: str, expected_version: int, user: str | None = None, **fields: Any
) -> httpx.Response:
    body = dict(fields)
    body["expected_version"] = expected_version
    headers = user_headers(user) if user else {}
    return c.put(f"/api/v1/work-items/{ident}", json=body, headers=headers)


def get_item(c: httpx.Client, ident: str) -> dict[str, Any]:
    w = ok(c.get(f"/api/v1/work-items/{ident}"))["work_item"]
    check_work_item(w)
    return w


def get_project(c: httpx.Client, ident: str) -> dict[str, Any]:
    return ok(c.get(f"/api/v1/projects/{ident}"))["project"]


def list_items(c: httpx.Client, project: str, **params: Any) -> list[dict[str, Any]]:
    q = {k: (str(v).lower() if isinstance(v, bool) else v) for k, v in params.items()}
    return ok(c.get(f"/api/v1/projects/{project}/work-items", params=q))["work_items"]


def create_comment(
    c: httpx.Client, item: str, content: str, user: str | None = None
) -> dict[str, Any]:
    headers = user_headers(user) if user else {}
    cm = ok(
        c.post(f"/api/v1/work-items/{item}/comments", json={"content": content}, headers=headers)
    )["comment"]
    check_comment(cm)
    return cm


def create_dependency(
    c: httpx.Client, blocking: str, blocked: str, kind: str = "blocks", user: str | None = None
) -> dict[str, Any]:
    headers = user_headers(user) if user else {}
    d = ok(
        c.post(
            "/api/v1/dependencies",
            json={
                "blocking_item_id": blocking,
                "blocked_item_id": blocked,
                "dependency_type": kind,
            },
            headers=headers,
        )
    )
    check_dependency(d)
    return d


def start_timer(
    c: httpx.Client, item: str, description: str | None = None, user: str | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"work_item_id": item}
    if description is not None:
        body["description"] = description
    headers = user_headers(user) if user else {}
    t = ok(c.post("/api/v1/time-entries", json=body, headers=headers))["time_entry"]
    check_time_entry(t)
    return t


def export_all(c: httpx.Client, **params: Any) -> dict[str, Any]:
    q = {k: (str(v).lower() if isinstance(v, bool) else v) for k, v in params.items()}
    data = ok(c.get("/api/v1/sync/export", params=q))
    assert_keys(data, EXPORT_KEYS)
    return data


def snapshot(c: httpx.Client) -> dict[str, Any]:
    """Full export without ``exported_at``: compare before/after to prove no change."""
    data = export_all(c)
    data.pop("exported_at")
    return data


def build_tree(c: httpx.Client, project_id: str) -> dict[str, dict[str, Any]]:
    """epic E -> stories S1, S2 -> tasks T11, T12 (under S1), T21 (under S2); orphan task O."""
    e = create_item(c, project_id, "epic", "Epic E")
    s1 = create_item(c, project_id, "story", "Story S1", e["id"])
    s2 = create_item(c, project_id, "story", "Story S2", e["id"])
    t11 = create_item(c, project_id, "task", "Task T11", s1["id"])
    t12 = create_item(c, project_id, "task", "Task T12", s1["id"])
    t21 = create_item(c, project_id, "task", "Task T21", s2["id"])
    o = create_item(c, project_id, "task", "Orphan O")
    return {"E": e, "S1": s1, "S2": s2, "T11": t11, "T12": t12, "T21": t21, "O": o}


# --------------------------------------------------------------------------- sqlite
def db_rows(path: Path, table: str) -> list[tuple[Any, ...]]:
    con = sqlite3.connect(str(path))
    try:
        return sorted(con.execute(f'SELECT * FROM "{table}"').fetchall(), key=repr)
    finally:
        con.close()


# pm-fast's own tables and index in a SQLite database (the event log, docs/events.md);
# everything else is the original's schema.
PM_FAST_TABLES = frozenset({"pm_fast_event_seq", "pm_fast_events"})
PM_FAST_INDEXES = frozenset({"idx_pm_fast_events_created"})


def db_tables(path: Path) -> list[str]:
    con = sqlite3.connect(str(path))
    try:
        return [
            r[0]
            for r in con.execute(
                "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' "
                "ORDER BY name"
            )
        ]
    finally:
        con.close()


def db_dump(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    return {t: db_rows(path, t) for t in db_tables(path)}


def db_query(path: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    con = sqlite3.connect(str(path))
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()
