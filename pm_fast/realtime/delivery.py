"""Flow control between the mutations that produce events and the connections that
send them (docs/delivery.md).

Every open WebSocket is a `Feed`: its queue of frames not yet sent (shared `bytes`
objects: the hub encodes an event once and queues the same object for every
recipient) and the time its writer last made progress (a send completed, or it woke
up to a queue that had been empty). Three states follow from those two numbers:

* *reading*: nothing pending, or a send completed less than `lag` s ago;
* *lagging*: frames pending and no progress for `lag` s (on its way to stuck);
* *stuck*: frames pending and no progress for `stuck` s (`websocket.stuck_client_secs`).

`admit` is awaited by every mutation before it runs (REST and WebSocket, through
`App.commit`): it returns at once unless a *reading* feed has more than `bound` frames
pending, and otherwise waits until none has (writers wake it as they drain). A lagging
or stuck feed never holds a mutation back, so one client that stops reading cannot
stall the others; the watchdog closes stuck feeds. Events published without a mutation
of this process (other processes' events from the PostgreSQL bus) are never refused:
they are already committed; admission of this process's own mutations still bounds how
far a reading feed falls behind here.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol

from ..core.errors import DomainError

# How long a mutation waits for admission before it gives up (with nothing written):
# below the WebSocket request timeout, so both edges answer SERVICE_UNAVAILABLE.
ADMIT_TIMEOUT = 20.0

# The most frames one connection may have queued (references to shared frames; about
# 8 bytes each). Admission keeps reading connections near `bound`; only a lagging
# connection, or a flood of other processes' events, gets this far: it is closed.
BACKLOG_LIMIT = 100_000


class Feed(Protocol):
    """What flow control reads of a connection (`pm_fast.api.ws.Connection`)."""

    def pending(self) -> int:
        """Frames queued and not yet handed to the transport."""

    @property
    def progress(self) -> float:
        """`time.monotonic()` of the writer's last progress."""

    def behind(self) -> int:
        """Frames queued, not counting those of a replay of the event log the client
        asked for (exact resume): that is not a lag behind the producers."""

    def stuck(self, pending: int, idle: float) -> None:
        """Close: `pending` frames and no progress for `idle` s."""


class Delivery:
    __slots__ = ("_wake", "_watchdog", "blocker", "bound", "feeds", "lag", "stuck")

    def __init__(self, bound: int, stuck: float) -> None:
        self.bound = bound
        self.stuck = stuck
        # lagging after a quarter of the stuck time, at most 1 s
        self.lag = min(1.0, stuck / 4)
        self.feeds: set[Feed] = set()
        self._wake: asyncio.Future[None] | None = None
        # the feed the waiting mutations found behind: only its draining wakes them (so
        # that a hundred subscribers sending do not wake them for every frame); a
        # writer calls `drained` only while it is the blocker
        self.blocker: Feed | None = None
        self._watchdog: asyncio.Task[None] | None = None

    # -- connections ------------------------------------------------------------------
    def add(self, feed: Feed) -> None:
        self.feeds.add(feed)
        if self._watchdog is None or self._watchdog.done():
            self._watchdog = asyncio.get_running_loop().create_task(self._watch())

    def discard(self, feed: Feed) -> None:
        self.feeds.discard(feed)
        self.wake()  # a mutation may be waiting for this one

    # -- producers --------------------------------------------------------------------
    def behind(self) -> Feed | None:
        """A reading feed with more than `bound` frames pending, if any."""
        bound = self.bound
        now = 0.0
        for feed in self.feeds:
            if feed.behind() > bound:
                now = now or time.monotonic()
                if now - feed.progress < self.lag:
                    return feed
        return None

    async def admit(self) -> None:
        """Return when no reading feed is more than `bound` frames behind.

        Raises SERVICE_UNAVAILABLE after `ADMIT_TIMEOUT` s (the mutation has not run)."""
        if not self.feeds:
            return
        blocker = self.behind()
        if blocker is None:
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + ADMIT_TIMEOUT
        while blocker is not None:
            self.blocker = blocker
            left = deadline - loop.time()
            if left <= 0:
                raise DomainError(
                    "SERVICE_UNAVAILABLE",
                    "The server is still delivering earlier changes to subscribers."
                    " Please try again.",
                )
            wake = self._wake
            if wake is None or wake.done():
                wake = self._wake = loop.create_future()
            # re-check at least every `lag` s: a feed that stops progressing turns
            # lagging without any send to wake us
            await asyncio.wait((wake,), timeout=min(left, self.lag / 2))
            blocker = self.behind()

    # -- writers ----------------------------------------------------------------------
    def drained(self, feed: Feed, pending: int) -> None:
        """`feed`'s writer completed a send and has `pending` frames left (not counting
        a replay): waiting mutations look again once the feed that held them is back
        within the bound."""
        if self._wake is not None and pending <= self.bound and feed is self.blocker:
            self.wake()

    def wake(self) -> None:
        self.blocker = None
        wake, self._wake = self._wake, None
        if wake is not None and not wake.done():
            wake.set_result(None)

    # -- watchdog ---------------------------------------------------------------------
    async def _watch(self) -> None:
        """Close stuck feeds; runs while there are feeds.

        A feed's idle time counts from its last progress or from the first check that
        found it with frames pending since that progress, whichever is later: a writer
        woken for a frame after a long quiet spell has not had its turn yet."""
        step = min(1.0, self.stuck / 8)
        seen: dict[Feed, tuple[float, float]] = {}  # feed -> (progress, first seen)
        while self.feeds:
            await asyncio.sleep(step)
            now = time.monotonic()
            for feed in list(self.feeds):
                pending = feed.pending()
                progress = feed.progress
                if not pending:
                    seen.pop(feed, None)
                    continue
                mark = seen.get(feed)
                if mark is None or mark[0] != progress:
                    seen[feed] = mark = (progress, now)
                idle = now - max(progress, mark[1])
                if idle >= self.stuck:
                    self.feeds.discard(feed)
                    seen.pop(feed, None)
                    feed.stuck(pending, now - progress)
            for feed in [f for f in seen if f not in self.feeds]:
                del seen[feed]
            self.wake()  # lagging feeds may have appeared: waiting mutations re-check
