"""Idle and stalled connections are closed on time (docs/compat.md "Connection").

Each server here runs with small limits: a WebSocket from which no frame arrives for
``websocket.heartbeat_timeout_secs`` is closed (a frame that stops half-way counts as
none) and its slot freed; an HTTP connection gets ``server.header_read_timeout_secs`` for
its request line and headers (from connect, and between requests) and
``server.body_read_timeout_secs`` for its whole body. Clients are raw sockets on
loopback; every wait is bounded. The deadlines are the configured value plus a generous
margin: they prove "closed", not "closed fast".
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import websockets
from harness import ON_POSTGRES, git_init, not_on_robyn, run_to_exit

from pm_fast.api import pm_pb2 as pb

from .wsclient import (
    ServerProcess,
    WsClient,
    WsError,
    case_of,
    clients,
    module_server,
    new_id,
    running_server,
)

HEARTBEAT_INTERVAL = 5  # the smallest values the configuration allows
HEARTBEAT_TIMEOUT = 10
HEADER_TIMEOUT = 2
BODY_TIMEOUT = 3
MAX_CONNECTIONS = 3
SLACK = 10.0  # s: a loaded two-core machine is slow, not this slow

ENV = {
    "PM_WS_HEARTBEAT_INTERVAL_SECS": str(HEARTBEAT_INTERVAL),
    "PM_WS_HEARTBEAT_TIMEOUT_SECS": str(HEARTBEAT_TIMEOUT),
    "PM_HEADER_READ_TIMEOUT_SECS": str(HEADER_TIMEOUT),
    "PM_BODY_READ_TIMEOUT_SECS": str(BODY_TIMEOUT),
    "PM_SERVER_MAX_CONNECTIONS": str(MAX_CONNECTIONS),
}

Stream = tuple[asyncio.StreamReader, asyncio.StreamWriter]


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    yield from module_server(tmp_path_factory, "idle", env=ENV)


# --------------------------------------------------------------------------- helpers
async def connect(port: int) -> Stream:
    return await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 10)


async def upgrade(port: int, sock: socket.socket | None = None) -> Stream:
    """A WebSocket by hand: the upgrade request, the 101, then whatever the test sends."""
    if sock is None:
        reader, writer = await connect(port)
    else:
        reader, writer = await asyncio.open_connection(sock=sock)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        (
            f"GET /ws?user_id={new_id()} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    assert head.startswith(b"HTTP/1.1 101"), head
    return reader, writer


async def closed_by(reader: asyncio.StreamReader, deadline: float) -> bytes:
    """Read until the server closes the connection (before `deadline`, a monotonic time);
    what it sent meanwhile."""
    got = bytearray()
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"still open at the deadline; received {bytes(got[:200])!r}")
        try:
            chunk = await asyncio.wait_for(reader.read(65536), left)
        except TimeoutError:
            continue
        except ConnectionResetError:
            return bytes(got)
        if not chunk:
            return bytes(got)
        got += chunk


async def still_open(reader: asyncio.StreamReader, seconds: float) -> None:
    """Nothing arrives and the connection stays open for `seconds`."""
    with pytest.raises(TimeoutError):
        data = await asyncio.wait_for(reader.read(65536), seconds)
        raise AssertionError(f"expected an open, quiet connection, got {data!r}")


def close(writer: asyncio.StreamWriter) -> None:
    writer.close()


# --------------------------------------------------------------------------- WebSocket
@not_on_robyn("refuse an upgrade with an HTTP status")
async def test_ws_silent_after_handshake_closed_and_slot_freed(srv: ServerProcess) -> None:
    """Sockets that upgrade and then send nothing (nor answer anything) fill every slot;
    each is closed with a Close frame after the heartbeat timeout, and a new client gets
    a slot again."""
    started = time.monotonic()
    held = [await upgrade(srv.port) for _ in range(MAX_CONNECTIONS)]
    try:
        with pytest.raises(websockets.InvalidStatus) as exc:
            extra = await WsClient.connect(srv.port)
            await extra.close()
        assert exc.value.response.status_code == 503
        # the configured time is honoured: half of it is surely too early to close
        await still_open(held[0][0], HEARTBEAT_TIMEOUT / 2 - (time.monotonic() - started))
        deadline = started + HEARTBEAT_TIMEOUT + SLACK
        for reader, _ in held:
            sent = await closed_by(reader, deadline)
            assert sent[:1] == b"\x88", sent  # a Close frame, then the end of the stream
            # 1008 (policy violation) and the reason (unmasked, < 126 bytes)
            size = sent[1]
            assert int.from_bytes(sent[2:4], "big") == 1008, sent
            assert sent[4 : 2 + size] == f"Nothing received for {HEARTBEAT_TIMEOUT:g} s".encode()
    finally:
        for _, writer in held:
            close(writer)
    async with clients(srv.port, "new") as (c,):
        reply, _ = await c.request("ping", timestamp=7)
        assert case_of(reply) == "pong"


@not_on_robyn("Close frames with a status code")
@pytest.mark.parametrize(
    "partial",
    [
        pytest.param(b"\x82", id="half-a-frame-header"),
        # binary, masked, 20 bytes announced; the mask and 5 of them sent
        pytest.param(b"\x82\x94\x01\x02\x03\x04hello", id="half-a-payload"),
    ],
)
async def test_ws_stalled_mid_frame_closed(srv: ServerProcess, partial: bytes) -> None:
    reader, writer = await upgrade(srv.port)
    started = time.monotonic()
    try:
        writer.write(partial)
        await writer.drain()
        sent = await closed_by(reader, started + HEARTBEAT_TIMEOUT + SLACK)
        assert sent[:1] == b"\x88", sent
    finally:
        close(writer)
    async with clients(srv.port, "new") as (c,):  # the slot is free again
        reply, _ = await c.request("ping", timestamp=8)
        assert case_of(reply) == "pong"


@not_on_robyn("Close frames with a status code")
async def test_ws_client_that_pings_stays_connected(srv: ServerProcess) -> None:
    """A client that sends the protocol's Ping every heartbeat interval (the desktop
    client pings every 30 s against the default 60 s timeout) stays connected for more
    than twice the timeout; a client next to it that sends nothing is closed."""
    async with clients(srv.port, "new", "new") as (healthy, silent):
        started = time.monotonic()
        stamp = 0
        while time.monotonic() - started < 2 * HEARTBEAT_TIMEOUT + 2:
            await asyncio.sleep(HEARTBEAT_INTERVAL)
            stamp += 1
            reply, _ = await healthy.request("ping", timestamp=stamp)
            assert case_of(reply) == "pong" and reply.pong.timestamp == stamp
        listed, _ = await healthy.request("list_projects_request")
        assert case_of(listed) == "project_list"
        left = started + HEARTBEAT_TIMEOUT + SLACK - time.monotonic()
        with pytest.raises(websockets.ConnectionClosed):
            await asyncio.wait_for(silent.ws.recv(), max(left, 0.1))


def masked_frame(payload: bytes) -> bytes:
    """One binary client frame (masked, as RFC 6455 requires of clients)."""
    mask = os.urandom(4)
    size = len(payload)
    head = bytes([0x82]) + (
        bytes([0x80 | size]) if size < 126 else bytes([0x80 | 126]) + size.to_bytes(2, "big")
    )
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


@not_on_robyn("back-pressure on WebSocket sends")
async def test_ws_client_that_takes_no_replies_closed(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """A client that sends requests and reads nothing: once its send queue (one frame
    here) and the socket buffers are full, the server waits for it; after the heartbeat
    timeout it gives up, closes the connection and frees the slot."""
    env = {
        **ENV,
        "PM_WS_SEND_BUFFER_SIZE": "1",
        "PM_RATE_LIMIT_MAX_REQUESTS": "10000",
        "PM_SERVER_MAX_CONNECTIONS": "1",
    }
    root = tmp_path_factory.mktemp("idle-reader")
    with running_server(root, env=env) as tight:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", tight.port))
        reader, writer = await upgrade(tight.port, sock=sock)
        request = pb.WebSocketMessage(
            message_id="r", get_llm_context_request=pb.GetLlmContextRequest()
        )
        writer.write(masked_frame(request.SerializeToString()) * 3000)
        with contextlib.suppress(TimeoutError):  # the server stops reading at some point
            await asyncio.wait_for(writer.drain(), 5)
        started = time.monotonic()
        try:
            # the log says so before anything is read (reading would unblock the server)
            marker = "replies not taken"
            while marker not in tight.logs():
                assert time.monotonic() < started + HEARTBEAT_TIMEOUT + SLACK, tight.logs()
                await asyncio.sleep(0.2)
            await closed_by(reader, time.monotonic() + SLACK)
        finally:
            close(writer)
        async with clients(tight.port, "new") as (c,):  # the only slot is free again
            reply, _ = await c.request("ping", timestamp=9)
            assert case_of(reply) == "pong"


# --------------------------------------------------------------------------- HTTP
def _http_cases(port: int) -> dict[str, bytes]:
    host = f"Host: 127.0.0.1:{port}\r\n"
    return {
        "nothing": b"",
        "half-a-request-line": b"GET /heal",
        "unfinished-headers": f"GET /health HTTP/1.1\r\n{host}".encode(),
    }


@not_on_robyn("HTTP time limits")
@pytest.mark.parametrize("case", ["nothing", "half-a-request-line", "unfinished-headers"])
async def test_http_slow_request_head_closed(srv: ServerProcess, case: str) -> None:
    started = time.monotonic()
    reader, writer = await connect(srv.port)
    try:
        data = _http_cases(srv.port)[case]
        if data:
            writer.write(data)
            await writer.drain()
        await closed_by(reader, started + HEADER_TIMEOUT + SLACK)
    finally:
        close(writer)


@not_on_robyn("HTTP time limits")
async def test_http_idle_keep_alive_connection_closed(srv: ServerProcess) -> None:
    reader, writer = await connect(srv.port)
    try:
        writer.write(f"GET /health HTTP/1.1\r\nHost: 127.0.0.1:{srv.port}\r\n\r\n".encode())
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        assert head.startswith(b"HTTP/1.1 200"), head
        answered = time.monotonic()
        await closed_by(reader, answered + HEADER_TIMEOUT + SLACK)
    finally:
        close(writer)


@not_on_robyn("streaming request bodies")
async def test_http_body_that_never_completes_gets_408_and_close(srv: ServerProcess) -> None:
    reader, writer = await connect(srv.port)
    try:
        writer.write(
            (
                f"POST /api/v1/projects HTTP/1.1\r\nHost: 127.0.0.1:{srv.port}\r\n"
                "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
                '{"title": "slow'
            ).encode()
        )
        await writer.drain()
        started = time.monotonic()
        sent = await closed_by(reader, started + BODY_TIMEOUT + SLACK)
        assert sent.startswith(b"HTTP/1.1 408"), sent[:200]
        assert b"REQUEST_TIMEOUT" in sent
    finally:
        close(writer)
    # nothing was created, and the server answers as before
    with srv.client() as api:
        listed = api.get("/api/v1/projects")
        assert listed.status_code == 200
        assert all(p["title"] != "slow" for p in listed.json()["projects"])


async def test_http_request_within_bounds_is_served(srv: ServerProcess) -> None:
    """A body sent in pieces, slower than the header limit but within the body limit."""
    reader, writer = await connect(srv.port)
    key = f"SL{os.urandom(2).hex().upper()}"
    body = f'{{"title": "in pieces", "key": "{key}"}}'.encode()
    try:
        writer.write(
            (
                f"POST /api/v1/projects HTTP/1.1\r\nHost: 127.0.0.1:{srv.port}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                "Connection: close\r\n\r\n"
            ).encode()
            + body[:10]
        )
        await writer.drain()
        await asyncio.sleep(1.0)
        writer.write(body[10:])
        await writer.drain()
        sent = await closed_by(reader, time.monotonic() + 10)
        assert sent.startswith(b"HTTP/1.1 200"), sent[:300]
        assert key.encode() in sent
    finally:
        close(writer)


# --------------------------------------------------------------------------- workers
def test_workers_apply_the_same_http_bounds(tmp_path_factory: pytest.TempPathFactory) -> None:
    """`serve --workers 2` (PostgreSQL only) bounds a silent connection the same way."""
    if not ON_POSTGRES:
        pytest.skip("--workers runs on PostgreSQL only")
    root = tmp_path_factory.mktemp("idle-workers")
    with running_server(root, env=ENV, args=("serve", "--workers", "2")) as workers:

        async def check() -> None:
            started = time.monotonic()
            reader, writer = await connect(workers.port)
            try:
                await closed_by(reader, started + HEADER_TIMEOUT + SLACK)
            finally:
                close(writer)
            reader, writer = await upgrade(workers.port)
            started = time.monotonic()
            try:
                sent = await closed_by(reader, started + HEARTBEAT_TIMEOUT + SLACK)
                assert sent[:1] == b"\x88", sent
            finally:
                close(writer)

        asyncio.run(check())


# --------------------------------------------------------------------------- configuration
@not_on_robyn("HTTP time limits")
def test_bounds_read_from_config_file(tmp_path_factory: pytest.TempPathFactory) -> None:
    """The `[server]` keys in config.toml apply as the variables do."""
    root = tmp_path_factory.mktemp("idle-toml")
    toml = f"[server]\nheader_read_timeout_secs = {HEADER_TIMEOUT}\n"
    with running_server(root, config_toml=toml) as configured:

        async def check() -> None:
            started = time.monotonic()
            reader, writer = await connect(configured.port)
            try:
                await closed_by(reader, started + HEADER_TIMEOUT + SLACK)
            finally:
                close(writer)

        asyncio.run(check())


@pytest.mark.parametrize(
    ("var", "value"),
    [
        ("PM_HEADER_READ_TIMEOUT_SECS", "0"),
        ("PM_HEADER_READ_TIMEOUT_SECS", "301"),
        ("PM_BODY_READ_TIMEOUT_SECS", "0"),
        ("PM_BODY_READ_TIMEOUT_SECS", "3601"),
    ],
)
def test_bounds_out_of_range_refused(tmp_path: Path, var: str, value: str) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    git_init(root)
    rc, out, err = run_to_exit(root, env={var: value}, timeout=20)
    assert rc == 2, (rc, out, err)
    key = var.removeprefix("PM_").lower()
    assert f"server.{key} must be between" in out + err, out + err


async def test_ws_clients_that_close_free_their_slots_at_once(srv: ServerProcess) -> None:
    """Clients that close their WebSocket (a clean Close) give their slots back well
    before any heartbeat could: three rounds fill every slot and leave, each round's
    clients are all served."""
    for round_no in range(3):
        held: list[WsClient] = []
        try:
            for i in range(MAX_CONNECTIONS):
                held.append(await admitted(srv.port, within=HEARTBEAT_TIMEOUT / 3))
                reply, _ = await held[-1].request("ping", timestamp=round_no * 10 + i)
                assert case_of(reply) == "pong"
        finally:
            for c in held:
                await c.close()


async def admitted(port: int, within: float) -> WsClient:
    """A client the server serves (a ping answered), trying again while every slot is
    taken, for at most `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        c: WsClient | None = None
        try:
            c = await WsClient.connect(port)
            reply, _ = await c.request("ping", timestamp=0)
            if case_of(reply) == "pong":
                return c
        except (websockets.InvalidStatus, websockets.ConnectionClosed, WsError, OSError):
            pass
        if c is not None:
            await c.close()
        assert time.monotonic() < deadline, "no slot came free: closed clients still hold them"
        await asyncio.sleep(0.1)
