"""The WebSocket edge (`GET /ws`): protobuf frames in, one reply per request out.

Each connection reads frames one at a time and answers each request completely before
reading the next; broadcasts go through the hub to every subscribed connection. Every
request is decoded here and handed to the same service functions REST uses.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol

from google.protobuf.message import DecodeError, Message

from .. import accel
from ..app import App, sealed
from ..core import commands as cmd
from ..core import rules
from ..core.errors import DomainError, invalid
from ..core.model import Event
from ..realtime import eventlog
from ..realtime.delivery import BACKLOG_LIMIT
from ..service import (
    access,
    activity,
    comments,
    dependencies,
    projects,
    sprints,
    time_entries,
    work_items,
)
from ..service import events as events_service
from ..service.common import Ctx, Outcome
from ..store.base import Program, op
from . import pm_pb2 as pb
from . import ws_codec as codec

log = logging.getLogger("pm_fast")

REQUEST_TIMEOUT = 30.0
MAX_FRAME_BYTES = 4 * 1024 * 1024
IDEMPOTENCY_TTL = 24 * 3600
MAX_VIOLATIONS = 5
TEXT_HELP = (
    "pm-fast speaks binary frames, each one protobuf pm.WebSocketMessage; text frames are"
    " not understood."
)
KEY_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")
YEAR = 365 * 24 * 3600


class Transport(Protocol):
    async def send_bytes(self, data: bytes) -> None: ...
    async def send_str(self, data: str) -> None: ...


class RateLimiter:
    """Token bucket: `capacity` frames at once, refilled at `capacity` per `window` s."""

    __slots__ = ("capacity", "rate", "stamp", "tokens")

    def __init__(self, capacity: int, window: float) -> None:
        self.capacity = float(capacity)
        self.rate = capacity / window
        self.tokens = float(capacity)
        self.stamp = time.monotonic()

    def allow(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class _Gone:
    async def send_bytes(self, data: bytes) -> None:
        raise RuntimeError("connection released")

    async def send_str(self, data: str) -> None:
        raise RuntimeError("connection released")


_GONE = _Gone()


def _nothing() -> None:
    pass


class Replayed(bytes):
    """A frame of a replay of the event log (counted apart by flow control)."""

    __slots__ = ()


class Connection:
    """One client: its identity, subscriptions and outgoing queue.

    `send_queue` holds the frames not yet sent: broadcasts (the hub's shared frames) and
    replies, in order; one writer task (the only caller of the transport's send
    methods) drains it. Broadcasts never wait and are never dropped: flow control
    (`App.delivery`, realtime/delivery.py) holds mutations back while a reading
    subscriber is more than `websocket.flow_control_frames` frames behind, and closes a
    subscriber that is stuck (frames pending, no send completed for
    `websocket.stuck_client_secs`). Only a connection more than `BACKLOG_LIMIT` frames
    behind is closed for that. Replies to the connection's own requests wait while
    `send_buffer_size` frames are queued (`send`). Closing the queue lets the writer
    finish what is queued and stop.
    """

    def __init__(self, app: App, user: str, transport: Transport, close: Callable[[], None]):
        self.app = app
        self.user = user
        self.transport = transport
        self._close = close
        self.send_queue = accel.SendQueue(BACKLOG_LIMIT)
        # a `send` waiting for room, woken by the writer once fewer than `_room_at`
        # frames are queued
        self._room: asyncio.Future[None] | None = None
        self._room_at = 0
        # frames of a replay of the event log still queued (`Replayed`): this
        # connection's own request, not a lag behind the producers
        self.replay_pending = 0
        self.closed = False
        self.ctx_limits = app.limits
        # time.monotonic() of the writer's last progress (see realtime/delivery.py)
        self.progress = time.monotonic()
        # why the server ends this connection (set once; the session then stops)
        self.ending = ""
        self._session: asyncio.Task[Any] | None = None
        self._heartbeat: Heartbeat | None = None
        self.cancelled_session = False

    def ctx(self) -> Ctx:
        return Ctx(
            actor=self.user,
            now=int(time.time()),
            limits=self.app.limits,
            authenticated=True,
            llm_user=self.app.llm_user,
            message_limits=True,
            change_notes=True,
        )

    def pending(self) -> int:
        return len(self.send_queue)

    def behind(self) -> int:
        return len(self.send_queue) - self.replay_pending

    def deliver(self, frame: bytes) -> None:
        """Queue a broadcast frame without waiting; called by the hub only for a frame
        the queue refused (it offers to `send_queue` itself), so this must stay "offer,
        and only if refused ..." (see realtime/hub.py): refused means closed, or
        `BACKLOG_LIMIT` frames queued."""
        if not self.send_queue.offer(frame) and not self.send_queue.closed:  # full
            self.end(
                f"more than {BACKLOG_LIMIT} frames behind",
                f"Connection closed: more than {BACKLOG_LIMIT} events were waiting to be"
                " sent to this client.",
            )

    def stuck(self, pending: int, idle: float) -> None:
        """Flow control's watchdog: frames pending and no send completed for long."""
        secs = self.app.cfg.websocket.stuck_client_secs
        self.end(
            f"{pending} frame(s) pending and none sent for {idle:.1f} s"
            f" (websocket.stuck_client_secs = {secs})",
            f"Connection closed: the client read nothing for {secs} s while events were"
            " waiting to be sent.",
        )

    def end(self, why: str, text: str) -> None:
        """Close for slowness: log `why`, drop the queued frames (never sent anyway),
        queue the Text frame `text` (after the frame being sent, if any), then let the
        session stop: it gives the writer its usual time to send what is queued, then
        closes."""
        if self.ending or self.closed:
            return
        self.ending = why
        log.warning("closing WebSocket of user %s: %s", self.user[:8], why)
        self.app.delivery.discard(self)
        queue = self.send_queue
        queue.clear()
        self.replay_pending = 0
        queue.offer(text)
        queue.close()
        self._wake_sender()
        session, heartbeat = self._session, self._heartbeat
        # Stop the session now if it waits for its client; one answering a request
        # stops after it (cancelling it there could lose a committed change's events).
        if session is not None and heartbeat is not None and heartbeat.since is not None:
            self.cancelled_session = True
            session.cancel()
        elif session is None:
            self.close()

    async def send(self, frame: bytes | str) -> None:
        """Queue a reply, waiting while `websocket.send_buffer_size` frames are queued
        (back-pressure on this connection's own requests; dropped once closed)."""
        queue = self.send_queue
        room = self.app.cfg.websocket.send_buffer_size
        while len(queue) >= room or not queue.offer(frame):
            if queue.closed:
                return
            await self._wait_room(room)

    async def send_many(self, frames: list[bytes], low: int) -> None:
        """Queue frames of a replay together, once fewer than `low` are queued (the
        writer then drains without waking this task for every frame)."""
        queue = self.send_queue
        while len(queue) >= low and not queue.closed:
            await self._wait_room(low)
        for frame in frames:
            if not queue.offer(Replayed(frame)):
                return  # closed
            self.replay_pending += 1

    async def _wait_room(self, below: int) -> None:
        wait: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._room = wait
        self._room_at = below
        await wait

    def _wake_sender(self) -> None:
        room = self._room
        if room is not None:
            self._room = None
            if not room.done():
                room.set_result(None)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.send_queue.close()
            self._wake_sender()
            self._close()

    def release(self) -> None:
        """Drop the references to the transport so the socket goes with the session."""
        self.transport = _GONE
        self._close = _nothing
        self._session = None
        self._heartbeat = None
        self.send_queue.clear()
        self.replay_pending = 0

    async def writer(self) -> None:
        queue = self.send_queue
        delivery = self.app.delivery
        loop = asyncio.get_running_loop()
        monotonic = time.monotonic
        try:
            while True:
                item = queue.pop()
                if item is None:
                    if queue.closed:
                        return
                    waiter: asyncio.Future[None] = loop.create_future()
                    queue.park(waiter)
                    await waiter
                    self.progress = monotonic()
                    continue
                if self._room is not None and len(queue) < self._room_at:
                    self._wake_sender()
                if type(item) is Replayed:
                    self.replay_pending -= 1
                if isinstance(item, bytes):
                    await self.transport.send_bytes(item)
                elif isinstance(item, str):
                    await self.transport.send_str(item)
                self.progress = monotonic()
                delivery.drained(self, len(queue) - self.replay_pending)
        except (RuntimeError, OSError):  # the client went away
            self.close()


class Registry:
    """Open connections of this process (for limits, idle shutdown and shutdown)."""

    def __init__(self) -> None:
        self.connections: set[Connection] = set()

    def __len__(self) -> int:
        return len(self.connections)

    async def close_all(self, timeout: float = 3.0) -> None:
        """Close every connection and give their Close frames time to leave."""
        for conn in list(self.connections):
            conn.close()
        deadline = time.monotonic() + timeout
        while self.connections and time.monotonic() < deadline:
            await asyncio.sleep(0.02)


# -- requests -------------------------------------------------------------------------
Handler = Callable[[Connection, str, Any], Awaitable[bytes]]
HANDLERS: dict[str, Handler] = {}


def handles(case: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        HANDLERS[case] = fn
        return fn

    return register


def _opt(msg: Message, name: str) -> Any:
    return getattr(msg, name) if msg.HasField(name) else None


def _reply(mid: str, case: str, payload: Message) -> bytes:
    return codec.envelope(mid, case, payload)


def _entity_event(outcome: Outcome[Any]) -> Event | None:
    for event in reversed(outcome.events):
        if event.kind != "activity.created":
            return event
    return None


def event_frame(event: Event) -> bytes | None:
    """One broadcast frame (fresh random message id) for `event` (the hub's encoder),
    carrying the event's place in its project's log (docs/events.md)."""
    frame = accel.encode_event(
        event.kind, event.entity, event.actor, event.extra, str(uuid.uuid4()), int(time.time())
    )
    if frame is not None and event.seq:
        assert event.project_id is not None
        frame += codec.event_position(codec.EVENT_TAG, event.project_id, event.seq)
    return frame


def _event_reply(mid: str, event: Event | None) -> bytes:
    """A reply with the same content as the event announcing the change."""
    assert event is not None
    frame = accel.encode_event(
        event.kind, event.entity, event.actor, event.extra, mid, int(time.time())
    )
    assert frame is not None
    return frame


def _updated_reply(mid: str, outcome: Outcome[Any], kind: str, ctx: Ctx) -> bytes:
    """The `*Updated` reply: the entity event's content, or an empty change list."""
    event = _entity_event(outcome)
    if event is None:
        event = Event(kind, None, outcome.value, ctx.actor, {"changed": []})
    return _event_reply(mid, event)


def _replying(
    program: Program[Outcome[Any]], build_reply: Callable[[Outcome[Any]], bytes]
) -> Program[tuple[Outcome[Any], bytes]]:
    """`program` (sealed: its events encoded) and its reply frame, both made before the
    store commits, so a reply that cannot be encoded rolls the change back."""
    outcome = yield from sealed(program)
    return outcome, build_reply(outcome)


async def _mutate(
    conn: Connection,
    program: Program[Outcome[Any]],
    build_reply: Callable[[Outcome[Any]], bytes],
) -> bytes:
    await conn.app.admit()
    outcome, reply = await conn.app.store.write(_replying(program, build_reply))
    conn.app.publish(outcome.events)
    return reply


def _idempotent(
    key: str | None,
    operation: str,
    now: int,
    program: Program[Outcome[Any]],
    build_reply: Callable[[Outcome[Any]], bytes],
) -> Program[tuple[bytes, list[Event]]]:
    """Run a create once per key: a repeat returns the stored reply (no row, no event)."""
    if key is not None:
        stored: str | None = yield from op(lambda tx: tx.idem_get(key))
        if stored is not None:
            return base64.b64decode(stored), []
    outcome = yield from sealed(program)
    reply = build_reply(outcome)
    if key is not None:
        yield from op(lambda tx: tx.idem_put(key, operation, base64.b64encode(reply).decode(), now))
    return reply, outcome.events


async def _create(
    conn: Connection,
    mid: str,
    operation: str,
    program: Program[Outcome[Any]],
    build_reply: Callable[[Outcome[Any]], bytes],
) -> bytes:
    key = f"{conn.user}:{operation}:{mid}" if mid else None
    ctx = conn.ctx()
    await conn.app.admit()
    reply, events = await conn.app.store.write(
        _idempotent(key, operation, ctx.now, program, build_reply)
    )
    conn.app.publish(events)
    return reply


@contextmanager
def _status_wording(message: str) -> Iterator[None]:
    """WebSocket wording for a status number that names no status (spec §4.7)."""
    try:
        yield
    except DomainError as err:
        if err.field == "status" and err.message.startswith("Invalid status: "):
            raise invalid(message, "status") from None
        raise


def _check_length(value: str, low: int, high: int, field: str) -> None:
    if len(value) < low:
        raise rules.malformed(f"{field} must be at least {low} characters", field)
    if len(value) > high:
        raise rules.malformed(f"{field} must not exceed {high} characters", field)


@handles("ping")
async def _ping(conn: Connection, mid: str, msg: pb.Ping) -> bytes:
    return _reply(mid, "pong", pb.Pong(timestamp=msg.timestamp))


@handles("subscribe")
async def _subscribe(conn: Connection, mid: str, msg: pb.Subscribe) -> bytes:
    """Subscribe; for each `resume` position first send the project's events after it
    from the log, then go live (docs/events.md). The ack carries, per project, the last
    event number sent before live delivery began."""
    ctx = conn.ctx()
    resume = {pos.project_id: pos.seq for pos in msg.resume}
    projects, sprints = await conn.app.store.read(
        _subscribable(ctx, [*msg.project_ids, *resume], list(msg.sprint_ids), resume)
    )
    hub, log = conn.app.hub, conn.app.events
    live = [pid for pid in projects if pid not in resume]
    hub.subscribe(conn, live)
    positions = {pid: log.position(pid) for pid in live}
    for pid in projects:
        if pid in resume:
            positions[pid] = await _replay(conn, pid, resume[pid])
    # sprints last: a sprint's events are its project's, which may have been replaying
    hub.subscribe(conn, (), sprints)
    ack = codec.envelope(mid)
    for pid, seq in positions.items():
        ack += codec.event_position(codec.POSITIONS_TAG, pid, seq)
    return ack


def _subscribable(
    ctx: Ctx, project_ids: list[str], sprint_ids: list[str], resume: dict[str, int]
) -> Program[tuple[list[str], list[str]]]:
    """`_viewable`, and RESYNC_REQUIRED if the events after a viewable project's resume
    position are no longer all kept (then nothing is subscribed)."""
    projects, sprints = yield from _viewable(ctx, project_ids, sprint_ids)
    yield from events_service.check_resume({p: resume[p] for p in projects if p in resume})
    return projects, sprints


# A replay queues its next chunk once fewer frames than this are waiting to be sent.
REPLAY_QUEUE = 512
# How long a resume waits for this process to broadcast events the client has already
# seen elsewhere (PostgreSQL: another process committed them, our bus has not read them).
RESUME_CATCH_UP = 10.0


async def _replay(conn: Connection, pid: str, after: int) -> int:
    """Send the project's events after `after`, then subscribe to it: the last number
    this process broadcast is read and the connection joins the hub in one step (no
    await between), so every later event comes live and no earlier one twice."""
    app = conn.app
    cursor = after
    deadline = time.monotonic() + RESUME_CATCH_UP
    while not conn.closed and not conn.ending:
        upto = app.events.position(pid)
        if cursor == upto:
            app.hub.subscribe(conn, (pid,))
            return cursor
        if cursor > upto:
            if time.monotonic() > deadline:
                raise DomainError(
                    "RESYNC_REQUIRED",
                    f"Cannot resume project {pid} after event {after}: this server has not"
                    f" received events after {upto} yet. Reload the project and subscribe"
                    " again.",
                )
            await asyncio.sleep(0.02)
            continue
        events = await app.store.read(events_service.replay_step(pid, cursor, upto))
        if not events or events[0].seq != cursor + 1:  # pruned meanwhile
            oldest = events[0].seq if events else None
            raise eventlog.resync(pid, cursor, oldest, upto)
        frames = [f for f in map(event_frame, events) if f is not None]
        await conn.send_many(frames, REPLAY_QUEUE)
        cursor = events[-1].seq
    return cursor


def _viewable(
    ctx: Ctx, project_ids: list[str], sprint_ids: list[str]
) -> Program[tuple[list[str], list[str]]]:
    """The ids among those asked for whose project the caller may view."""
    keep_projects = []
    for pid in dict.fromkeys(project_ids):
        state = yield from op(lambda tx: tx.row_state("project", pid))  # noqa: B023 - run at once
        if state == "live" and (yield from access.may_view(ctx, pid)):
            keep_projects.append(pid)
    keep_sprints = []
    for sid in dict.fromkeys(sprint_ids):
        sprint = yield from op(lambda tx: tx.sprint_get(sid))  # noqa: B023 - run at once
        if sprint is not None and (yield from access.may_view(ctx, sprint.project_id)):
            keep_sprints.append(sid)
    return keep_projects, keep_sprints


@handles("unsubscribe")
async def _unsubscribe(conn: Connection, mid: str, msg: pb.Unsubscribe) -> bytes:
    conn.app.hub.unsubscribe(conn, list(msg.project_ids), list(msg.sprint_ids))
    return codec.envelope(mid)


# projects
@handles("create_project_request")
async def _create_project(conn: Connection, mid: str, msg: pb.CreateProjectRequest) -> bytes:
    limits = conn.app.limits
    _check_length(msg.title, 1, limits.max_title_length, "title")
    if msg.HasField("description") and len(msg.description) > limits.max_description_length:
        raise rules.malformed(
            f"description exceeds maximum length ({limits.max_description_length} characters)",
            "description",
        )
    if not 2 <= len(msg.key.encode()) <= 20:
        raise rules.malformed("key must be 2-20 characters", "key")
    if not set(msg.key) <= KEY_CHARS:
        raise rules.malformed("key must contain only letters, numbers, and underscores", "key")
    ctx = conn.ctx()
    command = cmd.CreateProject(msg.title, msg.key, _opt(msg, "description"))
    return await _create(
        conn,
        mid,
        "create_project",
        projects.create_project(ctx, command),
        lambda o: _reply(
            mid,
            "project_created",
            pb.ProjectCreated(project=codec.project_pb(o.value), user_id=ctx.actor),
        ),
    )


@handles("update_project_request")
async def _update_project(conn: Connection, mid: str, msg: pb.UpdateProjectRequest) -> bytes:
    pid = rules.try_uuid(msg.project_id)
    if pid is None:
        raise invalid("Invalid project_id format", "project_id")
    status = None
    if msg.HasField("status"):
        # An unknown number reaches the service as text it refuses after the lookup.
        status = codec.PROJECT_STATUS_NAME.get(msg.status, str(msg.status))
    ctx = conn.ctx()
    command = cmd.UpdateProject(
        msg.expected_version, _opt(msg, "title"), _opt(msg, "description"), status
    )
    with _status_wording(f"Invalid status value: {msg.status}"):
        return await _mutate(
            conn,
            projects.update_project(ctx, pid, command),
            lambda o: _updated_reply(mid, o, "project.updated", ctx),
        )


@handles("delete_project_request")
async def _delete_project(conn: Connection, mid: str, msg: pb.DeleteProjectRequest) -> bytes:
    pid = rules.try_uuid(msg.project_id)
    if pid is None:
        raise invalid("Invalid project_id format", "project_id")
    ctx = conn.ctx()
    return await _mutate(
        conn,
        projects.delete_project(ctx, pid, msg.expected_version),
        lambda o: _reply(
            mid, "project_deleted", pb.ProjectDeleted(project_id=pid, user_id=ctx.actor)
        ),
    )


@handles("list_projects_request")
async def _list_projects(conn: Connection, mid: str, msg: pb.ListProjectsRequest) -> bytes:
    found = await conn.app.store.read(projects.list_projects_for(conn.ctx()))
    return _reply(
        mid, "project_list", pb.ProjectList(projects=[codec.project_pb(p) for p in found])
    )


# work items
@handles("create_work_item_request")
async def _create_work_item(conn: Connection, mid: str, msg: pb.CreateWorkItemRequest) -> bytes:
    item_type = codec.ITEM_TYPE_NAME.get(msg.item_type)
    if item_type is None:
        raise invalid(f"Invalid item_type: {msg.item_type}", "item_type")
    limits = conn.app.limits
    _check_length(msg.title, 1, limits.max_title_length, "title")
    ctx = conn.ctx()
    command = cmd.CreateWorkItem(
        project_id=msg.project_id,
        item_type=item_type,
        title=msg.title,
        description=_opt(msg, "description"),
        parent_id=_opt(msg, "parent_id"),
        status=_opt(msg, "status"),
        priority=_opt(msg, "priority"),
    )
    return await _create(
        conn,
        mid,
        "create_work_item",
        work_items.create_work_item(ctx, command),
        lambda o: _event_reply(mid, _entity_event(o)),
    )


@handles("update_work_item_request")
async def _update_work_item(conn: Connection, mid: str, msg: pb.UpdateWorkItemRequest) -> bytes:
    wid = rules.parse_uuid(msg.work_item_id, "work_item_id")
    ctx = conn.ctx()
    command = cmd.UpdateWorkItem(
        expected_version=msg.expected_version,
        title=_opt(msg, "title"),
        description=_opt(msg, "description"),
        status=_opt(msg, "status"),
        priority=_opt(msg, "priority"),
        assignee_id=_opt(msg, "assignee_id"),
        sprint_id=_opt(msg, "sprint_id"),
        story_points=_opt(msg, "story_points"),
        parent_id=_opt(msg, "parent_id"),
        update_parent=msg.update_parent,
        position=_opt(msg, "position"),
    )
    outcomes: list[Outcome[Any]] = []

    def reply(o: Outcome[Any]) -> bytes:
        outcomes.append(o)
        event = _entity_event(o)
        return b"" if event is None else _event_reply(mid, event)

    frame = await _mutate(conn, work_items.update_work_item(ctx, wid, command), reply)
    if frame:
        return frame
    # Nothing changed (nothing was written): the item as it is, with its hierarchy.
    item = outcomes[0].value
    above, below = await conn.app.store.read(work_items.item_hierarchy(item))
    return _event_reply(
        mid,
        Event(
            "work_item.updated",
            None,
            item,
            ctx.actor,
            {"changed": [], "ancestor_ids": above, "descendant_ids": below},
        ),
    )


@handles("delete_work_item_request")
async def _delete_work_item(conn: Connection, mid: str, msg: pb.DeleteWorkItemRequest) -> bytes:
    wid = rules.parse_uuid(msg.work_item_id, "work_item_id")
    ctx = conn.ctx()
    return await _mutate(
        conn,
        work_items.delete_work_item(ctx, wid),
        lambda o: _reply(
            mid, "work_item_deleted", pb.WorkItemDeleted(work_item_id=wid, user_id=ctx.actor)
        ),
    )


@handles("get_work_items_request")
async def _get_work_items(conn: Connection, mid: str, msg: pb.GetWorkItemsRequest) -> bytes:
    now = int(time.time())
    items, above, below = await conn.app.store.read(
        work_items.list_with_hierarchy(conn.ctx(), msg.project_id)
    )
    return accel.encode_work_items_list(mid, now, items, above, below, now)


# sprints
@handles("create_sprint_request")
async def _create_sprint(conn: Connection, mid: str, msg: pb.CreateSprintRequest) -> bytes:
    _check_length(msg.name, 1, conn.app.limits.max_sprint_name_length, "name")
    if msg.start_date >= msg.end_date:
        raise rules.malformed("start_date must be before end_date", "start_date")
    now = int(time.time())
    for name in ("start_date", "end_date"):
        value = getattr(msg, name)
        if not now - YEAR <= value <= now + 5 * YEAR:
            raise rules.malformed(f"{name} is outside reasonable range", name)
    pid = rules.parse_uuid(msg.project_id, "project_id")
    ctx = conn.ctx()
    command = cmd.CreateSprint(pid, msg.name, msg.start_date, msg.end_date, _opt(msg, "goal"))
    return await _create(
        conn,
        mid,
        "create_sprint",
        sprints.create_sprint(ctx, command),
        lambda o: _event_reply(mid, _entity_event(o)),
    )


@handles("update_sprint_request")
async def _update_sprint(conn: Connection, mid: str, msg: pb.UpdateSprintRequest) -> bytes:
    sid = rules.parse_uuid(msg.sprint_id, "sprint_id")
    status = None
    if msg.HasField("status"):
        status = codec.SPRINT_STATUS_NAME.get(msg.status, str(msg.status))
    ctx = conn.ctx()
    command = cmd.UpdateSprint(
        expected_version=msg.expected_version,
        name=_opt(msg, "name"),
        goal=_opt(msg, "goal"),
        start_date=_opt(msg, "start_date"),
        end_date=_opt(msg, "end_date"),
        status=status,
    )
    with _status_wording(f"Invalid sprint status: {msg.status}"):
        return await _mutate(
            conn,
            sprints.update_sprint(ctx, sid, command),
            lambda o: _updated_reply(mid, o, "sprint.updated", ctx),
        )


@handles("delete_sprint_request")
async def _delete_sprint(conn: Connection, mid: str, msg: pb.DeleteSprintRequest) -> bytes:
    sid = rules.parse_uuid(msg.sprint_id, "sprint_id")
    ctx = conn.ctx()
    return await _mutate(
        conn,
        sprints.delete_sprint(ctx, sid),
        lambda o: _reply(mid, "sprint_deleted", pb.SprintDeleted(sprint_id=sid, user_id=ctx.actor)),
    )


@handles("get_sprints_request")
async def _get_sprints(conn: Connection, mid: str, msg: pb.GetSprintsRequest) -> bytes:
    pid = rules.parse_uuid(msg.project_id, "project_id")
    found = await conn.app.store.read(sprints.list_sprints_for(conn.ctx(), pid))
    return _reply(mid, "sprints_list", pb.SprintsList(sprints=[codec.sprint_pb(s) for s in found]))


# comments
@handles("create_comment_request")
async def _create_comment(conn: Connection, mid: str, msg: pb.CreateCommentRequest) -> bytes:
    rules.check_content(msg.content, conn.app.limits.max_comment_length)
    wid = rules.parse_uuid(msg.work_item_id, "work_item_id")
    ctx = conn.ctx()
    return await _create(
        conn,
        mid,
        "create_comment",
        comments.create_comment(ctx, wid, cmd.CreateComment(msg.content)),
        lambda o: _event_reply(mid, _entity_event(o)),
    )


@handles("update_comment_request")
async def _update_comment(conn: Connection, mid: str, msg: pb.UpdateCommentRequest) -> bytes:
    rules.check_content(msg.content, conn.app.limits.max_comment_length)
    cid = rules.parse_uuid(msg.comment_id, "comment_id")
    ctx = conn.ctx()
    return await _mutate(
        conn,
        comments.update_comment(ctx, cid, cmd.UpdateComment(msg.content)),
        lambda o: _reply(
            mid,
            "comment_updated",
            pb.CommentUpdated(comment=codec.comment_pb(o.value), user_id=ctx.actor),
        ),
    )


@handles("delete_comment_request")
async def _delete_comment(conn: Connection, mid: str, msg: pb.DeleteCommentRequest) -> bytes:
    cid = rules.parse_uuid(msg.comment_id, "comment_id")
    ctx = conn.ctx()
    return await _mutate(
        conn,
        comments.delete_comment(ctx, cid),
        lambda o: _reply(
            mid, "comment_deleted", pb.CommentDeleted(comment_id=cid, user_id=ctx.actor)
        ),
    )


@handles("get_comments_request")
async def _get_comments(conn: Connection, mid: str, msg: pb.GetCommentsRequest) -> bytes:
    wid = rules.parse_uuid(msg.work_item_id, "work_item_id")
    found = await conn.app.store.read(comments.list_comments_for(conn.ctx(), wid))
    return _reply(
        mid, "comments_list", pb.CommentsList(comments=[codec.comment_pb(c) for c in found])
    )


# time entries
@handles("start_timer_request")
async def _start_timer(conn: Connection, mid: str, msg: pb.StartTimerRequest) -> bytes:
    description = _opt(msg, "description")
    if description is not None and len(description) > time_entries.MAX_DESCRIPTION:
        raise rules.malformed(
            f"description must not exceed {time_entries.MAX_DESCRIPTION} characters",
            "description",
        )
    rules.parse_uuid(msg.work_item_id, "work_item_id")
    ctx = conn.ctx()

    def reply(o: Outcome[Any]) -> bytes:
        entry, stopped = o.value
        started = pb.TimerStarted(time_entry=codec.time_entry_pb(entry), user_id=ctx.actor)
        if stopped is not None:
            started.stopped_entry.CopyFrom(codec.time_entry_pb(stopped))
        return _reply(mid, "timer_started", started)

    command = cmd.CreateTimeEntry(msg.work_item_id, description)
    return await _create(conn, mid, "start_timer", time_entries.start_timer(ctx, command), reply)


@handles("stop_timer_request")
async def _stop_timer(conn: Connection, mid: str, msg: pb.StopTimerRequest) -> bytes:
    rules.parse_uuid(msg.time_entry_id, "time_entry_id")
    ctx = conn.ctx()
    return await _create(
        conn,
        mid,
        "stop_timer",
        time_entries.stop_timer(ctx, msg.time_entry_id),
        lambda o: _reply(
            mid,
            "timer_stopped",
            pb.TimerStopped(time_entry=codec.time_entry_pb(o.value), user_id=ctx.actor),
        ),
    )


@handles("create_time_entry_request")
async def _create_time_entry(conn: Connection, mid: str, msg: pb.CreateTimeEntryRequest) -> bytes:
    description = _opt(msg, "description")
    ctx = conn.ctx()
    command = cmd.CreateManualTimeEntry(msg.work_item_id, msg.started_at, msg.ended_at, description)
    return await _create(
        conn,
        mid,
        "create_time_entry",
        time_entries.create_manual(ctx, command),
        lambda o: _reply(
            mid,
            "time_entry_created",
            pb.TimeEntryCreated(time_entry=codec.time_entry_pb(o.value), user_id=ctx.actor),
        ),
    )


@handles("update_time_entry_request")
async def _update_time_entry(conn: Connection, mid: str, msg: pb.UpdateTimeEntryRequest) -> bytes:
    description = _opt(msg, "description")
    ctx = conn.ctx()
    command = cmd.UpdateTimeEntry(
        description=description,
        started_at=_opt(msg, "started_at"),
        ended_at=_opt(msg, "ended_at"),
    )
    return await _mutate(
        conn,
        time_entries.update_time_entry(ctx, msg.time_entry_id, command, "time_entry_id"),
        lambda o: _reply(
            mid,
            "time_entry_updated",
            pb.TimeEntryUpdated(time_entry=codec.time_entry_pb(o.value), user_id=ctx.actor),
        ),
    )


@handles("delete_time_entry_request")
async def _delete_time_entry(conn: Connection, mid: str, msg: pb.DeleteTimeEntryRequest) -> bytes:
    ctx = conn.ctx()
    return await _mutate(
        conn,
        time_entries.delete_time_entry(ctx, msg.time_entry_id, "time_entry_id"),
        lambda o: _reply(
            mid,
            "time_entry_deleted",
            pb.TimeEntryDeleted(
                time_entry_id=o.value.id, work_item_id=o.value.work_item_id, user_id=ctx.actor
            ),
        ),
    )


@handles("get_time_entries_request")
async def _get_time_entries(conn: Connection, mid: str, msg: pb.GetTimeEntriesRequest) -> bytes:
    entries, total = await conn.app.store.read(
        time_entries.page_time_entries(
            conn.ctx(), msg.work_item_id, _opt(msg, "limit"), _opt(msg, "offset")
        )
    )
    return _reply(
        mid,
        "time_entries_list",
        pb.TimeEntriesList(
            time_entries=[codec.time_entry_pb(t) for t in entries], total_count=total
        ),
    )


@handles("get_running_timer_request")
async def _running_timer(conn: Connection, mid: str, msg: pb.GetRunningTimerRequest) -> bytes:
    entry = await conn.app.store.read(time_entries.running_timer(conn.ctx()))
    response = pb.RunningTimerResponse()
    if entry is not None:
        response.time_entry.CopyFrom(codec.time_entry_pb(entry))
    return _reply(mid, "running_timer_response", response)


# dependencies
@handles("create_dependency_request")
async def _create_dependency(conn: Connection, mid: str, msg: pb.CreateDependencyRequest) -> bytes:
    rules.parse_uuid(msg.blocking_item_id, "blocking_item_id")
    rules.parse_uuid(msg.blocked_item_id, "blocked_item_id")
    if rules.try_uuid(msg.blocking_item_id) == rules.try_uuid(msg.blocked_item_id):
        raise invalid("Work item cannot block itself", "blocked_item_id")
    dep_type = codec.DEPENDENCY_TYPE_NAME.get(msg.dependency_type)
    if dep_type is None:
        raise invalid("Invalid dependency_type. Must be BLOCKS or RELATES_TO", "dependency_type")
    ctx = conn.ctx()
    command = cmd.CreateDependency(msg.blocking_item_id, msg.blocked_item_id, dep_type)
    return await _create(
        conn,
        mid,
        "create_dependency",
        dependencies.create_dependency(ctx, command),
        lambda o: _reply(
            mid,
            "dependency_created",
            pb.DependencyCreated(dependency=codec.dependency_pb(o.value), user_id=ctx.actor),
        ),
    )


@handles("delete_dependency_request")
async def _delete_dependency(conn: Connection, mid: str, msg: pb.DeleteDependencyRequest) -> bytes:
    did = rules.parse_uuid(msg.dependency_id, "dependency_id")
    ctx = conn.ctx()
    return await _mutate(
        conn,
        dependencies.delete_dependency(ctx, did),
        lambda o: _reply(
            mid,
            "dependency_deleted",
            pb.DependencyDeleted(
                dependency_id=o.value.id,
                blocking_item_id=o.value.blocking_item_id,
                blocked_item_id=o.value.blocked_item_id,
                user_id=ctx.actor,
            ),
        ),
    )


@handles("get_dependencies_request")
async def _get_dependencies(conn: Connection, mid: str, msg: pb.GetDependenciesRequest) -> bytes:
    wid = rules.parse_uuid(msg.work_item_id, "work_item_id")
    found = await conn.app.store.read(dependencies.list_dependencies_for(conn.ctx(), wid))
    return _reply(
        mid,
        "dependencies_list",
        pb.DependenciesList(
            blocking=[codec.dependency_pb(d) for d in found if d.blocked_item_id == wid],
            blocked=[codec.dependency_pb(d) for d in found if d.blocking_item_id == wid],
        ),
    )


# activity log and LLM context
@handles("get_activity_log_request")
async def _activity_log(conn: Connection, mid: str, msg: pb.GetActivityLogRequest) -> bytes:
    entries, total, more = await conn.app.store.read(
        activity.activity_log(conn.ctx(), msg.entity_type, msg.entity_id, msg.limit, msg.offset)
    )
    return _reply(
        mid,
        "activity_log_list",
        pb.ActivityLogList(
            entries=[codec.activity_pb(e) for e in entries], total_count=total, has_more=more
        ),
    )


@handles("get_llm_context_request")
async def _llm_context(conn: Connection, mid: str, msg: pb.GetLlmContextRequest) -> bytes:
    found = await conn.app.store.read(
        activity.llm_context(
            _opt(msg, "category"), _opt(msg, "context_type"), _opt(msg, "min_priority")
        )
    )
    return _reply(
        mid, "llm_context_list", pb.LlmContextList(entries=[codec.llm_pb(e) for e in found])
    )


# -- frames ---------------------------------------------------------------------------
async def answer(conn: Connection, data: bytes) -> bytes:
    """The one reply frame to one binary frame. Never raises."""
    try:
        env = pb.WebSocketMessage.FromString(data)
    except (DecodeError, RuntimeError, ValueError):
        return codec.error_frame(
            "", "INVALID_MESSAGE", "Invalid message: the frame is not a protobuf WebSocketMessage"
        )
    mid = env.message_id
    case = env.WhichOneof("payload")
    handler = HANDLERS.get(case) if case is not None else None
    if handler is None:
        return codec.error_frame(mid, "INVALID_MESSAGE", "Unsupported or missing message payload")
    try:
        return await asyncio.wait_for(handler(conn, mid, getattr(env, case)), REQUEST_TIMEOUT)
    except DomainError as err:
        # The traceback would tie this connection's frames into a reference cycle with
        # the failed future, keeping the socket open until the next GC pass.
        err.__traceback__ = None
        return codec.domain_error_frame(mid, err)
    except TimeoutError as err:
        err.__traceback__ = None
        return codec.error_frame(mid, "TIMEOUT", "Request timed out. Please try again.")
    except Exception as err:
        log.exception("WebSocket request %s (%s) failed", case, mid[:8])
        err.__traceback__ = None
        return codec.error_frame(mid, "DATABASE_ERROR", "Database error")


class Heartbeat:
    """Cancels the session's task when it has waited for its client `limit` s in one go.

    `wait` marks the start of a wait for the client (a frame, or room for a reply),
    `busy` the server's own work, which is never timed here. Both only note the time:
    one timer, re-armed when it fires, checks the mark, so a frame costs no timer work.
    """

    __slots__ = ("_handle", "_loop", "_task", "limit", "since", "tripped", "what")

    def __init__(self, limit: float) -> None:
        self.limit = limit
        self._loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        self._task = task
        self.since: float | None = None
        self.what = ""
        self.tripped = False
        self._handle = self._loop.call_at(self._loop.time() + limit, self._check)

    def wait(self, what: str) -> None:
        self.since = self._loop.time()
        self.what = what

    def busy(self) -> None:
        self.since = None

    def _check(self) -> None:
        now = self._loop.time()
        since = self.since
        if since is not None and now - since >= self.limit:
            self.tripped = True
            self._task.cancel()
            return
        due = (now if since is None else since) + self.limit
        self._handle = self._loop.call_at(due, self._check)

    def expired(self) -> bool:
        """Whether the cancellation being handled is this one's (and if so, absorb it)."""
        if not self.tripped:
            return False
        self.tripped = False
        self._task.uncancel()
        return True

    def stop(self) -> None:
        self._handle.cancel()


def ensure_user(user: str, now: int) -> Program[None]:
    yield from op(lambda tx: tx.ensure_user(user, now))


async def session(
    app: App, registry: Registry, conn: Connection, receive: Callable[[], Awaitable[Any]]
) -> None:
    """Read frames until the client or the server closes; answer each one in order.

    Heartbeat: a client must send a frame at least every `websocket.heartbeat_timeout_secs`
    (the protocol's Ping does; the desktop client sends one every 30 s), and must take
    its replies within that time when its send buffer is full. Otherwise the connection
    is closed (Close frame, then the socket) and its slot freed. The clock runs while
    the server waits for the client, never while it answers a request. It covers a whole
    frame: one that stops half-way counts as nothing received.
    """
    limiter = RateLimiter(app.cfg.rate_limit.max_requests, app.cfg.rate_limit.window_secs)
    violations = 0
    idle = float(app.cfg.websocket.heartbeat_timeout_secs)
    writer = asyncio.create_task(conn.writer())
    registry.connections.add(conn)
    conn._session = asyncio.current_task()
    app.delivery.add(conn)
    app.ws_connections = len(registry)
    try:
        try:
            await app.store.write(ensure_user(conn.user, int(time.time())))
        except Exception as err:  # noqa: BLE001 - e.g. the breaker is open; writes ensure it again
            log.warning("could not record user %s on connect: %s", conn.user, err)
            err.__traceback__ = None
        heartbeat = conn._heartbeat = Heartbeat(idle)
        try:
            while not conn.closed and not conn.ending:
                heartbeat.wait("nothing received")
                try:
                    msg = await receive()
                except (RuntimeError, OSError):  # the transport closed under us
                    break
                kind = int(msg.kind)
                if kind == 0:
                    break
                app.touch()
                heartbeat.wait("replies not taken")  # only sends wait for the client now
                if not limiter.allow():
                    violations += 1
                    if violations >= MAX_VIOLATIONS:
                        await conn.send(
                            f"Rate limit exceeded {MAX_VIOLATIONS} times. Connection closed."
                        )
                        break
                    await conn.send(
                        f"Rate limit exceeded. Slow down. ({violations}/{MAX_VIOLATIONS} warnings)"
                    )
                    continue
                violations = 0
                if kind == 1:
                    data = msg.data
                    if len(data) > MAX_FRAME_BYTES:
                        await conn.send(
                            codec.error_frame(
                                "",
                                "INVALID_MESSAGE",
                                f"Invalid message: frame larger than {MAX_FRAME_BYTES} bytes",
                            )
                        )
                        break
                    heartbeat.busy()  # a request has its own time limit
                    reply = await answer(conn, data)
                    heartbeat.wait("replies not taken")
                    await conn.send(reply)
                else:
                    await conn.send(TEXT_HELP)
        except asyncio.CancelledError:
            if conn.cancelled_session:  # Connection.end stopped it (and logged why)
                conn.cancelled_session = False
                task = asyncio.current_task()
                if task is None or task.uncancel() > 0:
                    raise
            elif not heartbeat.expired():
                raise
            else:
                log.info(
                    "closing WebSocket of user %s: %s for %g s",
                    conn.user[:8],
                    heartbeat.what,
                    idle,
                )
        finally:
            heartbeat.stop()
    finally:
        registry.connections.discard(conn)
        app.ws_connections = len(registry)
        app.hub.remove(conn)
        app.delivery.discard(conn)
        if not writer.done():
            queue = conn.send_queue
            if queue.limit and len(queue) >= queue.limit:
                writer.cancel()  # a full buffer is not worth waiting for
            else:
                queue.close()  # the writer sends what is queued, then stops
                try:
                    await asyncio.wait_for(writer, 5.0)
                except (TimeoutError, RuntimeError, OSError):
                    writer.cancel()
        conn.close()
        conn.release()
