"""The event log's rules (realtime/eventlog.py) on an in-memory SQLite database."""

from __future__ import annotations

import sqlite3
from typing import Any, cast

import pytest

from pm_fast.core.model import Event, WorkItemCreated
from pm_fast.realtime import eventlog


def _db() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    eventlog.sqlite_prepare(conn)
    return conn


def _events(project: str | None, n: int) -> list[Event]:
    # the entities are labels here: the log stores them without looking at them
    return [WorkItemCreated(project, cast(Any, f"e{i}"), "u") for i in range(n)]


def _rows(conn: sqlite3.Connection, pid: str, after: int, upto: int) -> list[eventlog.Row]:
    return [
        (int(f), bytes(p), int(c))
        for f, p, c in conn.execute(eventlog.ROWS, (pid, after + 1, upto, 1000))
    ]


@pytest.mark.parametrize(
    ("after", "oldest", "last", "ok"),
    [
        (0, None, 0, True),  # nothing ever happened, nothing missed
        (5, None, 5, True),  # all pruned, but nothing after 5
        (4, None, 5, False),  # event 5 is gone
        (0, 1, 9, True),
        (3, 4, 9, True),  # the first missed one is the oldest kept
        (2, 4, 9, False),  # event 3 is gone
        (9, 4, 9, True),
        (10, 4, 9, False),  # a number never given
        (-1, 1, 9, False),
    ],
)
def test_resumable(after: int, oldest: int | None, last: int, ok: bool) -> None:
    assert eventlog.resumable(after, oldest, last) is ok
    if not ok:
        err = eventlog.resync("p", after, oldest, last)
        assert err.code == "RESYNC_REQUIRED" and "p" in err.message


def test_a_resume_past_what_this_server_has_received_is_refused_in_its_words() -> None:
    err = eventlog.not_received("p", 12, 9)
    assert err.code == "RESYNC_REQUIRED"
    assert err.message == (
        "Cannot resume project p after event 12: this server has not received events after"
        " 9 yet. Reload the project and subscribe again."
    )


def test_numbers_are_per_project_gapless_and_in_order() -> None:
    conn = _db()
    a1, b1, a2 = _events("a", 2), _events("b", 3), _events("a", 1)
    none = _events(None, 1)
    eventlog.sqlite_log(conn, a1 + b1 + none, 10)
    eventlog.sqlite_log(conn, a2, 11)
    assert [e.seq for e in a1 + a2] == [1, 2, 3]
    assert [e.seq for e in b1] == [1, 2, 3]
    assert none[0].seq == 0  # an event of no project has no place in a log
    assert dict(conn.execute(eventlog.POSITIONS).fetchall()) == {"a": 3, "b": 3}
    decoded = eventlog.decode_rows(_rows(conn, "a", 0, 3), 0, 3)
    assert [(e.seq, str(e.entity), t) for e, t in decoded] == [
        (1, "e0", 10),
        (2, "e1", 10),
        (3, "e0", 11),
    ]
    # a range that starts inside a row and ends before the last one
    middle = eventlog.decode_rows(_rows(conn, "b", 1, 2), 1, 2)
    assert [e.seq for e, _ in middle] == [2]
    assert conn.execute(eventlog.BOUNDS, ("a",)).fetchone() == (1, 3)
    assert conn.execute(eventlog.BOUNDS, ("zzz",)).fetchone() == (None, 0)


def test_a_rolled_back_change_gives_its_numbers_back() -> None:
    conn = _db()
    eventlog.sqlite_log(conn, _events("a", 1), 1)
    conn.execute("BEGIN")
    conn.execute("SAVEPOINT program")
    eventlog.sqlite_log(conn, _events("a", 2), 2)
    conn.execute("ROLLBACK TO program")
    conn.execute("RELEASE program")
    after = _events("a", 1)
    eventlog.sqlite_log(conn, after, 3)
    conn.execute("COMMIT")
    assert after[0].seq == 2
    assert [e.seq for e, _ in eventlog.decode_rows(_rows(conn, "a", 0, 9), 0, 9)] == [1, 2]


def test_pruning_keeps_the_counters() -> None:
    conn = _db()
    eventlog.sqlite_log(conn, _events("a", 2), 100)
    eventlog.sqlite_log(conn, _events("a", 2), 200)
    conn.execute(eventlog.PRUNE, (150,))
    assert conn.execute(eventlog.BOUNDS, ("a",)).fetchone() == (3, 4)
    assert not eventlog.resumable(1, 3, 4) and eventlog.resumable(2, 3, 4)
    later = _events("a", 1)
    eventlog.sqlite_log(conn, later, 300)
    assert later[0].seq == 5


def test_published_positions_only_rise() -> None:
    log = eventlog.EventLog(60)
    log.start({"a": 4})
    events = _events("a", 2) + _events(None, 1)
    eventlog.number(events[:2], 6)
    log.note(events)
    assert log.position("a") == 6 and log.position("b") == 0
    log.start({"a": 5})  # never back
    late = _events("a", 1)
    late[0].seq = 3
    log.note(late)
    assert log.published == {"a": 6}
