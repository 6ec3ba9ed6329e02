# mypy: disable-error-code="no-any-return"
"""WebSocket connection level: framing, Ping/Pong, malformed frames, identity
(spec/ws-protocol.md §1-§2, §6.1, §6.8, §6.16; docs/compat.md "WebSocket / Connection")."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import pytest
import websockets
from harness import not_on_robyn

from pm_fast.api import pm_pb2 as pb

from .wsclient import (
    ServerProcess,
    WsClient,
    assert_error,
    case_of,
    clients,
    db_scalar,
    envelope,
    module_server,
    new_id,
    now,
    uniq_key,
)


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    yield from module_server(tmp_path_factory, "ws-conn")


# --------------------------------------------------------------------------- ping/pong
async def test_ping_pong_echoes_timestamp_and_id(srv: ServerProcess) -> None:
    async with clients(srv.port, "new") as (c,):
        for stamp in (12345, 0, -7, 2**63 - 1):
            t0 = now()
            reply, events = await c.request("ping", message_id="msg-001", timestamp=stamp)
            assert events == []
            assert reply.message_id == "msg-001"
            assert case_of(reply) == "pong"
            assert reply.pong.timestamp == stamp
            assert t0 <= reply.timestamp <= now() + 1  # envelope timestamp = server now


async def test_envelope_timestamp_is_ignored_on_input(srv: ServerProcess) -> None:
    async with clients(srv.port, "new") as (c,):
        env = envelope("ping", timestamp=5)
        env.timestamp = -123456
        t0 = now()
        reply, _ = await c.request_env(env)
        assert reply.pong.timestamp == 5
        assert t0 <= reply.timestamp <= now() + 1


async def test_empty_message_id_is_echoed_empty(srv: ServerProcess) -> None:
    async with clients(srv.port, "new") as (c,):
        reply, _ = await c.request("ping", message_id="", timestamp=9)
        assert reply.message_id == ""
        assert reply.pong.timestamp == 9


async def test_multibyte_message_id_echoed_byte_for_byte(srv: ServerProcess) -> None:
    # spec §7.6: the original panics on a multi-byte char across byte 8; the id must come
    # back unchanged and the connection must survive.
    async with clients(srv.port, "new") as (c,):
        for mid in ("1234567🔥-x", "ab日本語テキストcd", "é" * 40):
            reply, _ = await c.request("ping", message_id=mid, timestamp=1)
            assert reply.message_id == mid
            assert reply.pong.timestamp == 1
        reply, _ = await c.request("list_projects_request", message_id="1234567🔥🔥")
        assert reply.message_id == "1234567🔥🔥"
        assert case_of(reply) == "project_list"


async def test_replies_come_back_in_request_order(srv: ServerProcess) -> None:
    async with clients(srv.port, "new") as (c,):
        ids = [await c.send("ping", timestamp=i) for i in range(25)]
        got = []
        for _ in ids:
            frame = await c.recv_frame()
            assert isinstance(frame, bytes)
            env = pb.WebSocketMessage.FromString(frame)
            got.append((env.message_id, env.pong.timestamp))
        assert got == [(mid, i) for i, mid in enumerate(ids)]
        c.pending.clear()


# --------------------------------------------------------------------------- bad frames
async def test_missing_payload_is_invalid_message(srv: ServerProcess) -> None:
    async with clients(srv.port, "new") as (c,):
        reply, events = await c.request_env(envelope(None, "msg-002"))
        assert events == []
        assert reply.message_id == "msg-002"
        assert case_of(reply) == "error"
        assert_error(
            reply.error, "INVALID_MESSAGE", "Unsupported or missing message payload", field=None
        )


async def test_server_to_client_payloads_are_invalid_message(srv: ServerProcess) -> None:
    async with clients(srv.port, "new") as (c,):
        samples: list[tuple[str, object]] = [
            ("pong", pb.Pong(timestamp=1)),
            ("work_item_created", pb.WorkItemCreated(user_id=new_id())),
            ("error", pb.Error(code="X", message="y")),
            ("activity_log_created", pb.ActivityLogCreated()),
            ("project_list", pb.ProjectList()),
            ("llm_context_list", pb.LlmContextList()),
            ("timer_started", pb.TimerStarted()),
            ("dependencies_list", pb.DependenciesList()),
        ]
        for case, payload in samples:
            env = pb.WebSocketMessage(message_id=new_id(), timestamp=now())
            getattr(env, case).CopyFrom(payload)
            reply, events = await c.request_env(env)
            assert events == []
            assert case_of(reply) == "error", (case, reply)
            assert reply.message_id == env.message_id
            assert_error(
                reply.error, "INVALID_MESSAGE", "Unsupported or missing message payload", field=None
            )
        assert await c.sync() == []


async def test_unknown_field_number_decodes_as_no_payload(srv: ServerProcess) -> None:
    async with clients(srv.port, "new") as (c,):
        mid = new_id()
        base = pb.WebSocketMessage(message_id=mid, timestamp=now()).SerializeToString()
        # field 99 (unused block), length-delimited, 2 bytes; field 150 varint
        for extra in (bytes([0x9A, 0x06, 0x02, 0x08, 0x01]), bytes([0xB0, 0x09, 0x05])):
            await c.send_raw(base + extra, expect_id=mid)
            reply, _ = await c.reply_to(mid)
            assert_error(reply.error, "INVALID_MESSAGE", field=None)


async def test_undecodable_binary_frame_answered_connection_stays_open(srv: ServerProcess) -> None:
    # compat.md: Error{INVALID_MESSAGE} with an empty message_id; the connection stays open
    async with clients(srv.port, "new", "new") as (bad, good):
        project = await good.project(subscribe=True)
        for garbage in (b"\xff\xff\xff\xff", b"\x0a\xff\x01", b"\x08"):
            await bad.send_raw(garbage, expect_id="")
            reply, events = await bad.reply_to("")
            assert events == []
            assert reply.message_id == ""
            assert case_of(reply) == "error"
            assert_error(reply.error, "INVALID_MESSAGE", field=None, prefix="Invalid message: ")
            # the other client on the same server carries on
            w = await good.item(project.id, title=f"after {garbage!r}")
            assert w.project_id == project.id
        # and the bad client itself still works
        reply, _ = await bad.request("ping", timestamp=77)
        assert reply.pong.timestamp == 77
        assert await bad.sync() == []


async def test_text_frame_gets_a_text_answer_and_connection_stays_open(srv: ServerProcess) -> None:
    async with clients(srv.port, "new") as (c,):
        await c.send_raw("hello server")
        frame = await c.recv_frame()
        assert isinstance(frame, str) and frame  # a Text answer, not a protobuf reply
        assert "binary" in frame.lower()
        reply, _ = await c.request("ping", timestamp=3)
        assert reply.pong.timestamp == 3


async def test_malformed_frames_interleaved_with_another_clients_requests(
    srv: ServerProcess,
) -> None:
    async with clients(srv.port, "new", "new") as (bad, good):
        project = await good.project()

        async def spam() -> None:
            for i in range(20):
                await bad.send_raw(bytes([0xFF, i, 0xFF]), expect_id="")
                reply, _ = await bad.reply_to("")
                assert reply.error.code == "INVALID_MESSAGE"
                await bad.send_raw(f"text {i}")
                frame = await bad.recv_frame()
                assert isinstance(frame, str)

        async def work() -> list[int]:
            numbers = []
            for i in range(20):
                w = await good.item(project.id, title=f"t{i}")
                numbers.append(w.item_number)
            return numbers

        _, numbers = await asyncio.wait_for(asyncio.gather(spam(), work()), 60)
        assert numbers == list(range(1, 21))


@not_on_robyn("Close frames with a status code")
async def test_oversized_binary_frame_gets_error_then_close(srv: ServerProcess) -> None:
    # compat.md: a binary frame over 4 MiB -> Error{INVALID_MESSAGE}, connection closed
    async with clients(srv.port, "new", "new") as (big, other):
        await big.send_raw(b"\x00" * (4 * 1024 * 1024 + 16), expect_id="")
        frames = await big.wait_closed()
        assert len(frames) == 1 and isinstance(frames[0], bytes), frames
        env = pb.WebSocketMessage.FromString(frames[0])
        assert env.message_id == ""
        assert_error(env.error, "INVALID_MESSAGE", field=None)
        assert big.ws.close_code == 1009  # message too big
        reply, _ = await other.request("ping", timestamp=1)
        assert reply.pong.timestamp == 1


# --------------------------------------------------------------------------- identity
async def _whoami(c: WsClient) -> str:
    """The effective user id, as the actor of a CreateProject reply."""
    created = await c.call("create_project_request", title="whoami", key=uniq_key("I"))
    assert created.project.created_by == created.user_id
    return created.user_id


async def test_uuid_identity_is_canonicalised(srv: ServerProcess) -> None:
    u = new_id()
    for form in (u, u.upper(), u.replace("-", "")):
        async with clients(srv.port, form) as (c,):
            assert await _whoami(c) == u


async def test_non_uuid_identity_maps_to_a_stable_uuid(srv: ServerProcess) -> None:
    # compat.md: UUIDv5 of the identity string, the same on every connection
    name = f"alice-{uuid.uuid4().hex[:6]}"
    async with clients(srv.port, name) as (c1,):
        first = await _whoami(c1)
    async with clients(srv.port, name) as (c2,):
        second = await _whoami(c2)
    assert first == second
    parsed = uuid.UUID(first)
    assert str(parsed) == first
    assert parsed.version == 5
    async with clients(srv.port, name + "x") as (c3,):
        assert await _whoami(c3) != first


async def test_default_desktop_identity_is_local_user(srv: ServerProcess) -> None:
    async with clients(srv.port, None, None, "local-user") as (a, b, explicit):
        ua, ub, ue = await _whoami(a), await _whoami(b), await _whoami(explicit)
    assert ua == ub == ue
    assert uuid.UUID(ua).version == 5


async def test_every_connecting_user_gets_a_users_row(srv: ServerProcess) -> None:
    u = new_id()
    async with clients(srv.port, u) as (c,):
        await c.sync()  # the row is written before the first frame is read
        email = db_scalar(srv, "SELECT email FROM users WHERE id = ?", (u,))
    assert email == f"user-{u[:8]}@localhost"


async def test_authorization_header_ignored_in_desktop_mode(srv: ServerProcess) -> None:
    u = new_id()
    async with clients(srv.port, u, headers={"Authorization": "Bearer garbage"}) as (c,):
        assert await _whoami(c) == u


async def test_connection_close_and_reconnect(srv: ServerProcess) -> None:
    # §6.1.2: close, then another user connects fine; state is per connection
    u = new_id()
    c = await WsClient.connect(srv.port, u)
    project = await c.project(subscribe=True)
    await c.close()
    async with clients(srv.port, u) as (again,):
        # a new connection starts with no subscriptions (§1.9)
        w = await again.item(project.id)
        assert w.project_id == project.id
        assert await again.sync() == []


async def test_non_ws_request_to_ws_path_is_rejected(srv: ServerProcess) -> None:
    with srv.client() as http:
        r = http.get("/ws")
    assert 400 <= r.status_code < 500


@not_on_robyn("answer an upgrade on another path")
async def test_upgrade_on_other_path_is_rejected(srv: ServerProcess) -> None:
    with pytest.raises(websockets.InvalidStatus) as exc:
        await websockets.connect(f"ws://127.0.0.1:{srv.port}/wsx", proxy=None, open_timeout=10)
    assert 400 <= exc.value.response.status_code < 500


async def test_close_handshake_ends_promptly_after_an_error_reply(srv: ServerProcess) -> None:
    # RFC 6455 §7.1.1: after the close handshake the server closes the TCP connection
    # first. A client closing after any request must not hang until its own timeout.
    for case, fields in (
        ("ping", {"timestamp": 1}),
        ("get_work_items_request", {"project_id": "not-a-uuid"}),
        ("create_project_request", {"title": "", "key": "a"}),
    ):
        c = await WsClient.connect(srv.port, "new", close_timeout=5)
        await c.request(case, **fields)
        t0 = asyncio.get_running_loop().time()
        await asyncio.wait_for(c.ws.close(), 10)
        elapsed = asyncio.get_running_loop().time() - t0
        assert elapsed < 1.0, f"close after {case} took {elapsed:.2f} s"
