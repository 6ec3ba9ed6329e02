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
        length = str(len(body))
        # refused by its type before the body is read
        got = await _call(
            engine,
            "POST",
            "/api/v1/projects",
            body,
            content_type="text/plain",
            content_length=length,
        )
        assert got == (415, "close", False)
        got = await _call(
            engine,
            "POST",
            "/api/v1/projects",
            body,
            content_type="text/plain",
            transfer_encoding="chunked",
        )
        assert got == (415, "close", False)
        # no route for it
        got = await _call(
            engine,
            "POST",
            "/api/v1/nothing",
            body,
            content_type="application/json",
            content_length=length,
        )
        assert got == (404, "close", False)
        # refused by the browser guard before any route runs (a foreign page's origin)
        got = await _call(
            engine,
            "POST",
            "/api/v1/projects",
            body,
            content_type="application/json",
            content_length=length,
            origin="https://evil.example",
        )
        assert got[1:] == ("close", False) and got[0] >= 400, got
        # read, then answered: the connection stays
        got = await _call(
            engine,
            "POST",
            "/api/v1/projects",
            body,
            content_type="application/json",
            content_length=length,
        )
        assert got == (200, None, True)  # created (the original answers 200)
        # no body at all
        assert await _call(engine, "GET", "/health", b"") == (200, None, False)
        listed = await _call(engine, "GET", "/api/v1/projects", b"", content_length="0")
        assert listed[:2] == (200, None)
    finally:
        await app.store.close()
