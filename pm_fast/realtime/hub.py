"""Fan-out of committed events to subscribed connections.

Connections register the project and sprint ids they may see. `publish` turns each
event into one frame (encoded once, only if somebody listens) and hands the same bytes
to every matching connection, in commit order. REST and WebSocket mutations publish
through the same call.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol

from ..core.model import Event


class Subscriber(Protocol):
    def deliver(self, frame: bytes) -> None:
        """Queue a broadcast frame without waiting (slow consumers are dropped)."""


Encoder = Callable[[Event], "bytes | None"]


class Hub:
    __slots__ = ("_by_project", "_by_sprint", "_subs", "encoder")

    def __init__(self) -> None:
        self._by_project: dict[str, set[Subscriber]] = {}
        self._by_sprint: dict[str, set[Subscriber]] = {}
        self._subs: dict[Subscriber, tuple[set[str], set[str]]] = {}
        self.encoder: Encoder | None = None

    def subscribe(
        self, sub: Subscriber, project_ids: Iterable[str], sprint_ids: Iterable[str] = ()
    ) -> None:
        projects, sprints = self._subs.setdefault(sub, (set(), set()))
        for pid in project_ids:
            projects.add(pid)
            self._by_project.setdefault(pid, set()).add(sub)
        for sid in sprint_ids:
            sprints.add(sid)
            self._by_sprint.setdefault(sid, set()).add(sub)

    def unsubscribe(
        self, sub: Subscriber, project_ids: Iterable[str], sprint_ids: Iterable[str] = ()
    ) -> None:
        entry = self._subs.get(sub)
        if entry is None:
            return
        for ids, index, own in (
            (project_ids, self._by_project, entry[0]),
            (sprint_ids, self._by_sprint, entry[1]),
        ):
            for key in ids:
                own.discard(key)
                members = index.get(key)
                if members is not None:
                    members.discard(sub)
                    if not members:
                        del index[key]

    def remove(self, sub: Subscriber) -> None:
        projects, sprints = self.subscriptions(sub)
        self.unsubscribe(sub, projects, sprints)
        self._subs.pop(sub, None)

    def subscriptions(self, sub: Subscriber) -> tuple[set[str], set[str]]:
        projects, sprints = self._subs.get(sub, (set(), set()))
        return set(projects), set(sprints)

    def publish(self, events: list[Event]) -> None:
        encoder = self.encoder
        if encoder is None or not self._subs:
            return
        for event in events:
            targets: set[Subscriber] = set()
            if event.project_id is not None:
                targets |= self._by_project.get(event.project_id, set())
            sprint = event.extra.get("sprint_id")
            if isinstance(sprint, str):
                targets |= self._by_sprint.get(sprint, set())
            if not targets:
                continue
            frame = encoder(event)
            if frame is None:
                continue
            for sub in targets:
                sub.deliver(frame)
