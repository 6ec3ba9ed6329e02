# mypy: disable-error-code="no-any-return"
"""Black-box WebSocket client for pm-fast's `GET /ws` (binary protobuf frames).

One frame = one `pm.WebSocketMessage`. A reply carries the `message_id` of its request;
every other binary frame is an event (broadcast). The client keeps:

* ``pending``: ids of requests sent and not yet answered;
* ``replies``: replies that arrived while waiting for something else (pipelining);
* ``events``: broadcasts not consumed yet (FIFO), for a second subscriber's view;
* ``texts``: Text frames (rate-limit warnings, the text-frame hint).

``request()`` sends one request and returns ``(reply, events)`` where ``events`` are the
broadcasts that arrived before the reply (they are *not* added to ``events``).
``sync()`` sends a Ping and returns every queued and newly arrived event up to its Pong,
so ``assert await c.sync() == []`` proves "nothing more arrived" without sleeping: the
server answers a connection's frames in order and queues broadcasts before the reply of
the request that caused them.

All waits are bounded (``asyncio.wait_for``); nothing uses sleeps as synchronisation.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import socket
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import websockets
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass
from websockets.asyncio.client import ClientConnection

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness import ServerProcess as ServerProcess

from pm_fast.api import pm_pb2 as pb
from pm_fast.api import proto_names

WAIT = 10.0  # seconds: upper bound of any single wait for a frame
LLM_USER = "00000000-0000-0000-0000-000000000001"

# payload case -> its message class, every case of the envelope's `oneof payload`, read
# from the descriptor (a case added to pm.proto needs nothing here)
PAYLOAD_CLASSES: dict[str, type[Message]] = {
    f.name: GetMessageClass(f.message_type)
    for f in pb.WebSocketMessage.DESCRIPTOR.oneofs_by_name["payload"].fields
}


def new_id() -> str:
    return str(uuid.uuid4())


def now() -> int:
    return int(time.time())


def envelope(
    case: str | None = None, message_id: str | None = None, **fields: Any
) -> pb.WebSocketMessage:
    """A request envelope; ``fields`` initialise the payload message of ``case``."""
    env = pb.WebSocketMessage(
        message_id=new_id() if message_id is None else message_id, timestamp=now()
    )
    if case is not None:
        getattr(env, case).CopyFrom(PAYLOAD_CLASSES[case](**fields))
    return env


def case_of(env: pb.WebSocketMessage) -> str | None:
    return env.WhichOneof("payload")


def describe(env: pb.WebSocketMessage | None) -> str:
    if env is None:
        return "<none>"
    return f"{case_of(env)} id={env.message_id!r} {env}"


class WsError(AssertionError):
    pass


class WsClient:
    """An open WebSocket connection speaking `pm.WebSocketMessage` frames."""

    def __init__(self, ws: ClientConnection, user_id: str | None) -> None:
        self.ws = ws
        #: the ``user_id`` query parameter sent ("" when none was sent)
        self.user_id: str = user_id or ""
        self.pending: set[str] = set()
        self.replies: dict[str, pb.WebSocketMessage] = {}
        self.events: collections.deque[pb.WebSocketMessage] = collections.deque()
        self.texts: list[str] = []
        self.raw: dict[str, bytes] = {}  # raw bytes of the last reply per message id

    # ------------------------------------------------------------------ connect
    @classmethod
    async def connect(
        cls,
        port: int,
        user_id: str | None = "new",
        *,
        query: str | None = None,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> WsClient:
        """Connect to ``ws://127.0.0.1:<port>/ws``.

        ``user_id="new"`` picks a fresh random UUID; ``None`` sends no ``user_id``;
        ``query`` (without ``?``) replaces the whole query string.
        """
        if user_id == "new":
            user_id = new_id()
        if query is None:
            query = f"user_id={user_id}" if user_id is not None else ""
        uri = f"ws://127.0.0.1:{port}/ws" + (f"?{query}" if query else "")
        kwargs.setdefault("ping_interval", None)  # app-level Ping only (rate limit!)
        kwargs.setdefault("max_size", None)
        kwargs.setdefault("open_timeout", WAIT)
        kwargs.setdefault("close_timeout", 0.5)
        kwargs.setdefault("proxy", None)
        ws = await websockets.connect(uri, additional_headers=headers, **kwargs)
        return cls(ws, user_id)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.ws.close(), WAIT)

    async def __aenter__(self) -> WsClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ------------------------------------------------------------------ frames
    async def recv_frame(self, timeout: float = WAIT) -> bytes | str:
        """The next raw frame (raises TimeoutError / ConnectionClosed)."""
        return await asyncio.wait_for(self.ws.recv(), timeout)

    def _classify(self, frame: bytes | str) -> pb.WebSocketMessage | None:
        """File a frame: returns the envelope when it is an event, else None."""
        if isinstance(frame, str):
            self.texts.append(frame)
            return None
        env = pb.WebSocketMessage.FromString(frame)
        if env.message_id in self.pending:
            self.pending.discard(env.message_id)
            self.raw[env.message_id] = frame
            self.replies[env.message_id] = env
            return None
        return env

    async def send_env(self, env: pb.WebSocketMessage) -> str:
        self.pending.add(env.message_id)
        await self.ws.send(env.SerializeToString())
        return env.message_id

    async def send(self, case: str | None, message_id: str | None = None, **fields: Any) -> str:
        return await self.send_env(envelope(case, message_id, **fields))

    async def send_raw(self, data: bytes | str, expect_id: str | None = None) -> None:
        """Send arbitrary bytes/text; ``expect_id`` marks the id the reply will carry."""
        if expect_id is not None:
            self.pending.add(expect_id)
        await self.ws.send(data)

    async def reply_to(
        self, message_id: str, timeout: float = WAIT
    ) -> tuple[pb.WebSocketMessage, list[pb.WebSocketMessage]]:
        """Wait for the reply ``message_id``; events read meanwhile are returned too."""
        events: list[pb.WebSocketMessage] = []
        deadline = time.monotonic() + timeout
        while message_id not in self.replies:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(
                    f"no reply to {message_id} within {timeout} s "
                    f"(events so far: {[case_of(e) for e in events]})"
                )
            ev = self._classify(await self.recv_frame(left))
            if ev is not None:
                events.append(ev)
        return self.replies.pop(message_id), events

    async def request_env(
        self, env: pb.WebSocketMessage, timeout: float = WAIT
    ) -> tuple[pb.WebSocketMessage, list[pb.WebSocketMessage]]:
        mid = await self.send_env(env)
        return await self.reply_to(mid, timeout)

    async def request(
        self, case: str, message_id: str | None = None, **fields: Any
    ) -> tuple[pb.WebSocketMessage, list[pb.WebSocketMessage]]:
        """Send one request; return (reply envelope, events received before it)."""
        return await self.request_env(envelope(case, message_id, **fields))

    async def call(
        self, case: str, expect: str | None = None, message_id: str | None = None, **fields: Any
    ) -> Any:
        """Send one request and return the reply payload, asserting its case.

        ``expect`` defaults to the success case of ``case``. Events received before the
        reply go to the ``events`` queue.
        """
        reply, events = await self.request(case, message_id, **fields)
        self.events.extend(events)
        want = expect or SUCCESS[case]
        got = case_of(reply)
        if got != want:
            raise WsError(f"{case}: expected {want}, got {describe(reply)}")
        return getattr(reply, want) if want else reply

    async def error(self, case: str, message_id: str | None = None, **fields: Any) -> pb.Error:
        """Send one request that must fail; return its `Error` (events are queued)."""
        reply, events = await self.request(case, message_id, **fields)
        self.events.extend(events)
        if case_of(reply) != "error":
            raise WsError(f"{case}: expected an error, got {describe(reply)}")
        return reply.error

    async def next_event(self, timeout: float = WAIT) -> pb.WebSocketMessage:
        """The oldest unconsumed event, waiting (bounded) for one to arrive."""
        deadline = time.monotonic() + timeout
        while not self.events:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no event arrived")
            ev = self._classify(await self.recv_frame(left))
            if ev is not None:
                self.events.append(ev)
        return self.events.popleft()

    async def sync(self, timeout: float = WAIT) -> list[pb.WebSocketMessage]:
        """Ping and return every unconsumed event up to the Pong (consuming them)."""
        stamp = time.monotonic_ns()
        reply, events = await self.request("ping", timestamp=stamp)
        if case_of(reply) != "pong" or reply.pong.timestamp != stamp:
            raise WsError(f"ping: expected pong {stamp}, got {describe(reply)}")
        out = list(self.events) + events
        self.events.clear()
        return out

    async def sync_cases(self) -> list[str | None]:
        return [case_of(e) for e in await self.sync()]

    async def subscribe(
        self, project_ids: list[str] | None = None, sprint_ids: list[str] | None = None
    ) -> None:
        reply, events = await self.request(
            "subscribe", project_ids=project_ids or [], sprint_ids=sprint_ids or []
        )
        self.events.extend(events)
        if case_of(reply) is not None:
            raise WsError(f"subscribe: expected an empty ack, got {describe(reply)}")

    async def unsubscribe(
        self, project_ids: list[str] | None = None, sprint_ids: list[str] | None = None
    ) -> None:
        reply, events = await self.request(
            "unsubscribe", project_ids=project_ids or [], sprint_ids=sprint_ids or []
        )
        self.events.extend(events)
        if case_of(reply) is not None:
            raise WsError(f"unsubscribe: expected an empty ack, got {describe(reply)}")

    async def wait_closed(self, timeout: float = WAIT) -> list[bytes | str]:
        """Read until the server ends the connection; return the frames read meanwhile."""
        frames: list[bytes | str] = []
        deadline = time.monotonic() + timeout
        with contextlib.suppress(websockets.ConnectionClosed):
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("connection still open")
                frames.append(await self.recv_frame(left))
        return frames

    # ------------------------------------------------------------------ builders
    async def project(
        self,
        key: str | None = None,
        title: str | None = None,
        description: str | None = None,
        subscribe: bool = False,
    ) -> pb.Project:
        key = key or uniq_key()
        fields: dict[str, Any] = {"title": title or f"WS {key}", "key": key}
        if description is not None:
            fields["description"] = description
        created = await self.call("create_project_request", **fields)
        if subscribe:
            await self.subscribe([created.project.id])
        return created.project

    async def item(
        self,
        project_id: str,
        item_type: int = pb.TASK,
        title: str | None = None,
        parent_id: str | None = None,
        **extra: Any,
    ) -> pb.WorkItem:
        fields: dict[str, Any] = {
            "project_id": project_id,
            "item_type": item_type,
            "title": title or f"item {uuid.uuid4().hex[:6]}",
        }
        if parent_id is not None:
            fields["parent_id"] = parent_id
        fields.update(extra)
        return (await self.call("create_work_item_request", **fields)).work_item

    async def sprint(
        self,
        project_id: str,
        name: str = "Sprint",
        start: int | None = None,
        end: int | None = None,
        **extra: Any,
    ) -> pb.Sprint:
        start = now() + 86400 if start is None else start
        end = start + 14 * 86400 if end is None else end
        return (
            await self.call(
                "create_sprint_request",
                project_id=project_id,
                name=name,
                start_date=start,
                end_date=end,
                **extra,
            )
        ).sprint

    async def comment(self, work_item_id: str, content: str = "a comment") -> pb.Comment:
        return (
            await self.call("create_comment_request", work_item_id=work_item_id, content=content)
        ).comment

    async def manual_entry(
        self, work_item_id: str, started_at: int, ended_at: int, **extra: Any
    ) -> pb.TimeEntry:
        return (
            await self.call(
                "create_time_entry_request",
                work_item_id=work_item_id,
                started_at=started_at,
                ended_at=ended_at,
                **extra,
            )
        ).time_entry

    async def dependency(self, blocking: str, blocked: str, kind: int = pb.BLOCKS) -> pb.Dependency:
        return (
            await self.call(
                "create_dependency_request",
                blocking_item_id=blocking,
                blocked_item_id=blocked,
                dependency_type=kind,
            )
        ).dependency


# request case -> the case of its success reply (None: an envelope without payload), as
# pm.proto's annotations say (proto_names, generated from them): a request added to
# pm.proto needs nothing here
SUCCESS: dict[str, str | None] = {
    name: proto_names.PAYLOAD_CASES[name].reply for name in proto_names.REQUEST_CASES
}


def uniq_key(prefix: str = "W") -> str:
    return (prefix + uuid.uuid4().hex[:9]).upper()


# ---------------------------------------------------------------------- assertions
UNSET = object()


def assert_error(
    err: pb.Error, code: str, *contains: str, field: Any = UNSET, prefix: str | None = None
) -> pb.Error:
    """Check an `Error`: code, substrings of the message, ``field`` (None = absent)."""
    assert err.code == code, f"expected {code}, got {err.code}: {err.message!r}"
    for part in contains:
        assert part in err.message, f"{part!r} not in {err.message!r} ({err.code})"
    if prefix is not None:
        assert err.message.startswith(prefix), err.message
    if field is None:
        assert not err.HasField("field"), f"unexpected field {err.field!r} ({err.message!r})"
    elif field is not UNSET:
        assert err.HasField("field") and err.field == field, (
            f"field {err.field if err.HasField('field') else None!r} != {field!r} ({err.message!r})"
        )
    if err.HasField("field"):
        assert code == "VALIDATION_ERROR", f"field set on {code}: {err}"
    # compat.md: no Rust source locations in texts
    assert ".rs:" not in err.message, err.message
    return err


def assert_entity_event(ev: pb.WebSocketMessage, case: str) -> Any:
    assert case_of(ev) == case, f"expected event {case}, got {describe(ev)}"
    return getattr(ev, case)


def assert_activity(
    ev: pb.WebSocketMessage,
    entity_type: str,
    entity_id: str,
    action: str,
    user_id: str | None = None,
) -> pb.ActivityLogEntry:
    assert case_of(ev) == "activity_log_created", describe(ev)
    entry = ev.activity_log_created.entry
    assert entry.entity_type == entity_type, entry
    assert entry.entity_id == entity_id, entry
    assert entry.action == action, entry
    if user_id is not None:
        assert entry.user_id == user_id, entry
    for f in ("field_name", "old_value", "new_value"):
        assert not entry.HasField(f), entry
    return entry


def assert_broadcast_pair(
    events: list[pb.WebSocketMessage],
    entity_type: str,
    entity_id: str,
    action: str,
    case: str,
    user_id: str | None = None,
) -> Any:
    """``events`` is exactly [ActivityLogCreated, <case>]; returns the entity payload."""
    assert [case_of(e) for e in events] == ["activity_log_created", case], [
        describe(e) for e in events
    ]
    assert_activity(events[0], entity_type, entity_id, action, user_id)
    for e in events:  # broadcasts carry fresh random UUIDv4 ids (§2.2)
        parsed = uuid.UUID(e.message_id)
        assert str(parsed) == e.message_id and parsed.version == 4, e.message_id
    assert events[0].message_id != events[1].message_id
    return getattr(events[1], case)


def field_changes(changes: Any) -> dict[str, tuple[str | None, str | None]]:
    return {
        c.field_name: (
            c.old_value if c.HasField("old_value") else None,
            c.new_value if c.HasField("new_value") else None,
        )
        for c in changes
    }


def small_socket(port: int, rcvbuf: int = 8192) -> socket.socket:
    """A connected socket with a small receive buffer, so that a client that stops
    reading fills it (and the server's sends stop completing) after a few frames."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.connect(("127.0.0.1", port))
    sock.setblocking(False)
    return sock


# ---------------------------------------------------------------------- servers
@contextlib.contextmanager
def running_server(root: Path, **kwargs: Any) -> Iterator[ServerProcess]:
    srv = ServerProcess(root, **kwargs)
    try:
        srv.start()
        yield srv
    except BaseException:
        print(srv.logs()[-20000:])
        raise
    finally:
        srv.close(remove=False)


def module_server(
    tmp_path_factory: pytest.TempPathFactory, name: str = "ws", **kwargs: Any
) -> Iterator[ServerProcess]:
    """Body of a module-scoped server fixture: ``yield from module_server(...)``."""
    root = tmp_path_factory.mktemp(name)
    with running_server(root, **kwargs) as srv:
        yield srv


@contextlib.asynccontextmanager
async def clients(port: int, *users: str | None, **kwargs: Any) -> AsyncIterator[list[WsClient]]:
    """Open one connection per user (``"new"`` = fresh UUID) and close them all at exit."""
    opened: list[WsClient] = []
    try:
        for u in users:
            opened.append(await WsClient.connect(port, u, **kwargs))
        yield opened
    finally:
        for c in opened:
            await c.close()


# ---------------------------------------------------------------------- database
def add_member(srv: ServerProcess, project_id: str, user_id: str, role: str) -> None:
    """Insert (or replace) a membership row while the server runs (either store)."""
    srv.sql(
        "INSERT INTO users(id, email, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
        (user_id, f"user-{user_id[:8]}@localhost", now()),
    )
    srv.sql(
        "DELETE FROM pm_project_members WHERE project_id = ? AND user_id = ?", (project_id, user_id)
    )
    srv.sql(
        "INSERT INTO pm_project_members(id, project_id, user_id, role, created_at)"
        " VALUES (?, ?, ?, ?, ?)",
        (new_id(), project_id, user_id, role, now()),
    )


def db_scalar(srv: ServerProcess, sql: str, params: tuple[Any, ...] = ()) -> Any:
    rows = srv.sql(sql, params)
    return None if not rows else rows[0][0]
