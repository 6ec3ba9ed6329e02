"""The fan-out hub and the connection queue: Rust (pm_fast_ext) ≡ twins (pm_fast.realtime).

Every example test runs against both hubs (and both send queues). Hypothesis then runs
random programs of subscribe / unsubscribe / remove / publish on the two side by side,
with subscribers that react to a frame by removing or (un)subscribing themselves or
others, and subscribers with a send queue (which the Rust hub fills directly), and checks
that they deliver the same frames to the same subscribers in the same order, encode the
same events and report the same subscriptions. Also the per-connection rate limiter.

The extension must be built for this suite (``pip install -e .``); a missing extension
is a failure here, not a skip.
"""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Callable
from typing import Any, ClassVar, cast

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pm_fast_ext as rust
from pm_fast.api.ws_transport import RateLimiter
from pm_fast.core.model import BaseEvent, Event
from pm_fast.realtime import hub as twin_hub
from pm_fast.realtime import send_queue as twin_queue

from .accel_probe import probe_accel

HUBS = pytest.mark.parametrize("make", [rust.Hub, twin_hub.Hub], ids=["rust", "python"])
SEND_QUEUES = pytest.mark.parametrize(
    "make_queue", [rust.SendQueue, twin_queue.SendQueue], ids=["rust", "python"]
)
PROPS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


class Sink:
    def __init__(self) -> None:
        self.frames: list[bytes] = []

    def deliver(self, frame: bytes) -> None:
        self.frames.append(frame)


def make_hub(make: Callable[[], Any]) -> tuple[Any, list[str]]:
    encoded: list[str] = []
    hub = make()

    def encoder(event: Event) -> bytes:
        encoded.append(label(event))
        return label(event).encode()

    hub.encoder = encoder
    return hub, encoded


class Probe(BaseEvent[str]):
    """An event the hub routes like any other; its entity is a label the tests' encoders
    write, so a test can tell which events reached whom (the hub never reads it)."""

    kind: ClassVar[str] = "probe"


def probe(label: str, project: str | None, extra: dict[str, Any]) -> Event:
    return cast(Event, Probe(project, label, "u", extra))


def label(event: Event) -> str:
    return cast(str, event.entity)


def ev(name: str, project: str | None, sprint: str | None = None) -> Event:
    return probe(name, project, {"sprint_id": sprint} if sprint else {})


# --------------------------------------------------------------------------- examples
@HUBS
def test_events_reach_only_subscribers_of_their_project(make: Callable[[], Any]) -> None:
    hub, _ = make_hub(make)
    a, b, c = Sink(), Sink(), Sink()
    hub.subscribe(a, ["p1"])
    hub.subscribe(b, ["p1", "p2"])
    hub.subscribe(c, ["p3"])
    hub.publish([ev("x.created", "p1"), ev("y.created", "p2")])
    assert a.frames == [b"x.created"]
    assert b.frames == [b"x.created", b"y.created"]
    assert c.frames == []


@HUBS
def test_each_event_is_encoded_once_and_only_when_someone_listens(
    make: Callable[[], Any],
) -> None:
    hub, encoded = make_hub(make)
    sinks = [Sink() for _ in range(50)]
    for s in sinks:
        hub.subscribe(s, ["p"])
    hub.publish([ev("a", "p"), ev("b", "nobody")])
    assert encoded == ["a"]
    assert all(s.frames == [b"a"] for s in sinks)
    assert len({id(s.frames[0]) for s in sinks}) == 1  # the very same bytes object


@HUBS
def test_broadcasts_and_subscribers_reached_are_counted_by_kind(make: Callable[[], Any]) -> None:
    hub, _ = make_hub(make)
    sinks = [Sink() for _ in range(3)]
    for s in sinks:
        hub.subscribe(s, ["p"])
    hub.subscribe(sinks[0], ["q"])
    assert hub.sent() == {}
    hub.publish([ev("a", "p"), ev("b", "q"), ev("c", "nobody")])
    hub.publish([ev("d", "p")])
    assert hub.sent() == {"probe": (3, 7)}  # events encoded, frames offered


@HUBS
def test_sprint_scope_reaches_sprint_subscribers(make: Callable[[], Any]) -> None:
    hub, _ = make_hub(make)
    project_sub, sprint_sub, both = Sink(), Sink(), Sink()
    hub.subscribe(project_sub, ["p"])
    hub.subscribe(sprint_sub, [], ["s"])
    hub.subscribe(both, ["p"], ["s"])
    hub.publish([ev("activity.created", "p", sprint="s")])
    assert project_sub.frames == sprint_sub.frames == both.frames == [b"activity.created"]


@HUBS
def test_unsubscribe_and_remove(make: Callable[[], Any]) -> None:
    hub, _ = make_hub(make)
    a = Sink()
    hub.subscribe(a, ["p1", "p2"], ["s"])
    hub.unsubscribe(a, ["p1", "unknown"])
    assert hub.subscriptions(a) == ({"p2"}, {"s"})
    hub.publish([ev("x", "p1"), ev("y", "p2")])
    assert a.frames == [b"y"]
    hub.remove(a)
    hub.publish([ev("z", "p2", sprint="s")])
    assert a.frames == [b"y"]
    assert hub.subscriptions(a) == (set(), set())


@HUBS
def test_recipient_order_is_subscription_order(make: Callable[[], Any]) -> None:
    hub, _ = make_hub(make)
    order: list[str] = []

    class Named:
        def __init__(self, name: str) -> None:
            self.name = name

        def deliver(self, frame: bytes) -> None:
            order.append(self.name)

    a, b, c, d = (Named(n) for n in "abcd")
    hub.subscribe(c, ["p"])
    hub.subscribe(a, ["p"], ["s"])
    hub.subscribe(d, [], ["s"])
    hub.subscribe(b, ["p"])
    hub.subscribe(c, ["p"])  # again: keeps its place
    hub.publish([ev("x", "p", sprint="s")])
    assert order == ["c", "a", "b", "d"]
    order.clear()
    hub.unsubscribe(c, ["p"])
    hub.subscribe(c, ["p"])  # back at the end
    hub.publish([ev("x", None, sprint="s"), ev("y", "p")])
    assert order == ["a", "d", "a", "b", "c"]


@HUBS
def test_no_encoder_or_no_subscriber_publishes_nothing(make: Callable[[], Any]) -> None:
    hub = make()
    assert hub.encoder is None
    a = Sink()
    hub.subscribe(a, ["p"])
    hub.publish([ev("x", "p")])  # no encoder: nothing, no error
    assert a.frames == []
    hub.encoder = lambda e: None  # not broadcast
    hub.publish([ev("x", "p")])
    assert a.frames == []
    hub.encoder = None
    assert hub.encoder is None


@HUBS
def test_deliver_may_remove_itself_and_others_during_publish(make: Callable[[], Any]) -> None:
    hub, encoded = make_hub(make)
    got: list[tuple[str, bytes]] = []

    class Leaver:
        def __init__(self, name: str, drop: list[Any]) -> None:
            self.name, self.drop = name, drop

        def deliver(self, frame: bytes) -> None:
            got.append((self.name, frame))
            for other in self.drop:
                hub.remove(other)

    c = Leaver("c", [])
    b = Leaver("b", [])
    a = Leaver("a", [])
    a.drop = [a, b]  # a leaves and takes b with it, while b is still to be served
    for s in (a, b, c):
        hub.subscribe(s, ["p"])
    hub.publish([ev("one", "p"), ev("two", "p")])
    # the first event still reaches everybody chosen before delivery began
    assert got == [("a", b"one"), ("b", b"one"), ("c", b"one"), ("c", b"two")]
    assert encoded == ["one", "two"]
    assert hub.subscriptions(a) == hub.subscriptions(b) == (set(), set())


@HUBS
def test_encoder_may_reenter_the_hub(make: Callable[[], Any]) -> None:
    hub = make()
    a, b = Sink(), Sink()
    hub.subscribe(a, ["p"])

    def encoder(event: Event) -> bytes:
        hub.subscribe(b, ["p"])  # joins for the next event
        return label(event).encode()

    hub.encoder = encoder
    hub.publish([ev("one", "p"), ev("two", "p")])
    assert a.frames == [b"one", b"two"]
    assert b.frames == [b"two"]


@HUBS
def test_a_failing_deliver_stops_publish(make: Callable[[], Any]) -> None:
    hub, _ = make_hub(make)

    class Broken:
        def deliver(self, frame: bytes) -> None:
            raise OSError("gone")

    first, last = Sink(), Sink()
    hub.subscribe(first, ["p"])
    hub.subscribe(Broken(), ["p"])
    hub.subscribe(last, ["p"])
    with pytest.raises(OSError, match="gone"):
        hub.publish([ev("one", "p"), ev("two", "p")])
    assert first.frames == [b"one"] and last.frames == []


@HUBS
def test_subscribers_are_told_apart_by_identity(make: Callable[[], Any]) -> None:
    hub, _ = make_hub(make)

    class Same(Sink):
        def __eq__(self, other: object) -> bool:
            return True

        __hash__ = object.__hash__

    a, b = Same(), Same()
    hub.subscribe(a, ["p"])
    hub.subscribe(b, ["p"])
    hub.remove(a)
    hub.publish([ev("x", "p")])
    assert (a.frames, b.frames) == ([], [b"x"])


@HUBS
def test_remove_drops_the_reference(make: Callable[[], Any]) -> None:
    hub, _ = make_hub(make)
    sub = Sink()
    ref = weakref.ref(sub)
    hub.subscribe(sub, ["p"], ["s"])
    hub.remove(sub)
    del sub
    gc.collect()
    assert ref() is None


@HUBS
def test_a_hub_in_a_reference_cycle_is_collected(make: Callable[[], Any]) -> None:
    class Holder(Sink):
        hub: Any = None

    hub, _ = make_hub(make)
    sub = Holder()
    sub.hub = hub  # sub → hub → sub, as a Connection holds the app that holds the hub
    hub.subscribe(sub, ["p"])
    ref = weakref.ref(sub)
    del sub, hub
    gc.collect()
    assert ref() is None


@HUBS
def test_non_string_ids_match_nothing(make: Callable[[], Any]) -> None:
    hub, encoded = make_hub(make)
    a = Sink()
    hub.subscribe(a, ["p"], ["s"])
    hub.publish([probe("x", None, {"sprint_id": 5}), ev("y", None)])
    assert a.frames == [] and encoded == []


# ----------------------------------------------------------------------------- queue
class Waiter:
    """Stands in for an asyncio future: records set_result."""

    def __init__(self, done: bool = False) -> None:
        self._done = done
        self.results: list[object] = []

    def done(self) -> bool:
        return self._done

    def set_result(self, value: object) -> None:
        assert not self._done
        self._done = True
        self.results.append(value)


@SEND_QUEUES
def test_send_queue_bounds_orders_and_closes(make_queue: Callable[[int], Any]) -> None:
    box = make_queue(2)
    assert (box.limit, box.closed, len(box)) == (2, False, 0)
    assert box.pop() is None
    assert [box.offer(b"1"), box.offer("2"), box.offer(b"3")] == [True, True, False]
    assert box.pop() == b"1"
    assert box.offer(b"3") is True
    box.close()
    assert box.closed and box.offer(b"4") is False
    assert [box.pop(), box.pop(), box.pop()] == ["2", b"3", None]
    with pytest.raises(ValueError, match="limit"):
        make_queue(-1)
    unbounded = make_queue(0)
    assert all(unbounded.offer(i) for i in range(1000)) and len(unbounded) == 1000


@SEND_QUEUES
def test_send_queue_wakes_the_parked_writer_once(make_queue: Callable[[int], Any]) -> None:
    box = make_queue(1)
    w = Waiter()
    box.park(w)
    assert box.offer(b"a") and w.results == [None]
    assert not box.offer(b"b")  # full: nothing to wake anyway
    box.pop()
    w2 = Waiter(done=True)  # e.g. cancelled: left alone
    box.park(w2)
    assert box.offer(b"c") and w2.results == []
    w3 = Waiter()
    box.park(w3)
    box.close()
    assert w3.results == [None]
    box.park(Waiter())
    box.clear()
    assert len(box) == 0 and box.pop() is None


@SEND_QUEUES
async def test_send_queue_with_asyncio_futures(make_queue: Callable[[int], Any]) -> None:
    box = make_queue(3)
    loop = asyncio.get_running_loop()
    received: list[object] = []

    async def writer() -> None:
        while True:
            item = box.pop()
            if item is None:
                if box.closed:
                    return
                fut = loop.create_future()
                box.park(fut)
                await fut
                continue
            received.append(item)

    task = asyncio.create_task(writer())
    await asyncio.sleep(0)
    for i in range(3):
        assert box.offer(i)
    await asyncio.sleep(0)
    assert box.offer(3)
    box.close()
    await asyncio.wait_for(task, 1)
    assert received == [0, 1, 2, 3]


# ------------------------------------------------------- a Connection on each queue
class Transport:
    def __init__(self) -> None:
        self.sent: list[bytes | str] = []
        self.busy = False

    async def send_bytes(self, data: bytes) -> None:
        assert not self.busy, "send_bytes called concurrently"
        self.busy = True
        await asyncio.sleep(0)
        self.busy = False
        self.sent.append(data)

    async def send_str(self, data: str) -> None:
        self.sent.append(data)


def ws_connection(
    make_queue: Callable[[int], Any], limit: int, backlog: int = 0
) -> tuple[Any, list[int]]:
    """A Connection with `send_buffer_size` = `limit` whose queue holds at most
    `backlog` frames (0: as the server sets it)."""
    from types import SimpleNamespace

    from pm_fast.api.ws import Connection
    from pm_fast.realtime.delivery import BACKLOG_LIMIT, Delivery

    closes: list[int] = []
    app: Any = SimpleNamespace(
        cfg=SimpleNamespace(
            websocket=SimpleNamespace(send_buffer_size=limit, stuck_client_secs=30)
        ),
        limits=None,
        delivery=Delivery(limit, 30.0),
    )
    conn = Connection(app, "user-1", Transport(), lambda code, reason: closes.append(code))
    conn.send_queue = make_queue(backlog or BACKLOG_LIMIT)
    return conn, closes


@SEND_QUEUES
@HUBS
async def test_connection_replies_wait_and_subscribers_get_every_broadcast(
    make: Callable[[], Any], make_queue: Callable[[int], Any]
) -> None:
    conn, closes = ws_connection(make_queue, 2, backlog=5)
    hub, _ = make_hub(make)
    hub.subscribe(conn, ["p"])
    writer = asyncio.create_task(conn.writer())
    # replies: more than the buffer holds, all sent in order (send waits for room)
    for i in range(6):
        await conn.send(f"r{i}".encode())
    await conn.send("text")
    for _ in range(10):
        await asyncio.sleep(0)
    assert conn.transport.sent == [b"r0", b"r1", b"r2", b"r3", b"r4", b"r5", "text"]
    # broadcasts never wait and are kept beyond send_buffer_size (flow control holds
    # the producers instead) ...
    hub.publish([ev("a", "p"), ev("b", "p"), ev("c", "p")])
    assert not conn.closed and conn.pending() == 3
    for _ in range(10):
        await asyncio.sleep(0)
    assert conn.transport.sent[7:] == [b"a", b"b", b"c"]
    # ... up to the backlog limit: beyond it the connection ends with a Text frame
    hub.publish([ev(k, "p") for k in "defghi"])
    assert conn.ending and conn.send_queue.closed
    hub.publish([ev("j", "p")])  # ending: dropped quietly
    await asyncio.wait_for(writer, 1)  # sends the Text frame, then stops
    assert conn.transport.sent[10:] == [
        "Connection closed: more than 100000 events were waiting to be sent to this client."
    ]
    assert closes == [1013]  # no session: closed at once (try again later)
    await conn.send(b"late")  # dropped once closed
    assert closes == [1013]


@SEND_QUEUES
async def test_connection_writer_stops_when_the_client_is_gone(
    make_queue: Callable[[int], Any],
) -> None:
    conn, closes = ws_connection(make_queue, 1)

    class Gone:
        async def send_bytes(self, data: bytes) -> None:
            raise RuntimeError("gone")

    conn.transport = Gone()
    writer = asyncio.create_task(conn.writer())
    await conn.send(b"x")
    sender = asyncio.create_task(conn.send(b"y"))  # may wait for room, then is dropped
    await asyncio.wait_for(writer, 1)
    await asyncio.wait_for(sender, 1)
    assert conn.closed and closes == [1000]


# ------------------------------------------------------------- accel picks the pair
_FANOUT_PROBE = """
print(accel.Hub.__module__, accel.SendQueue.__module__, type(accel.SendQueue(1)).__module__)
"""


@pytest.mark.parametrize(
    ("mode", "pure", "modules"),
    [
        ("normal", None, "pm_fast_ext._native pm_fast_ext._native pm_fast_ext._native"),
        (
            "normal",
            "1",
            "pm_fast.realtime.hub pm_fast.realtime.send_queue pm_fast.realtime.send_queue",
        ),
        (
            "hide-extension",
            None,
            "pm_fast.realtime.hub pm_fast.realtime.send_queue pm_fast.realtime.send_queue",
        ),
    ],
)
def test_accel_exports_the_fanout(mode: str, pure: str | None, modules: str) -> None:
    out, _ = probe_accel(_FANOUT_PROBE, mode, pure)
    assert out == modules


# ------------------------------------------------------------ twins agree (hypothesis)
SUBS = 5  # subscriber slots; some stay unknown to the hub
PROJECTS = ["p0", "p1", "p2", "s0"]  # "s0" as a project id: not the sprint "s0"
SPRINTS = ["s0", "s1", "s2"]

id_lists = st.lists(st.sampled_from(PROJECTS), max_size=4)  # duplicates included
sprint_lists = st.lists(st.sampled_from(SPRINTS), max_size=3)
slot = st.integers(0, SUBS - 1)
events = st.lists(
    st.tuples(
        st.sampled_from(["a", "b", "skip"]),  # "skip": the encoder returns None
        st.sampled_from([*PROJECTS, *PROJECTS, None, "nobody"]),
        st.sampled_from([*SPRINTS, *SPRINTS, None, None, 7, "s9"]),
    ),
    max_size=4,
)
subscribe = st.tuples(st.just("subscribe"), slot, id_lists, sprint_lists)
operations = st.lists(
    st.one_of(
        subscribe,
        subscribe,
        subscribe,
        st.tuples(st.just("unsubscribe"), slot, id_lists, sprint_lists),
        st.tuples(st.just("remove"), slot),
        st.tuples(st.just("publish"), events),
    ),
    max_size=25,
)
# how each subscriber reacts to a frame it is handed
reactions = st.one_of(
    st.just(("none",)),
    st.just(("none",)),
    st.just(("none",)),
    st.just(("remove self",)),
    st.tuples(st.just("remove"), slot),
    st.tuples(st.just("subscribe"), slot, st.sampled_from(PROJECTS)),
    st.tuples(st.just("unsubscribe self"), st.sampled_from(PROJECTS)),
    st.tuples(st.just("send_queue"), st.integers(0, 3)),  # limit; 0: unbounded
)


def run(
    hub_cls: Callable[[], Any],
    queue_cls: Callable[[int], Any],
    program: list[tuple[Any, ...]],
    how: list[tuple[Any, ...]],
) -> list[object]:
    """Run `program`; returns everything observable, in order."""
    hub = hub_cls()
    log: list[object] = []
    frames: dict[bytes, bytes] = {}

    def encoder(event: Event) -> bytes | None:
        log.append(("encode", label(event), event.project_id))
        if label(event) == "skip":
            return None
        # one fresh bytes object per event: recipients must get that very object
        frame = f"{label(event)}:{len(log)}".encode()
        frames[frame] = frame
        return frame

    hub.encoder = encoder

    class Sub:
        def __init__(self, number: int, reaction: tuple[Any, ...]) -> None:
            self.number, self.reaction = number, reaction
            if reaction[0] == "send_queue":
                self.send_queue = queue_cls(reaction[1])

        def deliver(self, frame: bytes) -> None:
            assert frame is frames[frame]
            kind, *args = self.reaction
            if kind == "send_queue":
                # as pm_fast.api.ws.Connection: offer, and only a refusal is handled
                if not self.send_queue.offer(frame):
                    log.append(("refused", self.number, frame))
                    self.send_queue.close()
                    hub.remove(self)
                return
            log.append(("deliver", self.number, frame))
            if kind == "remove self":
                hub.remove(self)
            elif kind == "remove":
                hub.remove(subs[args[0]])
            elif kind == "subscribe":
                hub.subscribe(subs[args[0]], [args[1]])
            elif kind == "unsubscribe self":
                hub.unsubscribe(self, [args[0]])

    subs = [Sub(n, how[n]) for n in range(SUBS)]
    for op in program:
        match op:
            case ("subscribe", n, projects, sprints):
                hub.subscribe(subs[n], projects, sprints)
            case ("unsubscribe", n, projects, sprints):
                hub.unsubscribe(subs[n], iter(projects), tuple(sprints))
            case ("remove", n):
                hub.remove(subs[n])
            case ("publish", evs):
                hub.publish(
                    [
                        probe(kind, pid, {} if sid is None else {"sprint_id": sid})
                        for kind, pid, sid in evs
                    ]
                )
        log.append([hub.subscriptions(s) for s in subs])
    for s in subs:
        if hasattr(s, "send_queue"):
            queued = []
            while (frame := s.send_queue.pop()) is not None:
                queued.append(frame)
            log.append(("send_queue", s.number, s.send_queue.closed, queued))
    log.append(("sent", hub.sent()))  # the metrics' broadcast counts
    return log


@PROPS
@given(program=operations, how=st.lists(reactions, min_size=SUBS, max_size=SUBS))
def test_rust_hub_and_twin_agree(
    program: list[tuple[Any, ...]], how: list[tuple[Any, ...]]
) -> None:
    want = run(twin_hub.Hub, twin_queue.SendQueue, program, how)
    # the Rust hub fills Rust send queues directly, twin send queues through deliver
    assert run(rust.Hub, rust.SendQueue, program, how) == want
    assert run(rust.Hub, twin_queue.SendQueue, program, how) == want
    assert run(twin_hub.Hub, rust.SendQueue, program, how) == want


@PROPS
@given(
    changes=st.lists(
        st.tuples(st.booleans(), slot, id_lists, sprint_lists), min_size=1, max_size=30
    )
)
def test_recipient_order_agrees(changes: list[tuple[bool, int, list[str], list[str]]]) -> None:
    """Every project x sprint combination after random (un)subscriptions: same order."""

    def deliveries(hub_cls: Callable[[], Any]) -> list[tuple[int, bytes]]:
        hub = hub_cls()
        hub.encoder = lambda event: f"{event.project_id}/{event.extra.get('sprint_id')}".encode()
        got: list[tuple[int, bytes]] = []

        class Sub:
            def __init__(self, number: int) -> None:
                self.number = number

            def deliver(self, frame: bytes) -> None:
                got.append((self.number, frame))

        subs = [Sub(n) for n in range(SUBS)]
        for add, n, projects, sprints in changes:
            (hub.subscribe if add else hub.unsubscribe)(subs[n], projects, sprints)
        hub.publish(
            [
                probe("x", pid, {"sprint_id": sid})
                for pid in [None, *PROJECTS]
                for sid in [None, *SPRINTS]
            ]
        )
        return got

    assert deliveries(rust.Hub) == deliveries(twin_hub.Hub)


queue_ops = st.lists(
    st.one_of(
        st.tuples(st.just("offer"), st.integers(0, 99)),
        st.tuples(st.just("pop")),
        st.tuples(st.just("park"), st.booleans()),
        st.tuples(st.just("close")),
        st.tuples(st.just("clear")),
        st.tuples(st.just("len")),
    ),
    max_size=40,
)


@PROPS
@given(limit=st.integers(0, 4), ops=queue_ops)
def test_rust_send_queue_and_twin_agree(limit: int, ops: list[tuple[Any, ...]]) -> None:
    def trace(make_queue: Callable[[int], Any]) -> list[object]:
        box = make_queue(limit)
        waiters: list[Waiter] = []
        out: list[object] = []
        for op in ops:
            match op:
                case ("offer", value):
                    out.append(box.offer(value))
                case ("pop",):
                    out.append(box.pop())
                case ("park", done):
                    waiters.append(Waiter(done))
                    box.park(waiters[-1])
                case ("close",):
                    box.close()
                case ("clear",):
                    box.clear()
                case ("len",):
                    out.append(len(box))
            out.append((box.closed, len(box), [w.results for w in waiters]))
        return out

    assert trace(rust.SendQueue) == trace(twin_queue.SendQueue)


# ------------------------------------------------------------------------ rate limiter
def test_rate_limiter_burst_then_refill() -> None:
    limiter = RateLimiter(3, 60.0)
    assert [limiter.allow() for _ in range(4)] == [True, True, True, False]
    limiter.stamp -= 20.0  # 20 s later: 3 per 60 s refills one token
    assert limiter.allow() is True
    assert limiter.allow() is False
    limiter.stamp -= 600.0  # never more than the capacity
    assert [limiter.allow() for _ in range(4)] == [True, True, True, False]


def test_close_reason_fits_a_close_frame() -> None:
    from pm_fast.api.ws_transport import MAX_REASON_BYTES, close_reason

    assert close_reason("short") == "short"
    long = "é" * 100  # 200 bytes of UTF-8
    cut = close_reason(long)
    assert len(cut.encode()) <= MAX_REASON_BYTES and long.startswith(cut)
    assert len(cut) == MAX_REASON_BYTES // 2  # whole characters only
