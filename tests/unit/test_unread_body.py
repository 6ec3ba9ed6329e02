"""An answer given before the request's body was read says `Connection: close` (the
body's rest is still on the connection; Granian closes it after the answer, and a client
told nothing would send its next request into a closing connection). Answers to requests
whose body was read, or that have none, keep the connection. In process, through the
ASGI adapter, with a body that arrives only if the app asks for it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pm_fast import bootstrap
from pm_fast.config import load_config
from pm_fast.engines.granian import AsgiApp


async def _call(engine: AsgiApp, method: str, path: str, body: bytes, **headers: str) -> Any:
    raw = [(k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()]
    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1:1"), *raw],
    }
    asked = []
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        asked.append(True)
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(msg: dict[str, Any]) -> None:
        sent.append(msg)

    await engine(scope, receive, send)
    start = sent[0]
    out = {k.decode().lower(): v.decode() for k, v in start["headers"]}
    return start["status"], out.get("connection"), bool(asked)


async def test_answers_before_the_body_close_the_connection(tmp_path: Path) -> None:
    pm = tmp_path / ".pm"
    pm.mkdir()
    settings = bootstrap.read_settings({})
    bootstrap.start(settings)
    app = await bootstrap.open_app(load_config(pm, {"PM_SERVER_PORT": "0"}), pm, settings)
    assert not isinstance(app, int), app  # an exit status: the store did not open
    try:
        engine = AsgiApp(app)
        body = b'{"title": "Unread", "key": "UNRD"}'
        sized = {"content_length": str(len(body))}
        chunked = {"transfer_encoding": "chunked"}
        json_type = {"content_type": "application/json"}
        foreign = {"origin": "https://evil.example"}
        # (method, path, headers, status, Connection header, body read)
        cases = [
            # refused by its type before the body is read
            (
                "POST",
                "/api/v1/projects",
                {"content_type": "text/plain", **sized},
                415,
                "close",
                False,
            ),
            (
                "POST",
                "/api/v1/projects",
                {"content_type": "text/plain", **chunked},
                415,
                "close",
                False,
            ),
            # no route for it
            ("POST", "/api/v1/nothing", {**json_type, **sized}, 404, "close", False),
            # refused by the browser guard before any route runs (a foreign page's origin)
            ("POST", "/api/v1/projects", {**json_type, **sized, **foreign}, 403, "close", False),
            # read, then answered (created: the original answers 200): the connection stays
            ("POST", "/api/v1/projects", {**json_type, **sized}, 200, None, True),
            # no body at all
            ("GET", "/health", {}, 200, None, False),
            ("GET", "/api/v1/projects", {"content_length": "0"}, 200, None, False),
        ]
        for method, path, headers, *want in cases:
            got = await _call(engine, method, path, body if method == "POST" else b"", **headers)
            assert got == tuple(want), (method, path, got)
    finally:
        await app.store.close()
