"""§1.4 Comments (+ compat.md: author-only edit/delete, blank content refused)."""

from __future__ import annotations

import time
from typing import Any

import httpx

from .helpers import (
    COMMENT_KEYS,
    LLM_USER,
    assert_error,
    assert_keys,
    assert_ts_between,
    check_comment,
    create_comment,
    create_item,
    create_project,
    new_uuid,
    ok,
)


def item(api: httpx.Client) -> dict[str, Any]:
    p = create_project(api)
    return create_item(api, p["id"], "task")


def test_create_comment_shape(api: httpx.Client) -> None:
    w = item(api)
    t0 = time.time()
    r = api.post(f"/api/v1/work-items/{w['id']}/comments", json={"content": "  hello  "})
    t1 = time.time()
    assert r.status_code == 200
    body = ok(r)
    assert list(body.keys()) == ["comment"]
    c = body["comment"]
    assert_keys(c, COMMENT_KEYS)
    check_comment(c)
    assert c["work_item_id"] == w["id"]
    assert c["content"] == "hello"
    assert c["created_by"] == LLM_USER and c["updated_by"] == LLM_USER
    assert_ts_between(c["created_at"], t0, t1)
    assert c["updated_at"] == c["created_at"]


def test_create_comment_via_display_key_and_user(api: httpx.Client) -> None:
    w = item(api)
    user = new_uuid()
    c = create_comment(api, w["display_key"], "via key", user=user)
    assert c["work_item_id"] == w["id"]
    assert c["created_by"] == user and c["updated_by"] == user


def test_comment_content_validation(api: httpx.Client) -> None:
    w = item(api)
    for content in ("", "    "):
        r = api.post(f"/api/v1/work-items/{w['id']}/comments", json={"content": content})
        assert_error(r, 400, "VALIDATION_ERROR", field="content")
    r = api.post(f"/api/v1/work-items/{w['id']}/comments", json={"content": "c" * 5001})
    assert_error(r, 400, "VALIDATION_ERROR", field="content")
    assert create_comment(api, w["id"], "c" * 5000)["content"] == "c" * 5000
    assert len(ok(api.get(f"/api/v1/work-items/{w['id']}/comments"))["comments"]) == 1


def test_comment_content_validated_before_item_lookup(api: httpx.Client) -> None:
    r = api.post(f"/api/v1/work-items/{new_uuid()}/comments", json={"content": ""})
    assert_error(r, 400, "VALIDATION_ERROR", field="content")


def test_create_comment_unknown_item(api: httpx.Client) -> None:
    u = new_uuid()
    r = api.post(f"/api/v1/work-items/{u}/comments", json={"content": "x"})
    assert_error(r, 404, "NOT_FOUND", f"Work item with ID {u} not found")
    r = api.post("/api/v1/work-items/bad1-2/comments", json={"content": "x"})
    assert_error(r, 400, "BAD_REQUEST")


def test_create_comment_missing_content_422(api: httpx.Client) -> None:
    w = item(api)
    r = api.post(f"/api/v1/work-items/{w['id']}/comments", json={})
    assert_error(r, 422, "VALIDATION_ERROR", field=("content", "$.content"))


def test_list_comments(api: httpx.Client) -> None:
    w = item(api)
    assert ok(api.get(f"/api/v1/work-items/{w['id']}/comments")) == {"comments": []}
    made = [create_comment(api, w["id"], f"c{i}") for i in range(3)]
    body = ok(api.get(f"/api/v1/work-items/{w['id']}/comments"))
    assert list(body.keys()) == ["comments"]
    got = body["comments"]
    assert {c["id"] for c in got} == {c["id"] for c in made}
    assert [c["created_at"] for c in got] == sorted(c["created_at"] for c in got)
    for c in got:
        check_comment(c)
    assert ok(api.get(f"/api/v1/work-items/{w['display_key']}/comments")) == body
    # other items' comments are not listed
    w2 = item(api)
    create_comment(api, w2["id"], "other")
    assert len(ok(api.get(f"/api/v1/work-items/{w['id']}/comments"))["comments"]) == 3


def test_list_comments_unknown_item(api: httpx.Client) -> None:
    u = new_uuid()
    assert_error(
        api.get(f"/api/v1/work-items/{u}/comments"),
        404,
        "NOT_FOUND",
        f"Work item with ID {u} not found",
    )


def test_update_comment(api: httpx.Client) -> None:
    w = item(api)
    c = create_comment(api, w["id"], "original")
    r = api.put(f"/api/v1/comments/{c['id']}", json={"content": "  edited  "})
    body = ok(r)
    assert list(body.keys()) == ["comment"]
    u = body["comment"]
    check_comment(u)
    assert u["content"] == "edited"
    assert u["id"] == c["id"] and u["work_item_id"] == w["id"]
    assert u["created_at"] == c["created_at"]
    assert u["created_by"] == LLM_USER and u["updated_by"] == LLM_USER
    assert u["updated_at"] >= c["updated_at"]
    listed = ok(api.get(f"/api/v1/work-items/{w['id']}/comments"))["comments"]
    assert listed == [u]


def test_update_comment_errors(api: httpx.Client) -> None:
    w = item(api)
    c = create_comment(api, w["id"], "x")
    err = assert_error(
        api.put("/api/v1/comments/nope", json={"content": "y"}), 400, "VALIDATION_ERROR"
    )
    assert err["message"].startswith("Invalid UUID format: ")
    u = new_uuid()
    assert_error(
        api.put(f"/api/v1/comments/{u}", json={"content": "y"}),
        404,
        "NOT_FOUND",
        f"Comment {u} not found",
    )
    # content validation comes before the lookup
    assert_error(
        api.put(f"/api/v1/comments/{u}", json={"content": " "}),
        400,
        "VALIDATION_ERROR",
        field="content",
    )
    assert_error(
        api.put(f"/api/v1/comments/{c['id']}", json={"content": "z" * 5001}),
        400,
        "VALIDATION_ERROR",
        field="content",
    )
    assert ok(api.get(f"/api/v1/work-items/{w['id']}/comments"))["comments"] == [c]


def test_comment_author_only(api: httpx.Client) -> None:
    # compat.md: comment edit/delete by its author only -> 403 UNAUTHORIZED
    w = item(api)
    author = new_uuid()
    other = new_uuid()
    c = create_comment(api, w["id"], "mine", user=author)
    r = api.put(
        f"/api/v1/comments/{c['id']}", json={"content": "theirs"}, headers={"X-User-Id": other}
    )
    assert_error(
        r,
        403,
        "UNAUTHORIZED",
        field=(None, "created_by", "comment_id", "id"),
        contains="another user",
    )
    r = api.delete(f"/api/v1/comments/{c['id']}", headers={"X-User-Id": other})
    assert_error(
        r,
        403,
        "UNAUTHORIZED",
        field=(None, "created_by", "comment_id", "id"),
        contains="another user",
    )
    # the LLM user (no header) is another user too
    r = api.delete(f"/api/v1/comments/{c['id']}")
    assert_error(r, 403, "UNAUTHORIZED", field=(None, "created_by", "comment_id", "id"))
    assert ok(api.get(f"/api/v1/work-items/{w['id']}/comments"))["comments"] == [c]
    u = ok(
        api.put(
            f"/api/v1/comments/{c['id']}",
            json={"content": "still mine"},
            headers={"X-User-Id": author},
        )
    )["comment"]
    assert u["content"] == "still mine" and u["updated_by"] == author
    assert ok(api.delete(f"/api/v1/comments/{c['id']}", headers={"X-User-Id": author})) == {
        "deleted_id": c["id"]
    }


def test_delete_comment(api: httpx.Client) -> None:
    w = item(api)
    c1 = create_comment(api, w["id"], "one")
    c2 = create_comment(api, w["id"], "two")
    r = api.delete(f"/api/v1/comments/{c1['id']}")
    assert r.status_code == 200
    assert ok(r) == {"deleted_id": c1["id"]}
    assert ok(api.get(f"/api/v1/work-items/{w['id']}/comments"))["comments"] == [c2]
    assert_error(
        api.delete(f"/api/v1/comments/{c1['id']}"),
        404,
        "NOT_FOUND",
        f"Comment {c1['id']} not found",
    )
    assert_error(
        api.put(f"/api/v1/comments/{c1['id']}", json={"content": "x"}),
        404,
        "NOT_FOUND",
        f"Comment {c1['id']} not found",
    )
    err = assert_error(api.delete("/api/v1/comments/123"), 400, "VALIDATION_ERROR")
    assert err["message"].startswith("Invalid UUID format: ")
