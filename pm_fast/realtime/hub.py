"""Fan-out of committed events to subscribed connections.

Connections register the project and sprint ids they may see. `publish` turns each
event into one frame (encoded once, only if somebody listens) and hands the same frame
to every matching connection, in commit order. REST and WebSocket mutations publish
through the same call.

This is the pure-Python twin of `pm_fast_ext.Hub` (`pm_fast_ext/src/hub.rs`, index in
`fanout.rs`); `pm_fast.accel` picks one. Both follow the same contract, which the tests
compare delivery by delivery:

* recipients of an event: the subscribers of `event.project_id` in the order they
  subscribed to that project, then the subscribers of `event.extra["sprint_id"]` (when
  it is a string) not already among them, in the order they subscribed to that sprint;
  subscribing again to an id keeps the earlier place, unsubscribing and subscribing
  again moves to the end;
* the recipients are fixed before the event's frame is encoded and delivered: a
  `deliver` (or the encoder) may subscribe, unsubscribe or remove anyone, which affects
  the next events only;
* subscribers are told apart by identity; `remove` drops the hub's reference;
* an error from the encoder or a `deliver` stops `publish` (after the recipients of that
  event that come before the failing one);
* `sent()` counts, per event kind, the events whose frame was encoded (not None) and the
  recipients it was then offered to (for `GET /metrics`: read at scrape time, so the
  fan-out pays one dictionary update per event, not per frame).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Protocol

from ..core.model import Event


class Subscriber(Protocol):
    """Something that receives broadcast frames.

    A subscriber may also have a ``send_queue`` attribute holding a `pm_fast_ext.SendQueue`;
    the Rust hub then offers each frame to that queue itself and calls ``deliver`` only
    for frames the queue refuses. ``deliver`` must therefore begin with
    ``if not self.send_queue.offer(frame): ...`` (as `pm_fast.api.ws.Connection` does).
    """

    def deliver(self, frame: bytes) -> None:
        """Queue a broadcast frame without waiting (slow consumers are dropped)."""


Encoder = Callable[[Event], "bytes | None"]


class HubApi(Protocol):
    """What the server uses of a hub: `Hub` below or `pm_fast_ext.Hub`."""

    encoder: Encoder | None

    def subscribe(
        self, sub: Subscriber, project_ids: Iterable[str], sprint_ids: Iterable[str] = ()
    ) -> None: ...

    def unsubscribe(
        self, sub: Subscriber, project_ids: Iterable[str], sprint_ids: Iterable[str] = ()
    ) -> None: ...

    def remove(self, sub: Subscriber) -> None: ...

    def subscriptions(self, sub: Subscriber) -> tuple[set[str], set[str]]: ...

    def publish(self, events: Iterable[Event]) -> None: ...

    def sent(self) -> dict[str, tuple[int, int]]: ...


class Hub:
    __slots__ = ("_by_project", "_by_sprint", "_sent", "_subs", "encoder")

    def __init__(self) -> None:
        # id(subscriber) → subscriber, in order: insertion-ordered sets
        self._by_project: dict[str, dict[int, Subscriber]] = {}
        self._by_sprint: dict[str, dict[int, Subscriber]] = {}
        self._subs: dict[int, tuple[Subscriber, set[str], set[str]]] = {}
        self.encoder: Encoder | None = None
        # event kind -> [events broadcast, frames offered to subscribers] (metrics)
        self._sent: dict[str, list[int]] = {}

    def subscribe(
        self, sub: Subscriber, project_ids: Iterable[str], sprint_ids: Iterable[str] = ()
    ) -> None:
        key = id(sub)
        entry = self._subs.get(key)
        if entry is None:
            entry = self._subs[key] = (sub, set(), set())
        for pid in project_ids:
            entry[1].add(pid)
            self._by_project.setdefault(pid, {}).setdefault(key, sub)
        for sid in sprint_ids:
            entry[2].add(sid)
            self._by_sprint.setdefault(sid, {}).setdefault(key, sub)

    def unsubscribe(
        self, sub: Subscriber, project_ids: Iterable[str], sprint_ids: Iterable[str] = ()
    ) -> None:
        key = id(sub)
        entry = self._subs.get(key)
        if entry is None:
            return
        index: dict[str, dict[int, Subscriber]]
        for ids, index, own in (
            (project_ids, self._by_project, entry[1]),
            (sprint_ids, self._by_sprint, entry[2]),
        ):
            for name in ids:
                own.discard(name)
                members = index.get(name)
                if members is not None:
                    members.pop(key, None)
                    if not members:
                        del index[name]

    def remove(self, sub: Subscriber) -> None:
        entry = self._subs.get(id(sub))
        if entry is None:
            return
        self.unsubscribe(sub, list(entry[1]), list(entry[2]))
        del self._subs[id(sub)]

    def subscriptions(self, sub: Subscriber) -> tuple[set[str], set[str]]:
        entry = self._subs.get(id(sub))
        if entry is None:
            return set(), set()
        return set(entry[1]), set(entry[2])

    def publish(self, events: Iterable[Event]) -> None:
        encoder = self.encoder
        if encoder is None or not self._subs:
            return
        by_project, by_sprint = self._by_project, self._by_sprint
        for event in events:
            pid: Any = event.project_id
            members = by_project.get(pid) if isinstance(pid, str) else None
            sid = event.extra.get("sprint_id")
            also = by_sprint.get(sid) if isinstance(sid, str) else None
            if members:
                targets = list(members.values())
                if also:
                    targets += [s for k, s in also.items() if k not in members]
            elif also:
                targets = list(also.values())
            else:
                continue
            frame = encoder(event)
            if frame is None:
                continue
            counts = self._sent.get(event.kind)
            if counts is None:
                counts = self._sent[event.kind] = [0, 0]
            counts[0] += 1
            counts[1] += len(targets)
            for sub in targets:
                sub.deliver(frame)

    def sent(self) -> dict[str, tuple[int, int]]:
        """Per event kind: (events broadcast, frames offered to subscribers) so far."""
        return {kind: (c[0], c[1]) for kind, c in self._sent.items()}
