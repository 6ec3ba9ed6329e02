"""PostgreSQL store: the same programs as the SQLite store, on an asyncpg pool.

A program (see `store.base`) runs on one pooled connection inside one transaction;
each operation it yields is awaited on that connection. `PgTx` offers exactly the
operations of `SqliteTx`, with the same results (orderings, soft-delete filters, the
display key, computed `is_running`, boolean `is_default`).

Several pm-fast processes may share one database, so what SQLite gets from its single
writer has to be said explicitly here (all under READ COMMITTED, where each statement
sees what committed before it started):

* Versioned rows (projects, sprints, work items) are written with optimistic locking:
  the transaction remembers the version it read, and the UPDATE only applies if the row
  still has it (and is live). If another process changed it in between, the UPDATE
  waits for that commit, matches nothing, and the mutation fails with CONFLICT — the
  error a client already gets for a stale `expected_version`. No read takes a lock, so
  concurrent edits never deadlock.
* Unversioned rows that are read and rewritten whole (comments, time entries) are read
  `FOR NO KEY UPDATE` in write transactions, so the second writer sees the first's
  result, as it would on SQLite.
* Rules that look at other rows before writing are made atomic by locking what they
  depend on before looking: the project row for "one active sprint" and "no delete
  with live items", the user row for "one running timer", the item row for "no delete
  with live children" (and a new child re-checks its parent after the foreign-key
  lock); transaction-scoped advisory locks for sibling positions (per project),
  dependency rules (duplicates, cycles, 50-link limits) and idempotency keys.
* Item numbers come from `UPDATE pm_projects ... RETURNING` (a row lock), so they are
  unique across processes. While another create of the same project is under way in
  this process, a create takes its number and sibling position in a short transaction
  of its own (`pm_fast_item_reserve`, schema migration 8, on a small pool of its own)
  before its item is inserted: creates of one project take turns only for that
  statement, not until their COMMIT. The position is above every live sibling and every
  position claimed by a create still running (a claim row, deleted by the create's own
  commit), so positions stay distinct and increasing in creation order.

Round trips: a lone REST create is BEGIN, `pm_fast_item_create` (number, position and
row, holding the position lock until commit), activity + outbox, COMMIT; one among
others adds the reserve (outside the transaction) and inserts with
`pm_fast_item_insert`. A WebSocket create adds its idempotency lookup (lock and read:
`pm_fast_idem_get`) and its role check (the project's state and members: one
statement). Writes whose results nobody reads (activity rows, the stored reply of an
idempotent create) wait for the next statement of the transaction, so a mutation's last
ones travel with its outbox row: 6 round trips for a WebSocket create (10 before).

Connection failures become `SERVICE_UNAVAILABLE`; deadlocks and serialization failures
(which the rules above should make impossible) become `CONFLICT`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

import asyncpg  # type: ignore[import-untyped]
from msgspec import structs

from ..core.errors import DomainError, conflict, invalid, not_found
from ..core.model import (
    ActivityEntry,
    Dependency,
    Event,
    Project,
    Sprint,
    TimeEntry,
    WorkItem,
)
from ..metrics import STATS
from ..realtime.bus import RETENTION_SECS, Bus, chained
from . import sql
from .base import AsyncTx, Program, Tx
from .llm_seed import seed_rows
from .postgres_schema import BOOKKEEPING, MIGRATION_LOCK_KEY, MIGRATIONS

log = logging.getLogger("pm_fast")
T = TypeVar("T")

CONNECT_TIMEOUT = 5.0
ACQUIRE_TIMEOUT = 10.0
PING_TIMEOUT = 3.0
COMMAND_TIMEOUT = 60.0
POOL_MIN = 2
POOL_MAX = 16
DEPENDENCY_LOCK = "pm_fast:dependencies"


class StoreOpenError(Exception):
    """PostgreSQL cannot be reached or is not a pm-fast database."""


def unavailable() -> DomainError:
    return DomainError(
        "SERVICE_UNAVAILABLE", "Service temporarily unavailable. Retry after 5 seconds"
    )


# Errors that mean "the database is not there right now" rather than "this request is bad".
_UNAVAILABLE: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.InsufficientResourcesError,
    asyncpg.exceptions.CannotConnectNowError,
)


# Values a client may send that SQLite stores and PostgreSQL refuses (docs/compat.md):
# the NUL character in text, and text longer than a B-tree index entry can hold (about
# 2,700 bytes) in an indexed column (a project key, an idempotent request's message id).
_NUL_REFUSED: tuple[type[BaseException], ...] = (
    asyncpg.exceptions.CharacterNotInRepertoireError,
    asyncpg.exceptions.UntranslatableCharacterError,
)
NUL_MESSAGE = (
    "Validation failed: text cannot contain the NUL character (U+0000) on this server's"
    " database (PostgreSQL)"
)
TOO_LONG_MESSAGE = (
    "Validation failed: a value is too long for this server's database (PostgreSQL"
    " indexes at most about 2,700 bytes of a key or message id)"
)


def redact(url: str) -> str:
    """The URL without its password (for messages)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return parts._replace(netloc=netloc).geturl()


# A new work item alone: number, position, row (schema migrations 4 and 9).
_ITEM_CREATE = (
    "SELECT r_number, r_position, r_key, r_parent_live FROM pm_fast_item_create("
    + ",".join(f"${i}" for i in range(1, 17))
    + ")"
)
# A new work item's number and position, in a transaction of its own when $4 (schema
# migration 8), and then its row.
_ITEM_RESERVE = "SELECT r_number, r_position, r_key FROM pm_fast_item_reserve($1, $2, $3, $4)"
_ITEM_INSERT = (
    "SELECT r_project_live, r_parent_live FROM pm_fast_item_insert("
    + ",".join(f"${i}" for i in range(1, 19))
    + ")"
)
# The idempotency lock and the stored reply, in that order (schema migration 10).
_IDEM_GET_LOCKED = "SELECT pm_fast_idem_get($1)"
# A project's state and members for a role check (service.access), one statement.
_PROJECT_ACCESS = (
    "SELECT p.deleted_at IS NULL,"
    " ARRAY(SELECT m.user_id FROM pm_project_members m WHERE m.project_id = p.id"
    " ORDER BY m.created_at, m.id),"
    " ARRAY(SELECT m.role FROM pm_project_members m WHERE m.project_id = p.id"
    " ORDER BY m.created_at, m.id)"
    " FROM pm_projects p WHERE p.id = $1"
)
_CLAIMS_DROP = "DELETE FROM pm_fast_item_claims WHERE item_id = ANY($1::text[])"
# Connections for the reserves: each holds one only for a statement.
RESERVE_POOL_MAX = 4
# Any number of activity rows in one statement (columns as arrays, in A_COLS order).
_ACTIVITY_ROWS = (
    f"INSERT INTO pm_activity_log ({sql.A_COLS}) SELECT * FROM unnest($1::text[], $2::text[],"
    " $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::bigint[],"
    " $10::text[])"
)


_EVENT_BOUNDS = """
SELECT (SELECT MIN(first_seq) FROM pm_fast_events WHERE project_id = $1) AS oldest,
       COALESCE((SELECT last_seq FROM pm_fast_event_seq WHERE project_id = $1), 0) AS last
"""
# Rows are contiguous and do not overlap: start at the row holding number $2.
_EVENT_ROWS = """
SELECT first_seq, payload, created_at FROM pm_fast_events
WHERE project_id = $1 AND first_seq IS NOT NULL
  AND first_seq >= COALESCE((SELECT MAX(first_seq) FROM pm_fast_events
                             WHERE project_id = $1 AND first_seq <= $2), 0)
  AND first_seq <= $3
ORDER BY first_seq LIMIT $4
"""


class _Statements:
    """A transaction's connection as `PgTx` uses it: writes still pending go first, in
    the round trip of the statement that follows them (`PgTx.activity`, `.deferred`)."""

    __slots__ = ("_conn", "_tx")

    def __init__(self, conn: Any, tx: PgTx) -> None:
        self._conn = conn
        self._tx = tx

    async def execute(self, query: str, *args: Any) -> Any:
        if self._tx.activity or self._tx.deferred:
            await self._tx.flush()
        return await self._conn.execute(query, *args)

    async def fetch(self, query: str, *args: Any) -> Any:
        if self._tx.activity or self._tx.deferred:
            await self._tx.flush()
        return await self._conn.fetch(query, *args)

    async def fetchrow(self, query: str, *args: Any) -> Any:
        if self._tx.activity or self._tx.deferred:
            await self._tx.flush()
        return await self._conn.fetchrow(query, *args)


class PgTx(sql.AsyncQueries):
    """The operations of `base.AsyncTx`, awaited on one connection in a transaction.

    Operations that are one query (`sql.Queries`) run through `_run`; the methods below
    add what PostgreSQL needs on top (locks, optimistic version checks, conflicts
    reported by the database).
    """

    def __init__(
        self,
        conn: Any,
        known_users: set[str],
        writing: bool,
        reserve: Callable[[str, str, str | None], Awaitable[Any]] | None = None,
        creating: dict[str, int] | None = None,
    ) -> None:
        self.conn = conn
        # Runs `pm_fast_item_reserve` in a transaction of its own (None: in this one).
        self.reserve = reserve
        # Creates under way in this process, per project (shared by the store's
        # transactions); `self.created`: this transaction's, for the store to count down.
        self.creating = creating if creating is not None else {}
        self.created: list[str] = []
        # Items whose reserve committed apart: their claims, if this transaction fails.
        self.claims: list[str] = []
        # This transaction holds a lock on a project row: a reserve outside it could
        # wait for it (the counter is on that row) while it waits for the reserve.
        self.project_locked = False
        self.c = _Statements(conn, self)
        self.known_users = known_users
        self.new_users: list[str] = []
        self.writing = writing
        # (table, id) -> version this transaction read: the condition of its UPDATE.
        self.seen: dict[tuple[str, str], int] = {}
        self._dep_locked = False
        # Writes not sent yet, whose results nobody reads (activity rows, the stored
        # reply of an idempotent create): they go with the next statement that needs a
        # round trip anyway (`self.c` sends them before any other statement;
        # `PostgresStore.write` sends the last ones with the outbox row).
        self.activity: list[ActivityEntry] = []
        self.deferred: list[tuple[str, tuple[Any, ...]]] = []
        # Events of this transaction's change (`emit`): the outbox row at the end.
        self.events: list[Event] = []

    async def emit(self, events: list[Event]) -> None:
        self.events.extend(events)

    # -- the event log (realtime/eventlog.py): numbered by the outbox append ------------
    async def event_bounds(self, project_id: str) -> tuple[int | None, int]:
        """(first number kept or None, last number given) of a project's log."""
        row = await self.c.fetchrow(_EVENT_BOUNDS, project_id)
        oldest = row["oldest"]
        return (None if oldest is None else int(oldest)), int(row["last"])

    async def event_rows(
        self, project_id: str, after: int, upto: int, limit: int
    ) -> list[tuple[int, bytes, int]]:
        """Log rows (first_seq, payload, created_at) holding numbers in (after, upto]."""
        rows = await self.c.fetch(_EVENT_ROWS, project_id, after + 1, upto, limit)
        return [(int(r[0]), bytes(r[1]), int(r[2])) for r in rows]

    async def event_positions(self) -> dict[str, int]:
        rows = await self.c.fetch("SELECT project_id, last_seq FROM pm_fast_event_seq")
        return {r[0]: int(r[1]) for r in rows}

    async def activity_insert(self, a: ActivityEntry) -> None:
        self.activity.append(a)

    def take_pending(self) -> list[tuple[str, tuple[Any, ...]]]:
        """The pending writes (text and parameters; the activity rows as one INSERT)."""
        pending: list[tuple[str, tuple[Any, ...]]] = []
        if self.activity:
            rows, self.activity = self.activity, []
            columns = zip(*map(structs.astuple, rows), strict=True)
            pending.append((_ACTIVITY_ROWS, tuple(list(column) for column in columns)))
        if self.deferred:
            pending.extend(self.deferred)
            self.deferred = []
        return pending

    async def flush(self) -> None:
        """Send the pending writes, in one statement."""
        pending = self.take_pending()
        if not pending:
            return
        *before, (last, params) = pending
        if before:
            last, first = chained(before, last)
            params = first + params
        await self.conn.execute(last, *params)

    async def _run(self, q: sql.Query, args: tuple[Any, ...]) -> Any:
        if q.ids:
            if not args[0]:
                return []
            params: tuple[Any, ...] = (list(args[0]),)
        else:
            params = sql.bind(q, *args)
        text = q.pg_locked if self.writing else q.pg
        if q.returns == "one":
            row = await self.c.fetchrow(text, *params)
            if row is None or q.row is None:
                return None
            value = q.row(row)
            if q.seen is not None:
                self.seen[(q.seen, value.id)] = value.version
            return value
        if q.returns == "all":
            assert q.row is not None
            rows = [q.row(r) for r in await self.c.fetch(text, *params)]
            return q.post(rows, args[0]) if q.post else rows
        await self.c.execute(text, *params)
        return None

    async def _versioned_update(self, table: str, q: sql.Query, *args: Any) -> None:
        """Run an UPDATE (`args` as for `q`, the row's id first) only if the row is live
        and still at the version this transaction read."""
        params = sql.bind(q, *args)
        row_id = params[0]
        seen = self.seen.get((table, row_id))
        status = await self.c.execute(sql.versioned(q), *params, seen)
        if status.endswith(" 0"):
            await self._lost_race(table, row_id, seen)
        # The row now has the version just written; a second update in the same
        # transaction (imports) is conditioned on it.
        self.seen.pop((table, row_id), None)

    async def _lost_race(self, table: str, row_id: str, seen: int | None) -> None:
        """Another transaction changed or deleted the row since this one read it: the
        error the service gives for a stale `expected_version`, with the same words."""
        row = await self.c.fetchrow(
            f"SELECT version, deleted_at FROM {table} WHERE id = $1", row_id
        )
        what = {"pm_projects": "project", "pm_sprints": "sprint"}.get(table, "work item")
        if row is None or row["deleted_at"] is not None:
            raise not_found(f"{what.capitalize()} {row_id} was deleted by another user")
        current = int(row["version"])
        if table == "pm_work_items":
            raise conflict("Version mismatch - work item was modified by another user", current)
        raise conflict(f"Version mismatch: expected {seen}, found {current}", current)

    async def _lock_row(self, table: str, row_id: str, mode: str = "NO KEY UPDATE") -> bool:
        """Lock a live row until commit (write transactions only); False if not live."""
        if not self.writing:
            return True
        if table == "pm_projects":
            self.project_locked = True
        row = await self.c.fetchrow(
            f"SELECT 1 FROM {table} WHERE id = $1 AND deleted_at IS NULL FOR {mode}", row_id
        )
        return row is not None

    async def _lock_dependencies(self) -> None:
        if self.writing and not self._dep_locked:
            await self.c.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", DEPENDENCY_LOCK
            )
            self._dep_locked = True

    # -- users ---------------------------------------------------------------------
    async def ensure_user(self, user_id: str, now: int) -> None:
        if user_id in self.known_users:
            return
        await self._run(sql.USER_INSERT, (user_id, f"user-{user_id[:8]}@localhost", None, now))
        self.new_users.append(user_id)

    async def user_exists(self, user_id: str) -> bool:
        if user_id in self.known_users:
            return True
        return bool(await self._run(sql.USER_EXISTS, (user_id,)))

    async def row_state(self, entity: str, row_id: str) -> str | None:
        state: str | None = await self._run(sql.ROW_STATE[entity], (row_id,))
        return state

    async def project_access(self, pid: str) -> tuple[str | None, list[tuple[str, str]]]:
        """The project's state and, when it is live, (user id, role) of each member:
        one round trip."""
        row = await self.c.fetchrow(_PROJECT_ACCESS, pid)
        if row is None:
            return None, []
        if not row[0]:
            return "deleted", []
        return "live", list(zip(row[1], row[2], strict=True))

    # -- projects ------------------------------------------------------------------
    async def project_insert(self, p: Project) -> None:
        row = await self.c.fetchrow(
            sql.PROJECT_INSERT.pg + " ON CONFLICT (key) DO NOTHING RETURNING 1",
            *sql.bind(sql.PROJECT_INSERT, p),
        )
        if row is None:  # another process took the key since this transaction looked
            taken = await self._run(sql.PROJECT_BY_KEY_ANY, (p.key,))
            version = taken[0].version if taken else 1
            note = " (deleted)" if taken and taken[1] else ""
            raise DomainError(
                "DUPLICATE_KEY",
                f"Project with key '{p.key}' already exists{note} (current version: {version})",
                "key",
            )

    async def project_update(self, p: Project) -> None:
        self.project_locked = True
        await self._versioned_update("pm_projects", sql.PROJECT_UPDATE, p)

    async def project_soft_delete(self, pid: str, now: int) -> None:
        self.project_locked = True
        status = await self.c.execute(sql.PROJECT_SOFT_DELETE.pg, pid, now)
        if status.endswith(" 0"):  # deleted by another process meanwhile
            raise not_found(f"Project with ID {pid} not found")

    async def project_live_item_count(self, pid: str) -> int:
        # Locked first: a concurrent item create (which updates this row for its number)
        # either committed before the count or waits and then finds the project deleted.
        await self._lock_row("pm_projects", pid, "UPDATE")
        count: int = await self._run(sql.PROJECT_LIVE_ITEM_COUNT, (pid,))
        return count

    # -- sprints -------------------------------------------------------------------
    async def sprint_active_other(self, pid: str, exclude_id: str) -> Sprint | None:
        # Two activations in one project take turns on the project row.
        await self._lock_row("pm_projects", pid)
        sprint: Sprint | None = await self._run(sql.SPRINT_ACTIVE_OTHER, (pid, exclude_id))
        return sprint

    async def sprint_update(self, s: Sprint) -> None:
        await self._versioned_update("pm_sprints", sql.SPRINT_UPDATE, s)

    async def sprint_soft_delete(self, sid: str, now: int) -> None:
        # Conditioned on the version read: a sprint completed meanwhile stays.
        await self._versioned_update("pm_sprints", sql.SPRINT_SOFT_DELETE, sid, now)

    # -- work items ----------------------------------------------------------------
    async def item_create(self, w: WorkItem) -> WorkItem | None:
        """Number, place and insert a new item; None if the project is not live.

        Alone (no other create of the project under way in this process), in one
        statement that holds the project's position lock until commit (migration 9): no
        round trip more. Otherwise the number and position are taken outside this
        transaction (migration 8), so creates of one project do not take turns until
        their commits; but inside it if it holds a project row (a reserve outside
        could wait for that row while this transaction waits for the reserve)."""
        pid = w.project_id
        alone = not self.creating.get(pid)
        self.creating[pid] = self.creating.get(pid, 0) + 1
        self.created.append(pid)
        if alone or self.reserve is None:
            row = await self.c.fetchrow(_ITEM_CREATE, *sql.item_create_args(w))
            if row is None:
                return None
            if not row[3]:  # the parent was deleted after the service looked
                raise invalid("Validation failed: Parent work item not found", "parent_id")
        else:
            if self.project_locked:
                row = await self.c.fetchrow(_ITEM_RESERVE, w.id, pid, w.parent_id, False)
            else:
                self.claims.append(w.id)
                row = await self.reserve(w.id, pid, w.parent_id)
            if row is None:
                return None
            live = await self.c.fetchrow(
                _ITEM_INSERT, *sql.item_create_args(w), int(row[0]), int(row[1])
            )
            if not live[0]:  # the project was deleted after the reserve
                return None
            if not live[1]:  # the parent was deleted after the service looked
                raise invalid("Validation failed: Parent work item not found", "parent_id")
        number, position, key = int(row[0]), int(row[1]), str(row[2])
        return structs.replace(
            w, display_key=f"{key}-{number}", item_number=number, position=position
        )

    async def item_live_children(self, wid: str) -> int:
        # Locked first: a child being attached concurrently holds a key-share lock on
        # this row (foreign key) until it commits, so the count below includes it, or
        # the child re-checks its parent after this delete and fails.
        await self._lock_row("pm_work_items", wid, "UPDATE")
        count: int = await self._run(sql.ITEM_LIVE_CHILDREN, (wid,))
        return count

    async def _check_parent_live(self, parent_id: str | None) -> None:
        if not self.writing or parent_id is None:
            return
        if not await self._run(sql.ITEM_IS_LIVE, (parent_id,)):
            raise invalid("Validation failed: Parent work item not found", "parent_id")

    async def item_insert(self, w: WorkItem) -> None:
        await self._run(sql.ITEM_INSERT, (w,))
        await self._check_parent_live(w.parent_id)

    async def item_update(self, w: WorkItem) -> None:
        """Write every mutable column (never item_number), if the version read still holds."""
        await self._versioned_update("pm_work_items", sql.ITEM_UPDATE, w)
        await self._check_parent_live(w.parent_id)

    async def item_soft_delete(self, wid: str, pid: str, now: int, actor: str) -> None:
        status = await self.c.execute(sql.ITEM_SOFT_DELETE.pg, wid, now, actor)
        if status.endswith(" 0"):
            raise not_found(f"Work item {wid} not found")

    # -- dependencies --------------------------------------------------------------
    async def dep_pair_any(self, blocking: str, blocked: str) -> tuple[Dependency, bool] | None:
        await self._lock_dependencies()
        found: tuple[Dependency, bool] | None = await self._run(
            sql.DEP_PAIR_ANY, (blocking, blocked)
        )
        return found

    async def dep_counts(self, wid: str) -> tuple[int, int]:
        await self._lock_dependencies()
        counts: tuple[int, int] = await self._run(sql.DEP_COUNTS, (wid,))
        return counts

    async def blocks_edges(self) -> list[tuple[str, str]]:
        await self._lock_dependencies()
        edges: list[tuple[str, str]] = await self._run(sql.BLOCKS_EDGES, ())
        return edges

    # -- time entries --------------------------------------------------------------
    async def te_running_for_user(self, user_id: str) -> list[TimeEntry]:
        if self.writing:
            # One running timer per user: starts by the same user take turns.
            await self.c.fetchrow("SELECT 1 FROM users WHERE id = $1 FOR NO KEY UPDATE", user_id)
        running: list[TimeEntry] = await self._run(sql.TE_RUNNING_FOR_USER, (user_id,))
        return running

    # -- idempotency -----------------------------------------------------------------
    async def idem_get(self, key: str) -> str | None:
        if self.writing:
            # A repeat of the same request on another process waits for the first one,
            # then reads what it stored (schema migration 10: one round trip).
            stored: str | None = (await self.c.fetchrow(_IDEM_GET_LOCKED, key))[0]
        else:
            stored = await self._run(sql.IDEM_GET, (key,))
        return stored

    async def idem_put(self, key: str, operation: str, result_json: str, now: int) -> None:
        # Read by nobody in this transaction: it goes with the next statement.
        self.deferred.append((sql.IDEM_PUT.pg, (key, operation, result_json, now)))

    # -- several items at once -------------------------------------------------------
    async def export_all(self) -> dict[str, list[Any]]:
        return {kind: await self._run(q, ()) for kind, q in sql.EXPORT.items()}


async def drive_async(program: Program[T], tx: AsyncTx) -> T:
    """Run `program`, awaiting each step on `tx` (cf. `store.base.drive`).

    A step is a call on the `Tx` interface; on a `PgTx` every operation is a coroutine
    with the same parameters and result (`AsyncTx`), which is awaited here."""
    sync_view = cast(Tx, tx)
    try:
        step = next(program)
        while True:
            step = program.send(await step(sync_view))
    except StopIteration as stop:
        result: T = stop.value
        return result


async def _no_reset(conn: Any) -> None:
    """Connections come back to the pool as they left (no session state is changed),
    so the default reset round trip (RESET ALL, UNLISTEN *, ...) is skipped."""


class PostgresStore:
    """The standalone / scaled-out store."""

    def __init__(self, url: str, *, pool_min: int = POOL_MIN, pool_max: int = POOL_MAX) -> None:
        self.url = url
        self.pool_min = pool_min
        self.pool_max = pool_max
        self._pool: Any = None
        self._reserve_pool: Any = None
        self._tasks: set[asyncio.Future[None]] = set()
        # Creates under way per project (`PgTx.item_create`).
        self._creating: dict[str, int] = {}
        self._known_users: set[str] = set()
        self.bus: Bus | None = None

    # -- life cycle ----------------------------------------------------------------
    def _connect_kwargs(self) -> dict[str, Any]:
        return {
            "timeout": CONNECT_TIMEOUT,
            "command_timeout": COMMAND_TIMEOUT,
            "statement_cache_size": 512,
            "server_settings": {"application_name": "pm-fast", "jit": "off"},
        }

    async def connect_one(self) -> Any:
        """A connection outside the pool (the event bus listens on one)."""
        return await asyncpg.connect(self.url, **self._connect_kwargs())

    async def open(self, llm_user_id: str, llm_user_name: str) -> None:
        """Connect (bounded), migrate, seed. Raises StoreOpenError with a clear reason."""
        try:
            conn = await asyncio.wait_for(self.connect_one(), CONNECT_TIMEOUT + 1)
        except (*_UNAVAILABLE, asyncpg.PostgresError) as err:
            raise StoreOpenError(
                f"cannot connect to PostgreSQL at {redact(self.url)}: {err or type(err).__name__}"
            ) from None
        try:
            await self._migrate(conn, llm_user_id, llm_user_name)
        except asyncpg.PostgresError as err:
            raise StoreOpenError(f"cannot prepare the PostgreSQL database: {err}") from None
        finally:
            await conn.close()
        try:
            self._pool = await asyncpg.create_pool(
                self.url,
                min_size=self.pool_min,
                max_size=self.pool_max,
                reset=_no_reset,
                **self._connect_kwargs(),
            )
            self._reserve_pool = await asyncpg.create_pool(
                self.url,
                min_size=1,
                max_size=RESERVE_POOL_MAX,
                reset=_no_reset,
                **self._connect_kwargs(),
            )
        except (*_UNAVAILABLE, asyncpg.PostgresError) as err:
            raise StoreOpenError(f"cannot open a connection pool: {err}") from None
        self._known_users.add(llm_user_id)

    async def _migrate(self, conn: Any, llm_user_id: str, llm_user_name: str) -> None:
        now = int(time.time())
        async with conn.transaction():
            # Processes starting together migrate one after the other.
            await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK_KEY)
            await conn.execute(BOOKKEEPING)
            applied = {
                int(r[0]) for r in await conn.fetch("SELECT version FROM pm_fast_schema_migrations")
            }
            known = {v for v, _, _ in MIGRATIONS}
            for version, description, script in MIGRATIONS:
                if version in applied:
                    continue
                await conn.execute(script)
                await conn.execute(
                    "INSERT INTO pm_fast_schema_migrations (version, description, applied_at)"
                    " VALUES ($1, $2, $3)",
                    version,
                    description,
                    now,
                )
                log.info("PostgreSQL: applied migration %d (%s)", version, description)
            newer = sorted(applied - known)
            if newer:
                log.warning("PostgreSQL database has migrations newer than this pm-fast: %s", newer)
            await conn.executemany(sql.LLM_SEED_INSERT.pg, seed_rows(now))
            await conn.execute(
                sql.USER_INSERT.pg,
                llm_user_id,
                f"{llm_user_id}@system.local",
                llm_user_name,
                now,
            )
            # Idempotency keys live a day (docs/compat.md), as on SQLite.
            await conn.execute(sql.IDEM_PRUNE.pg, now - 86400)

    async def start_bus(self, publish: Any, retention: int = RETENTION_SECS) -> Bus:
        """Start cross-process fan-out: events of other processes reach `publish`;
        outbox rows (the event log) are kept `retention` s."""
        bus = Bus(self.connect_one, publish, retention=retention)
        try:
            await bus.start()
        except (*_UNAVAILABLE, asyncpg.PostgresError) as err:
            raise StoreOpenError(f"cannot listen for events: {err}") from None
        self.bus = bus
        return bus

    async def close(self) -> None:
        if self.bus is not None:
            await self.bus.stop()
            self.bus = None
        for pool in (self._pool, self._reserve_pool):
            if pool is not None:
                try:
                    await asyncio.wait_for(pool.close(), 5.0)
                except _UNAVAILABLE:
                    pool.terminate()
        self._pool = self._reserve_pool = None

    # -- running programs ----------------------------------------------------------
    @contextlib.asynccontextmanager
    async def _connection(self) -> AsyncIterator[Any]:
        pool = self._pool
        if pool is None:
            raise RuntimeError("store is closed")
        try:
            async with pool.acquire(timeout=ACQUIRE_TIMEOUT) as conn:
                yield conn
        except DomainError:
            raise
        except asyncpg.exceptions.TransactionRollbackError as err:  # deadlock, serialization
            log.warning("transaction rolled back by PostgreSQL: %s", err)
            raise DomainError(
                "CONFLICT", "Concurrent modification - please retry (current version: unknown)"
            ) from None
        except _NUL_REFUSED as err:  # SQLite stores it; PostgreSQL's text cannot
            log.info("refused a text value PostgreSQL cannot hold: %s", err)
            raise invalid(NUL_MESSAGE) from None
        except asyncpg.exceptions.ProgramLimitExceededError as err:  # an index entry
            log.info("refused a value PostgreSQL cannot index: %s", err)
            raise invalid(TOO_LONG_MESSAGE) from None
        except _UNAVAILABLE as err:
            log.warning("PostgreSQL unavailable: %s", err or type(err).__name__)
            raise unavailable() from None

    async def _reserve(self, item_id: str, project_id: str, parent_id: str | None) -> Any:
        """A new item's number and position, committed apart (`PgTx.item_create`)."""
        pool = self._reserve_pool
        if pool is None:
            raise RuntimeError("store is closed")
        async with pool.acquire(timeout=ACQUIRE_TIMEOUT) as conn:
            return await conn.fetchrow(_ITEM_RESERVE, item_id, project_id, parent_id, True)

    async def _drop_claims(self, item_ids: list[str]) -> None:
        """Best effort after a failed create: its position is free again at once (else
        the claim is ignored after 10 minutes)."""
        pool = self._reserve_pool
        if pool is None:
            return
        with contextlib.suppress(Exception):
            async with pool.acquire(timeout=PING_TIMEOUT) as conn:
                await conn.execute(_CLAIMS_DROP, item_ids, timeout=PING_TIMEOUT)

    def _done_creating(self, projects: list[str]) -> None:
        for pid in projects:
            left = self._creating.get(pid, 0) - 1
            if left > 0:
                self._creating[pid] = left
            else:
                self._creating.pop(pid, None)
        projects.clear()

    async def write(self, program: Program[T]) -> T:
        bus = self.bus
        async with self._connection() as conn:
            start = time.perf_counter()
            tx = PgTx(
                conn,
                self._known_users,
                writing=True,
                reserve=self._reserve,
                creating=self._creating,
            )
            own: list[int] = []
            earlier: list[Any] = []
            projects: set[str | None] = set()
            try:
                async with conn.transaction():
                    result = await drive_async(program, tx)
                    events = tx.events
                    if events and bus is not None:
                        high, gaps = bus.floor()
                        own, earlier = await bus.outbox.append(
                            conn, events, high, gaps, int(time.time()), tx.take_pending()
                        )
                        projects = {e.project_id for e in events}
                        # Until the caller has published our events, foreign events of
                        # these projects that commit after ours wait (order per project).
                        bus.hold(projects, max(own), own)
                    await tx.flush()
            except BaseException:
                self._done_creating(tx.created)
                if own and bus is not None:
                    bus.release(projects, max(own), own)
                if tx.claims:  # in the background: the error goes to the caller now
                    task = asyncio.ensure_future(self._drop_claims(tx.claims))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
                raise
            self._done_creating(tx.created)
            if STATS.on:
                STATS.store_time("write", time.perf_counter() - start)
        self._known_users.update(tx.new_users)
        if own and bus is not None:
            try:
                await bus.wait_turn(projects, max(own))
                bus.committed(own, earlier)
            finally:
                # After the caller, resumed with our result, has published our events.
                asyncio.get_running_loop().call_soon(bus.release, projects, max(own), own)
        return result

    async def read(self, program: Program[T], point: bool = False) -> T:
        async with self._connection() as conn:
            start = time.perf_counter()
            tx = PgTx(conn, self._known_users, writing=False)
            if point:
                # A lookup by key (and the caller's role): each statement reads what is
                # committed when it runs, without BEGIN and COMMIT, two round trips of
                # three for the common case.
                result = await drive_async(program, tx)
            else:
                async with conn.transaction(isolation="repeatable_read", readonly=True):
                    result = await drive_async(program, tx)
            if STATS.on:
                STATS.store_time("read", time.perf_counter() - start)
            return result

    async def read_cached(
        self, key: Hashable, program: Program[T], encode: Callable[[T], bytes]
    ) -> bytes:
        """Never from memory: PostgreSQL offers no exact, cheap "nothing was committed
        since" check, so every point read runs."""
        return encode(await self.read(program, True))

    def still_cached(self, key: Hashable, body: bytes) -> bool:
        return False  # nothing is kept (`read_cached`)

    async def ping(self) -> float:
        pool = self._pool
        if pool is None:
            raise RuntimeError("store is closed")
        start = time.perf_counter()

        async def probe() -> None:
            async with pool.acquire(timeout=PING_TIMEOUT) as conn:
                await conn.fetchval("SELECT 1", timeout=PING_TIMEOUT)

        await asyncio.wait_for(probe(), PING_TIMEOUT + 0.5)
        return (time.perf_counter() - start) * 1000.0

    async def checkpoint(self) -> None:
        """Nothing to do: PostgreSQL checkpoints by itself (and CHECKPOINT needs a
        superuser or pg_checkpoint); /admin/checkpoint still answers 200."""


def is_postgres_url(url: str | None) -> bool:
    return bool(url) and str(url).startswith(("postgresql://", "postgres://"))
