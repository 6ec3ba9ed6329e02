"""`/admin/...` takes no browser request, no body a form could send, and with auth
enabled the admin token of `<pm>/admin.token` (docs/compat.md "Browsers and origins").
The desktop shell's quit sequence (no Origin, no body) keeps working:
test_shell_lifecycle.py runs it in full.
"""

from __future__ import annotations

import os
import stat
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from .conftest import ServerFactory
from .helpers import assert_error, ok

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from harness import ON_POSTGRES, ServerProcess, skip_on_robyn

SECRET = "an-hs256-secret-of-more-than-32-bytes!"
AUTH_ENV = {"PM_AUTH_ENABLED": "true", "PM_AUTH_JWT_SECRET": SECRET}

BROWSER_LIKE: list[tuple[str, dict[str, str], bytes]] = [
    # The request found in the wild: a page's no-cors fetch with a text/plain body.
    (
        "foreign origin, text/plain",
        {"Origin": "http://evil.example", "Content-Type": "text/plain"},
        b"x",
    ),
    ("allowed origin", {"Origin": "http://localhost:5173"}, b""),
    ("desktop web view origin", {"Origin": "tauri://localhost"}, b""),
    ("origin null", {"Origin": "null"}, b""),
    ("text/plain", {"Content-Type": "text/plain;charset=UTF-8"}, b"shutdown"),
    ("form", {"Content-Type": "application/x-www-form-urlencoded"}, b"a=b"),
    ("multipart", {"Content-Type": "multipart/form-data; boundary=x"}, b"--x--\r\n"),
    ("Sec-Fetch-Mode", {"Sec-Fetch-Mode": "no-cors"}, b""),
    ("Sec-Fetch-Site none", {"Sec-Fetch-Site": "none"}, b""),
    ("Sec-Fetch-Site same-origin", {"Sec-Fetch-Site": "same-origin"}, b""),
]


def still_up(srv: ServerProcess, wait: float = 0.5) -> None:
    time.sleep(wait)  # a shutdown that had been accepted would be under way by now
    assert srv.is_alive(), srv.logs()[-3000:]
    with srv.client() as c:
        assert ok(c.get("/health"))["status"] == "ok"


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Any:
    with ServerProcess(tmp_path_factory.mktemp("admin")) as s:
        yield s


@pytest.mark.parametrize(
    ("headers", "body"), [(h, b) for _, h, b in BROWSER_LIKE], ids=[n for n, _, _ in BROWSER_LIKE]
)
def test_browser_like_admin_requests_are_refused(
    srv: ServerProcess, headers: dict[str, str], body: bytes
) -> None:
    if headers.get("Content-Type", "").startswith("multipart/"):
        skip_on_robyn("pass a multipart body through")
    with srv.client() as c:
        for path in ("/admin/shutdown", "/admin/checkpoint"):
            r = c.post(path, headers=headers, content=body)
            assert_error(r, 403, "FORBIDDEN")
            assert "access-control-allow-origin" not in r.headers
    still_up(srv)


def test_preflight_to_admin_is_refused_even_for_an_allowed_origin(srv: ServerProcess) -> None:
    with srv.client() as c:
        r = c.request(
            "OPTIONS",
            "/admin/shutdown",
            headers={"Origin": "http://localhost:5173", "Access-Control-Request-Method": "POST"},
        )
        assert_error(r, 403, "FORBIDDEN")
        assert "access-control-allow-origin" not in r.headers
        assert_error(
            c.get("/admin/nothing", headers={"Origin": "tauri://localhost"}), 403, "FORBIDDEN"
        )


def test_the_shells_requests_are_served(server_factory: ServerFactory) -> None:
    """What the shell's HTTP client sends: POST without a body or content type; a JSON
    content type is accepted too."""
    srv = server_factory()
    with srv.client() as c:
        body = ok(c.post("/admin/checkpoint"))
        assert body == {"status": "ok", "message": "Database checkpoint completed"}
        r = c.post("/admin/checkpoint", headers={"Content-Type": "application/json"}, content=b"{}")
        assert ok(r)["status"] == "ok"
        assert c.post("/admin/shutdown", headers={"Content-Length": "0"}).status_code == 202
    assert srv.wait_exit(15) == 0


def test_auth_disabled_writes_no_admin_token(srv: ServerProcess) -> None:
    assert not (srv.pm_dir / "admin.token").exists()


# ---------------------------------------------------------------------- auth enabled
def token_of(srv: ServerProcess) -> str:
    return (srv.pm_dir / "admin.token").read_text().strip()


def test_auth_enabled_admin_needs_the_admin_token(server_factory: ServerFactory) -> None:
    srv = server_factory(env=AUTH_ENV)
    path = srv.pm_dir / "admin.token"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    token = token_of(srv)
    assert len(token) >= 32
    user_jwt = jwt.encode(
        {"sub": "alice", "exp": int(time.time()) + 600}, SECRET, algorithm="HS256"
    )
    with srv.client() as c:
        for headers in (
            {},
            {"Authorization": "Bearer wrong"},
            {"Authorization": f"Bearer {token}x"},
            {"Authorization": token},
            {"Authorization": f"Basic {token}"},
            {"Authorization": f"Bearer {user_jwt}"},  # a user's JWT is no admin credential
        ):
            for route in ("/admin/shutdown", "/admin/checkpoint"):
                r = c.post(route, headers=headers)
                assert_error(r, 401, "UNAUTHORIZED")
                assert r.headers["www-authenticate"].startswith("Bearer")
        still_up(srv, 0.2)
        admin = {"Authorization": f"Bearer {token}"}
        # The token does not make a browser request acceptable.
        r = c.post("/admin/shutdown", headers={**admin, "Origin": "tauri://localhost"})
        assert_error(r, 403, "FORBIDDEN")
        still_up(srv, 0.2)
        assert ok(c.post("/admin/checkpoint", headers=admin))["status"] == "ok"
        assert c.post("/admin/shutdown", headers=admin).status_code == 202
    assert srv.wait_exit(15) == 0


def test_admin_token_is_kept_across_restarts(server_factory: ServerFactory, tmp_path: Path) -> None:
    root = tmp_path / "repo"
    first = server_factory(root=root, env=AUTH_ENV)
    token = token_of(first)
    first.stop()  # the harness sends the token
    second = server_factory(root=root, env=AUTH_ENV)
    assert token_of(second) == token
    # A file opened up by hand is made owner-only again at start.
    second.stop()
    os.chmod(root / ".pm" / "admin.token", 0o644)
    third = server_factory(root=root, env=AUTH_ENV)
    assert stat.S_IMODE((root / ".pm" / "admin.token").stat().st_mode) == 0o600
    assert token_of(third) == token
    third.stop()


@pytest.mark.skipif(not ON_POSTGRES, reason="--workers runs on PostgreSQL only")
def test_workers_share_one_admin_token_and_the_guard(server_factory: ServerFactory) -> None:
    """Every worker process reads the same token and applies the same guard."""
    srv = server_factory(env=AUTH_ENV, args=("serve", "--workers", "2"))
    token = token_of(srv)
    leftovers = [p.name for p in srv.pm_dir.iterdir() if p.name.startswith(".admin.token")]
    assert leftovers == []
    admin = {"Authorization": f"Bearer {token}"}
    for _ in range(12):  # new connections land on either worker
        with httpx.Client(base_url=srv.url, trust_env=False, timeout=30) as c:
            assert_error(c.post("/admin/checkpoint"), 401, "UNAUTHORIZED")
            assert ok(c.post("/admin/checkpoint", headers=admin))["status"] == "ok"
            r = c.get("/health", headers={"Origin": "http://evil.example"})
            assert_error(r, 403, "FORBIDDEN")
            r = c.get("/health", headers={"Host": "evil.example"})
            assert_error(r, 421, "MISDIRECTED_REQUEST")
    with httpx.Client(base_url=srv.url, trust_env=False, timeout=30) as c:
        assert c.post("/admin/shutdown", headers=admin).status_code == 202
    assert srv.wait_exit(30) == 0
