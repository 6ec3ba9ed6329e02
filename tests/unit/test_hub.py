"""Unit tests of the fan-out hub and the per-connection rate limiter."""

from __future__ import annotations

from pm_fast.api.ws import RateLimiter
from pm_fast.core.model import Event
from pm_fast.realtime.hub import Hub


class Sink:
    def __init__(self) -> None:
        self.frames: list[bytes] = []

    def deliver(self, frame: bytes) -> None:
        self.frames.append(frame)


def make_hub() -> tuple[Hub, list[str]]:
    encoded: list[str] = []
    hub = Hub()

    def encoder(event: Event) -> bytes:
        encoded.append(event.kind)
        return event.kind.encode()

    hub.encoder = encoder
    return hub, encoded


def ev(kind: str, project: str | None, sprint: str | None = None) -> Event:
    return Event(kind, project, None, "u", {"sprint_id": sprint} if sprint else {})


def test_events_reach_only_subscribers_of_their_project() -> None:
    hub, _ = make_hub()
    a, b, c = Sink(), Sink(), Sink()
    hub.subscribe(a, ["p1"])
    hub.subscribe(b, ["p1", "p2"])
    hub.subscribe(c, ["p3"])
    hub.publish([ev("x.created", "p1"), ev("y.created", "p2")])
    assert a.frames == [b"x.created"]
    assert b.frames == [b"x.created", b"y.created"]
    assert c.frames == []


def test_each_event_is_encoded_once_and_only_when_someone_listens() -> None:
    hub, encoded = make_hub()
    sinks = [Sink() for _ in range(50)]
    for s in sinks:
        hub.subscribe(s, ["p"])
    hub.publish([ev("a", "p"), ev("b", "nobody")])
    assert encoded == ["a"]
    assert all(s.frames == [b"a"] for s in sinks)
    assert len({id(s.frames[0]) for s in sinks}) == 1  # the very same bytes object


def test_sprint_scope_reaches_sprint_subscribers() -> None:
    hub, _ = make_hub()
    project_sub, sprint_sub, both = Sink(), Sink(), Sink()
    hub.subscribe(project_sub, ["p"])
    hub.subscribe(sprint_sub, [], ["s"])
    hub.subscribe(both, ["p"], ["s"])
    hub.publish([ev("activity.created", "p", sprint="s")])
    assert project_sub.frames == sprint_sub.frames == both.frames == [b"activity.created"]


def test_unsubscribe_and_remove() -> None:
    hub, _ = make_hub()
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


def test_rate_limiter_burst_then_refill() -> None:
    limiter = RateLimiter(3, 60.0)
    assert [limiter.allow() for _ in range(4)] == [True, True, True, False]
    limiter.stamp -= 20.0  # 20 s later: 3 per 60 s refills one token
    assert limiter.allow() is True
    assert limiter.allow() is False
    limiter.stamp -= 600.0  # never more than the capacity
    assert [limiter.allow() for _ in range(4)] == [True, True, True, False]
