"""The circuit breaker: database faults, not refusals, take the store offline for a while.

One breaker per process guards every store call of the edges. It counts only faults of
the database itself (SQLite "database is locked", "disk is full", I/O errors, a
corrupt file; PostgreSQL unreachable, out of disk), never a domain refusal such as
NOT_FOUND or a validation error, and never a bug in a program: a client cannot open it
by sending bad requests (the original counted those, spec ws-protocol §7 [7]).

Closed: calls pass; `failure_threshold` faults, each within `failure_window_secs` of
the previous one, open it; any success resets the count.
Open: calls fail at once with SERVICE_UNAVAILABLE; after `open_duration_secs` it turns
HalfOpen by itself.
HalfOpen: calls pass; `half_open_success_threshold` successes close it, one fault opens
it again.

`/ready` reports the state and answers 503 while it is Open, so a launcher or a load
balancer learns the truth about the database's ability to write.
"""

from __future__ import annotations

import logging
import math
import sqlite3
import time
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from ..config import CircuitBreakerConfig
from ..core.errors import DomainError
from .base import Program, Store

log = logging.getLogger("pm_fast")
T = TypeVar("T")

CLOSED, OPEN, HALF_OPEN = "Closed", "Open", "HalfOpen"


def is_fault(err: BaseException) -> bool:
    """Whether `err` says the database cannot do its work (as opposed to "no")."""
    if isinstance(err, DomainError):
        # The PostgreSQL store turns an unreachable or full database into this code.
        return err.code == "SERVICE_UNAVAILABLE"
    # Locked, full, read-only, I/O error; a corrupt file raises the base class itself.
    # Constraint, data and misuse errors are about the request or the code, not the
    # database's health.
    return (
        isinstance(err, sqlite3.OperationalError | sqlite3.InternalError | OSError)
        or type(err) is sqlite3.DatabaseError
    )


class Breaker:
    def __init__(
        self, cfg: CircuitBreakerConfig, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.cfg = cfg
        self.clock = clock
        self._state = CLOSED
        self._failures = 0
        self._last_failure = 0.0
        self._opened_at = 0.0
        self._successes = 0

    @property
    def state(self) -> str:
        if self._state == OPEN and self._remaining() <= 0:
            self._state = HALF_OPEN
            self._successes = 0
            log.info("circuit breaker half-open: letting requests try the database again")
        return self._state

    def _remaining(self) -> float:
        return self._opened_at + self.cfg.open_duration_secs - self.clock()

    def check(self) -> None:
        """Refuse at once while Open."""
        if self.state == OPEN:
            wait = max(1, math.ceil(self._remaining()))
            raise DomainError(
                "SERVICE_UNAVAILABLE",
                f"Service temporarily unavailable. Retry after {wait} seconds",
            )

    def succeeded(self) -> None:
        state = self.state
        if state == HALF_OPEN:
            self._successes += 1
            if self._successes >= self.cfg.half_open_success_threshold:
                self._state = CLOSED
                self._failures = 0
                log.info("circuit breaker closed: the database answers again")
        elif state == CLOSED:
            self._failures = 0

    def failed(self, err: BaseException) -> None:
        now = self.clock()
        state = self.state
        if state == HALF_OPEN:
            self._open(now, err)
            return
        if state == OPEN:
            return
        if self._failures and now - self._last_failure > self.cfg.failure_window_secs:
            self._failures = 0
        self._failures += 1
        self._last_failure = now
        if self._failures >= self.cfg.failure_threshold:
            self._open(now, err)

    def _open(self, now: float, err: BaseException) -> None:
        self._state = OPEN
        self._opened_at = now
        self._failures = 0
        log.error(
            "circuit breaker open for %ss after database faults (last: %s)",
            self.cfg.open_duration_secs,
            err,
        )


class GuardedStore:
    """A store whose calls go through a breaker; everything else is the inner store's."""

    def __init__(self, inner: Store, breaker: Breaker) -> None:
        self.inner = inner
        self.breaker = breaker

    def _settle(self, err: BaseException | None) -> None:
        if err is None:
            self.breaker.succeeded()
        elif is_fault(err):
            self.breaker.failed(err)

    async def write(self, program: Program[T]) -> T:
        self.breaker.check()
        try:
            result = await self.inner.write(program)
        except Exception as err:
            self._settle(err)
            raise
        self._settle(None)
        return result

    async def read(self, program: Program[T], point: bool = False) -> T:
        self.breaker.check()
        try:
            result = await self.inner.read(program, point)
        except Exception as err:
            self._settle(err)
            raise
        self._settle(None)
        return result

    async def read_cached(
        self, key: Hashable, program: Program[T], encode: Callable[[T], bytes]
    ) -> bytes:
        self.breaker.check()
        try:
            result = await self.inner.read_cached(key, program, encode)
        except Exception as err:
            self._settle(err)
            raise
        self._settle(None)
        return result

    def still_cached(self, key: Hashable, body: bytes) -> bool:
        """Only while the breaker is closed: otherwise the read goes through `read_cached`,
        which the breaker refuses (open) or learns from (half-open)."""
        return self.breaker.state == CLOSED and self.inner.still_cached(key, body)

    async def ping(self) -> float:
        """The readiness probe reports for itself: the breaker neither refuses it nor
        learns from it (a `SELECT 1` that answers proves nothing about writes, and a
        health poller must not be what keeps the breaker open)."""
        return await self.inner.ping()

    async def checkpoint(self) -> None:
        await self.inner.checkpoint()

    async def close(self) -> None:
        await self.inner.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)
