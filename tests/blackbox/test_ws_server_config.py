# mypy: disable-error-code="no-any-return"
"""WebSocket behaviour that depends on server configuration, each on a private server:
JWT (§1.2, §6.3), connection limit (§1.3, §6.2), rate limit (§1.5), send buffer (§1.4),
graceful shutdown (§1.7, §6.15); with the pm-fast differences of docs/compat.md."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
import websockets
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from harness import not_on_robyn

from pm_fast.api import pm_pb2 as pb

from .wsclient import (
    ServerProcess,
    WsClient,
    assert_error,
    case_of,
    clients,
    db_scalar,
    module_server,
    new_id,
    now,
    running_server,
    uniq_key,
)

SECRET = "test-secret-key-for-integration-tests-min-32-bytes-long"


def claims(sub: str | None = None, **over: Any) -> dict[str, Any]:
    t = now()
    c: dict[str, Any] = {"sub": sub if sub is not None else new_id(), "exp": t + 3600, "iat": t}
    for k, v in over.items():
        if v is None:
            c.pop(k, None)
        else:
            c[k] = v
    return c


def hs(c: dict[str, Any], secret: str = SECRET) -> str:
    return jwt.encode(c, secret, algorithm="HS256")


async def refused(port: int, status: int, **kwargs: Any) -> None:
    with pytest.raises(websockets.InvalidStatus) as exc:
        c = await WsClient.connect(port, None, **kwargs)
        await c.close()
    assert exc.value.response.status_code == status


async def whoami(c: WsClient) -> str:
    created = await c.call("create_project_request", title="who", key=uniq_key("J"))
    return created.user_id


# --------------------------------------------------------------------------- JWT HS256
@pytest.fixture(scope="module")
def jwt_srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    yield from module_server(
        tmp_path_factory, "ws-jwt", env={"PM_AUTH_ENABLED": "true", "PM_AUTH_JWT_SECRET": SECRET}
    )


@not_on_robyn("WebSocket upgrade headers")
async def test_jwt_bearer_header_accepted(jwt_srv: ServerProcess) -> None:
    sub = new_id()
    headers = {"Authorization": f"Bearer {hs(claims(sub))}"}
    async with clients(jwt_srv.port, None, headers=headers) as (c,):
        assert await whoami(c) == sub
        reply, _ = await c.request("ping", timestamp=4)
        assert reply.pong.timestamp == 4


async def test_jwt_query_token_accepted(jwt_srv: ServerProcess) -> None:
    sub = new_id()
    async with clients(jwt_srv.port, None, query=f"token={hs(claims(sub))}") as (c,):
        assert await whoami(c) == sub


@not_on_robyn("WebSocket upgrade headers")
async def test_jwt_header_wins_over_query_token(jwt_srv: ServerProcess) -> None:
    a, b = new_id(), new_id()
    headers = {"Authorization": f"Bearer {hs(claims(a))}"}
    async with clients(jwt_srv.port, None, query=f"token={hs(claims(b))}", headers=headers) as (c,):
        assert await whoami(c) == a
    # a bad header is not rescued by a good query token
    await refused(
        jwt_srv.port,
        401,
        query=f"token={hs(claims(b))}",
        headers={"Authorization": f"Bearer {hs(claims(a), 'x' * 40)}"},
    )


@not_on_robyn("WebSocket upgrade headers")
async def test_jwt_user_id_query_parameter_is_not_an_identity(jwt_srv: ServerProcess) -> None:
    await refused(jwt_srv.port, 401, query=f"user_id={new_id()}")
    sub, other = new_id(), new_id()
    async with clients(
        jwt_srv.port,
        None,
        query=f"user_id={other}",
        headers={"Authorization": f"Bearer {hs(claims(sub))}"},
    ) as (c,):
        assert await whoami(c) == sub


@not_on_robyn("refuse an upgrade with an HTTP status")
@pytest.mark.parametrize(
    "case",
    [
        "missing",
        "bad_signature",
        "expired",
        "missing_iat",
        "missing_exp",
        "empty_sub",
        "wrong_scheme",
        "lowercase_scheme",
        "malformed",
        "future_nbf",
        "none_alg",
    ],
)
async def test_jwt_refused_with_401_before_upgrade(jwt_srv: ServerProcess, case: str) -> None:
    t = now()
    token = {
        "missing": None,
        "bad_signature": hs(claims(), "another-secret-key-that-is-long-enough-123"),
        "expired": hs(claims(exp=t - 3600, iat=t - 7200)),
        "missing_iat": hs(claims(iat=None)),
        "missing_exp": hs(claims(exp=None)),
        "empty_sub": hs(claims("")),
        "wrong_scheme": hs(claims()),
        "lowercase_scheme": hs(claims()),
        "malformed": "not.a.jwt",
        "future_nbf": hs(claims(nbf=t + 3600)),
        "none_alg": jwt.encode(claims(), "", algorithm="none"),
    }[case]
    headers: dict[str, str] = {}
    if token is not None:
        scheme = {"wrong_scheme": "Basic ", "lowercase_scheme": "bearer "}.get(case, "Bearer ")
        headers["Authorization"] = scheme + token
    await refused(jwt_srv.port, 401, headers=headers)


@not_on_robyn("refuse an upgrade with an HTTP status")
async def test_jwt_query_token_refusals(jwt_srv: ServerProcess) -> None:
    t = now()
    for token in (
        hs(claims(exp=t - 3600, iat=t - 7200)),
        hs(claims(), "z" * 40),
        "",
        hs(claims(iat=None)),
    ):
        await refused(jwt_srv.port, 401, query=f"token={token}")


@not_on_robyn("WebSocket upgrade headers")
async def test_jwt_leeway_of_30_seconds(jwt_srv: ServerProcess) -> None:
    t = now()
    sub = new_id()
    # expired 5 s ago: still inside the 30 s leeway
    token = hs(claims(sub, exp=t - 5, iat=t - 100))
    async with clients(jwt_srv.port, None, headers={"Authorization": f"Bearer {token}"}) as (c,):
        assert await whoami(c) == sub


@not_on_robyn("WebSocket upgrade headers")
async def test_jwt_non_uuid_subject_is_stable_and_can_write(jwt_srv: ServerProcess) -> None:
    # compat.md: non-UUID sub -> stable UUIDv5; every connecting user gets a users row,
    # so JWT users' writes (FKs to users) succeed.
    sub = f"user-{uuid.uuid4().hex[:6]}"
    headers = {"Authorization": f"Bearer {hs(claims(sub))}"}
    async with clients(jwt_srv.port, None, headers=headers) as (c1,):
        first = await whoami(c1)
        project = await c1.project(subscribe=True)
        task = await c1.item(project.id)
        comment = await c1.comment(task.id, "from a JWT user")
        assert comment.created_by == first
        entry = (await c1.call("start_timer_request", work_item_id=task.id)).time_entry
        assert entry.user_id == first
    async with clients(jwt_srv.port, None, headers=headers) as (c2,):
        assert await whoami(c2) == first
        # same identity -> still admin of the project created on the first connection
        w = await c2.item(project.id)
        assert w.created_by == first
    assert uuid.UUID(first).version == 5
    assert db_scalar(jwt_srv, "SELECT email FROM users WHERE id = ?", (first,)) is not None


@not_on_robyn("WebSocket upgrade headers")
async def test_jwt_roles_and_aud_free_claims_accepted(jwt_srv: ServerProcess) -> None:
    sub = new_id()
    token = hs(claims(sub, roles=["admin", "user"]))
    async with clients(jwt_srv.port, None, headers={"Authorization": f"Bearer {token}"}) as (c,):
        assert await whoami(c) == sub


# --------------------------------------------------------------------------- JWT RS256
@not_on_robyn("WebSocket upgrade headers")
def test_jwt_rs256_public_key(tmp_path: Path) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    root = tmp_path / "rs"
    (root / ".pm").mkdir(parents=True)
    (root / ".pm" / "jwt-public.pem").write_bytes(pem)
    env = {
        "PM_AUTH_ENABLED": "1",
        "PM_AUTH_JWT_PUBLIC_KEY_PATH": "jwt-public.pem",
        "PM_AUTH_JWT_SECRET": None,
    }

    async def scenario(srv: ServerProcess) -> None:
        sub = new_id()
        good = jwt.encode(claims(sub), key, algorithm="RS256")
        async with clients(srv.port, None, headers={"Authorization": f"Bearer {good}"}) as (c,):
            assert await whoami(c) == sub
        async with clients(srv.port, None, query=f"token={good}") as (c,):
            assert await whoami(c) == sub
        for bad in (
            jwt.encode(claims(), other, algorithm="RS256"),  # wrong key
            hs(claims()),  # HS256 is not accepted in RS256 mode
            jwt.encode(claims(iat=None), key, algorithm="RS256"),
            jwt.encode(claims(exp=now() - 3600), key, algorithm="RS256"),
            jwt.encode(claims(""), key, algorithm="RS256"),
        ):
            await refused(srv.port, 401, headers={"Authorization": f"Bearer {bad}"})
        await refused(srv.port, 401)

    with running_server(root, env=env) as srv:
        asyncio.run(asyncio.wait_for(scenario(srv), 60))


# --------------------------------------------------------------------------- limits
async def _connect_retrying(port: int, **kwargs: Any) -> WsClient:
    """Connect, retrying (bounded) while the server still counts a closed slot."""
    last: Exception | None = None
    for _ in range(100):
        try:
            return await WsClient.connect(port, **kwargs)
        except websockets.InvalidStatus as e:
            assert e.response.status_code == 503
            last = e
            await asyncio.sleep(0.05)
    raise AssertionError(f"slot never freed: {last!r}")


@not_on_robyn("refuse an upgrade with an HTTP status")
def test_connection_limit_503_and_slot_release(tmp_path: Path) -> None:
    env = {
        "PM_SERVER_MAX_CONNECTIONS": "3",
        "PM_AUTH_ENABLED": "true",
        "PM_AUTH_JWT_SECRET": SECRET,
    }

    async def scenario(srv: ServerProcess) -> None:
        def auth() -> dict[str, str]:
            return {"Authorization": f"Bearer {hs(claims())}"}

        held = [await WsClient.connect(srv.port, None, headers=auth()) for _ in range(3)]
        try:
            for c in held:
                reply, _ = await c.request("ping", timestamp=1)
                assert reply.pong.timestamp == 1
            await refused(srv.port, 503, headers=auth())
            # authentication is checked before the limit: a bad token gets 401, not 503
            await refused(srv.port, 401)
            await refused(srv.port, 401, headers={"Authorization": "Bearer nope"})
            # the held connections are unaffected
            reply, _ = await held[0].request("ping", timestamp=2)
            assert reply.pong.timestamp == 2
            # one leaves -> a new one can connect (after the server frees the slot)
            await held.pop().close()
            newcomer = await _connect_retrying(srv.port, user_id=None, headers=auth())
            held.append(newcomer)
            reply, _ = await newcomer.request("ping", timestamp=3)
            assert reply.pong.timestamp == 3
            await refused(srv.port, 503, headers=auth())
        finally:
            for c in held:
                await c.close()

    with running_server(tmp_path / "lim", env=env) as srv:
        asyncio.run(asyncio.wait_for(scenario(srv), 60))


@not_on_robyn("refuse an upgrade with an HTTP status")
def test_connection_limit_counts_every_user(tmp_path: Path) -> None:
    # no per-user limit: the total counts; desktop mode
    async def scenario(srv: ServerProcess) -> None:
        async with clients(srv.port, "new", "new") as held:
            await refused(srv.port, 503, query=f"user_id={new_id()}")
            await refused(srv.port, 503, query=f"user_id={held[0].user_id}")
            assert [await c.sync() for c in held] == [[], []]

    with running_server(tmp_path / "lim2", env={"PM_SERVER_MAX_CONNECTIONS": "2"}) as srv:
        asyncio.run(asyncio.wait_for(scenario(srv), 60))


# --------------------------------------------------------------------------- rate limit
WARN = "Rate limit exceeded. Slow down. ({}/5 warnings)"
FINAL = "Rate limit exceeded 5 times. Connection closed."


@not_on_robyn("Close frames with a status code")
def test_rate_limit_warnings_then_close_after_fifth_violation(tmp_path: Path) -> None:
    env = {"PM_RATE_LIMIT_MAX_REQUESTS": "6", "PM_RATE_LIMIT_WINDOW_SECS": "3600"}

    async def scenario(srv: ServerProcess) -> None:
        async with clients(srv.port, "new", "new") as (c, other):
            # text frames count too (4 pings + 2 text frames = the 6 allowed)
            ids = [await c.send("ping", timestamp=i) for i in range(4)]
            await c.send_raw("one")
            await c.send_raw("two")
            over = [await c.send("ping", timestamp=100 + i) for i in range(5)]
            frames = await c.wait_closed(timeout=20)
            pongs = [pb.WebSocketMessage.FromString(f) for f in frames if isinstance(f, bytes)]
            texts = [f for f in frames if isinstance(f, str)]
            # allowed frames are answered, dropped frames get no protobuf reply
            assert [(p.message_id, p.pong.timestamp) for p in pongs] == [
                (mid, i) for i, mid in enumerate(ids)
            ]
            assert not {p.message_id for p in pongs} & set(over)
            assert len(texts) == 2 + 4, texts  # 2 text-frame hints + 4 warnings
            assert texts[2:] == [WARN.format(n) for n in range(1, 5)]
            # the order on the wire: all replies, then the warnings, then the Close frame
            kinds = ["b" if isinstance(f, bytes) else "t" for f in frames]
            assert kinds.index("b") == 0 and kinds[-4:] == ["t"] * 4
            # the fifth violation: Close 1008 with the original's reason (§1.5)
            assert (c.ws.close_code, c.ws.close_reason) == (1008, FINAL)
            # the limit is per connection
            reply, _ = await other.request("ping", timestamp=9)
            assert reply.pong.timestamp == 9
            # a new connection of the same user starts with a full bucket
            async with clients(srv.port, c.user_id) as (again,):
                for i in range(6):
                    reply, _ = await again.request("ping", timestamp=i)
                    assert reply.pong.timestamp == i

    with running_server(tmp_path / "rl", env=env) as srv:
        asyncio.run(asyncio.wait_for(scenario(srv), 60))


def test_rate_limit_refills_n_per_window_and_resets_violations(tmp_path: Path) -> None:
    # compat.md: N per window (a bucket of N refilled at N per window_secs), not the
    # original's "burst N, then 1 per window"; an allowed frame resets the violation count.
    env = {"PM_RATE_LIMIT_MAX_REQUESTS": "4", "PM_RATE_LIMIT_WINDOW_SECS": "1"}

    async def burst(c: WsClient) -> tuple[list[bytes | str], float]:
        t0 = time.monotonic()
        ids = [await c.send("ping", timestamp=i) for i in range(6)]
        got = [await c.recv_frame() for _ in range(6)]
        c.pending.difference_update(ids)
        return got, time.monotonic() - t0

    async def scenario(srv: ServerProcess) -> None:
        async with clients(srv.port, "new") as (c,):
            for _ in range(2):
                got, elapsed = await burst(c)
                answered = [f for f in got if isinstance(f, bytes)]
                texts = [f for f in got if isinstance(f, str)]
                # 4 at once; at most a token or so refilled during the burst
                assert 4 <= len(answered) <= 5, (got, elapsed)
                if elapsed < 0.2:
                    assert len(answered) == 4, (got, elapsed)
                # the count restarts at 1 in the second round: the allowed frames of
                # that round reset it
                assert texts == [WARN.format(n) for n in range(1, len(texts) + 1)], got
                assert all(isinstance(f, bytes) for f in got[: len(answered)]), got
                # a whole window refills the bucket to N (the original: only 1 token)
                await asyncio.sleep(1.1)
            assert c.ws.close_code is None

    with running_server(tmp_path / "rl2", env=env) as srv:
        asyncio.run(asyncio.wait_for(scenario(srv), 60))


# --------------------------------------------------------------------------- send buffer
def test_send_buffer_backpressure_and_subscriber_kept(tmp_path: Path) -> None:
    # compat.md: replies to a connection's own requests wait for room (no drop); a
    # subscriber gets every broadcast even beyond send_buffer_size frames at once (flow
    # control holds the next mutations back instead, docs/delivery.md): not closed.
    env = {"PM_WS_SEND_BUFFER_SIZE": "1"}

    async def scenario(srv: ServerProcess) -> None:
        async with clients(srv.port, "new", "new") as (a, sub):
            # 40 pipelined requests, read only afterwards: every reply arrives, in order
            ids = [await a.send("ping", timestamp=i) for i in range(40)]
            for i, mid in enumerate(ids):
                reply, events = await a.reply_to(mid)
                assert events == [] and reply.pong.timestamp == i
            # a shared project (created over REST without X-User-Id): both may view it
            with srv.client() as http:
                r = http.post("/api/v1/projects", json={"title": "buf", "key": uniq_key("B")})
                assert r.status_code == 200, r.text
                pid = r.json()["project"]["id"]
            await sub.subscribe([pid])
            # one mutation queues two broadcasts at once into sub's 1-frame queue, the
            # next ones wait for admission while sub is behind: sub gets them all
            items = [await a.item(pid) for _ in range(5)]
            got = [case_of(e) for e in await sub.sync()]
            assert got == ["activity_log_created", "work_item_created"] * 5, got
            assert sub.ws.close_code is None
            # the requester is unaffected
            reply, _ = await a.request("ping", timestamp=1)
            assert reply.pong.timestamp == 1
            assert all(w.project_id == pid for w in items)

    with running_server(tmp_path / "buf", env=env) as srv:
        asyncio.run(asyncio.wait_for(scenario(srv), 60))


# --------------------------------------------------------------------------- shutdown
async def _shutdown_scenario(srv: ServerProcess) -> dict[str, int | None]:
    """Three connections, POST /admin/shutdown; returns each client's close code."""
    a = await WsClient.connect(srv.port, "new")
    b = await WsClient.connect(srv.port, "new")
    c = await WsClient.connect(srv.port, None)
    project = await a.project(subscribe=True)
    await b.subscribe([project.id])  # not a member: filtered, still acked
    reply, _ = await c.request("ping", timestamp=1)
    assert case_of(reply) == "pong"
    r = await asyncio.to_thread(srv.request_shutdown)
    assert r.status_code == 202
    for conn in (a, b, c):
        await conn.wait_closed(timeout=15)  # every connection ends
    rc = await asyncio.to_thread(srv.wait_exit, 15)
    assert rc == 0
    with pytest.raises(OSError):
        await WsClient.connect(srv.port, "new", open_timeout=3)
    return {
        name: conn.ws.close_code
        for name, conn in (
            ("subscribed member", a),
            ("filtered subscriber", b),
            ("desktop user", c),
        )
    }


def test_graceful_shutdown_ends_every_connection(tmp_path: Path) -> None:
    # §1.7 / §6.15: POST /admin/shutdown -> every WS client's connection ends, the process
    # exits 0 and removes its port file
    with running_server(tmp_path / "sd") as srv:
        asyncio.run(asyncio.wait_for(_shutdown_scenario(srv), 60))
        assert not srv.port_file.exists()


@not_on_robyn("Close frames with a status code")
def test_graceful_shutdown_sends_a_close_frame(tmp_path: Path) -> None:
    # compat.md: on shutdown every socket gets a Close frame 1001 (going away); 1006 means
    # the socket was dropped without one. Repeated because a race would only show now
    # and then.
    for i in range(3):
        with running_server(tmp_path / f"sdc{i}") as srv:
            codes = asyncio.run(asyncio.wait_for(_shutdown_scenario(srv), 60))
        assert codes == dict.fromkeys(codes, 1001), (f"round {i}", codes)


def test_unauthorized_replies_do_not_open_the_circuit_breaker(tmp_path: Path) -> None:
    # A fresh server: the DB starts empty, a non-member's GetWorkItems is refused and the
    # refusals do not take the database offline (compat.md: breaker counts only DB faults).
    async def scenario(srv: ServerProcess) -> None:
        async with clients(srv.port, "new", "new") as (owner, stranger):
            project = await owner.project()
            for _ in range(8):
                err = await stranger.error("get_work_items_request", project_id=project.id)
                assert_error(err, "UNAUTHORIZED", "Not a member of this project")
            listed = await owner.call("get_work_items_request", project_id=project.id)
            assert list(listed.work_items) == []
            err = await stranger.error("get_sprints_request", project_id=project.id)
            assert_error(err, "UNAUTHORIZED")

    with running_server(tmp_path / "cb") as srv:
        asyncio.run(asyncio.wait_for(scenario(srv), 60))
