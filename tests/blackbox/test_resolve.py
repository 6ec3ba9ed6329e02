"""§1.5 identifier resolution for path parameters (+ §5.1 parser cases, compat.md 32-bit fix)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from .helpers import (
    assert_error,
    create_comment,
    create_dependency,
    create_item,
    create_project,
    create_sprint,
    new_uuid,
    ok,
    start_timer,
)


@pytest.fixture(scope="module")
def proj(api: httpx.Client) -> dict[str, Any]:
    p = create_project(api)
    e = create_item(api, p["id"], "epic", "E")
    s = create_item(api, p["id"], "story", "S", parent_id=e["id"])
    t = create_item(api, p["id"], "task", "T", parent_id=s["id"])
    return {"p": p, "e": e, "s": s, "t": t}


FORMAT_MSG = "Invalid display key format '{}': expected PROJECT-NUMBER (e.g., PONE-126)"


@pytest.mark.parametrize("ident", ["PONE126", "PONE--1", "PONE-126-1", "A-B-3"])
def test_display_key_format_errors(api: httpx.Client, ident: str) -> None:
    r = api.get(f"/api/v1/work-items/{ident}")
    assert_error(r, 400, "BAD_REQUEST", FORMAT_MSG.format(ident))


@pytest.mark.parametrize(
    "ident", ["pone-126", "PONE1-126", "PONE_-126", "ABCDEFGHIJK-126", "Pone-1", "ÄBC-1"]
)
def test_display_key_bad_project_key(api: httpx.Client, ident: str) -> None:
    r = api.get(f"/api/v1/work-items/{ident}")
    assert_error(r, 400, "BAD_REQUEST", startswith="Invalid project key")


@pytest.mark.parametrize(
    "ident",
    [
        "PONE-0",
        "PONE-abc",
        "PONE-",
        "PONE-12.5",
        "PONE--0x1",
        "PONE-99999999999999999999",
        "PONE-1e3",
    ],
)
def test_display_key_bad_item_number(api: httpx.Client, ident: str) -> None:
    r = api.get(f"/api/v1/work-items/{ident}")
    if ident.count("-") != 1:
        assert_error(r, 400, "BAD_REQUEST", FORMAT_MSG.format(ident))
    else:
        assert_error(r, 400, "BAD_REQUEST", startswith="Invalid item number")


def test_valid_format_unknown_project(api: httpx.Client) -> None:
    # ABCDEFGHIJ-1234567890 is a valid display key (10 letters, positive number)
    r = api.get("/api/v1/work-items/ABCDEFGHIJ-1234567890")
    assert_error(r, 404, "NOT_FOUND", contains="ABCDEFGHIJ")


def test_display_key_resolves(api: httpx.Client, proj: dict[str, Any]) -> None:
    for k in ("e", "s", "t"):
        w = proj[k]
        assert ok(api.get(f"/api/v1/work-items/{w['display_key']}"))["work_item"]["id"] == w["id"]


def test_display_key_missing_number(api: httpx.Client, proj: dict[str, Any]) -> None:
    key = proj["p"]["key"]
    assert_error(
        api.get(f"/api/v1/work-items/{key}-999"),
        404,
        "NOT_FOUND",
        f"Work item {key}-999 not found in project {key}",
    )


def test_display_key_number_beyond_32_bits(api: httpx.Client, proj: dict[str, Any]) -> None:
    # compat.md: no narrowing to 32 bits; KEY-4294967297 does not find item 1
    key = proj["p"]["key"]
    for n in (4294967297, 2**32 + 2, 2**63 - 1):
        assert_error(
            api.get(f"/api/v1/work-items/{key}-{n}"),
            404,
            "NOT_FOUND",
            f"Work item {key}-{n} not found in project {key}",
        )


def test_display_key_lowercase_of_existing(api: httpx.Client, proj: dict[str, Any]) -> None:
    key = proj["p"]["key"]
    assert_error(
        api.get(f"/api/v1/work-items/{key.lower()}-1"),
        400,
        "BAD_REQUEST",
        startswith="Invalid project key",
    )


def test_uuid_not_found_message(api: httpx.Client) -> None:
    u = new_uuid()
    assert_error(
        api.get(f"/api/v1/work-items/{u}"), 404, "NOT_FOUND", f"Work item with ID {u} not found"
    )


def test_uuid_forms_accepted(api: httpx.Client, proj: dict[str, Any]) -> None:
    w = proj["t"]
    assert ok(api.get(f"/api/v1/work-items/{w['id'].upper()}"))["work_item"]["id"] == w["id"]
    simple = w["id"].replace("-", "")
    assert ok(api.get(f"/api/v1/work-items/{simple}"))["work_item"]["id"] == w["id"]


@pytest.mark.parametrize("suffix", ["comments", "dependencies", "time-entries"])
def test_work_item_subroutes_resolve_display_keys(
    api: httpx.Client, proj: dict[str, Any], suffix: str
) -> None:
    w = proj["t"]
    a = ok(api.get(f"/api/v1/work-items/{w['display_key']}/{suffix}"))
    b = ok(api.get(f"/api/v1/work-items/{w['id']}/{suffix}"))
    assert a == b
    assert_error(api.get(f"/api/v1/work-items/bad_key-1/{suffix}"), 400, "BAD_REQUEST")
    key = proj["p"]["key"]
    assert_error(
        api.get(f"/api/v1/work-items/{key}-998/{suffix}"),
        404,
        "NOT_FOUND",
        f"Work item {key}-998 not found in project {key}",
    )


@pytest.mark.parametrize("suffix", ["work-items", "sprints", "swim-lanes"])
def test_project_subroutes_resolve_keys(
    api: httpx.Client, proj: dict[str, Any], suffix: str
) -> None:
    p = proj["p"]
    assert ok(api.get(f"/api/v1/projects/{p['key']}/{suffix}")) == ok(
        api.get(f"/api/v1/projects/{p['id']}/{suffix}")
    )
    assert_error(
        api.get(f"/api/v1/projects/{p['key'].lower()}/{suffix}"),
        404,
        "NOT_FOUND",
        f"Project with key '{p['key'].lower()}' not found",
    )


def test_uuid_only_routes_reject_keys(api: httpx.Client, proj: dict[str, Any]) -> None:
    w = proj["t"]
    dk = w["display_key"]
    for method, path, body in [
        ("GET", f"/api/v1/sprints/{proj['p']['key']}", None),
        ("PUT", f"/api/v1/sprints/{proj['p']['key']}", {"expected_version": 1}),
        ("DELETE", f"/api/v1/sprints/{proj['p']['key']}", None),
        ("PUT", f"/api/v1/comments/{dk}", {"content": "x"}),
        ("DELETE", f"/api/v1/comments/{dk}", None),
        ("DELETE", f"/api/v1/dependencies/{dk}", None),
        ("GET", f"/api/v1/time-entries/{dk}", None),
        ("PUT", f"/api/v1/time-entries/{dk}", {"stop": True}),
        ("DELETE", f"/api/v1/time-entries/{dk}", None),
    ]:
        r = api.request(method, path, json=body)
        err = assert_error(r, 400, "VALIDATION_ERROR")
        assert err["message"].startswith("Invalid UUID format: "), (method, path, err)


def test_sub_resources_of_display_key(api: httpx.Client, proj: dict[str, Any]) -> None:
    p, s, t = proj["p"], proj["s"], proj["t"]
    user = new_uuid()
    c = create_comment(api, t["display_key"], "hi", user=user)
    d = create_dependency(api, s["id"], t["id"], "relates_to")
    te = start_timer(api, t["id"], user=user)
    assert c in ok(api.get(f"/api/v1/work-items/{t['display_key']}/comments"))["comments"]
    assert d in ok(api.get(f"/api/v1/work-items/{t['display_key']}/dependencies"))["dependencies"]
    assert te in ok(api.get(f"/api/v1/work-items/{t['display_key']}/time-entries"))["time_entries"]
    sp = create_sprint(api, p["id"])
    assert sp in ok(api.get(f"/api/v1/projects/{p['key']}/sprints"))["sprints"]
