"""The circuit breaker's state machine and what counts as a database fault."""

from __future__ import annotations

import sqlite3

import pytest

from pm_fast.config import CircuitBreakerConfig
from pm_fast.core.errors import DomainError, invalid, not_found
from pm_fast.store.breaker import Breaker, is_fault


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def breaker(**kw: int) -> tuple[Breaker, Clock]:
    clock = Clock()
    return Breaker(CircuitBreakerConfig(**kw), clock), clock


FAULT = sqlite3.OperationalError("database is locked")


@pytest.mark.parametrize(
    ("err", "fault"),
    [
        (sqlite3.OperationalError("database or disk is full"), True),
        (sqlite3.OperationalError("disk I/O error"), True),
        (sqlite3.DatabaseError("database disk image is malformed"), True),
        (OSError("no space left on device"), True),
        (DomainError("SERVICE_UNAVAILABLE", "PostgreSQL is unreachable"), True),
        (sqlite3.IntegrityError("UNIQUE constraint failed"), False),
        (sqlite3.ProgrammingError("closed"), False),
        (sqlite3.DataError("too big"), False),
        (not_found("Work item x not found"), False),
        (invalid("bad", "title"), False),
        (DomainError("UNAUTHORIZED", "not a member"), False),
        (OverflowError("int too large"), False),
        (ValueError("Value out of range"), False),
    ],
)
def test_only_database_faults_count(err: BaseException, fault: bool) -> None:
    assert is_fault(err) is fault


def test_threshold_faults_open_it_and_a_success_resets_the_count() -> None:
    b, _ = breaker(failure_threshold=3)
    b.failed(FAULT)
    b.failed(FAULT)
    b.succeeded()  # resets
    b.failed(FAULT)
    b.failed(FAULT)
    assert b.state == "Closed"
    b.failed(FAULT)
    assert b.state == "Open"
    with pytest.raises(DomainError) as err:
        b.check()
    assert err.value.code == "SERVICE_UNAVAILABLE"
    assert err.value.message == "Service temporarily unavailable. Retry after 30 seconds"


def test_faults_further_apart_than_the_window_do_not_add_up() -> None:
    b, clock = breaker(failure_threshold=2, failure_window_secs=60)
    b.failed(FAULT)
    clock.now += 61
    b.failed(FAULT)
    assert b.state == "Closed"
    clock.now += 59
    b.failed(FAULT)
    assert b.state == "Open"


def test_it_half_opens_by_itself_and_closes_after_enough_successes() -> None:
    b, clock = breaker(failure_threshold=1, open_duration_secs=30, half_open_success_threshold=2)
    b.failed(FAULT)
    clock.now += 29.5
    with pytest.raises(DomainError) as err:
        b.check()
    assert err.value.message.endswith("Retry after 1 seconds")
    clock.now += 0.5
    assert b.state == "HalfOpen"
    b.check()  # calls pass again
    b.succeeded()
    assert b.state == "HalfOpen"
    b.succeeded()
    assert b.state == "Closed"


def test_a_fault_while_half_open_opens_it_again_for_a_full_period() -> None:
    b, clock = breaker(failure_threshold=5, open_duration_secs=10)
    for _ in range(5):
        b.failed(FAULT)
    clock.now += 10
    assert b.state == "HalfOpen"
    b.failed(FAULT)
    assert b.state == "Open"
    clock.now += 9
    assert b.state == "Open"
    clock.now += 1
    assert b.state == "HalfOpen"
