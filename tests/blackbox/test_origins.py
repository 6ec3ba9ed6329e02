"""Browsers and origins (docs/compat.md "Browsers and origins"): CORS only for the
configured origins, the `Origin` of a WebSocket upgrade, and the `Host` header (DNS
rebinding). Clients that send no `Origin` (the desktop shell, the `pm` CLI, agents) are
served as before.
"""

from __future__ import annotations

import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from .conftest import ServerFactory
from .helpers import assert_error, create_project, ok, uniq_key

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from harness import ServerProcess, not_on_robyn, run_to_exit

DEFAULT_ALLOWED = [
    "tauri://localhost",
    "http://tauri.localhost",
    "https://tauri.localhost",
    "http://localhost:5173",
    "http://localhost",
    "http://127.0.0.1:8080",
    "http://127.0.0.1",
    "http://[::1]:3000",
    "https://localhost:7001",
]
FOREIGN = [
    "http://evil.example",
    "https://evil.example:443",
    "null",
    "file://",
    "http://localhost.evil.example",
    "http://127.0.0.1.evil.example:8080",
    "https://tauri.localhost.evil.example",
    "tauri://evil",
    "http://tauri.localhost:8080",
    "http://localhost:abc",
    "ftp://localhost:21",
]
ACAO = "access-control-allow-origin"


def refused_origin(r: httpx.Response) -> None:
    assert_error(r, 403, "FORBIDDEN", contains="origin")
    assert ACAO not in r.headers, r.headers


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with ServerProcess(tmp_path_factory.mktemp("origins")) as s:
        yield s


@pytest.fixture(scope="module")
def c(srv: ServerProcess) -> Iterator[httpx.Client]:
    with srv.client() as client:
        yield client


# ---------------------------------------------------------------------- no Origin
def test_requests_without_origin_are_served_without_cors_headers(c: httpx.Client) -> None:
    key = uniq_key()
    project = create_project(c, key)
    listed = ok(c.get("/api/v1/projects"))["projects"]
    assert project["id"] in [p["id"] for p in listed]
    r = c.get("/api/v1/sync/export")
    assert r.status_code == 200
    assert ACAO not in r.headers  # no more "*" for everyone
    assert ok(c.get("/health"))["status"] == "ok"


# ---------------------------------------------------------------------- Origin
@pytest.mark.parametrize("origin", DEFAULT_ALLOWED)
def test_default_origins_are_echoed(c: httpx.Client, origin: str) -> None:
    r = c.get("/api/v1/projects", headers={"Origin": origin})
    assert r.status_code == 200, r.text
    assert r.headers[ACAO] == origin
    assert "origin" in r.headers.get("vary", "").lower()


@pytest.mark.parametrize("origin", FOREIGN)
def test_foreign_origins_are_refused_before_the_route(c: httpx.Client, origin: str) -> None:
    refused_origin(c.get("/api/v1/projects", headers={"Origin": origin}))
    refused_origin(c.get("/api/v1/sync/export", headers={"Origin": origin}))
    # the event log (docs/events.md): a page must not read a project's history either
    refused_origin(c.get("/api/v1/projects/WEB/events?since=0", headers={"Origin": origin}))
    refused_origin(c.get("/health", headers={"Origin": origin}))


def test_a_foreign_origin_writes_nothing(c: httpx.Client) -> None:
    evil = {"Origin": "http://evil.example"}
    key = uniq_key()
    # A form or no-cors fetch can send text/plain without a preflight; JSON too here.
    refused_origin(
        c.post(
            "/api/v1/projects",
            content=f'{{"title":"pwned","key":"{key}"}}',
            headers={**evil, "Content-Type": "text/plain"},
        )
    )
    refused_origin(c.post("/api/v1/projects", json={"title": "pwned", "key": key}, headers=evil))
    project = create_project(c)
    refused_origin(c.delete(f"/api/v1/projects/{project['id']}", headers=evil))
    refused_origin(
        c.post(
            "/api/v1/sync/import",
            json={"projects": [{"id": project["id"], "title": "x"}]},
            headers=evil,
        )
    )
    keys = [p["key"] for p in ok(c.get("/api/v1/projects"))["projects"]]
    assert key not in keys
    assert ok(c.get(f"/api/v1/projects/{project['id']}"))["project"]["title"] == project["title"]


def test_cross_site_request_without_origin_is_refused(c: httpx.Client) -> None:
    # What a browser sends for <img src> / <script src> / a link from another site.
    r = c.get("/api/v1/sync/export", headers={"Sec-Fetch-Site": "cross-site"})
    assert_error(r, 403, "FORBIDDEN", contains="Cross-site")
    for site in ("same-origin", "same-site", "none"):
        assert c.get("/api/v1/projects", headers={"Sec-Fetch-Site": site}).status_code == 200


# ---------------------------------------------------------------------- preflight
def preflight(
    c: httpx.Client, origin: str | None, path: str = "/api/v1/projects"
) -> httpx.Response:
    headers = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type,x-user-id",
    }
    if origin is not None:
        headers["Origin"] = origin
    return c.request("OPTIONS", path, headers=headers)


def test_preflight_from_an_allowed_origin(c: httpx.Client) -> None:
    r = preflight(c, "http://localhost:5173")
    assert r.status_code == 200
    assert r.headers[ACAO] == "http://localhost:5173"
    assert "origin" in r.headers.get("vary", "").lower()
    assert r.headers["access-control-allow-methods"] == "*"
    allowed = [h.strip() for h in r.headers["access-control-allow-headers"].lower().split(",")]
    assert "*" in allowed and "authorization" in allowed  # "*" does not cover Authorization


@pytest.mark.parametrize("origin", ["http://evil.example", "null"])
def test_preflight_from_a_foreign_origin_is_refused(c: httpx.Client, origin: str) -> None:
    refused_origin(preflight(c, origin))
    refused_origin(preflight(c, origin, "/api/v1/work-items"))


def test_options_without_origin_as_before(c: httpx.Client) -> None:
    r = preflight(c, None)
    assert r.status_code == 200
    assert ACAO not in r.headers


# ---------------------------------------------------------------------- configuration
def test_configured_origins_replace_the_defaults(server_factory: ServerFactory) -> None:
    srv = server_factory(env={"PM_ALLOWED_ORIGINS": "https://pm.example.com, http://10.0.0.5:*"})
    with srv.client() as c:
        for origin in ("https://pm.example.com", "http://10.0.0.5:8080", "http://10.0.0.5"):
            r = c.get("/api/v1/projects", headers={"Origin": origin})
            assert r.status_code == 200 and r.headers[ACAO] == origin
        for origin in ("http://localhost:5173", "tauri://localhost", "https://pm.example.com:8443"):
            refused_origin(c.get("/api/v1/projects", headers={"Origin": origin}))


def test_allowed_origins_from_config_toml(server_factory: ServerFactory) -> None:
    toml = '[server]\nallowed_origins = ["HTTPS://Board.Example.org/"]\n'
    srv = server_factory(config_toml=toml)
    with srv.client() as c:
        r = c.get("/api/v1/projects", headers={"Origin": "https://board.example.org"})
        assert r.status_code == 200 and r.headers[ACAO] == "https://board.example.org"
        refused_origin(c.get("/api/v1/projects", headers={"Origin": "http://localhost:5173"}))


def test_empty_origin_list_refuses_every_browser(server_factory: ServerFactory) -> None:
    srv = server_factory(env={"PM_ALLOWED_ORIGINS": ""})
    with srv.client() as c:
        refused_origin(c.get("/api/v1/projects", headers={"Origin": "tauri://localhost"}))
        assert c.get("/api/v1/projects").status_code == 200


def test_star_allows_any_origin(server_factory: ServerFactory) -> None:
    srv = server_factory(env={"PM_ALLOWED_ORIGINS": "*"})
    with srv.client() as c:
        r = c.get("/api/v1/projects", headers={"Origin": "http://evil.example"})
        assert r.status_code == 200 and r.headers[ACAO] == "http://evil.example"


@pytest.mark.parametrize(
    ("var", "value", "message"),
    [
        ("PM_ALLOWED_ORIGINS", "localhost:8080", "server.allowed_origins"),
        ("PM_ALLOWED_ORIGINS", "http://a.example/path", "server.allowed_origins"),
        ("PM_ALLOWED_HOSTS", "pm.example:8080", "server.allowed_hosts"),
        ("PM_ALLOWED_HOSTS", "http://pm.example", "server.allowed_hosts"),
    ],
)
def test_invalid_lists_stop_start_up(tmp_path: Path, var: str, value: str, message: str) -> None:
    rc, out, err = run_to_exit(tmp_path, env={var: value})
    assert rc != 0
    assert message in out + err and var in out + err


# ---------------------------------------------------------------------- Host
def get_with_host(srv: ServerProcess, host: str, path: str = "/api/v1/projects") -> httpx.Response:
    with srv.client() as c:
        return c.get(path, headers={"Host": host})


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1:{port}", "localhost:{port}", "LOCALHOST:{port}", "[::1]:{port}", "127.0.0.1"],
)
def test_host_naming_this_server(srv: ServerProcess, host: str) -> None:
    assert get_with_host(srv, host.format(port=srv.port)).status_code == 200


@pytest.mark.parametrize(
    "host",
    [
        "evil.example:{port}",
        "evil.example",
        "localhost.evil.example:{port}",
        "127.0.0.1.nip.io:{port}",
        "localhost:{port}:1",
        "::1:{port}",
        "[::1:{port}",
        "localhost:x",
        "",
    ],
)
def test_dns_rebinding_host_is_refused(srv: ServerProcess, host: str) -> None:
    for path in ("/api/v1/projects", "/api/v1/sync/export", "/health", "/admin/checkpoint"):
        r = get_with_host(srv, host.format(port=srv.port), path)
        assert_error(r, 421, "MISDIRECTED_REQUEST")
    with srv.client() as c:
        r = c.post(
            "/admin/shutdown", headers={"Host": host.format(port=srv.port) or "evil.example"}
        )
        assert r.status_code in (403, 421)
        assert ok(c.get("/health"))["status"] == "ok"


def raw_http(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(request)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
        return data


def test_http_1_0_without_host_is_served(srv: ServerProcess) -> None:
    # Browsers always send Host; a request without one is not a rebinding page.
    reply = raw_http(srv.port, b"GET /api/v1/projects HTTP/1.0\r\n\r\n")
    assert reply.startswith(b"HTTP/1.0 200"), reply[:200]
    reply = raw_http(srv.port, b"GET /api/v1/projects HTTP/1.0\r\nHost: evil.example\r\n\r\n")
    assert reply.startswith(b"HTTP/1.0 421"), reply[:200]


def test_configured_host_names(server_factory: ServerFactory) -> None:
    srv = server_factory(env={"PM_ALLOWED_HOSTS": "pm.example.org,Build-Box"})
    for host in ("pm.example.org", "pm.example.org:443", "build-box:8080", "localhost"):
        assert get_with_host(srv, host).status_code == 200, host
    assert_error(get_with_host(srv, "evil.example"), 421, "MISDIRECTED_REQUEST")
    any_host = server_factory(env={"PM_ALLOWED_HOSTS": "*"})
    assert get_with_host(any_host, "evil.example:1").status_code == 200


def local_address() -> str:
    """An address of this machine other than loopback when there is one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))  # no packet is sent
            return str(s.getsockname()[0])
        except OSError:
            return "127.0.0.1"


def test_bound_to_all_interfaces(server_factory: ServerFactory) -> None:
    """Standalone on 0.0.0.0: any IP literal of the machine is a fine Host; names are
    still only localhost and the configured ones."""
    srv = server_factory(host="0.0.0.0", env={"PM_ALLOWED_HOSTS": "pm.internal"})
    addr = local_address()
    with httpx.Client(base_url=f"http://{addr}:{srv.port}", trust_env=False, timeout=30) as c:
        assert c.get("/api/v1/projects").status_code == 200  # Host: <addr>:<port>
        for host in (f"{addr}:{srv.port}", "pm.internal", f"localhost:{srv.port}"):
            assert c.get("/health", headers={"Host": host}).status_code == 200
        assert_error(
            c.get("/api/v1/projects", headers={"Host": f"evil.example:{srv.port}"}),
            421,
            "MISDIRECTED_REQUEST",
        )


# ---------------------------------------------------------------------- WebSocket
def ws_upgrade(port: int, *, origin: str | None = None, host: str | None = None) -> bytes:
    lines = [
        "GET /ws HTTP/1.1",
        f"Host: {host if host is not None else f'127.0.0.1:{port}'}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version: 13",
    ]
    if origin is not None:
        lines.append(f"Origin: {origin}")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        return data.split(b"\r\n", 1)[0]


@pytest.mark.parametrize("origin", [None, "tauri://localhost", "http://127.0.0.1:5000"])
def test_ws_upgrade_without_or_with_allowed_origin(srv: ServerProcess, origin: str | None) -> None:
    status = ws_upgrade(srv.port, origin=origin)
    assert status.split()[1] == b"101", status


@not_on_robyn("WebSocket upgrade headers")
@pytest.mark.parametrize("origin", ["http://evil.example", "null", "http://localhost.evil.example"])
def test_ws_upgrade_from_a_foreign_origin_is_refused(srv: ServerProcess, origin: str) -> None:
    status = ws_upgrade(srv.port, origin=origin)
    assert status.split()[1] == b"403", status


@not_on_robyn("WebSocket upgrade headers")
def test_ws_upgrade_with_a_rebound_host_is_refused(srv: ServerProcess) -> None:
    status = ws_upgrade(srv.port, host=f"evil.example:{srv.port}", origin=None)
    assert status.split()[1] == b"421", status
