"""A connection's queue of outgoing frames: the pure-Python twin of `pm_fast_ext.SendQueue`.

One writer task drains it; broadcasts and replies are offered to it. It holds at most
`limit` frames (0: no limit): `offer` refuses a frame when it is full or closed, and the
caller decides what that means (a broadcast closes a slow subscriber, a reply waits for
room). A successful `offer`, and `close`, wake the writer parked with `park(future)`
(the future's result is set to None unless it is already done, e.g. cancelled).
"""

from __future__ import annotations

from collections import deque
from typing import Any, Protocol


class SendQueueApi(Protocol):
    """What the server uses of a send queue: `SendQueue` below or `pm_fast_ext.SendQueue`."""

    @property
    def limit(self) -> int: ...

    @property
    def closed(self) -> bool: ...

    def __len__(self) -> int: ...

    def offer(self, frame: object) -> bool: ...

    def pop(self) -> Any | None: ...

    def park(self, waiter: Any) -> None: ...

    def close(self) -> None: ...

    def clear(self) -> None: ...


class SendQueue:
    __slots__ = ("_closed", "_frames", "_limit", "_waiter")

    def __init__(self, limit: int) -> None:
        if limit < 0:
            raise ValueError(f"limit must be >= 0, got {limit}")
        self._frames: deque[object] = deque()
        self._limit = limit
        self._closed = False
        self._waiter: Any = None

    @property
    def limit(self) -> int:
        return self._limit

    @property
    def closed(self) -> bool:
        return self._closed

    def __len__(self) -> int:
        return len(self._frames)

    def offer(self, frame: object) -> bool:
        """Append `frame` unless the queue is full or closed; True if it was appended."""
        if self._closed or (self._limit and len(self._frames) >= self._limit):
            return False
        self._frames.append(frame)
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)
        return True

    def pop(self) -> Any | None:
        """The oldest frame, removed; None when there is none."""
        return self._frames.popleft() if self._frames else None

    def park(self, waiter: Any) -> None:
        """Wake `waiter` (an asyncio future) on the next successful `offer` or `close`."""
        self._waiter = waiter

    def close(self) -> None:
        """Refuse any further frame (those queued stay) and wake the parked writer."""
        self._closed = True
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def clear(self) -> None:
        """Drop the queued frames and the parked waiter."""
        self._frames.clear()
        self._waiter = None
