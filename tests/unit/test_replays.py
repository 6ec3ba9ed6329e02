"""A GET of a point read sent again byte for byte is answered again without the router
(engines/front.py, `Replays`) only while it would get the same answer: nothing committed
since, the breaker closed, not shutting down, auth disabled. In process, through the
ASGI adapter, counting the requests that take the full path (`Front.http`)."""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import jwt
import pytest

from pm_fast import bootstrap
from pm_fast.config import load_config
from pm_fast.engines.front import Replay, Replays
from pm_fast.engines.granian import AsgiApp
from pm_fast.store.breaker import OPEN

HOST = [(b"host", b"127.0.0.1:1")]


class Engine:
    """The ASGI adapter with a count of the requests that went the full way."""

    def __init__(self, app: Any, db: Path) -> None:
        self.app = app
        self.db = db
        self.asgi = AsgiApp(app)
        self.full = 0
        full_path = self.asgi.http

        async def counted(*args: Any) -> Any:
            self.full += 1
            return await full_path(*args)

        self.asgi.http = counted  # type: ignore[method-assign,assignment]

    async def call(
        self, method: str, path: str, body: bytes = b"", headers: list[Any] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        raw = list(HOST if headers is None else headers)
        if body:
            raw.append((b"content-length", str(len(body)).encode()))
            raw.append((b"content-type", b"application/json"))
        scope = {
            "type": "http",
            "method": method,
            "path": path,
            "query_string": b"",
            "http_version": "1.1",
            "headers": raw,
        }
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(msg: dict[str, Any]) -> None:
            sent.append(msg)

        await self.asgi(scope, receive, send)
        head = {k.decode(): v.decode() for k, v in sent[0]["headers"]}
        return sent[0]["status"], head, sent[1]["body"]


async def _engine(pm: Path, env: dict[str, str]) -> Any:
    settings = bootstrap.read_settings({})
    bootstrap.start(settings)
    app = await bootstrap.open_app(load_config(pm, {"PM_SERVER_PORT": "0", **env}), pm, settings)
    assert not isinstance(app, int), app  # an exit status: the store did not open
    return app


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    pm = tmp_path / ".pm"
    pm.mkdir()
    app = await _engine(pm, {})
    try:
        yield Engine(app, pm / "data.db")
    finally:
        await app.store.close()


async def _item(engine: Engine) -> str:
    status, _, body = await engine.call("POST", "/api/v1/projects", b'{"title":"R","key":"RPL"}')
    assert status == 200, body
    project = json.loads(body)["project"]["id"]
    item = json.dumps({"project_id": project, "item_type": "task", "title": "first"}).encode()
    status, _, body = await engine.call("POST", "/api/v1/work-items", item)
    assert status == 200, body
    return "/api/v1/work-items/" + str(json.loads(body)["work_item"]["id"])


async def test_a_repeated_get_is_answered_again_until_something_commits(engine: Engine) -> None:
    path = await _item(engine)
    before = engine.full
    first = await engine.call("GET", path)
    assert first[0] == 200
    for _ in range(3):
        assert await engine.call("GET", path) == first
    assert engine.full == before + 1  # the first one only
    # a write through the server: the next GET reads again and shows it
    put = json.dumps({"title": "second", "expected_version": 1}).encode()
    assert (await engine.call("PUT", path, put))[0] == 200
    status, _, body = await engine.call("GET", path)
    assert status == 200 and json.loads(body)["work_item"]["title"] == "second"
    # a write by another connection (another process, the CLI): the same
    db = sqlite3.connect(engine.db)
    with db:
        db.execute("UPDATE pm_work_items SET title = 'third'")
    db.close()
    full = engine.full
    status, _, body = await engine.call("GET", path)
    assert status == 200 and json.loads(body)["work_item"]["title"] == "third"
    assert engine.full == full + 1


async def test_other_headers_are_another_request(engine: Engine) -> None:
    path = await _item(engine)
    plain = await engine.call("GET", path)
    assert (await engine.call("GET", path)) == plain
    full = engine.full
    # the guard judges each: a foreign page, an unknown Host, a cross-site fetch
    foreign = [*HOST, (b"origin", b"https://evil.example")]
    assert (await engine.call("GET", path, headers=foreign))[0] == 403
    assert (await engine.call("GET", path, headers=[(b"host", b"evil.example")]))[0] == 421
    cross = [*HOST, (b"sec-fetch-site", b"cross-site")]
    assert (await engine.call("GET", path, headers=cross))[0] == 403
    assert engine.full == full + 3
    # an allowed page gets its CORS headers; the plain request still none
    page = [*HOST, (b"origin", b"http://localhost:5173")]
    for _ in range(2):
        status, head, _ = await engine.call("GET", path, headers=page)
        assert status == 200 and head["access-control-allow-origin"] == "http://localhost:5173"
    assert "access-control-allow-origin" not in (await engine.call("GET", path))[1]


async def test_header_pairs_as_lists_take_the_full_path(engine: Engine) -> None:
    # ASGI allows any iterable pair; Granian's HTTP/1 scope has tuples (hashable).
    path = await _item(engine)
    listed = [[b"host", b"127.0.0.1:1"]]
    first = await engine.call("GET", path, headers=listed)
    assert first[0] == 200 and (await engine.call("GET", path, headers=listed)) == first
    full = engine.full
    await engine.call("GET", path, headers=listed)
    assert engine.full == full + 1


async def test_no_replay_while_shutting_down_or_the_breaker_is_open(engine: Engine) -> None:
    path = await _item(engine)
    ok = await engine.call("GET", path)
    assert (await engine.call("GET", path)) == ok
    engine.app.store.breaker._state = OPEN
    engine.app.store.breaker._opened_at = engine.app.store.breaker.clock()
    assert (await engine.call("GET", path))[0] == 503
    engine.app.store.breaker._state = "Closed"
    assert (await engine.call("GET", path)) == ok
    engine.asgi.closing = True
    full = engine.full
    assert (await engine.call("GET", path))[0] == 503
    assert engine.full == full + 1


async def test_never_with_auth_enabled(tmp_path: Path) -> None:
    # Bearer tokens expire: the same request may be refused later.
    pm = tmp_path / ".pm"
    pm.mkdir()
    secret = "replays-secret-of-at-least-32-bytes-length!!"
    app = await _engine(pm, {"PM_AUTH_ENABLED": "true", "PM_AUTH_JWT_SECRET": secret})
    try:
        engine = Engine(app, pm / "data.db")
        now = int(time.time())
        claims = {"sub": str(uuid.uuid4()), "iat": now, "exp": now + 3600}
        auth = (b"authorization", b"Bearer " + jwt.encode(claims, secret).encode())
        body = b'{"title":"R","key":"RPA"}'
        status, _, answer = await engine.call("POST", "/api/v1/projects", body, [*HOST, auth])
        assert status == 200, answer
        path = "/api/v1/projects/" + json.loads(answer)["project"]["id"]
        full = engine.full
        for _ in range(3):
            assert (await engine.call("GET", path, headers=[*HOST, auth]))[0] == 200
        assert engine.full == full + 3
        assert not engine.asgi.replays.entries
    finally:
        await app.store.close()


def test_replays_are_bounded() -> None:
    replays = Replays(max_entries=3, max_bytes=160)
    for n in range(3):
        replays.put(n, Replay(n, b"x", [], "r", 10))
    assert len(replays.entries) == 3 and replays.size == 30
    replays.put(3, Replay(3, b"x", [], "r", 10))  # full: starts over
    assert list(replays.entries) == [3] and replays.size == 10
    replays.put(4, Replay(4, b"x", [], "r", 11))  # over 1/16 of the bytes: not kept
    assert list(replays.entries) == [3] and replays.size == 10
    for n in range(4, 19):
        replays.put(n % 2, Replay(n, b"x", [], "r", 10))  # the same two requests again
    assert set(replays.entries) == {0, 1, 3} and replays.size == 30
    replays.drop(3)
    assert set(replays.entries) == {0, 1} and replays.size == 20
