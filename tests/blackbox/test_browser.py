"""A real browser against the server: Debian's headless `chromium` loads a page from
another origin that tries to read data, stop the server and open a WebSocket; the page
reports what it could see to the test's own HTTP server. The same page served from an
allowed origin (a loopback development server) can read, so the test can fail.

Skipped only when chromium is not installed (`.ci/run` installs it).
"""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from .helpers import create_project, ok

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from harness import ServerProcess, not_on_robyn

CHROMIUM = os.environ.get("PM_FAST_CHROMIUM") or next(
    (p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p),
    None,
)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (apt-get install -y chromium)"
)

# What the page tries; every outcome is reported as text.
PAGE = """<!doctype html><meta charset="utf-8"><title>probe</title><script>
const S = "http://127.0.0.1:%(port)d";
const results = {};
async function attempt(name, fn) {
  try { results[name] = await fn(); } catch (e) { results[name] = "error: " + e; }
}
async function read(path) {
  const r = await fetch(S + path);
  return "status " + r.status + ": " + (await r.text());
}
function socket() {
  return new Promise((resolve) => {
    const seen = [];
    const ws = new WebSocket("ws://127.0.0.1:%(port)d/ws");
    ws.binaryType = "arraybuffer";
    ws.onmessage = (m) => seen.push(m.data.byteLength || m.data.length);
    ws.onopen = () => setTimeout(() => {
      resolve("open, frames " + seen.length);
      ws.close();
    }, 500);
    ws.onerror = () => resolve("error");
    ws.onclose = (e) => resolve("closed " + e.code);
    setTimeout(() => resolve("timeout"), 8000);
  });
}
(async () => {
  await attempt("projects", () => read("/api/v1/projects"));
  await attempt("export", () => read("/api/v1/sync/export"));
  await attempt("create", async () => {
    const r = await fetch(S + "/api/v1/projects", {
      method: "POST", headers: {"Content-Type": "application/json"},
      body: JSON.stringify({title: "from a page", key: "%(key)s"}),
    });
    return "status " + r.status;
  });
  await attempt("create_no_cors", async () => {
    const r = await fetch(S + "/api/v1/projects", {
      method: "POST", mode: "no-cors", headers: {"Content-Type": "text/plain"},
      body: JSON.stringify({title: "from a page", key: "%(key)s"}),
    });
    return "type " + r.type;
  });
  await attempt("shutdown", async () => {
    const r = await fetch(S + "/admin/shutdown", {
      method: "POST", mode: "no-cors", headers: {"Content-Type": "text/plain"}, body: "x",
    });
    return "type " + r.type;
  });
  await attempt("ws", socket);
  await fetch("/report", {method: "POST", body: JSON.stringify(results)});
})();
</script>"""


class PageServer:
    """Serves the probe page on `host` and collects the page's report."""

    def __init__(self, host: str, page: str) -> None:
        self.reports: list[dict[str, Any]] = []
        self.arrived = threading.Event()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = page.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                size = int(self.headers.get("Content-Length") or 0)
                outer.reports.append(json.loads(self.rfile.read(size)))
                self.send_response(204)
                self.end_headers()
                outer.arrived.set()

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer((host, 0), Handler)
        self.url = f"http://{host}:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@contextlib.contextmanager
def chromium(
    *args: str, capture: bool = False, profile: str | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """Headless chromium on a fresh profile (`profile`, which the caller then removes,
    or a temporary one)."""
    assert CHROMIUM is not None
    own_profile = profile is None
    if profile is None:
        profile = tempfile.mkdtemp(prefix="pmfast-chromium-")
    proc = subprocess.Popen(
        [
            CHROMIUM,
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--no-default-browser-check",
            f"--user-data-dir={profile}",
            *args,
        ],
        stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # its own session: only its processes
        proc.wait(timeout=30)
        if proc.stdout is not None:
            proc.stdout.close()
        if own_profile:
            shutil.rmtree(profile, ignore_errors=True)


def visit(page_host: str, srv: ServerProcess, key: str) -> dict[str, Any]:
    """Load the probe page from `page_host` and return what it reported."""
    pages = PageServer(page_host, PAGE % {"port": srv.port, "key": key})
    try:
        with chromium(pages.url) as proc:
            if not pages.arrived.wait(60):
                raise AssertionError(f"no report from the page (chromium rc={proc.poll()})")
        return pages.reports[0]
    finally:
        pages.close()


@pytest.fixture
def srv(tmp_path: Path) -> Iterator[ServerProcess]:
    with ServerProcess(tmp_path / "repo") as s:
        yield s


@not_on_robyn("WebSocket upgrade headers")
def test_a_page_from_another_origin_sees_nothing_and_cannot_stop_the_server(
    srv: ServerProcess,
) -> None:
    with srv.client() as c:
        secret = create_project(c, title="secret project title")
    key = "PAGE" + str(int(time.time() * 1000) % 100000)
    # 127.0.0.2 is loopback too, but not an allowed origin.
    report = visit("127.0.0.2", srv, key)
    text = json.dumps(report)
    assert secret["title"] not in text and secret["id"] not in text, report
    assert report["projects"].startswith("error"), report  # CORS: the reply stays hidden
    assert report["export"].startswith("error"), report
    assert report["create"].startswith("error"), report  # preflight refused
    assert report["shutdown"] == "type opaque", report  # sent, answer hidden
    assert report["ws"] in ("error", "closed 1006"), report
    time.sleep(0.5)
    assert srv.is_alive(), "a web page stopped the server"
    with srv.client() as c:
        assert ok(c.get("/health"))["status"] == "ok"
        keys = [p["key"] for p in ok(c.get("/api/v1/projects"))["projects"]]
    assert key not in keys
    log = srv.logs()
    assert "shutdown requested" not in log


def test_a_page_from_an_allowed_origin_can_read_but_not_administer(srv: ServerProcess) -> None:
    with srv.client() as c:
        mine = create_project(c, title="visible to the dev server")
    key = "DEV" + str(int(time.time() * 1000) % 100000)
    report = visit("127.0.0.1", srv, key)  # http://127.0.0.1:<port>: allowed by default
    assert report["projects"].startswith("status 200"), report
    assert mine["title"] in report["projects"], report
    assert report["export"].startswith("status 200"), report
    assert report["create"] == "status 200", report
    assert report["ws"].startswith("open"), report
    time.sleep(0.5)
    assert srv.is_alive(), "the admin route took a browser request"
    with srv.client() as c:
        keys = [p["key"] for p in ok(c.get("/api/v1/projects"))["projects"]]
    assert key in keys


def dump_dom(url: str, *args: str) -> str:
    with chromium(*args, "--dump-dom", url, capture=True) as proc:
        out, _ = proc.communicate(timeout=60)
    return out.decode("utf-8", "replace")


def test_dns_rebinding_name_gets_nothing(srv: ServerProcess) -> None:
    """The browser resolves an outside name to 127.0.0.1 (what a rebinding attacker's
    DNS does): the request names that host and is refused."""
    with srv.client() as c:
        secret = create_project(c, title="rebinding target")
    rule = "--host-resolver-rules=MAP rebind.test 127.0.0.1"
    dom = dump_dom(f"http://rebind.test:{srv.port}/api/v1/projects", rule)
    assert "MISDIRECTED_REQUEST" in dom, dom[:500]
    assert secret["title"] not in dom
    # The same browser asking for 127.0.0.1 directly (a user opening the URL) is served.
    dom = dump_dom(f"http://127.0.0.1:{srv.port}/api/v1/projects")
    assert secret["title"] in dom, dom[:500]


def test_docs_page_renders_every_operation(srv: ServerProcess) -> None:
    """`/docs` in a real browser, with nothing but what the server serves (its CSP
    allows no other source): Swagger UI loads the document and shows one block per
    operation of the route table, under the id `operations-<tag>-<operationId>`."""
    from pm_fast.api import openapi, rest

    with srv.client() as c:
        doc = ok(c.get("/api/v1/openapi.json"))
    table = {(m, openapi._path(p)[0]) for m, p, _ in rest.ROUTES}
    ops = {(m.upper(), path): op for path, item in doc["paths"].items() for m, op in item.items()}
    assert set(ops) == table
    # virtual time runs the page's timers without waiting for them; the fetches are real
    dom = dump_dom(f"http://127.0.0.1:{srv.port}/docs", "--virtual-time-budget=15000")
    assert "Unable to render" not in dom, dom[:2000]
    assert 'class="swagger-ui' in dom, dom[:2000]
    # Swagger UI escapes the tag as a CSS identifier ("openapi.json" -> "openapi\\.json")
    block = 'id="operations-{tag}-{op}"'
    missing = [
        f"{method} {path}"
        for (method, path), op in sorted(ops.items())
        if block.format(tag=op["tags"][0].replace(".", "\\."), op=op["operationId"]) not in dom
    ]
    assert not missing, (missing, dom[:2000])
    rendered = re.findall(r'id="operations-(?!tag-)[^"]+"', dom)
    assert len(rendered) == len(table)
    assert "pm-fast REST API" in dom


def devtools_page(profile: Path, url: str, deadline: float) -> str:
    """The DevTools WebSocket URL of the page chromium (`--remote-debugging-port=0`,
    profile `profile`) opened at `url`."""
    port_file = profile / "DevToolsActivePort"
    while not port_file.is_file() or not port_file.read_text().strip():
        if time.monotonic() > deadline:
            raise AssertionError("chromium did not open its DevTools port")
        time.sleep(0.1)
    port = int(port_file.read_text().split()[0])
    while True:
        pages = httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=10).json()
        target = next((p for p in pages if p.get("url", "").startswith(url)), None)
        if target is not None:
            ws_url: str = target["webSocketDebuggerUrl"]
            return ws_url
        if time.monotonic() > deadline:
            raise AssertionError(f"no page at {url}: {pages}")
        time.sleep(0.1)


class DevTools:
    """The DevTools protocol of one page: only `Runtime.evaluate`, to drive the page as
    a user's clicks would."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.next_id = 0

    def evaluate(self, expression: str) -> Any:
        self.next_id += 1
        self.ws.send(
            json.dumps(
                {
                    "id": self.next_id,
                    "method": "Runtime.evaluate",
                    "params": {
                        "expression": expression,
                        "awaitPromise": True,
                        "returnByValue": True,
                    },
                }
            )
        )
        while True:
            reply = json.loads(self.ws.recv(timeout=30))
            if reply.get("id") == self.next_id:
                break
        if "error" in reply:  # e.g. the page's context is not there yet
            raise RuntimeError(reply["error"])
        result = reply["result"]
        if "exceptionDetails" in result:
            raise AssertionError(result["exceptionDetails"])
        return result["result"].get("value")

    def wait_for(self, expression: str, deadline: float) -> Any:
        while True:
            try:
                value = self.evaluate(expression)
            except RuntimeError:
                value = None
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {expression}")
            time.sleep(0.2)


# Opens the operation, presses "Try it out", fills the body as typing would (the
# textarea is a React input) and presses Execute.
TRY_IT_OUT = """(() => {
  const op = document.getElementById("operations-projects-post_projects");
  if (!op.querySelector(".try-out__btn")) op.querySelector(".opblock-summary-control").click();
  return new Promise((resolve) => setTimeout(() => {
    op.querySelector(".try-out__btn").click();
    setTimeout(() => {
      const area = op.querySelector("textarea.body-param__text");
      const set = Object.getOwnPropertyDescriptor(HTMLTextAreaElement.prototype, "value").set;
      set.call(area, %(body)s);
      area.dispatchEvent(new Event("input", {bubbles: true}));
      setTimeout(() => { op.querySelector("button.execute").click(); resolve(true); }, 300);
    }, 300);
  }, 300));
})()"""
LIVE_STATUS = """(() => {
  const op = document.getElementById("operations-projects-post_projects");
  const cell = op && op.querySelector(".live-responses-table tbody .response-col_status");
  return cell ? cell.textContent.trim() : "";
})()"""


def test_try_it_out_creates_through_the_page(tmp_path: Path) -> None:
    """A user on `/docs` runs "Try it out" on `POST /api/v1/projects`: the browser sends
    the page's own origin, which `allowed_origins` here does not list; the guard lets it
    through as the server's own origin (docs/compat.md), and the project is created."""
    from websockets.sync.client import connect

    env = {"PM_ALLOWED_ORIGINS": "https://board.example.org"}
    key = "TRY" + str(int(time.time() * 1000) % 100000)
    body = json.dumps({"title": "tried on /docs", "key": key})
    with ServerProcess(tmp_path / "repo", env=env) as srv:
        url = f"http://127.0.0.1:{srv.port}/docs"
        profile = Path(tempfile.mkdtemp(prefix="pmfast-devtools-"))
        deadline = time.monotonic() + 90
        try:
            with chromium("--remote-debugging-port=0", url, profile=str(profile)):
                page = devtools_page(profile, url, deadline)
                with connect(page, max_size=None, open_timeout=10) as ws:
                    tools = DevTools(ws)
                    tools.wait_for(
                        "!!document.getElementById('operations-projects-post_projects')",
                        deadline,
                    )
                    tools.evaluate(TRY_IT_OUT % {"body": json.dumps(body)})
                    status = tools.wait_for(LIVE_STATUS, deadline)
        finally:
            shutil.rmtree(profile, ignore_errors=True)
        assert status == "200", status
        with srv.client() as c:
            projects = ok(c.get("/api/v1/projects"))["projects"]
        assert [p["title"] for p in projects if p["key"] == key] == ["tried on /docs"]
        assert "refused a request: Origin" not in srv.logs()
