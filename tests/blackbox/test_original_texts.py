"""REST answers in the original's words, and input the original tolerates or refuses.

Each expected text below is what pm-server 0.1.4 answers to the same request (checked
side by side); where pm-fast answers differently on purpose, docs/compat.md says so.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from .helpers import (
    assert_error,
    create_item,
    create_project,
    create_sprint,
    new_uuid,
    ok,
    uniq_key,
)
from .wsclient import WsClient

_CHAR = "invalid character: expected an optional prefix of `urn:uuid:` followed by [0-9a-fA-F-]"


# -- invalid UTF-8 and hostile JSON get 400 with the envelope -----------------------------
def _post_raw(api: httpx.Client, path: str, raw: bytes) -> httpx.Response:
    return api.post(path, content=raw, headers={"content-type": "application/json"})


def test_body_with_invalid_utf8_is_400(api: httpx.Client) -> None:
    p = create_project(api)
    raw = b'{"title":"t\xff","project_id":"' + p["id"].encode() + b'","item_type":"task"}'
    assert_error(
        _post_raw(api, "/api/v1/work-items", raw),
        400,
        "BAD_REQUEST",
        startswith="Malformed JSON in request body: invalid UTF-8",
    )
    assert ok(api.get(f"/api/v1/projects/{p['id']}/work-items"))["work_items"] == []


@pytest.mark.parametrize("opener", ["{", "["])
def test_unknown_field_nested_1000_deep_is_400(api: httpx.Client, opener: str) -> None:
    p = create_project(api)
    closer = "}" if opener == "{" else "]"
    inner = ('{"a":' * 1000 + "1" + "}" * 1000) if opener == "{" else ("[" * 1000 + "]" * 1000)
    raw = f'{{"title":"t","project_id":"{p["id"]}","item_type":"task","x":{inner}}}'
    assert closer in raw
    assert_error(
        _post_raw(api, "/api/v1/work-items", raw.encode()),
        400,
        "BAD_REQUEST",
        "Malformed JSON in request body: nested too deeply",
    )
    # the same through the import route, whose body limit is larger
    r = _post_raw(api, "/api/v1/sync/import", b'{"schema_version":1,"x":' + inner.encode() + b"}")
    assert_error(r, 400, "BAD_REQUEST", "Malformed JSON in request body: nested too deeply")


def test_path_is_decoded_once(api: httpx.Client) -> None:
    assert_error(
        api.get("/api/v1/projects/%2541"), 404, "NOT_FOUND", "Project with key '%41' not found"
    )


def test_invalid_utf8_in_query_is_400(api: httpx.Client) -> None:
    assert_error(
        api.get("/api/v1/sync/export?work_item=%ff"),
        400,
        "BAD_REQUEST",
        "Invalid query string: invalid UTF-8",
    )


# -- UUID errors name the character the original names -------------------------------------
@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("nope", f"{_CHAR}, found `n` at 1"),
        ("zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz", f"{_CHAR}, found `z` at 1"),
        ("12345678-1234-1234-1234-12345678901g", f"{_CHAR}, found `g` at 36"),
        ("urn:uuid:x", f"{_CHAR}, found `x` at 10"),
        ("1234", "invalid length: expected length 32 for simple format, found 4"),
        (
            "12345678-1234-1234-1234-1234567890",
            "invalid group length in group 4: expected 12, found 10",
        ),
        ("12345678-1234-1234-1234-123456789012-", "invalid group count: expected 5, found 6"),
    ],
)
def test_uuid_errors_name_the_right_character(api: httpx.Client, text: str, problem: str) -> None:
    assert_error(
        api.get(f"/api/v1/sprints/{text}"),
        400,
        "VALIDATION_ERROR",
        f"Invalid UUID format: {problem}",
    )


def test_uuid_error_in_a_body(api: httpx.Client) -> None:
    body = {"project_id": "é1", "item_type": "task", "title": "x"}
    assert_error(
        api.post("/api/v1/work-items", json=body),
        400,
        "VALIDATION_ERROR",
        f"Invalid UUID format: {_CHAR}, found `é` at 1",
        field="project_id",  # pm-fast names the field (docs/compat.md)
    )


# -- validation texts ------------------------------------------------------------------------
def test_blank_names_in_the_originals_words(api: httpx.Client) -> None:
    r = api.post("/api/v1/projects", json={"title": "  ", "key": uniq_key()})
    assert_error(r, 400, "VALIDATION_ERROR", "Project title cannot be empty", field="title")
    r = api.post("/api/v1/projects", json={"title": "x", "key": " \t"})
    assert_error(r, 400, "VALIDATION_ERROR", "Project key cannot be empty", field="key")
    p = create_project(api)
    r = api.put(f"/api/v1/projects/{p['id']}", json={"title": " ", "expected_version": 1})
    assert_error(r, 400, "VALIDATION_ERROR", "Project title cannot be empty", field="title")
    body = {"project_id": p["id"], "name": "  ", "start_date": 1700000000, "end_date": 1701000000}
    r = api.post("/api/v1/sprints", json=body)
    assert_error(r, 400, "VALIDATION_ERROR", "Sprint name cannot be empty", field="name")


@pytest.mark.parametrize("field", ["start_date", "end_date"])
def test_timestamp_texts_start_like_the_originals(api: httpx.Client, field: str) -> None:
    p = create_project(api)
    body: dict[str, Any] = {
        "project_id": p["id"],
        "name": "S",
        "start_date": 1700000000,
        "end_date": 1701000000,
    }
    body[field] = 99999999999999
    err = assert_error(api.post("/api/v1/sprints", json=body), 400, "VALIDATION_ERROR", field=field)
    assert err["message"].startswith(f"Invalid {field} timestamp: 99999999999999"), err


def test_work_item_status_and_priority_texts(api: httpx.Client) -> None:
    p = create_project(api)
    base = {"project_id": p["id"], "item_type": "task", "title": "t"}
    statuses = "backlog, todo, in_progress, review, done"
    r = api.post("/api/v1/work-items", json={**base, "status": "bogus"})
    assert_error(
        r,
        400,
        "VALIDATION_ERROR",
        f"Validation failed: Invalid status: bogus. Valid: {statuses}",
        field="status",
    )
    r = api.post("/api/v1/work-items", json={**base, "priority": "bogus"})
    assert_error(
        r,
        400,
        "VALIDATION_ERROR",
        "Validation failed: Invalid priority: bogus. Valid: low, medium, high, critical",
        field="priority",
    )
    w = create_item(api, p["id"], "task")
    r = api.put(f"/api/v1/work-items/{w['id']}", json={"status": "blocked", "expected_version": 1})
    assert_error(
        r,
        400,
        "VALIDATION_ERROR",
        f"Validation failed: Invalid status: blocked. Valid: {statuses}",
        field="status",
    )


def test_dependency_type_text(api: httpx.Client) -> None:
    p = create_project(api)
    a, b = create_item(api, p["id"], "task"), create_item(api, p["id"], "task")
    body = {"blocking_item_id": a["id"], "blocked_item_id": b["id"], "dependency_type": "bogus"}
    assert_error(
        api.post("/api/v1/dependencies", json=body),
        400,
        "VALIDATION_ERROR",
        "Invalid dependency_type: bogus. Valid values: blocks, relates_to",
        field="dependency_type",
    )


def test_unknown_work_item_by_id_in_a_body(api: httpx.Client) -> None:
    u = new_uuid()
    r = api.post("/api/v1/time-entries", json={"work_item_id": u})
    assert_error(r, 404, "NOT_FOUND", f"Work item {u} not found")


@pytest.mark.parametrize(
    ("ident", "message"),
    [
        ("PONE-0", "Invalid item number 0: must be greater than 0"),
        ("PONE-x", "Invalid item number 'x': must be a positive integer"),
        ("PONE-12.5", "Invalid item number '12.5': must be a positive integer"),
        ("abc-1", "Invalid project key 'abc': must contain only uppercase ASCII letters (A-Z)"),
        ("ABCDEFGHIJK-1", "Invalid project key 'ABCDEFGHIJK': must be 1-10 uppercase letters"),
        (
            "PONE--1",
            "Invalid display key format 'PONE--1': expected PROJECT-NUMBER (e.g., PONE-126)",
        ),
    ],
)
def test_display_key_texts(api: httpx.Client, ident: str, message: str) -> None:
    assert_error(api.get(f"/api/v1/work-items/{ident}"), 400, "BAD_REQUEST", message)
    r = api.get(f"/api/v1/sync/export?work_item={ident}")
    assert_error(r, 400, "BAD_REQUEST", message)


def test_display_key_number_with_a_plus_sign_resolves(api: httpx.Client) -> None:
    p = create_project(api)
    w = create_item(api, p["id"], "task")
    assert (
        ok(api.get(f"/api/v1/work-items/{p['key']}-%2B{w['item_number']}"))["work_item"]["id"]
        == w["id"]
    )


# -- trimming is Unicode White_Space, as the original's ------------------------------------
def test_information_separators_are_not_trimmed(api: httpx.Client) -> None:
    title = "\x1cTitle\x1f"
    p = create_project(api, title=title)
    assert p["title"] == title
    w = create_item(api, p["id"], "task", title="\u3000\x1d task \x1e\u2003")
    assert w["title"] == "\x1d task \x1e"
    s = create_sprint(api, p["id"], name="\x1f")
    assert s["name"] == "\x1f"


# -- activity comments: REST writes none, WebSocket writes "N fields changed" -------------
async def test_rest_update_activity_has_no_comment(api: httpx.Client, server: Any) -> None:
    p = create_project(api)  # shared (made by the LLM user), so a WebSocket user sees it
    w = create_item(api, p["id"], "task")
    async with await WsClient.connect(server.port) as c:
        await c.subscribe([p["id"]])
        r = api.put(
            f"/api/v1/work-items/{w['id']}",
            json={"title": "new", "status": "todo", "expected_version": w["version"]},
        )
        ok(r)
        first = await c.next_event()
        assert first.activity_log_created.entry.action == "updated"
        assert not first.activity_log_created.entry.HasField("comment")
        await c.next_event()  # the work item event
        # the same kind of change over WebSocket notes the number of fields, as the
        # original does
        await c.call(
            "update_work_item_request",
            work_item_id=w["id"],
            expected_version=w["version"] + 1,
            title="newer",
        )
        listed = await c.call(
            "get_activity_log_request", entity_type="work_item", entity_id=w["id"], limit=10
        )
        notes = {e.comment if e.HasField("comment") else None for e in listed.entries}
        assert notes == {None, "1 fields changed"}  # created: none; REST: none; WS: noted
