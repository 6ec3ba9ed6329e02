"""REST with auth enabled: the WebSocket's JWT on every /api/v1 route, the same
membership rules, no X-User-Id identity (docs/compat.md "REST with auth enabled").

Every test that walks routes is parametrized over `pm_fast.api.rest.ROUTES`, so a route
added without an entry in `_request` below fails here until its access is decided.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from harness import not_on_robyn

from pm_fast.api.rest import ROUTES

from .conftest import ServerFactory
from .helpers import EXPORT_KEYS, assert_error, assert_json, uniq_key
from .wsclient import ServerProcess, WsClient, add_member, module_server

SECRET = "rest-auth-secret-of-at-least-32-bytes-length"
API_ROUTES = [(m, p) for m, p, _ in ROUTES if p.startswith("/api/")]
OPEN_ROUTES = {("GET", "/health"), ("GET", "/live"), ("GET", "/ready")}
ROUTE_IDS = [f"{m} {p}" for m, p in API_ROUTES]


def token(subject: str, secret: str = SECRET, **over: Any) -> str:
    t = int(time.time())
    claims: dict[str, Any] = {"sub": subject, "iat": t, "exp": t + 3600}
    for k, v in over.items():
        if v is None:
            claims.pop(k, None)
        else:
            claims[k] = v
    return jwt.encode(claims, secret, algorithm="HS256")


def bearer(sub: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(sub)}"}


class User:
    """A JWT user with its own client; `X-User-Id` is always sent naming `pose_as`
    (when given), which must change nothing."""

    def __init__(self, srv: ServerProcess, pose_as: str | None = None) -> None:
        self.id = str(uuid.uuid4())
        headers = bearer(self.id)
        if pose_as is not None:
            headers["X-User-Id"] = pose_as
        self.client = srv.client(headers=headers)

    def ok(self, method: str, url: str, body: Any = None) -> Any:
        r = self.client.request(method, url, json=body)
        assert r.status_code == 200, (method, url, r.status_code, r.text)
        return r.json()


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    yield from module_server(
        tmp_path_factory,
        "rest-auth",
        env={"PM_AUTH_ENABLED": "true", "PM_AUTH_JWT_SECRET": SECRET},
    )


@pytest.fixture(scope="module")
def alice(srv: ServerProcess) -> Iterator[User]:
    u = User(srv)
    yield u
    u.client.close()


def world(owner: User) -> dict[str, Any]:
    """A project of `owner` with one of everything, and an empty project to delete."""
    p = owner.ok("POST", "/api/v1/projects", {"title": "Private", "key": uniq_key("A")})["project"]
    empty = owner.ok("POST", "/api/v1/projects", {"title": "Empty", "key": uniq_key("E")})
    pid = p["id"]

    def item(kind: str) -> dict[str, Any]:
        body = {"project_id": pid, "item_type": kind, "title": f"{kind} one"}
        made: dict[str, Any] = owner.ok("POST", "/api/v1/work-items", body)["work_item"]
        return made

    epic = item("epic")
    task = item("task")
    other = item("task")
    leaf = item("task")
    t = int(time.time())
    sprint = owner.ok(
        "POST",
        "/api/v1/sprints",
        {"project_id": pid, "name": "S1", "start_date": t, "end_date": t + 86400},
    )["sprint"]
    comment = owner.ok(
        "POST", f"/api/v1/work-items/{task['id']}/comments", {"content": "secret words"}
    )["comment"]
    dep = owner.ok(
        "POST",
        "/api/v1/dependencies",
        {
            "blocking_item_id": task["id"],
            "blocked_item_id": other["id"],
            "dependency_type": "blocks",
        },
    )
    entry = owner.ok("POST", "/api/v1/time-entries", {"work_item_id": task["id"]})["time_entry"]
    return {
        "project": p,
        "empty": empty["project"],
        "epic": epic,
        "task": task,
        "other": other,
        "leaf": leaf,
        "sprint": sprint,
        "comment": comment,
        "dep": dep,
        "entry": entry,
    }


def payload(**rows: list[dict[str, Any]]) -> dict[str, Any]:
    """A sync import body holding `rows` (every other list empty)."""
    body: dict[str, Any] = {
        "schema_version": 1,
        "exported_at": "2026-01-01T00:00:00Z",
        "exported_by": "pm-server",
    }
    for kind in EXPORT_KEYS[3:]:  # the lists, after the three header fields
        body[kind] = rows.get(kind, [])
    return body


def _request(method: str, pattern: str, w: dict[str, Any]) -> tuple[str, Any]:
    """The URL and body that exercise route `method pattern` on world `w`."""
    pid, task = w["project"]["id"], w["task"]["id"]
    t = int(time.time())
    table: dict[tuple[str, str], tuple[str | None, Any]] = {
        ("GET", "/api/v1/projects"): (None, None),
        ("POST", "/api/v1/projects"): (None, {"title": "Mine", "key": uniq_key("M")}),
        ("GET", "/api/v1/projects/{}"): (pid, None),
        ("PUT", "/api/v1/projects/{}"): (pid, {"expected_version": 1, "title": "Renamed"}),
        ("DELETE", "/api/v1/projects/{}"): (w["empty"]["id"], None),
        ("GET", "/api/v1/projects/{}/sprints"): (pid, None),
        ("GET", "/api/v1/projects/{}/events"): (pid, None),
        ("POST", "/api/v1/sprints"): (
            None,
            {"project_id": pid, "name": "S2", "start_date": t, "end_date": t + 86400},
        ),
        ("GET", "/api/v1/sprints/{}"): (w["sprint"]["id"], None),
        ("PUT", "/api/v1/sprints/{}"): (w["sprint"]["id"], {"expected_version": 1, "name": "S9"}),
        ("DELETE", "/api/v1/sprints/{}"): (w["sprint"]["id"], None),
        ("GET", "/api/v1/projects/{}/work-items"): (pid, None),
        ("POST", "/api/v1/work-items"): (
            None,
            {"project_id": pid, "item_type": "task", "title": "new"},
        ),
        ("GET", "/api/v1/work-items/{}"): (task, None),
        ("PUT", "/api/v1/work-items/{}"): (task, {"expected_version": 1, "title": "changed"}),
        ("DELETE", "/api/v1/work-items/{}"): (w["leaf"]["id"], None),
        ("GET", "/api/v1/work-items/{}/comments"): (task, None),
        ("POST", "/api/v1/work-items/{}/comments"): (task, {"content": "hello"}),
        ("PUT", "/api/v1/comments/{}"): (w["comment"]["id"], {"content": "edited"}),
        ("DELETE", "/api/v1/comments/{}"): (w["comment"]["id"], None),
        ("GET", "/api/v1/work-items/{}/dependencies"): (task, None),
        ("POST", "/api/v1/dependencies"): (
            None,
            {
                "blocking_item_id": w["epic"]["id"],
                "blocked_item_id": w["leaf"]["id"],
                "dependency_type": "relates_to",
            },
        ),
        ("DELETE", "/api/v1/dependencies/{}"): (w["dep"]["id"], None),
        ("GET", "/api/v1/projects/{}/swim-lanes"): (pid, None),
        ("GET", "/api/v1/work-items/{}/time-entries"): (task, None),
        ("POST", "/api/v1/time-entries"): (None, {"work_item_id": task}),
        ("GET", "/api/v1/time-entries/{}"): (w["entry"]["id"], None),
        ("PUT", "/api/v1/time-entries/{}"): (w["entry"]["id"], {"stop": True}),
        ("DELETE", "/api/v1/time-entries/{}"): (w["entry"]["id"], None),
        ("GET", "/api/v1/sync/export"): (None, None),
        ("GET", "/api/v1/openapi.json"): (None, None),
        # a newer copy of the project: an import that overwrites it
        ("POST", "/api/v1/sync/import"): (
            None,
            payload(
                projects=[{**w["project"], "title": "Imported", "updated_at": t + 100}],
            ),
        ),
    }
    param, body = table[(method, pattern)]  # a new route must be added here
    return (pattern.replace("{}", param) if param is not None else pattern), body


# What a caller gets on each route: the owner (admin) may do everything; a non-member
# may only list (its own), create its own project and export (its own).
_OWN = {
    ("GET", "/api/v1/projects"),
    ("POST", "/api/v1/projects"),
    ("GET", "/api/v1/sync/export"),
    ("GET", "/api/v1/openapi.json"),  # names no entity
}


def _snapshot(owner: User) -> dict[str, Any]:
    data = owner.ok("GET", "/api/v1/sync/export")
    data.pop("exported_at")
    return dict(data)


def _ids(w: dict[str, Any]) -> list[str]:
    return [v["id"] for v in w.values()]


def test_route_table_is_covered() -> None:
    """Every route outside /api/ is a probe, /metrics (bearer token as /api/, checked in
    test_metrics.py) or an admin route (another check's concern)."""
    others = {(m, p) for m, p, _ in ROUTES if not p.startswith("/api/")}
    others.discard(("GET", "/metrics"))
    assert {r for r in others if not r[1].startswith("/admin/")} == OPEN_ROUTES
    assert len(API_ROUTES) >= 30


def _bad_tokens(sub: str) -> dict[str, dict[str, str]]:
    t = int(time.time())
    return {
        "missing": {},
        "x_user_id_only": {"X-User-Id": sub},
        "basic_scheme": {"Authorization": "Basic YWxpY2U6cGFzcw=="},
        "bare_scheme": {"Authorization": "Bearer"},
        "lowercase_scheme": {"Authorization": f"bearer {token(sub)}"},
        "garbage": {"Authorization": "Bearer not.a.jwt"},
        "wrong_secret": {"Authorization": f"Bearer {token(sub, secret='x' * 40)}"},
        "expired": {"Authorization": f"Bearer {token(sub, exp=t - 3600, iat=t - 7200)}"},
        "no_sub": {"Authorization": f"Bearer {token(sub, sub=None)}"},
        "no_exp": {"Authorization": f"Bearer {token(sub, exp=None)}"},
        "alg_none": {
            "Authorization": "Bearer "
            + jwt.encode({"sub": sub, "iat": t, "exp": t + 3600}, "", algorithm="none")
        },
        "query_token_only": {},  # a token in the query string is not accepted on REST
    }


@pytest.mark.parametrize(("method", "pattern"), API_ROUTES, ids=ROUTE_IDS)
def test_without_a_valid_token_every_route_is_401(
    srv: ServerProcess, alice: User, method: str, pattern: str
) -> None:
    w = world(alice)
    before = _snapshot(alice)
    url, body = _request(method, pattern, w)
    with srv.client() as anon:
        for case, headers in _bad_tokens(alice.id).items():
            params = {"token": token(alice.id)} if case == "query_token_only" else None
            r = anon.request(method, url, json=body, headers=headers, params=params)
            assert_error(r, 401, "UNAUTHORIZED")
            assert r.headers["www-authenticate"].startswith("Bearer"), case
            assert "secret words" not in r.text
    assert _snapshot(alice) == before


@pytest.mark.parametrize(("method", "pattern"), API_ROUTES, ids=ROUTE_IDS)
def test_owner_may_use_every_route(
    srv: ServerProcess, alice: User, method: str, pattern: str
) -> None:
    w = world(alice)
    url, body = _request(method, pattern, w)
    r = alice.client.request(method, url, json=body)
    assert r.status_code == 200, r.text
    if pattern == "/api/v1/sync/import":
        assert r.json()["projects"]["updated"] == 1
        got = alice.ok("GET", f"/api/v1/projects/{w['project']['id']}")
        assert got["project"]["title"] == "Imported"
    if method != "DELETE" and pattern != "/api/v1/sync/export":
        assert isinstance(assert_json(r), (dict, list))
    if pattern == "/api/v1/sync/export":
        assert w["project"]["id"] in r.text and "secret words" in r.text


@pytest.mark.parametrize(("method", "pattern"), API_ROUTES, ids=ROUTE_IDS)
def test_non_member_gets_403_and_nothing_changes_or_leaks(
    srv: ServerProcess, alice: User, method: str, pattern: str
) -> None:
    """Bob holds a valid token and claims to be Alice in X-User-Id: no effect."""
    w = world(alice)
    before = _snapshot(alice)
    bob = User(srv, pose_as=alice.id)
    try:
        url, body = _request(method, pattern, w)
        r = bob.client.request(method, url, json=body)
        if (method, pattern) in _OWN:
            assert r.status_code == 200, r.text
            for ident in _ids(w):
                assert ident not in r.text, (ident, r.text)
            assert "secret words" not in r.text
            if method == "POST":
                assert r.json()["project"]["created_by"] == bob.id
        else:
            err = assert_error(r, 403, "UNAUTHORIZED")
            assert "secret words" not in r.text
            assert err["message"]
    finally:
        bob.client.close()
    assert _snapshot(alice) == before


@pytest.mark.parametrize(("method", "pattern"), API_ROUTES, ids=ROUTE_IDS)
def test_viewer_reads_but_cannot_write(
    srv: ServerProcess, alice: User, method: str, pattern: str
) -> None:
    w = world(alice)
    carol = User(srv, pose_as=alice.id)
    add_member(srv, w["project"]["id"], carol.id, "viewer")
    before = _snapshot(alice)
    try:
        url, body = _request(method, pattern, w)
        r = carol.client.request(method, url, json=body)
        if method == "GET" or (method, pattern) == ("POST", "/api/v1/projects"):
            assert r.status_code == 200, r.text
        else:
            assert_error(r, 403, "UNAUTHORIZED")
    finally:
        carol.client.close()
    if method == "GET":
        assert _snapshot(alice) == before


def test_editor_edits_items_but_does_not_administer(srv: ServerProcess, alice: User) -> None:
    w = world(alice)
    dave = User(srv)
    add_member(srv, w["project"]["id"], dave.id, "editor")
    try:
        pid = w["project"]["id"]
        made = dave.ok(
            "POST", "/api/v1/work-items", {"project_id": pid, "item_type": "task", "title": "d"}
        )["work_item"]
        assert made["created_by"] == dave.id
        r = dave.client.put(f"/api/v1/projects/{pid}", json={"expected_version": 1, "title": "x"})
        assert_error(r, 403, "UNAUTHORIZED", contains="Required: Admin")
        r = dave.client.delete(f"/api/v1/work-items/{w['leaf']['id']}")
        assert_error(r, 403, "UNAUTHORIZED", contains="Required: Admin")
    finally:
        dave.client.close()


def test_project_list_shows_only_viewable_projects(srv: ServerProcess, alice: User) -> None:
    w = world(alice)
    bob = User(srv)
    try:
        mine = bob.ok("POST", "/api/v1/projects", {"title": "Bob's", "key": uniq_key("B")})
        listed = {p["id"] for p in bob.ok("GET", "/api/v1/projects")["projects"]}
        assert listed == {mine["project"]["id"]}
        add_member(srv, w["project"]["id"], bob.id, "viewer")
        listed = {p["id"] for p in bob.ok("GET", "/api/v1/projects")["projects"]}
        assert listed == {mine["project"]["id"], w["project"]["id"]}
        assert w["project"]["id"] in {
            p["id"] for p in alice.ok("GET", "/api/v1/projects")["projects"]
        }
    finally:
        bob.client.close()


def test_export_of_a_non_member_holds_only_its_own_projects(
    srv: ServerProcess, alice: User
) -> None:
    w = world(alice)
    bob = User(srv)
    try:
        mine = bob.ok("POST", "/api/v1/projects", {"title": "Bob's", "key": uniq_key("B")})
        bid = mine["project"]["id"]
        item = bob.ok(
            "POST", "/api/v1/work-items", {"project_id": bid, "item_type": "task", "title": "b"}
        )["work_item"]
        data = bob.ok("GET", "/api/v1/sync/export")
        assert [p["id"] for p in data["projects"]] == [bid]
        assert [i["id"] for i in data["work_items"]] == [item["id"]]
        for kind in ("sprints", "comments", "dependencies", "time_entries"):
            assert data[kind] == [], kind
        text = json.dumps(data)
        for ident in _ids(w):
            assert ident not in text
        # a scoped export of Alice's item, with everything asked for
        flags = {k: "true" for k in ("comments", "sprints", "dependencies", "time_entries")}
        r = bob.client.get(
            "/api/v1/sync/export",
            params={"work_item": w["task"]["id"], "descendant_levels": "5", **flags},
        )
        assert_error(r, 403, "UNAUTHORIZED")
        assert "secret words" not in r.text
        # by display key too
        r = bob.client.get("/api/v1/sync/export", params={"work_item": w["task"]["display_key"]})
        assert_error(r, 403, "UNAUTHORIZED")
        # Alice's scoped export works
        params = {"work_item": w["task"]["id"], **flags}
        scoped = alice.client.get("/api/v1/sync/export", params=params)
        assert scoped.status_code == 200 and "secret words" in scoped.text
    finally:
        bob.client.close()


def test_x_user_id_does_not_choose_the_actor(srv: ServerProcess, alice: User) -> None:
    w = world(alice)
    bob = User(srv, pose_as=alice.id)
    try:
        p = bob.ok("POST", "/api/v1/projects", {"title": "B", "key": uniq_key("B")})["project"]
        assert p["created_by"] == bob.id
        r = bob.client.get(f"/api/v1/projects/{w['project']['id']}")
        assert_error(r, 403, "UNAUTHORIZED")
        # a token plus the name-based UUID of another subject: still the token's user
        sub = "alice@example.com"
        with srv.client(headers={**bearer(sub), "X-User-Id": alice.id}) as c:
            made = assert_json(
                c.post("/api/v1/projects", json={"title": "S", "key": uniq_key("S")})
            )
            assert made["project"]["created_by"] not in (alice.id, bob.id)
    finally:
        bob.client.close()


def test_probes_stay_open_without_a_token(srv: ServerProcess) -> None:
    with srv.client() as anon:
        for path in ("/health", "/live", "/ready"):
            assert anon.get(path).status_code == 200, path
        # an unknown path is not a route: 404 as before, not 401
        assert anon.get("/api/v1/nothing-here").status_code == 404


@not_on_robyn("WebSocket upgrade headers")
async def test_same_token_opens_the_websocket_and_rest(srv: ServerProcess, alice: User) -> None:
    """One user, one identity: what Alice creates over REST is hers on both edges."""
    p = alice.ok("POST", "/api/v1/projects", {"title": "Both", "key": uniq_key("W")})["project"]
    assert p["created_by"] == alice.id
    c = await WsClient.connect(srv.port, None, headers=bearer(alice.id))
    try:
        listed = await c.call("list_projects_request")
        assert p["id"] in [x.id for x in listed.projects]
    finally:
        await c.close()


# --------------------------------------------------------------------------- log flood
HUGE = "x" * 8192


def _log_size(srv: ServerProcess) -> int:
    return len(srv.logs())


def test_invalid_x_user_id_is_logged_bounded_and_once(server_factory: ServerFactory) -> None:
    """Auth disabled: 50 writes with an 8 KiB invalid X-User-Id add one short line."""
    srv = server_factory()
    with srv.client() as c:
        c.post("/api/v1/projects", json={"title": "warm", "key": uniq_key()})
        start = _log_size(srv)
        for _ in range(50):
            r = c.post(
                "/api/v1/projects",
                json={"title": "t", "key": uniq_key()},
                headers={"X-User-Id": HUGE},
            )
            assert r.status_code == 200  # still the LLM user, as in the original
        grown = srv.logs()[start:]
    assert len(grown) < 2048, len(grown)
    assert grown.count("X-User-Id") == 1, grown


def test_with_auth_x_user_id_is_not_parsed_and_bad_tokens_do_not_flood(
    srv: ServerProcess, alice: User
) -> None:
    start = _log_size(srv)
    with srv.client(headers={**bearer(alice.id), "X-User-Id": HUGE}) as c:
        for _ in range(50):
            r = c.post("/api/v1/projects", json={"title": "t", "key": uniq_key()})
            assert r.status_code == 200
    with srv.client(headers={"Authorization": "Bearer " + HUGE}) as c:
        for _ in range(50):
            assert c.get("/api/v1/projects").status_code == 401
    grown = srv.logs()[start:]
    assert "X-User-Id" not in grown
    assert len(grown) < 4096, len(grown)


# --------------------------------------------------------------------------- RS256
def _hs256_with_key(claims: dict[str, Any], key: bytes) -> str:
    """An HS256 token whose HMAC key is the server's RSA public key (key confusion)."""

    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64(json.dumps(claims).encode())
    sig = hmac.new(key, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64(sig)}"


def test_rs256_server_takes_its_tokens_on_rest_and_refuses_key_confusion(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    root = tmp_path / "rs"
    (root / ".pm").mkdir(parents=True)
    (root / ".pm" / "jwt-public.pem").write_bytes(pem)
    srv = server_factory(
        root=root,
        env={
            "PM_AUTH_ENABLED": "true",
            "PM_AUTH_JWT_PUBLIC_KEY_PATH": "jwt-public.pem",
            "PM_AUTH_JWT_SECRET": None,
        },
    )
    sub = str(uuid.uuid4())
    t = int(time.time())
    claims = {"sub": sub, "iat": t, "exp": t + 3600}
    good = jwt.encode(claims, key, algorithm="RS256")
    with srv.client(headers={"Authorization": f"Bearer {good}"}) as c:
        made = assert_json(c.post("/api/v1/projects", json={"title": "R", "key": uniq_key("R")}))
        assert made["project"]["created_by"] == sub
    for bad in (_hs256_with_key(claims, pem), token(sub)):
        with srv.client(headers={"Authorization": f"Bearer {bad}"}) as c:
            assert_error(c.get("/api/v1/projects"), 401, "UNAUTHORIZED")


def test_projects_made_without_auth_are_shared_once_auth_is_enabled(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    """The CLI's anonymous projects (LLM user only) stay usable by every JWT user, while a
    project made by a named X-User-Id caller is that caller's alone."""
    root = tmp_path / "switch"
    plain = server_factory(root=root)
    named = str(uuid.uuid4())
    with plain.client() as c:
        shared = assert_json(c.post("/api/v1/projects", json={"title": "S", "key": uniq_key("S")}))
        owned = assert_json(
            c.post(
                "/api/v1/projects",
                json={"title": "O", "key": uniq_key("O")},
                headers={"X-User-Id": named},
            )
        )
    plain.stop()
    authed = server_factory(
        root=root, env={"PM_AUTH_ENABLED": "true", "PM_AUTH_JWT_SECRET": SECRET}
    )
    eve = str(uuid.uuid4())
    with authed.client(headers=bearer(eve)) as c:
        listed = {p["id"] for p in assert_json(c.get("/api/v1/projects"))["projects"]}
        assert shared["project"]["id"] in listed
        assert owned["project"]["id"] not in listed
        r = c.put(
            f"/api/v1/projects/{shared['project']['id']}",
            json={"expected_version": 1, "title": "renamed"},
        )
        assert assert_json(r)["project"]["title"] == "renamed"
        assert_error(c.get(f"/api/v1/projects/{owned['project']['id']}"), 403, "UNAUTHORIZED")
    with authed.client(headers=bearer(named)) as c:
        got = assert_json(c.get(f"/api/v1/projects/{owned['project']['id']}"))
        assert got["project"]["created_by"] == named


def test_import_writes_only_where_the_caller_is_admin(srv: ServerProcess, alice: User) -> None:
    w = world(alice)
    before = _snapshot(alice)
    bob = User(srv, pose_as=alice.id)
    t = int(time.time())
    task = w["task"]
    comment = {**w["comment"], "id": str(uuid.uuid4()), "content": "planted", "updated_at": t}
    entry = {
        "id": str(uuid.uuid4()),
        "work_item_id": task["id"],
        "user_id": bob.id,
        "started_at": t - 60,
        "ended_at": t,
        "duration_seconds": 60,
        "is_running": False,
        "created_at": t,
        "updated_at": t,
    }
    # Bob's own new project, claiming Alice made it
    pid = str(uuid.uuid4())
    key = uniq_key("I")
    project = {
        **w["project"],
        "id": pid,
        "key": key,
        "title": "Bob's import",
        "next_work_item_number": 2,
    }
    item = {
        **task,
        "id": str(uuid.uuid4()),
        "project_id": pid,
        "display_key": f"{key}-1",
        "item_number": 1,
        "parent_id": None,
        "sprint_id": None,
    }
    try:
        refused = [
            payload(comments=[comment]),
            payload(time_entries=[entry]),
            payload(work_items=[{**task, "title": "hijacked", "updated_at": t + 100}]),
            # Alice's item carried into Bob's new project
            payload(projects=[project], work_items=[{**task, "project_id": pid}]),
            payload(
                dependencies=[
                    {
                        "id": str(uuid.uuid4()),
                        "blocking_item_id": w["epic"]["id"],
                        "blocked_item_id": w["leaf"]["id"],
                        "dependency_type": "relates_to",
                        "created_at": t,
                        "created_by": bob.id,
                    }
                ]
            ),
        ]
        for body in refused:
            r = bob.client.post("/api/v1/sync/import", json=body)
            assert_error(r, 403, "UNAUTHORIZED")
        assert _snapshot(alice) == before
        made = bob.ok("POST", "/api/v1/sync/import", payload(projects=[project], work_items=[item]))
        assert made["projects"]["created"] == 1 and made["work_items"]["created"] == 1
        assert bob.ok("GET", f"/api/v1/projects/{pid}")["project"]["created_by"] == alice.id
        listed = bob.ok("GET", f"/api/v1/projects/{pid}/work-items")["work_items"]
        assert [i["id"] for i in listed] == [item["id"]]
        # the importer administers it, not the creator the file names
        assert_error(alice.client.get(f"/api/v1/projects/{pid}"), 403, "UNAUTHORIZED")
        assert _snapshot(alice) == before
    finally:
        bob.client.close()
