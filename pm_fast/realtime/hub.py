"""Fan-out of committed events to subscribers.

The WebSocket edge registers subscribers here; REST and WebSocket mutations publish
through the same call, so both reach every subscriber.
"""

from __future__ import annotations

from collections.abc import Callable

from ..core.model import Event

Subscriber = Callable[[list[Event]], None]


class Hub:
    __slots__ = ("_subscribers",)

    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []

    def subscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.append(subscriber)

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.remove(subscriber)

    def publish(self, events: list[Event]) -> None:
        for subscriber in self._subscribers:
            subscriber(events)
