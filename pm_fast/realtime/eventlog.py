"""Exact resume: every project's events, numbered in commit order and kept for a while.

Each event of a project gets the next number of that project's sequence (1, 2, 3, ...)
inside the transaction of its change, so the numbers are gapless and their order is
commit order (docs/events.md):

* SQLite (one process, one writer): `log_events` below, called by the store's `emit`;
* PostgreSQL: the outbox append (`pm_fast_outbox_append_seq`, schema migration 7), under
  the project's outbox lock that is held until commit.

Both keep the numbered events in pm-fast's own tables (`pm_fast_event_seq`: the last
number per project; `pm_fast_events`: one row per change and project holding the
change's events, `first_seq..last_seq`), never in the original's tables, so a database
pm-fast wrote still opens in pm-server. Rows older than `websocket.event_retention_secs`
are deleted.

This process also remembers, per project, the highest number it has handed to its hub
(`EventLog.published`): every event up to it has been broadcast here (or committed
before this process started), every later one will be, in order. A resume uses it to
switch from the log to live delivery without a gap or a duplicate (`api/ws.py`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

from ..core.errors import DomainError
from ..core.model import Event
from .bus import decode_events, encode_events

# Rows read per step of a replay (each row holds one change's events of one project).
REPLAY_CHUNK = 500


class EventLog:
    """This process's view of the event log: what it has broadcast, per project."""

    __slots__ = ("published", "retention")

    def __init__(self, retention: int) -> None:
        self.retention = retention
        self.published: dict[str, int] = {}

    def note(self, events: Iterable[Event]) -> None:
        """Events about to be handed to the hub (in commit order per project)."""
        published = self.published
        for event in events:
            seq = event.seq
            if seq:
                pid: Any = event.project_id
                if seq > published.get(pid, 0):
                    published[pid] = seq

    def start(self, positions: dict[str, int]) -> None:
        """The last numbers committed before this process serves (or started listening
        to other processes): events up to them are never broadcast here."""
        published = self.published
        for pid, last in positions.items():
            if last > published.get(pid, 0):
                published[pid] = last

    def position(self, project_id: str) -> int:
        return self.published.get(project_id, 0)


def group(events: Iterable[Event]) -> dict[str, list[Event]]:
    """The events that belong to a project's log, by project, in order."""
    groups: dict[str, list[Event]] = {}
    for event in events:
        if event.project_id:
            groups.setdefault(event.project_id, []).append(event)
    return groups


def number(events: Sequence[Event], last: int) -> None:
    """Give `events` (one project's, in order) the numbers ending at `last`."""
    first = last - len(events) + 1
    for i, event in enumerate(events):
        event.seq = first + i


Row = tuple[int, bytes, int]  # first_seq, payload, created_at


def decode_rows(rows: Iterable[Row], after: int, upto: int) -> list[tuple[Event, int]]:
    """The events of log rows numbered in (after, upto], each with its commit time."""
    out: list[tuple[Event, int]] = []
    for first, payload, created in rows:
        for i, event in enumerate(decode_events(payload)):
            seq = first + i
            if after < seq <= upto:
                event.seq = seq
                out.append((event, created))
    return out


def resumable(after: int, oldest: int | None, last: int) -> bool:
    """Whether every event of a project after `after` is still in the log: `oldest` is
    the first number kept (None: no row kept), `last` the project's last number."""
    if after > last or after < 0:
        return False  # a position this database never gave (restored backup, other server)
    if after == last:
        return True
    return oldest is not None and oldest <= after + 1


def resync(project_id: str, after: int, oldest: int | None, last: int) -> DomainError:
    if after > last:
        why = f"the project's last event is {last}"
    elif oldest is None:
        why = f"no event after {after} is kept any more (the last is {last})"
    else:
        why = f"the oldest event kept is {oldest}"
    return DomainError(
        "RESYNC_REQUIRED",
        f"Cannot resume project {project_id} after event {after}: {why}."
        " Reload the project and subscribe again.",
    )


def not_received(project_id: str, after: int, last: int) -> DomainError:
    """A resume after `after` that this server cannot serve yet: its log ends at `last`
    (on PostgreSQL, another process committed later events that this one has not read;
    the edge gives up after waiting for them, ws.RESUME_CATCH_UP)."""
    return DomainError(
        "RESYNC_REQUIRED",
        f"Cannot resume project {project_id} after event {after}: this server has not"
        f" received events after {last} yet. Reload the project and subscribe again.",
    )


# -- SQLite ------------------------------------------------------------------------------
SQLITE_SCHEMA = """
CREATE TABLE IF NOT EXISTS pm_fast_event_seq (
    project_id TEXT PRIMARY KEY,
    last_seq INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS pm_fast_events (
    project_id TEXT NOT NULL,
    first_seq INTEGER NOT NULL,
    last_seq INTEGER NOT NULL,
    payload BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (project_id, first_seq)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS idx_pm_fast_events_created ON pm_fast_events(created_at);
"""

_NEXT = (
    "INSERT INTO pm_fast_event_seq (project_id, last_seq) VALUES (?, ?)"
    " ON CONFLICT (project_id) DO UPDATE SET last_seq = last_seq + excluded.last_seq"
    " RETURNING last_seq"
)
_INSERT = (
    "INSERT INTO pm_fast_events (project_id, first_seq, last_seq, payload, created_at)"
    " VALUES (?, ?, ?, ?, ?)"
)
# The rows holding numbers after ?2 - 1 up to ?3: rows are contiguous and do not
# overlap, so the first one is the row that starts at or before ?2.
ROWS = (
    "SELECT first_seq, payload, created_at FROM pm_fast_events WHERE project_id = ?1"
    " AND first_seq >= "
    "COALESCE((SELECT MAX(first_seq) FROM pm_fast_events WHERE project_id = ?1"
    " AND first_seq <= ?2), 0) AND first_seq <= ?3 ORDER BY first_seq LIMIT ?4"
)
BOUNDS = (
    "SELECT (SELECT MIN(first_seq) FROM pm_fast_events WHERE project_id = ?1),"
    " COALESCE((SELECT last_seq FROM pm_fast_event_seq WHERE project_id = ?1), 0)"
)
POSITIONS = "SELECT project_id, last_seq FROM pm_fast_event_seq"
PRUNE = "DELETE FROM pm_fast_events WHERE created_at < ?"


def sqlite_prepare(conn: sqlite3.Connection) -> None:
    conn.executescript(SQLITE_SCHEMA)


def sqlite_log(conn: sqlite3.Connection, events: Iterable[Event], now: int) -> None:
    """Number `events` and append them to the log, in the caller's transaction."""
    for pid, mine in group(events).items():
        (last,) = conn.execute(_NEXT, (pid, len(mine))).fetchone()
        number(mine, int(last))
        conn.execute(_INSERT, (pid, mine[0].seq, int(last), encode_events(mine), now))
