"""The WebSocket transport: connections, their send queues, rate limits, heartbeats.

It knows the shape of an engine's WebSocket as every engine adapter (pm_fast/engines)
presents it: `receive()` giving messages with `kind` 0 close, 1 binary, 2 text and
`data` (a `Frame`, or Granian's RSGI message), `send_bytes`/`send_str`, and a close
function taking a status code and reason; and flow control (realtime/delivery.py). It
knows nothing of the domain: what a binary frame means, what happens when a user
connects and what the connection's requests act as are the `Edge` the session is given
(api/ws.py builds it).

Close codes (RFC 6455 §7.4, docs/compat.md "Close codes"): `CLOSE_*` below; every
server-side close says why with one of them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, NamedTuple, Protocol, TypeVar

from .. import accel
from ..config import Config
from ..logsetup import new_id
from ..metrics import STATS
from ..realtime.delivery import BACKLOG_LIMIT, Delivery
from ..realtime.hub import HubApi

log = logging.getLogger("pm_fast")

MAX_FRAME_BYTES = 4 * 1024 * 1024
MAX_VIOLATIONS = 5

# Close codes the server sends (docs/compat.md "Close codes").
CLOSE_NORMAL = 1000  # the client closed, or the session ended without a fault
CLOSE_GOING_AWAY = 1001  # the server shuts down (signal, /admin/shutdown, idle)
CLOSE_POLICY = 1008  # rate limit, heartbeat, a client that stopped reading
CLOSE_TOO_BIG = 1009  # a binary frame over MAX_FRAME_BYTES
CLOSE_TRY_LATER = 1013  # more events waiting for this client than the server holds
RATE_LIMIT_CLOSE = f"Rate limit exceeded {MAX_VIOLATIONS} times. Connection closed."
# A Close frame's reason is at most 123 bytes of UTF-8 (RFC 6455 §5.5).
MAX_REASON_BYTES = 123

# Kinds of received messages.
KIND_CLOSE, KIND_BINARY, KIND_TEXT = 0, 1, 2


class Frame(NamedTuple):
    """A received message as engine adapters other than Granian's RSGI present it."""

    kind: int
    data: Any = b""


def close_reason(text: str) -> str:
    """`text` cut to what a Close frame carries (whole characters only)."""
    data = text.encode()
    if len(data) <= MAX_REASON_BYTES:
        return text
    return data[:MAX_REASON_BYTES].decode(errors="ignore")


class Host(Protocol):
    """What the transport uses of the running application (`pm_fast.app.App`)."""

    cfg: Config
    delivery: Delivery
    hub: HubApi
    ws_connections: int

    def touch(self, path: str | None = None) -> None: ...


H = TypeVar("H", bound=Host)


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


def _nothing(code: int, reason: str) -> None:
    pass


class Replayed(bytes):
    """A frame of a replay of the event log (counted apart by flow control)."""

    __slots__ = ()


class Connection(Generic[H]):
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

    def __init__(self, app: H, user: str, transport: Transport, close: Callable[[int, str], None]):
        self.app = app
        self.user = user
        self.transport = transport
        # names the connection in JSON log lines (logsetup.new_id)
        self.id = new_id()
        # the engine's close: sends a Close frame with this code and reason (an engine
        # that cannot send a code sends none), then the socket ends
        self._close = close
        # what the Close frame will say (the first reason to close wins)
        self.close_code = CLOSE_NORMAL
        self.close_reason = ""
        self.send_queue = accel.SendQueue(BACKLOG_LIMIT)
        # a `send` waiting for room, woken by the writer once fewer than `_room_at`
        # frames are queued
        self._room: asyncio.Future[None] | None = None
        self._room_at = 0
        # frames of a replay of the event log still queued (`Replayed`): this
        # connection's own request, not a lag behind the producers
        self.replay_pending = 0
        self.closed = False
        # time.monotonic() of the writer's last progress (see realtime/delivery.py)
        self.progress = time.monotonic()
        # why the server ends this connection (set once; the session then stops)
        self.ending = ""
        self._session: asyncio.Task[Any] | None = None
        self._heartbeat: Heartbeat | None = None
        self.cancelled_session = False

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
                CLOSE_TRY_LATER,
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

    def end(self, why: str, text: str, code: int = CLOSE_POLICY) -> None:
        """Close for slowness: log `why`, drop the queued frames (never sent anyway),
        queue the Text frame `text` (after the frame being sent, if any), then let the
        session stop: it gives the writer its usual time to send what is queued, then
        closes with `code` and `text` as the reason."""
        if self.ending or self.closed:
            return
        # Often called from another connection's task: the line names this one itself.
        log.warning(
            "closing WebSocket of user %s: %s",
            self.user[:8],
            why,
            extra={"connection_id": self.id, "close_code": code},
        )
        self.app.delivery.discard(self)
        queue = self.send_queue
        queue.clear()
        self.replay_pending = 0
        queue.offer(text)
        queue.close()
        self.stop(why, code, text)

    def closing(self, code: int, reason: str) -> None:
        """Say what the Close frame will carry, unless a reason to close came first."""
        if self.close_code == CLOSE_NORMAL and not self.close_reason:
            self.close_code = code
            self.close_reason = close_reason(reason)

    def stop(self, why: str, code: int, reason: str) -> None:
        """End the connection from the server's side: no more frames are read (a request
        being answered is answered); what is queued is still sent (the session gives
        the writer its usual time), then the Close frame with `code` and `reason`."""
        if self.ending or self.closed:
            return
        self.ending = why
        self.closing(code, reason)
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
        """Close now: the Close frame (with the code and reason set by `closing`) is sent
        after the frame being sent, if any; frames still queued are not sent."""
        if not self.closed:
            self.closed = True
            self.send_queue.close()
            self._wake_sender()
            self._close(self.close_code, self.close_reason)

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
                kind = type(item)
                if kind is str:  # a Text frame (a close for slowness says why)
                    await self.transport.send_str(item)
                else:  # bytes, or Replayed
                    if kind is Replayed:
                        self.replay_pending -= 1
                    await self.transport.send_bytes(item)
                self.progress = monotonic()
                if delivery.blocker is self:  # mutations wait for this connection
                    delivery.drained(self, len(queue) - self.replay_pending)
        except (RuntimeError, OSError):  # the client went away
            self.close()


class Registry:
    """Open connections of this process (for limits, idle shutdown and shutdown)."""

    def __init__(self) -> None:
        self.connections: set[Connection[Any]] = set()
        # set when the last connection leaves while `close_all` waits for that
        self._empty: asyncio.Event | None = None

    def __len__(self) -> int:
        return len(self.connections)

    def remove(self, conn: Connection[Any]) -> None:
        self.connections.discard(conn)
        if not self.connections and self._empty is not None:
            self._empty.set()

    async def _until_empty(self, deadline: float) -> None:
        if not self.connections:
            return
        self._empty = asyncio.Event()
        try:
            await asyncio.wait_for(self._empty.wait(), max(0.0, deadline - time.monotonic()))
        except TimeoutError:
            pass
        finally:
            self._empty = None

    async def close_all(self, timeout: float = 3.0) -> None:
        """End every connection (code 1001): each sends what is queued for it, then its
        Close frame; one still open after `timeout` s is closed at once. Returns as soon
        as the last one has left."""
        for conn in list(self.connections):
            conn.stop("server shutting down", CLOSE_GOING_AWAY, "Server shutting down")
        deadline = time.monotonic() + timeout
        await self._until_empty(deadline)
        for conn in list(self.connections):
            conn.close()
        await self._until_empty(deadline + 1.0)


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


@dataclass(frozen=True, slots=True)
class Edge(Generic[H]):
    """What a session needs of the protocol and the domain above the transport."""

    # the one reply frame to one binary frame (never raises)
    answer: Callable[[Connection[H], bytes], Awaitable[bytes]]
    # run once a connection is open, before its first frame is read (may raise: logged)
    on_connect: Callable[[Connection[H]], Awaitable[None]]
    # sent, before closing, to a client whose binary frame exceeds MAX_FRAME_BYTES
    too_large: bytes
    # the answer to a text frame
    text_help: str


async def session(
    app: H,
    registry: Registry,
    conn: Connection[H],
    receive: Callable[[], Awaitable[Any]],
    edge: Edge[H],
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
    if STATS.on:
        STATS.ws_opened += 1
    try:
        try:
            await edge.on_connect(conn)
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
                    if STATS.on:
                        STATS.rate_limited += 1
                        warned = violations < MAX_VIOLATIONS
                        STATS.ws_frame("rate_limited", "text" if warned else None)
                    if violations >= MAX_VIOLATIONS:  # the reason is in the Close frame
                        conn.closing(CLOSE_POLICY, RATE_LIMIT_CLOSE)
                        break
                    await conn.send(
                        f"Rate limit exceeded. Slow down. ({violations}/{MAX_VIOLATIONS} warnings)"
                    )
                    continue
                violations = 0
                if kind == 1:
                    data = msg.data
                    if len(data) > MAX_FRAME_BYTES:
                        if STATS.on:
                            STATS.ws_frame("too_large", None)
                            STATS.error("ws", "MESSAGE_TOO_BIG")
                        await conn.send(edge.too_large)
                        conn.closing(CLOSE_TOO_BIG, "Message too big")
                        break
                    heartbeat.busy()  # a request has its own time limit
                    reply = await edge.answer(conn, data)
                    heartbeat.wait("replies not taken")
                    await conn.send(reply)
                else:
                    if STATS.on:
                        STATS.ws_frame("text", "text")
                    await conn.send(edge.text_help)
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
                    extra={"connection_id": conn.id, "close_code": CLOSE_POLICY},
                )
                conn.closing(CLOSE_POLICY, f"{heartbeat.what.capitalize()} for {idle:g} s")
        finally:
            heartbeat.stop()
    finally:
        registry.remove(conn)
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
        if STATS.on:
            STATS.closed(conn.close_code)
        conn.release()
