"""The `/docs` page (pm_fast/api/docs_page.py): its routes, its headers, the allow-list
of files it serves, and the guard's rule for the page's own origin."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from typing import Any

import pytest

from pm_fast.api import docs_page, openapi, rest
from pm_fast.api.guard import Guard
from pm_fast.config import Config, ServerConfig

from .fresh import run_fresh


def test_routes_are_in_the_table_but_not_in_the_api_document() -> None:
    assert ("GET", "/docs", rest.docs) in rest.PAGES
    assert ("GET", "/docs/{}", rest.docs_file) in rest.PAGES
    for path in ("/docs", "/docs/swagger-ui.css"):
        found = rest.ROUTER.match(path)
        assert found is not None and set(found[0]) == {"GET"}, path
    paths = openapi.build()["paths"]
    assert not [p for p in paths if p.startswith("/docs")]


def test_page_headers_and_no_inline_code() -> None:
    resp = docs_page.page(None)
    assert resp.status == 200
    assert resp.content_type == "text/html; charset=utf-8"
    headers = dict(resp.headers)
    csp = headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["connect-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe" not in csp
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["cache-control"] == "no-cache"
    assert headers["etag"].startswith('"')
    html = resp.body.decode()
    # every script is a served file; no inline script, style element or attribute
    assert len(re.findall(r"<script[^>]*>\s*</script>", html)) == html.count("<script") == 2
    assert all(" src=" in tag for tag in re.findall(r"<script[^>]*>", html))
    assert "<style" not in html and "style=" not in html and "javascript:" not in html
    # everything it loads is under /docs/ and served
    for name in re.findall(r'(?:src|href)="/docs/([^"]+)"', html):
        assert docs_page.asset(name, None).status == 200, name


@pytest.mark.parametrize(
    ("name", "kind"),
    [*docs_page.FILES.items(), ("docs.js", docs_page.JS)],
)
def test_each_file_and_revalidation(name: str, kind: str) -> None:
    resp = docs_page.asset(name, None)
    assert resp.status == 200 and resp.content_type == kind and resp.body
    headers = dict(resp.headers)
    assert headers["x-content-type-options"] == "nosniff"
    assert "script-src 'self'" in headers["content-security-policy"]
    again = docs_page.asset(name, f'"other", {headers["etag"]}')
    assert again.status == 304 and again.body == b""
    assert docs_page.asset(name, '"other"').status == 200


@pytest.mark.parametrize(
    "name",
    [
        "index.html",
        "swagger-initializer.js",
        "..",
        "../pm_fast/cli.py",
        "static",
        "LICENSE",
        "swagger-ui-bundle.js.map",
        "%2e%2e",
        "swagger-ui.css/",
        "SWAGGER-UI.CSS",
    ],
)
def test_other_names_are_404(name: str) -> None:
    resp = docs_page.asset(name, None)
    assert resp.status == 404
    assert b"NOT_FOUND" in resp.body


def test_without_the_package_404_says_what_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(docs_page, "find_static", lambda: None)
    monkeypatch.setattr(docs_page, "_FILES", docs_page._Files())
    for resp in (docs_page.page(None), docs_page.asset("swagger-ui-bundle.js", None)):
        assert resp.status == 404
        assert docs_page.REQUIREMENT.encode() in resp.body
        assert b"/api/v1/openapi.json" in resp.body


def test_files_found_beside_pm_fast(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where the sidecar build puts them: <dist>/swagger_ui/static beside <dist>/pm_fast."""
    static = tmp_path / "swagger_ui" / "static"
    static.mkdir(parents=True)
    for name in docs_page.FILES:
        (static / name).write_bytes(b"x")
    monkeypatch.setattr(docs_page, "__file__", str(tmp_path / "pm_fast" / "api" / "x.py"))
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    assert docs_page.find_static() == static


def test_neither_the_page_nor_the_package_is_imported_at_start(tmp_path: Path) -> None:
    script = (
        "import sys\n"
        "from pm_fast.api import rest\n"
        "assert 'pm_fast.api.docs_page' not in sys.modules\n"
        "from pm_fast.api import docs_page\n"
        "assert docs_page.page(None).status == 200\n"
        "assert docs_page.asset('swagger-ui-bundle.js', None).status == 200\n"
        "assert not [m for m in sys.modules if m.split('.')[0] in"
        " ('swagger_ui', 'jinja2', 'yaml')], sorted(sys.modules)\n"
        "print('ok')\n"
    )
    assert run_fresh(script, tmp_path).strip() == "ok"


class Scope:
    def __init__(self, path: str, **headers: str) -> None:
        self.method = "POST"
        self.path = path
        self.query_string = ""
        self.headers = {k.replace("_", "-"): v for k, v in headers.items()}


def guard(tmp_path: Path, **server: Any) -> Guard:
    return Guard(Config(server=ServerConfig(**server)), tmp_path)


def refused(g: Guard, host: str, origin: str) -> bool:
    return not isinstance(g.http(Scope("/api/v1/projects", host=host, origin=origin)), tuple)


def test_the_servers_own_origin_is_allowed(tmp_path: Path) -> None:
    """The page's "Try it out" sends `Origin` on POST/PUT/DELETE: its own origin passes
    even when `allowed_origins` does not name it; any other origin is still refused."""
    g = guard(
        tmp_path, host="0.0.0.0", allowed_origins=("http://other.test",), allowed_hosts=("pm.lan",)
    )
    assert not refused(g, "pm.lan:8080", "http://pm.lan:8080")
    assert not refused(g, "10.1.2.3:8080", "http://10.1.2.3:8080")
    assert not refused(g, "localhost:8080", "https://localhost:8080")
    assert refused(g, "pm.lan:8080", "http://pm.lan:9090")  # another port: another origin
    assert refused(g, "pm.lan:8080", "http://evil.test:8080")
    assert refused(g, "pm.lan:8080", "null")
    assert refused(g, "pm.lan:8080", "ftp://pm.lan:8080")
    assert not refused(g, "pm.lan:8080", "http://other.test")  # configured: as before


def test_own_origin_rule_does_not_open_rebinding_with_any_host(tmp_path: Path) -> None:
    """With `allowed_hosts = ["*"]` a rebinding page's own name passes the Host check;
    its own origin must not pass the Origin check for it."""
    g = guard(tmp_path, allowed_origins=(), allowed_hosts=("*",))
    assert refused(g, "evil.test:8080", "http://evil.test:8080")
    assert not refused(g, "127.0.0.1:8080", "http://127.0.0.1:8080")
