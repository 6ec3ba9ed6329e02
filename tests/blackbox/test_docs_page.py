"""`GET /docs` (the page that browses and tries the API) and its files, against a real
server: types and security headers, only the allow-listed files, no path traversal, and
the browser guard as on every other route. tests/blackbox/test_browser.py renders it."""

from __future__ import annotations

import re
import socket

import httpx
import pytest

from .conftest import ServerFactory
from .helpers import uniq_key
from .wsclient import ServerProcess

FILES = {
    "/docs/swagger-ui.css": "text/css; charset=utf-8",
    "/docs/swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "/docs/favicon-32x32.png": "image/png",
    "/docs/docs.js": "text/javascript; charset=utf-8",
}


def raw_get(port: int, target: bytes) -> bytes:
    """A request line sent as written (httpx would normalise `..`)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"GET " + target + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
        return data


def secured(r: httpx.Response) -> None:
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "script-src 'self';" in r.headers["content-security-policy"]
    assert r.headers["cache-control"] == "no-cache"
    assert "access-control-allow-origin" not in r.headers


def test_page_and_every_file_it_loads(server: ServerProcess) -> None:
    with server.client() as c:
        r = c.get("/docs")
        assert r.status_code == 200
        assert r.headers["content-type"] == "text/html; charset=utf-8"
        secured(r)
        loaded = {"/docs/" + n for n in re.findall(r'(?:src|href)="/docs/([^"]+)"', r.text)}
        assert loaded == set(FILES)
        for path, kind in FILES.items():
            r = c.get(path)
            assert r.status_code == 200, path
            assert r.headers["content-type"] == kind, path
            assert r.content, path
            secured(r)
            again = c.get(path, headers={"If-None-Match": r.headers["etag"]})
            assert again.status_code == 304 and again.content == b"", path
            head = c.head(path)
            assert head.status_code == 200 and head.content == b"", path
            assert head.headers["content-type"] == kind, path


def test_only_the_listed_files(server: ServerProcess) -> None:
    with server.client() as c:
        for path in (
            "/docs/index.html",
            "/docs/swagger-initializer.js",
            "/docs/swagger-ui-bundle.js.map",
            "/docs/LICENSE",
            "/docs/nothing",
            "/docs/static/swagger-ui.css",
        ):
            r = c.get(path)
            assert r.status_code == 404, path
            assert r.json()["error"]["code"] == "NOT_FOUND"
        assert c.post("/docs").status_code == 405
        assert c.delete("/docs/docs.js").status_code == 405


@pytest.mark.parametrize(
    "target",
    [
        b"/docs/../pyproject.toml",
        b"/docs/..%2F..%2Fpyproject.toml",
        b"/docs/%2e%2e/%2e%2e/etc/passwd",
        b"/docs/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        b"/docs/..",
        b"/docs/%2e%2e",
        b"/docs//etc/passwd",
        b"/docs/%2fetc%2fpasswd",
    ],
)
def test_no_path_traversal(server: ServerProcess, target: bytes) -> None:
    reply = raw_get(server.port, target)
    status = reply.split(b"\r\n", 1)[0]
    assert status.split(b" ")[1] in (b"400", b"404"), (target, reply[:300])
    assert b"root:" not in reply and b"[project]" not in reply


def test_foreign_origin_and_cross_site_refused(server: ServerProcess) -> None:
    with server.client() as c:
        for path in ("/docs", "/docs/swagger-ui-bundle.js"):
            r = c.get(path, headers={"Origin": "http://evil.example"})
            assert r.status_code == 403 and "access-control-allow-origin" not in r.headers
            # a page elsewhere including the script (<script src>): no Origin, cross-site
            r = c.get(path, headers={"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors"})
            assert r.status_code == 403, path
            # DNS rebinding: another name in Host
            assert c.get(path, headers={"Host": "rebind.example"}).status_code == 421
            # the page itself, opened by the user
            r = c.get(path, headers={"Sec-Fetch-Site": "none", "Sec-Fetch-Mode": "navigate"})
            assert r.status_code == 200, path


def test_try_it_out_from_the_servers_own_origin(server_factory: ServerFactory) -> None:
    """The page's requests carry its own origin on POST/PUT/DELETE: it is served even
    when `allowed_origins` does not list it, and another origin still is not."""
    srv = server_factory(env={"PM_ALLOWED_ORIGINS": "https://board.example.org"})
    own = f"http://127.0.0.1:{srv.port}"
    key = uniq_key()
    with srv.client() as c:
        r = c.post(
            "/api/v1/projects",
            json={"title": "from /docs", "key": key},
            headers={"Origin": own, "Sec-Fetch-Site": "same-origin"},
        )
        assert r.status_code == 200, r.text
        assert r.headers["access-control-allow-origin"] == own
        for origin in (f"http://127.0.0.2:{srv.port}", f"http://localhost:{srv.port}"):
            r = c.post(
                "/api/v1/projects",
                json={"title": "elsewhere", "key": uniq_key()},
                headers={"Origin": origin},
            )
            assert r.status_code == 403, origin
        # the own-origin rule never opens /admin to a browser
        r = c.post("/admin/shutdown", headers={"Origin": own, **srv.admin_headers()})
        assert r.status_code == 403
        projects = c.get("/api/v1/projects").json()["projects"]
    assert [p["key"] for p in projects].count(key) == 1
    assert "elsewhere" not in [p["title"] for p in projects]


def test_own_origin_is_not_a_rebinding_hole(server_factory: ServerFactory) -> None:
    """With `allowed_hosts = *` a rebinding page passes the Host check under its own
    name; its writes (which carry its own origin) are still refused."""
    srv = server_factory(env={"PM_ALLOWED_HOSTS": "*", "PM_ALLOWED_ORIGINS": ""})
    with srv.client() as c:
        r = c.post(
            "/api/v1/projects",
            json={"title": "rebound", "key": uniq_key()},
            headers={
                "Host": f"rebind.example:{srv.port}",
                "Origin": f"http://rebind.example:{srv.port}",
            },
        )
        assert r.status_code == 403
