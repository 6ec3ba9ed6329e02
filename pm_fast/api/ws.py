"""The WebSocket edge (`GET /ws`): protobuf requests in, one reply per request out.

The transport (connections, send queues, rate limits, heartbeats, the session loop) is
`ws_transport`; this module is what the frames mean: `HANDLERS`, one handler per request
case, each decoding its message, calling the same service REST calls (with the
WebSocket `Profile`: the services hold every rule and pick the wording), and encoding
the reply. Every mutation goes through `App.commit`, as REST's do.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from time import perf_counter
from types import MappingProxyType
from typing import Any

from google.protobuf.message import DecodeError, Message

from .. import accel
from ..app import App, sealed
from ..core import commands as cmd
from ..core.errors import DomainError
from ..core.model import ActivityCreated, Event, ProjectUpdated, SprintUpdated, WorkItemUpdated
from ..metrics import STATS
from ..realtime import eventlog
from ..service import (
    activity,
    comments,
    dependencies,
    idempotency,
    projects,
    sprints,
    time_entries,
    work_items,
)
from ..service import events as events_service
from ..service.common import WEBSOCKET, Ctx, Outcome, begin, new_id
from ..store.base import Program
from . import pm_pb2 as pb
from . import ws_codec as codec
from . import ws_transport
from .ws_transport import MAX_FRAME_BYTES, Connection, Edge, Registry

__all__ = ["HANDLERS", "Connection", "Registry", "answer", "event_frame", "session"]

log = logging.getLogger("pm_fast")

REQUEST_TIMEOUT = 30.0
TEXT_HELP = (
    "pm-fast speaks binary frames, each one protobuf pm.WebSocketMessage; text frames are"
    " not understood."
)

Conn = Connection[App]
Handler = Callable[[Conn, str, Any], Awaitable[bytes]]


def _ctx(conn: Conn) -> Ctx:
    """What a connection's requests act as: its user, vouched for, WebSocket profile."""
    app = conn.app
    return Ctx(
        actor=conn.user,
        now=int(time.time()),
        limits=app.limits,
        authenticated=True,
        llm_user=app.llm_user,
        profile=WEBSOCKET,
    )


def _opt(msg: Message, name: str) -> Any:
    return getattr(msg, name) if msg.HasField(name) else None


def _reply(mid: str, case: str, payload: Message) -> bytes:
    return codec.envelope(mid, case, payload)


def _entity_event(outcome: Outcome[Any]) -> Event | None:
    for event in reversed(outcome.events):
        if not isinstance(event, ActivityCreated):
            return event
    return None


def event_frame(event: Event) -> bytes | None:
    """One broadcast frame (fresh random message id) for `event` (the hub's encoder),
    carrying the event's place in its project's log (docs/events.md)."""
    frame = accel.encode_event(
        event.kind, event.entity, event.actor, event.extra, new_id(), int(time.time())
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


def _updated_reply(
    mid: str, outcome: Outcome[Any], kind: type[ProjectUpdated | SprintUpdated], ctx: Ctx
) -> bytes:
    """The `*Updated` reply: the entity event's content, or an empty change list."""
    event = _entity_event(outcome)
    if event is None:
        event = kind(None, outcome.value, ctx.actor, {"changed": []})
    return _event_reply(mid, event)


def _replying(
    program: Program[Outcome[Any]], build_reply: Callable[[Outcome[Any]], bytes]
) -> Program[Outcome[bytes]]:
    """`program` (sealed: its events encoded) and then its reply frame, both made before
    the store commits, so a reply that cannot be encoded rolls the change back."""
    outcome = yield from sealed(program)
    return Outcome(build_reply(outcome), outcome.events, sealed=True)


async def _mutate(
    conn: Conn, program: Program[Outcome[Any]], build_reply: Callable[[Outcome[Any]], bytes]
) -> bytes:
    return await conn.app.commit(_replying(program, build_reply))


async def _create(
    conn: Conn,
    mid: str,
    operation: str,
    program: Program[Outcome[Any]],
    build_reply: Callable[[Outcome[Any]], bytes],
) -> bytes:
    """A create, run once per message id (a repeat gets the stored reply)."""
    key = idempotency.key(conn.user, operation, mid)
    return await conn.app.commit(
        idempotency.once(key, operation, int(time.time()), _replying(program, build_reply))
    )


async def _ping(conn: Conn, mid: str, msg: pb.Ping) -> bytes:
    return _reply(mid, "pong", pb.Pong(timestamp=msg.timestamp))


async def _subscribe(conn: Conn, mid: str, msg: pb.Subscribe) -> bytes:
    """Subscribe; for each `resume` position first send the project's events after it
    from the log, then go live (docs/events.md). The ack carries, per project, the last
    event number sent before live delivery began."""
    ctx = _ctx(conn)
    resume = {pos.project_id: pos.seq for pos in msg.resume}
    projects, sprints = await conn.app.store.read(
        events_service.subscribable(ctx, [*msg.project_ids, *resume], list(msg.sprint_ids), resume)
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


# A replay queues its next chunk once fewer frames than this are waiting to be sent.
REPLAY_QUEUE = 512
# How long a resume waits for this process to broadcast events the client has already
# seen elsewhere (PostgreSQL: another process committed them, our bus has not read them).
RESUME_CATCH_UP = 10.0


async def _replay(conn: Conn, pid: str, after: int) -> int:
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
                raise eventlog.not_received(pid, after, upto)
            await asyncio.sleep(0.02)
            continue
        events = await app.store.read(events_service.replay_step(pid, cursor, upto))
        if not events or events[0].seq != cursor + 1:  # pruned meanwhile
            oldest = events[0].seq if events else None
            raise eventlog.resync(pid, cursor, oldest, upto)
        frames = [f for f in map(event_frame, events) if f is not None]
        await conn.send_many(frames, REPLAY_QUEUE)
        if STATS.on:
            STATS.ws_frame(None, "replay", len(frames))
        cursor = events[-1].seq
    return cursor


async def _unsubscribe(conn: Conn, mid: str, msg: pb.Unsubscribe) -> bytes:
    conn.app.hub.unsubscribe(conn, list(msg.project_ids), list(msg.sprint_ids))
    return codec.envelope(mid)


# projects
async def _create_project(conn: Conn, mid: str, msg: pb.CreateProjectRequest) -> bytes:
    ctx = _ctx(conn)
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


async def _update_project(conn: Conn, mid: str, msg: pb.UpdateProjectRequest) -> bytes:
    status = None
    if msg.HasField("status"):
        # An unknown number reaches the service as its digits, refused after the lookup.
        status = codec.PROJECT_STATUS_NAME.get(msg.status, str(msg.status))
    ctx = _ctx(conn)
    command = cmd.UpdateProject(
        msg.expected_version, _opt(msg, "title"), _opt(msg, "description"), status
    )
    return await _mutate(
        conn,
        projects.update_project(ctx, msg.project_id, command),
        lambda o: _updated_reply(mid, o, ProjectUpdated, ctx),
    )


async def _delete_project(conn: Conn, mid: str, msg: pb.DeleteProjectRequest) -> bytes:
    ctx = _ctx(conn)
    return await _mutate(
        conn,
        projects.delete_project(ctx, msg.project_id, msg.expected_version),
        lambda o: _reply(
            mid, "project_deleted", pb.ProjectDeleted(project_id=o.value.id, user_id=ctx.actor)
        ),
    )


async def _list_projects(conn: Conn, mid: str, msg: pb.ListProjectsRequest) -> bytes:
    found = await conn.app.store.read(projects.list_projects_for(_ctx(conn)))
    return _reply(
        mid, "project_list", pb.ProjectList(projects=[codec.project_pb(p) for p in found])
    )


# work items
async def _create_work_item(conn: Conn, mid: str, msg: pb.CreateWorkItemRequest) -> bytes:
    ctx = _ctx(conn)
    command = cmd.CreateWorkItem(
        project_id=msg.project_id,
        # an unknown number reaches the service as its digits
        item_type=codec.ITEM_TYPE_NAME.get(msg.item_type, str(msg.item_type)),
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


async def _update_work_item(conn: Conn, mid: str, msg: pb.UpdateWorkItemRequest) -> bytes:
    ctx = _ctx(conn)
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

    frame = await _mutate(conn, work_items.update_work_item(ctx, msg.work_item_id, command), reply)
    if frame:
        return frame
    # Nothing changed (nothing was written): the item as it is, with its hierarchy.
    item = outcomes[0].value
    above, below = await conn.app.store.read(work_items.item_hierarchy(item))
    return _event_reply(
        mid,
        WorkItemUpdated(
            None,
            item,
            ctx.actor,
            {"changed": [], "ancestor_ids": above, "descendant_ids": below},
        ),
    )


async def _delete_work_item(conn: Conn, mid: str, msg: pb.DeleteWorkItemRequest) -> bytes:
    ctx = _ctx(conn)
    return await _mutate(
        conn,
        work_items.delete_work_item(ctx, msg.work_item_id),
        lambda o: _reply(
            mid,
            "work_item_deleted",
            pb.WorkItemDeleted(work_item_id=o.value.id, user_id=ctx.actor),
        ),
    )


async def _get_work_items(conn: Conn, mid: str, msg: pb.GetWorkItemsRequest) -> bytes:
    now = int(time.time())
    items, above, below = await conn.app.store.read(
        work_items.list_with_hierarchy(_ctx(conn), msg.project_id)
    )
    return accel.encode_work_items_list(mid, now, items, above, below, now)


# sprints
async def _create_sprint(conn: Conn, mid: str, msg: pb.CreateSprintRequest) -> bytes:
    ctx = _ctx(conn)
    command = cmd.CreateSprint(
        msg.project_id, msg.name, msg.start_date, msg.end_date, _opt(msg, "goal")
    )
    return await _create(
        conn,
        mid,
        "create_sprint",
        sprints.create_sprint(ctx, command),
        lambda o: _event_reply(mid, _entity_event(o)),
    )


async def _update_sprint(conn: Conn, mid: str, msg: pb.UpdateSprintRequest) -> bytes:
    status = None
    if msg.HasField("status"):
        status = codec.SPRINT_STATUS_NAME.get(msg.status, str(msg.status))
    ctx = _ctx(conn)
    command = cmd.UpdateSprint(
        expected_version=msg.expected_version,
        name=_opt(msg, "name"),
        goal=_opt(msg, "goal"),
        start_date=_opt(msg, "start_date"),
        end_date=_opt(msg, "end_date"),
        status=status,
    )
    return await _mutate(
        conn,
        sprints.update_sprint(ctx, msg.sprint_id, command),
        lambda o: _updated_reply(mid, o, SprintUpdated, ctx),
    )


async def _delete_sprint(conn: Conn, mid: str, msg: pb.DeleteSprintRequest) -> bytes:
    ctx = _ctx(conn)
    return await _mutate(
        conn,
        sprints.delete_sprint(ctx, msg.sprint_id),
        lambda o: _reply(
            mid, "sprint_deleted", pb.SprintDeleted(sprint_id=o.value.id, user_id=ctx.actor)
        ),
    )


async def _get_sprints(conn: Conn, mid: str, msg: pb.GetSprintsRequest) -> bytes:
    found = await conn.app.store.read(sprints.list_sprints_for(_ctx(conn), msg.project_id))
    return _reply(mid, "sprints_list", pb.SprintsList(sprints=[codec.sprint_pb(s) for s in found]))


# comments
async def _create_comment(conn: Conn, mid: str, msg: pb.CreateCommentRequest) -> bytes:
    ctx = _ctx(conn)
    return await _create(
        conn,
        mid,
        "create_comment",
        comments.create_comment(ctx, msg.work_item_id, cmd.CreateComment(msg.content)),
        lambda o: _event_reply(mid, _entity_event(o)),
    )


async def _update_comment(conn: Conn, mid: str, msg: pb.UpdateCommentRequest) -> bytes:
    ctx = _ctx(conn)
    return await _mutate(
        conn,
        comments.update_comment(ctx, msg.comment_id, cmd.UpdateComment(msg.content)),
        lambda o: _reply(
            mid,
            "comment_updated",
            pb.CommentUpdated(comment=codec.comment_pb(o.value), user_id=ctx.actor),
        ),
    )


async def _delete_comment(conn: Conn, mid: str, msg: pb.DeleteCommentRequest) -> bytes:
    ctx = _ctx(conn)
    return await _mutate(
        conn,
        comments.delete_comment(ctx, msg.comment_id),
        lambda o: _reply(
            mid, "comment_deleted", pb.CommentDeleted(comment_id=o.value.id, user_id=ctx.actor)
        ),
    )


async def _get_comments(conn: Conn, mid: str, msg: pb.GetCommentsRequest) -> bytes:
    found = await conn.app.store.read(comments.list_comments_for(_ctx(conn), msg.work_item_id))
    return _reply(
        mid, "comments_list", pb.CommentsList(comments=[codec.comment_pb(c) for c in found])
    )


# time entries
async def _start_timer(conn: Conn, mid: str, msg: pb.StartTimerRequest) -> bytes:
    description = _opt(msg, "description")
    ctx = _ctx(conn)

    def reply(o: Outcome[Any]) -> bytes:
        entry, stopped = o.value
        started = pb.TimerStarted(time_entry=codec.time_entry_pb(entry), user_id=ctx.actor)
        if stopped is not None:
            started.stopped_entry.CopyFrom(codec.time_entry_pb(stopped))
        return _reply(mid, "timer_started", started)

    command = cmd.CreateTimeEntry(msg.work_item_id, description)
    return await _create(conn, mid, "start_timer", time_entries.start_timer(ctx, command), reply)


async def _stop_timer(conn: Conn, mid: str, msg: pb.StopTimerRequest) -> bytes:
    ctx = _ctx(conn)
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


async def _create_time_entry(conn: Conn, mid: str, msg: pb.CreateTimeEntryRequest) -> bytes:
    description = _opt(msg, "description")
    ctx = _ctx(conn)
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


async def _update_time_entry(conn: Conn, mid: str, msg: pb.UpdateTimeEntryRequest) -> bytes:
    description = _opt(msg, "description")
    ctx = _ctx(conn)
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


async def _delete_time_entry(conn: Conn, mid: str, msg: pb.DeleteTimeEntryRequest) -> bytes:
    ctx = _ctx(conn)
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


async def _get_time_entries(conn: Conn, mid: str, msg: pb.GetTimeEntriesRequest) -> bytes:
    entries, total = await conn.app.store.read(
        time_entries.page_time_entries(
            _ctx(conn), msg.work_item_id, _opt(msg, "limit"), _opt(msg, "offset")
        )
    )
    return _reply(
        mid,
        "time_entries_list",
        pb.TimeEntriesList(
            time_entries=[codec.time_entry_pb(t) for t in entries], total_count=total
        ),
    )


async def _running_timer(conn: Conn, mid: str, msg: pb.GetRunningTimerRequest) -> bytes:
    entry = await conn.app.store.read(time_entries.running_timer(_ctx(conn)))
    response = pb.RunningTimerResponse()
    if entry is not None:
        response.time_entry.CopyFrom(codec.time_entry_pb(entry))
    return _reply(mid, "running_timer_response", response)


# dependencies
async def _create_dependency(conn: Conn, mid: str, msg: pb.CreateDependencyRequest) -> bytes:
    # An unknown number reaches the service as its digits.
    dep_type = codec.DEPENDENCY_TYPE_NAME.get(msg.dependency_type, str(msg.dependency_type))
    ctx = _ctx(conn)
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


async def _delete_dependency(conn: Conn, mid: str, msg: pb.DeleteDependencyRequest) -> bytes:
    ctx = _ctx(conn)
    return await _mutate(
        conn,
        dependencies.delete_dependency(ctx, msg.dependency_id),
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


async def _get_dependencies(conn: Conn, mid: str, msg: pb.GetDependenciesRequest) -> bytes:
    blocking, blocked = await conn.app.store.read(
        dependencies.dependencies_of(_ctx(conn), msg.work_item_id)
    )
    return _reply(
        mid,
        "dependencies_list",
        pb.DependenciesList(
            blocking=[codec.dependency_pb(d) for d in blocking],
            blocked=[codec.dependency_pb(d) for d in blocked],
        ),
    )


# activity log and LLM context
async def _activity_log(conn: Conn, mid: str, msg: pb.GetActivityLogRequest) -> bytes:
    entries, total, more = await conn.app.store.read(
        activity.activity_log(_ctx(conn), msg.entity_type, msg.entity_id, msg.limit, msg.offset)
    )
    return _reply(
        mid,
        "activity_log_list",
        pb.ActivityLogList(
            entries=[codec.activity_pb(e) for e in entries], total_count=total, has_more=more
        ),
    )


async def _llm_context(conn: Conn, mid: str, msg: pb.GetLlmContextRequest) -> bytes:
    found = await conn.app.store.read(
        activity.llm_context(
            _opt(msg, "category"), _opt(msg, "context_type"), _opt(msg, "min_priority")
        )
    )
    return _reply(
        mid, "llm_context_list", pb.LlmContextList(entries=[codec.llm_pb(e) for e in found])
    )


# -- the request table: payload case -> handler ---------------------------------------
# Every request case of proto_names.REQUEST_CASES, and nothing else (tests/unit/test_ws_edge.py).
HANDLERS: Mapping[str, Handler] = MappingProxyType(
    {
        "ping": _ping,
        "subscribe": _subscribe,
        "unsubscribe": _unsubscribe,
        "create_project_request": _create_project,
        "update_project_request": _update_project,
        "delete_project_request": _delete_project,
        "list_projects_request": _list_projects,
        "create_work_item_request": _create_work_item,
        "update_work_item_request": _update_work_item,
        "delete_work_item_request": _delete_work_item,
        "get_work_items_request": _get_work_items,
        "create_sprint_request": _create_sprint,
        "update_sprint_request": _update_sprint,
        "delete_sprint_request": _delete_sprint,
        "get_sprints_request": _get_sprints,
        "create_comment_request": _create_comment,
        "update_comment_request": _update_comment,
        "delete_comment_request": _delete_comment,
        "get_comments_request": _get_comments,
        "start_timer_request": _start_timer,
        "stop_timer_request": _stop_timer,
        "create_time_entry_request": _create_time_entry,
        "update_time_entry_request": _update_time_entry,
        "delete_time_entry_request": _delete_time_entry,
        "get_time_entries_request": _get_time_entries,
        "get_running_timer_request": _running_timer,
        "create_dependency_request": _create_dependency,
        "delete_dependency_request": _delete_dependency,
        "get_dependencies_request": _get_dependencies,
        "get_activity_log_request": _activity_log,
        "get_llm_context_request": _llm_context,
    }
)


# -- frames ---------------------------------------------------------------------------
async def answer(conn: Conn, data: bytes) -> bytes:
    """The one reply frame to one binary frame. Never raises."""
    try:
        env = pb.WebSocketMessage.FromString(data)
    except (DecodeError, RuntimeError, ValueError):
        if STATS.on:
            STATS.ws_frame("invalid", None)
            STATS.error("ws", "INVALID_MESSAGE")
        return codec.error_frame(
            "", "INVALID_MESSAGE", "Invalid message: the frame is not a protobuf WebSocketMessage"
        )
    mid = env.message_id
    case = env.WhichOneof("payload")
    handler = HANDLERS.get(case) if case is not None else None
    if handler is None:
        if STATS.on:
            STATS.ws_frame("invalid", None)
            STATS.error("ws", "INVALID_MESSAGE")
        return codec.error_frame(mid, "INVALID_MESSAGE", "Unsupported or missing message payload")
    assert case is not None
    on = STATS.on
    start = perf_counter() if on else 0.0
    code: str | None = None
    try:
        # In this task, under one timer (a task and a timer per request with wait_for)
        async with asyncio.timeout(REQUEST_TIMEOUT):
            reply = await handler(conn, mid, getattr(env, case))
    except DomainError as err:
        # The traceback would tie this connection's frames into a reference cycle with
        # the failed future, keeping the socket open until the next GC pass.
        err.__traceback__ = None
        code = err.code
        reply = codec.domain_error_frame(mid, err)
    except TimeoutError as err:
        err.__traceback__ = None
        code = "TIMEOUT"
        reply = codec.error_frame(mid, "TIMEOUT", "Request timed out. Please try again.")
    except Exception as err:
        log.exception("WebSocket request %s (%s) failed", case, mid[:8])
        err.__traceback__ = None
        code = "DATABASE_ERROR"
        reply = codec.error_frame(mid, "DATABASE_ERROR", "Database error")
    if on:
        STATS.ws_request(case, perf_counter() - start, code)
    return reply


async def _on_connect(conn: Conn) -> None:
    """Record the user as soon as it connects (writes ensure it again)."""
    await conn.app.store.write(begin(_ctx(conn)))


EDGE: Edge[App] = Edge(
    answer=answer,
    on_connect=_on_connect,
    too_large=codec.error_frame(
        "", "INVALID_MESSAGE", f"Invalid message: frame larger than {MAX_FRAME_BYTES} bytes"
    ),
    text_help=TEXT_HELP,
)


async def session(
    app: App, registry: Registry, conn: Conn, receive: Callable[[], Awaitable[Any]]
) -> None:
    """One connection's session (ws_transport.session) speaking this protocol."""
    await ws_transport.session(app, registry, conn, receive, EDGE)
