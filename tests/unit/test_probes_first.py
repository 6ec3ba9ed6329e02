"""The Granian engine answers the probes before the REST router and the services are
imported (the desktop shell times the first `/ready` after it starts the sidecar), and
answers them exactly as the router does.

A black-box test cannot see imports, so this drives the engine's RSGI callable with
fake requests in a fresh interpreter (this one has imported everything long ago).
"""

from __future__ import annotations

from pathlib import Path

from .fresh import run_fresh

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = r"""
import asyncio, json, sys, tempfile
from pathlib import Path

from pm_fast.boot import import_asyncio_without_ssl

import_asyncio_without_ssl()
from pm_fast import bootstrap
from pm_fast.config import load_config
from pm_fast.engines.granian import AsgiApp

# Needed only past start-up: the router, every service, the WebSocket edge, and the
# parts of Granian the embedded server does not use.
LATER = ("pm_fast.api.rest", "pm_fast.api.ws", "pm_fast.service.work_items",
         "pm_fast.service.projects", "pm_fast.service.sync", "granian.rsgi", "granian.asgi",
         "granian.log")


def not_loaded(when):
    loaded = [m for m in LATER if m in sys.modules]
    assert not loaded, f"{when}: {loaded} imported"


async def call(engine, method, path, **headers):
    # one ASGI request to `engine`: (status, headers, body)
    raw = [(k.encode(), v.encode()) for k, v in {"host": "127.0.0.1:1", **headers}.items()]
    scope = {"type": "http", "method": method, "path": path, "query_string": b"",
             "headers": raw}
    sent = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(msg):
        sent.append(msg)

    await engine(scope, receive, send)
    start, body = sent
    out = [(k.decode(), v.decode()) for k, v in start["headers"]]
    return start["status"], out, body["body"]


async def main():
    not_loaded("after the imports of `pm-fast serve`")
    pm = Path(tempfile.mkdtemp()) / ".pm"
    pm.mkdir()
    cfg = load_config(pm, {"PM_SERVER_PORT": "0"})
    settings = bootstrap.read_settings({})
    bootstrap.start(settings)
    app = await bootstrap.open_app(cfg, pm, settings)
    try:
        await probe_then_route(app)
    finally:
        await app.store.close()
    print("ok")


async def probe_then_route(app):
    engine = AsgiApp(app)
    not_loaded("after start-up")

    status, headers, body = await call(engine, "GET", "/ready")
    assert status == 200, status
    ready = json.loads(body)
    assert ready["status"] == "healthy" and ready["circuit_breaker"] == {"state": "Closed"}
    assert ("content-type", "application/json") in headers
    # Answered; the warm-up (the router and the WebSocket edge) is only scheduled, and
    # runs as soon as the event loop is free.
    not_loaded("after the first /ready")
    fast = {}
    for method in ("GET", "HEAD"):
        for path in ("/health", "/live"):
            fast[method, path] = await call(engine, method, path)
    fast["HEAD", "/ready"] = await call(engine, "HEAD", "/ready")
    fast["GET", "/health", "origin"] = await call(
        engine, "GET", "/health", origin="http://localhost:5173")
    refused = await call(engine, "GET", "/ready", host="evil.example")
    assert refused[0] == 421, refused

    assert "pm_fast.api.rest" in sys.modules, "the warm-up did not import the router"
    from pm_fast.api import rest

    # The same answers as the router's own (its route table keeps the probes).
    for key, (status, headers, body) in fast.items():
        method, path = key[:2]
        req = rest.Request(method, path, "", lambda name: None, None)
        want = await rest.handle(app, req)
        assert status == want.status, (key, status, want.status)
        assert body == want.body, (key, body, want.body)
    assert ("access-control-allow-origin", "http://localhost:5173") in fast[
        "GET", "/health", "origin"][1]
    assert fast["HEAD", "/ready"][:3] == (200, [("content-type", "application/json")], b"")

    # What only the router answers: a preflight, a refused method, other paths.
    assert (await call(engine, "OPTIONS", "/ready"))[0] == 200
    assert (await call(engine, "POST", "/health"))[0] == 405
    assert (await call(engine, "GET", "/api/v1/projects"))[0] == 200


asyncio.run(main())
"""


def test_probes_answer_before_the_router_is_imported(tmp_path: Path) -> None:
    stdout = run_fresh(SCRIPT, tmp_path)
    assert stdout.strip().endswith("ok"), stdout


def test_router_first_when_the_first_request_is_not_a_probe(tmp_path: Path) -> None:
    script = SCRIPT.split("async def main():")[0] + (
        "async def main():\n"
        "    pm = Path(tempfile.mkdtemp()) / '.pm'\n"
        "    pm.mkdir()\n"
        "    settings = bootstrap.read_settings({})\n"
        "    bootstrap.start(settings)\n"
        "    app = await bootstrap.open_app(load_config(pm, {}), pm, settings)\n"
        "    try:\n"
        "        engine = AsgiApp(app)\n"
        "        status, _, body = await call(engine, 'GET', '/api/v1/projects')\n"
        "        assert status == 200 and json.loads(body) == {'projects': []}, body\n"
        "        assert 'pm_fast.api.rest' in sys.modules\n"
        "        status, _, body = await call(engine, 'GET', '/nowhere')\n"
        "        assert status == 404, status\n"
        "    finally:\n"
        "        await app.store.close()\n"
        "    print('ok')\n"
        "\n"
        "asyncio.run(main())\n"
    )
    stdout = run_fresh(script, tmp_path)
    assert stdout.strip().endswith("ok"), stdout
