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
  unique across processes.

Connection failures become `SERVICE_UNAVAILABLE`; deadlocks and serialization failures
(which the rules above should make impossible) become `CONFLICT`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Any, TypeVar
from urllib.parse import urlsplit

import asyncpg  # type: ignore[import-untyped]

from ..core.errors import DomainError, conflict, invalid, not_found
from ..core.model import (
    ActivityEntry,
    Comment,
    Dependency,
    LlmContextEntry,
    Project,
    Sprint,
    SwimLane,
    TimeEntry,
    WorkItem,
)
from ..realtime.bus import Bus, events_of
from .base import Program
from .columns import (
    A_COLS,
    C_COLS,
    D_COLS,
    L_COLS,
    P_COLS,
    S_COLS,
    STATE_TABLES,
    T_COLS,
    W_COLS,
    W_FROM,
)
from .llm_seed import PRIORITY, SEED, seed_id
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


def redact(url: str) -> str:
    """The URL without its password (for messages)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return parts._replace(netloc=netloc).geturl()


def _te(row: Any) -> TimeEntry:
    return TimeEntry(
        row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[4] is None, row[7], row[8]
    )


def _lane(row: Any) -> SwimLane:
    return SwimLane(row[0], row[1], row[2], row[3], row[4], bool(row[5]), row[6], row[7])


class PgTx:
    """The operations a program may yield, awaited on one connection in a transaction."""

    def __init__(self, conn: Any, known_users: set[str], writing: bool) -> None:
        self.c = conn
        self.known_users = known_users
        self.new_users: list[str] = []
        self.writing = writing
        # (table, id) -> version this transaction read: the condition of its UPDATE.
        self.seen: dict[tuple[str, str], int] = {}
        self._dep_locked = False

    # -- helpers -----------------------------------------------------------------
    async def _one(self, sql: str, *args: Any) -> Any:
        return await self.c.fetchrow(sql, *args)

    async def _all(self, sql: str, *args: Any) -> list[Any]:
        rows: list[Any] = await self.c.fetch(sql, *args)
        return rows

    def _lock(self, mode: str = "NO KEY UPDATE") -> str:
        return f" FOR {mode}" if self.writing else ""

    def _saw_project(self, row: Any) -> Project | None:
        if row is None:
            return None
        project = Project(*row)
        self.seen[("pm_projects", project.id)] = project.version
        return project

    def _saw_sprint(self, row: Any) -> Sprint | None:
        if row is None:
            return None
        sprint = Sprint(*row)
        self.seen[("pm_sprints", sprint.id)] = sprint.version
        return sprint

    def _saw_item(self, row: Any) -> WorkItem | None:
        if row is None:
            return None
        item = WorkItem(*row)
        self.seen[("pm_work_items", item.id)] = item.version
        return item

    async def _versioned_update(self, table: str, row_id: str, sql: str, *args: Any) -> None:
        """Run an UPDATE whose last two parameters are (id, version read or NULL)."""
        seen = self.seen.get((table, row_id))
        status = await self.c.execute(sql, *args, row_id, seen)
        if status.endswith(" 0"):
            await self._lost_race(table, row_id, seen)
        # The row now has the version just written; a second update in the same
        # transaction (imports) is conditioned on it.
        self.seen.pop((table, row_id), None)

    async def _lost_race(self, table: str, row_id: str, seen: int | None) -> None:
        """Another transaction changed or deleted the row since this one read it: the
        error the service gives for a stale `expected_version`, with the same words."""
        row = await self._one(f"SELECT version, deleted_at FROM {table} WHERE id = $1", row_id)
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
        row = await self._one(
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
        await self.c.execute(
            "INSERT INTO users (id, email, name, created_at) VALUES ($1, $2, NULL, $3)"
            " ON CONFLICT DO NOTHING",
            user_id,
            f"user-{user_id[:8]}@localhost",
            now,
        )
        self.new_users.append(user_id)

    async def user_exists(self, user_id: str) -> bool:
        if user_id in self.known_users:
            return True
        return await self._one("SELECT 1 FROM users WHERE id = $1", user_id) is not None

    # -- generic -------------------------------------------------------------------
    async def row_state(self, entity: str, row_id: str) -> str | None:
        table = STATE_TABLES[entity]
        row = await self._one(f"SELECT deleted_at IS NULL FROM {table} WHERE id = $1", row_id)
        if row is None:
            return None
        return "live" if row[0] else "deleted"

    # -- projects ------------------------------------------------------------------
    async def project_get(self, pid: str) -> Project | None:
        return self._saw_project(
            await self._one(
                f"SELECT {P_COLS} FROM pm_projects WHERE id = $1 AND deleted_at IS NULL", pid
            )
        )

    async def project_by_key(self, key: str) -> Project | None:
        return self._saw_project(
            await self._one(
                f"SELECT {P_COLS} FROM pm_projects WHERE key = $1 AND deleted_at IS NULL", key
            )
        )

    async def project_by_key_any(self, key: str) -> tuple[Project, bool] | None:
        row = await self._one(
            f"SELECT {P_COLS}, deleted_at IS NOT NULL FROM pm_projects WHERE key = $1", key
        )
        return (Project(*row[:-1]), bool(row[-1])) if row else None

    async def projects_all(self) -> list[Project]:
        return [
            Project(*r)
            for r in await self._all(
                f"SELECT {P_COLS} FROM pm_projects WHERE deleted_at IS NULL ORDER BY title, id"
            )
        ]

    async def project_insert(self, p: Project) -> None:
        row = await self._one(
            "INSERT INTO pm_projects (id, key, title, description, status, version, created_at,"
            " updated_at, created_by, updated_by, next_work_item_number)"
            " VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11) ON CONFLICT (key) DO NOTHING"
            " RETURNING 1",
            p.id,
            p.key,
            p.title,
            p.description,
            p.status,
            p.version,
            p.created_at,
            p.updated_at,
            p.created_by,
            p.updated_by,
            p.next_work_item_number,
        )
        if row is None:  # another process took the key since this transaction looked
            taken = await self.project_by_key_any(p.key)
            version = taken[0].version if taken else 1
            note = " (deleted)" if taken and taken[1] else ""
            raise DomainError(
                "DUPLICATE_KEY",
                f"Project with key '{p.key}' already exists{note} (current version: {version})",
                "key",
            )

    async def project_update(self, p: Project) -> None:
        await self._versioned_update(
            "pm_projects",
            p.id,
            "UPDATE pm_projects SET key = $1, title = $2, description = $3, status = $4,"
            " version = $5, created_at = $6, updated_at = $7, created_by = $8, updated_by = $9"
            " WHERE id = $10 AND deleted_at IS NULL AND ($11::bigint IS NULL OR version = $11)",
            p.key,
            p.title,
            p.description,
            p.status,
            p.version,
            p.created_at,
            p.updated_at,
            p.created_by,
            p.updated_by,
        )

    async def project_soft_delete(self, pid: str, now: int) -> None:
        status = await self.c.execute(
            "UPDATE pm_projects SET deleted_at = $1 WHERE id = $2 AND deleted_at IS NULL", now, pid
        )
        if status.endswith(" 0"):  # deleted by another process meanwhile
            raise not_found(f"Project with ID {pid} not found")

    async def project_live_item_count(self, pid: str) -> int:
        # Locked first: a concurrent item create (which updates this row for its number)
        # either committed before the count or waits and then finds the project deleted.
        await self._lock_row("pm_projects", pid, "UPDATE")
        row = await self._one(
            "SELECT COUNT(*) FROM pm_work_items WHERE project_id = $1 AND deleted_at IS NULL",
            pid,
        )
        return int(row[0]) if row else 0

    async def project_take_number(self, pid: str) -> int | None:
        row = await self._one(
            "UPDATE pm_projects SET next_work_item_number = next_work_item_number + 1"
            " WHERE id = $1 AND deleted_at IS NULL RETURNING next_work_item_number - 1",
            pid,
        )
        return int(row[0]) if row else None

    async def project_raise_counter(self, pid: str) -> None:
        await self.c.execute(
            "UPDATE pm_projects SET next_work_item_number = GREATEST(next_work_item_number,"
            " (SELECT COALESCE(MAX(item_number), 0) + 1 FROM pm_work_items WHERE project_id = $1))"
            " WHERE id = $1",
            pid,
        )

    async def members_of(self, pid: str) -> list[tuple[str, str]]:
        rows = await self._all(
            "SELECT user_id, role FROM pm_project_members WHERE project_id = $1"
            " ORDER BY created_at, id",
            pid,
        )
        return [(r[0], r[1]) for r in rows]

    async def viewable_projects(self, user: str, llm_user: str) -> list[Project]:
        return [
            Project(*r)
            for r in await self._all(
                f"SELECT {P_COLS} FROM pm_projects p WHERE deleted_at IS NULL AND ("
                " EXISTS (SELECT 1 FROM pm_project_members m WHERE m.project_id = p.id"
                " AND m.user_id = $1) OR NOT EXISTS (SELECT 1 FROM pm_project_members m"
                " WHERE m.project_id = p.id AND m.user_id != $2)) ORDER BY title, id",
                user,
                llm_user,
            )
        ]

    async def member_add(self, pid: str, user_id: str, role: str, now: int, member_id: str) -> None:
        await self.c.execute(
            "INSERT INTO pm_project_members (id, project_id, user_id, role, created_at)"
            " VALUES ($1,$2,$3,$4,$5) ON CONFLICT DO NOTHING",
            member_id,
            pid,
            user_id,
            role,
            now,
        )

    # -- sprints -------------------------------------------------------------------
    async def sprint_get(self, sid: str) -> Sprint | None:
        return self._saw_sprint(
            await self._one(
                f"SELECT {S_COLS} FROM pm_sprints WHERE id = $1 AND deleted_at IS NULL", sid
            )
        )

    async def sprints_by_project(self, pid: str) -> list[Sprint]:
        return [
            Sprint(*r)
            for r in await self._all(
                f"SELECT {S_COLS} FROM pm_sprints WHERE project_id = $1 AND deleted_at IS NULL"
                " ORDER BY start_date DESC, id",
                pid,
            )
        ]

    async def sprints_by_ids(self, ids: list[str]) -> list[Sprint]:
        if not ids:
            return []
        return [
            Sprint(*r)
            for r in await self._all(
                f"SELECT {S_COLS} FROM pm_sprints WHERE id = ANY($1::text[])"
                " AND deleted_at IS NULL ORDER BY start_date DESC, id",
                list(ids),
            )
        ]

    async def sprint_active_other(self, pid: str, exclude_id: str) -> Sprint | None:
        # Two activations in one project take turns on the project row.
        await self._lock_row("pm_projects", pid)
        row = await self._one(
            f"SELECT {S_COLS} FROM pm_sprints WHERE project_id = $1 AND status = 'active'"
            " AND id != $2 AND deleted_at IS NULL LIMIT 1",
            pid,
            exclude_id,
        )
        return Sprint(*row) if row else None

    async def sprint_insert(self, s: Sprint) -> None:
        await self.c.execute(
            f"INSERT INTO pm_sprints ({S_COLS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)",
            s.id,
            s.project_id,
            s.name,
            s.goal,
            s.start_date,
            s.end_date,
            s.status,
            s.version,
            s.created_at,
            s.updated_at,
            s.created_by,
            s.updated_by,
        )

    async def sprint_update(self, s: Sprint) -> None:
        await self._versioned_update(
            "pm_sprints",
            s.id,
            "UPDATE pm_sprints SET project_id = $1, name = $2, goal = $3, start_date = $4,"
            " end_date = $5, status = $6, version = $7, created_at = $8, updated_at = $9,"
            " created_by = $10, updated_by = $11"
            " WHERE id = $12 AND deleted_at IS NULL AND ($13::bigint IS NULL OR version = $13)",
            s.project_id,
            s.name,
            s.goal,
            s.start_date,
            s.end_date,
            s.status,
            s.version,
            s.created_at,
            s.updated_at,
            s.created_by,
            s.updated_by,
        )

    async def sprint_soft_delete(self, sid: str, now: int) -> None:
        # Conditioned on the version read: a sprint completed meanwhile stays.
        await self._versioned_update(
            "pm_sprints",
            sid,
            "UPDATE pm_sprints SET deleted_at = $1"
            " WHERE id = $2 AND deleted_at IS NULL AND ($3::bigint IS NULL OR version = $3)",
            now,
        )

    # -- work items ----------------------------------------------------------------
    async def item_get(self, wid: str) -> WorkItem | None:
        return self._saw_item(
            await self._one(
                f"SELECT {W_COLS} FROM {W_FROM} WHERE w.id = $1 AND w.deleted_at IS NULL", wid
            )
        )

    async def item_by_number(self, pid: str, number: int) -> WorkItem | None:
        return self._saw_item(
            await self._one(
                f"SELECT {W_COLS} FROM {W_FROM} WHERE w.project_id = $1 AND w.item_number = $2"
                " AND w.deleted_at IS NULL",
                pid,
                number,
            )
        )

    async def items_by_project(self, pid: str) -> list[WorkItem]:
        return [
            WorkItem(*r)
            for r in await self._all(
                f"SELECT {W_COLS} FROM {W_FROM} WHERE w.project_id = $1 AND w.deleted_at IS NULL"
                " ORDER BY w.position, w.item_number",
                pid,
            )
        ]

    async def items_hierarchy(self, pid: str) -> list[tuple[str, str | None]]:
        rows = await self._all(
            "SELECT id, parent_id FROM pm_work_items WHERE project_id = $1"
            " AND deleted_at IS NULL ORDER BY position, item_number",
            pid,
        )
        return [(r[0], r[1]) for r in rows]

    async def item_parent_chain(self, start: str, max_depth: int) -> list[tuple[str, str | None]]:
        rows = await self._all(
            "WITH RECURSIVE up(id, parent_id, depth) AS ("
            " SELECT id, parent_id, 0 FROM pm_work_items WHERE id = $1 AND deleted_at IS NULL"
            " UNION"
            " SELECT w.id, w.parent_id, up.depth + 1 FROM pm_work_items w JOIN up"
            " ON w.id = up.parent_id WHERE w.deleted_at IS NULL AND up.depth < $2)"
            " SELECT id, parent_id FROM up",
            start,
            max_depth,
        )
        return [(r[0], r[1]) for r in rows]

    async def item_number_used(self, pid: str, number: int) -> bool:
        row = await self._one(
            "SELECT 1 FROM pm_work_items WHERE project_id = $1 AND item_number = $2", pid, number
        )
        return row is not None

    async def item_max_position(self, pid: str, parent_id: str | None) -> int:
        if self.writing:  # creates of a project take turns first (schema migration 3)
            value = await self.c.fetchval("SELECT pm_fast_max_position($1, $2)", pid, parent_id)
            return int(value)
        if parent_id is None:
            row = await self._one(
                "SELECT MAX(position) FROM pm_work_items WHERE project_id = $1"
                " AND parent_id IS NULL AND deleted_at IS NULL",
                pid,
            )
        else:
            row = await self._one(
                "SELECT MAX(position) FROM pm_work_items WHERE project_id = $1"
                " AND parent_id = $2 AND deleted_at IS NULL",
                pid,
                parent_id,
            )
        return int(row[0]) if row and row[0] is not None else 0

    async def item_live_children(self, wid: str) -> int:
        # Locked first: a child being attached concurrently holds a key-share lock on
        # this row (foreign key) until it commits, so the count below includes it, or
        # the child re-checks its parent after this delete and fails.
        await self._lock_row("pm_work_items", wid, "UPDATE")
        row = await self._one(
            "SELECT COUNT(*) FROM pm_work_items WHERE parent_id = $1 AND deleted_at IS NULL",
            wid,
        )
        return int(row[0]) if row else 0

    async def _check_parent_live(self, parent_id: str | None) -> None:
        if not self.writing or parent_id is None:
            return
        row = await self._one(
            "SELECT 1 FROM pm_work_items WHERE id = $1 AND deleted_at IS NULL", parent_id
        )
        if row is None:
            raise invalid("Validation failed: Parent work item not found", "parent_id")

    async def item_insert(self, w: WorkItem) -> None:
        await self.c.execute(
            "INSERT INTO pm_work_items (id, item_type, parent_id, project_id, position, title,"
            " description, status, priority, story_points, assignee_id, sprint_id, item_number,"
            " version, created_at, updated_at, created_by, updated_by)"
            " VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18)",
            w.id,
            w.item_type,
            w.parent_id,
            w.project_id,
            w.position,
            w.title,
            w.description,
            w.status,
            w.priority,
            w.story_points,
            w.assignee_id,
            w.sprint_id,
            w.item_number,
            w.version,
            w.created_at,
            w.updated_at,
            w.created_by,
            w.updated_by,
        )
        await self._check_parent_live(w.parent_id)

    async def item_update(self, w: WorkItem) -> None:
        """Write every mutable column (never item_number), if the version read still holds."""
        await self._versioned_update(
            "pm_work_items",
            w.id,
            "UPDATE pm_work_items SET item_type = $1, parent_id = $2, project_id = $3,"
            " position = $4, title = $5, description = $6, status = $7, priority = $8,"
            " story_points = $9, assignee_id = $10, sprint_id = $11, version = $12,"
            " created_at = $13, updated_at = $14, created_by = $15, updated_by = $16"
            " WHERE id = $17 AND deleted_at IS NULL AND ($18::bigint IS NULL OR version = $18)",
            w.item_type,
            w.parent_id,
            w.project_id,
            w.position,
            w.title,
            w.description,
            w.status,
            w.priority,
            w.story_points,
            w.assignee_id,
            w.sprint_id,
            w.version,
            w.created_at,
            w.updated_at,
            w.created_by,
            w.updated_by,
        )
        await self._check_parent_live(w.parent_id)

    async def item_soft_delete(self, wid: str, pid: str, now: int, actor: str) -> None:
        status = await self.c.execute(
            "UPDATE pm_work_items SET deleted_at = $1, updated_at = $1, updated_by = $2"
            " WHERE id = $3 AND deleted_at IS NULL",
            now,
            actor,
            wid,
        )
        if status.endswith(" 0"):
            raise not_found(f"Work item {wid} not found")

    # -- comments ------------------------------------------------------------------
    async def comment_get(self, cid: str) -> Comment | None:
        row = await self._one(
            f"SELECT {C_COLS} FROM pm_comments WHERE id = $1 AND deleted_at IS NULL" + self._lock(),
            cid,
        )
        return Comment(*row) if row else None

    async def comments_by_item(self, wid: str) -> list[Comment]:
        return [
            Comment(*r)
            for r in await self._all(
                f"SELECT {C_COLS} FROM pm_comments WHERE work_item_id = $1"
                " AND deleted_at IS NULL ORDER BY created_at, seq",
                wid,
            )
        ]

    async def comment_insert(self, c: Comment) -> None:
        await self.c.execute(
            f"INSERT INTO pm_comments ({C_COLS}) VALUES ($1,$2,$3,$4,$5,$6,$7)",
            c.id,
            c.work_item_id,
            c.content,
            c.created_at,
            c.updated_at,
            c.created_by,
            c.updated_by,
        )

    async def comment_update(self, c: Comment) -> None:
        await self.c.execute(
            "UPDATE pm_comments SET work_item_id = $1, content = $2, created_at = $3,"
            " updated_at = $4, created_by = $5, updated_by = $6 WHERE id = $7",
            c.work_item_id,
            c.content,
            c.created_at,
            c.updated_at,
            c.created_by,
            c.updated_by,
            c.id,
        )

    async def comment_soft_delete(self, cid: str, now: int) -> None:
        await self.c.execute("UPDATE pm_comments SET deleted_at = $1 WHERE id = $2", now, cid)

    # -- dependencies --------------------------------------------------------------
    async def dep_get(self, did: str) -> Dependency | None:
        row = await self._one(
            f"SELECT {D_COLS} FROM pm_dependencies WHERE id = $1 AND deleted_at IS NULL"
            + self._lock(),
            did,
        )
        return Dependency(*row) if row else None

    async def deps_for_item(self, wid: str) -> list[Dependency]:
        return [
            Dependency(*r)
            for r in await self._all(
                f"SELECT {D_COLS} FROM pm_dependencies WHERE (blocking_item_id = $1"
                " OR blocked_item_id = $1) AND deleted_at IS NULL ORDER BY id",
                wid,
            )
        ]

    async def dep_pair_any(self, blocking: str, blocked: str) -> tuple[Dependency, bool] | None:
        await self._lock_dependencies()
        row = await self._one(
            f"SELECT {D_COLS}, deleted_at IS NOT NULL FROM pm_dependencies"
            " WHERE blocking_item_id = $1 AND blocked_item_id = $2",
            blocking,
            blocked,
        )
        return (Dependency(*row[:-1]), bool(row[-1])) if row else None

    async def dep_counts(self, wid: str) -> tuple[int, int]:
        await self._lock_dependencies()
        row = await self._one(
            "SELECT COUNT(*) FILTER (WHERE blocked_item_id = $1),"
            " COUNT(*) FILTER (WHERE blocking_item_id = $1)"
            " FROM pm_dependencies WHERE (blocked_item_id = $1 OR blocking_item_id = $1)"
            " AND deleted_at IS NULL",
            wid,
        )
        return (int(row[0]), int(row[1])) if row else (0, 0)

    async def blocks_edges(self) -> list[tuple[str, str]]:
        await self._lock_dependencies()
        rows = await self._all(
            "SELECT blocking_item_id, blocked_item_id FROM pm_dependencies"
            " WHERE dependency_type = 'blocks' AND deleted_at IS NULL ORDER BY seq"
        )
        return [(r[0], r[1]) for r in rows]

    async def dep_insert(self, d: Dependency) -> None:
        await self.c.execute(
            f"INSERT INTO pm_dependencies ({D_COLS}) VALUES ($1,$2,$3,$4,$5,$6)",
            d.id,
            d.blocking_item_id,
            d.blocked_item_id,
            d.dependency_type,
            d.created_at,
            d.created_by,
        )

    async def dep_replace_deleted(self, old_id: str, d: Dependency) -> None:
        await self.c.execute(
            "UPDATE pm_dependencies SET id = $1, dependency_type = $2, created_at = $3,"
            " created_by = $4, deleted_at = NULL WHERE id = $5 AND deleted_at IS NOT NULL",
            d.id,
            d.dependency_type,
            d.created_at,
            d.created_by,
            old_id,
        )

    async def dep_soft_delete(self, did: str, now: int) -> None:
        await self.c.execute("UPDATE pm_dependencies SET deleted_at = $1 WHERE id = $2", now, did)

    # -- time entries --------------------------------------------------------------
    async def te_get(self, tid: str) -> TimeEntry | None:
        row = await self._one(
            f"SELECT {T_COLS} FROM pm_time_entries WHERE id = $1 AND deleted_at IS NULL"
            + self._lock(),
            tid,
        )
        return _te(row) if row else None

    async def te_by_item(self, wid: str) -> list[TimeEntry]:
        return [
            _te(r)
            for r in await self._all(
                f"SELECT {T_COLS} FROM pm_time_entries WHERE work_item_id = $1"
                " AND deleted_at IS NULL ORDER BY started_at DESC, seq",
                wid,
            )
        ]

    async def te_running_for_user(self, user_id: str) -> list[TimeEntry]:
        if self.writing:
            # One running timer per user: starts by the same user take turns.
            await self._one("SELECT 1 FROM users WHERE id = $1 FOR NO KEY UPDATE", user_id)
        return [
            _te(r)
            for r in await self._all(
                f"SELECT {T_COLS} FROM pm_time_entries WHERE user_id = $1 AND ended_at IS NULL"
                " AND deleted_at IS NULL ORDER BY started_at DESC" + self._lock(),
                user_id,
            )
        ]

    async def te_insert(self, t: TimeEntry) -> None:
        await self.c.execute(
            f"INSERT INTO pm_time_entries ({T_COLS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)",
            t.id,
            t.work_item_id,
            t.user_id,
            t.started_at,
            t.ended_at,
            t.duration_seconds,
            t.description,
            t.created_at,
            t.updated_at,
        )

    async def te_update(self, t: TimeEntry) -> None:
        await self.c.execute(
            "UPDATE pm_time_entries SET work_item_id = $1, user_id = $2, started_at = $3,"
            " ended_at = $4, duration_seconds = $5, description = $6, created_at = $7,"
            " updated_at = $8 WHERE id = $9",
            t.work_item_id,
            t.user_id,
            t.started_at,
            t.ended_at,
            t.duration_seconds,
            t.description,
            t.created_at,
            t.updated_at,
            t.id,
        )

    async def te_soft_delete(self, tid: str, now: int) -> None:
        await self.c.execute("UPDATE pm_time_entries SET deleted_at = $1 WHERE id = $2", now, tid)

    # -- swim lanes, activity, llm context -----------------------------------------
    async def lanes_by_project(self, pid: str) -> list[SwimLane]:
        return [
            _lane(r)
            for r in await self._all(
                f"SELECT {L_COLS} FROM pm_swim_lanes WHERE project_id = $1"
                " AND deleted_at IS NULL ORDER BY position, id",
                pid,
            )
        ]

    async def activity_insert(self, a: ActivityEntry) -> None:
        await self.c.execute(
            f"INSERT INTO pm_activity_log ({A_COLS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)",
            a.id,
            a.entity_type,
            a.entity_id,
            a.action,
            a.field_name,
            a.old_value,
            a.new_value,
            a.user_id,
            a.timestamp,
            a.comment,
        )

    async def activity_for(
        self, entity_type: str, entity_id: str, limit: int, offset: int
    ) -> list[ActivityEntry]:
        return [
            ActivityEntry(*r)
            for r in await self._all(
                f"SELECT {A_COLS} FROM pm_activity_log WHERE entity_type = $1"
                " AND entity_id = $2 ORDER BY timestamp DESC, seq DESC LIMIT $3 OFFSET $4",
                entity_type,
                entity_id,
                limit,
                offset,
            )
        ]

    async def activity_count(self, entity_type: str, entity_id: str) -> int:
        row = await self._one(
            "SELECT COUNT(*) FROM pm_activity_log WHERE entity_type = $1 AND entity_id = $2",
            entity_type,
            entity_id,
        )
        return int(row[0]) if row else 0

    async def llm_context(self) -> list[LlmContextEntry]:
        return [
            LlmContextEntry(*r)
            for r in await self._all(
                "SELECT id, context_type, category, title, content, example_sql,"
                " example_description, priority FROM pm_llm_context WHERE deleted_at IS NULL"
                " ORDER BY priority DESC, title"
            )
        ]

    # -- idempotency -----------------------------------------------------------------
    async def idem_get(self, key: str) -> str | None:
        if self.writing:
            # A repeat of the same request on another process waits for the first one.
            await self.c.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", "pm_fast:idem:" + key
            )
        row = await self._one(
            "SELECT result_json FROM pm_idempotency_keys WHERE message_id = $1", key
        )
        return str(row[0]) if row else None

    async def idem_put(self, key: str, operation: str, result: str, now: int) -> None:
        await self.c.execute(
            "INSERT INTO pm_idempotency_keys (message_id, operation, result_json, created_at)"
            " VALUES ($1, $2, $3, $4) ON CONFLICT (message_id) DO NOTHING",
            key,
            operation,
            result,
            now,
        )

    async def idem_prune(self, older_than: int) -> None:
        await self.c.execute("DELETE FROM pm_idempotency_keys WHERE created_at < $1", older_than)

    # -- export --------------------------------------------------------------------
    async def export_all(self) -> dict[str, list[Any]]:
        return {
            "projects": await self.projects_all(),
            "work_items": [
                WorkItem(*r)
                for r in await self._all(
                    f"SELECT {W_COLS} FROM {W_FROM} WHERE w.deleted_at IS NULL"
                    " ORDER BY w.position, w.project_id, w.item_number"
                )
            ],
            "sprints": [
                Sprint(*r)
                for r in await self._all(
                    f"SELECT {S_COLS} FROM pm_sprints WHERE deleted_at IS NULL"
                    " ORDER BY start_date DESC, id"
                )
            ],
            "comments": [
                Comment(*r)
                for r in await self._all(
                    f"SELECT {C_COLS} FROM pm_comments WHERE deleted_at IS NULL"
                    " ORDER BY created_at, seq"
                )
            ],
            "swim_lanes": [
                _lane(r)
                for r in await self._all(
                    f"SELECT {L_COLS} FROM pm_swim_lanes WHERE deleted_at IS NULL"
                    " ORDER BY position, id"
                )
            ],
            "dependencies": [
                Dependency(*r)
                for r in await self._all(
                    f"SELECT {D_COLS} FROM pm_dependencies WHERE deleted_at IS NULL ORDER BY seq"
                )
            ],
            "time_entries": [
                _te(r)
                for r in await self._all(
                    f"SELECT {T_COLS} FROM pm_time_entries WHERE deleted_at IS NULL"
                    " ORDER BY started_at DESC, seq"
                )
            ],
        }

    async def items_by_ids(self, ids: list[str]) -> list[WorkItem]:
        if not ids:
            return []
        found = {
            r[0]: WorkItem(*r)
            for r in await self._all(
                f"SELECT {W_COLS} FROM {W_FROM} WHERE w.id = ANY($1::text[])"
                " AND w.deleted_at IS NULL",
                list(ids),
            )
        }
        return [found[i] for i in ids if i in found]

    async def item_children_rows(self, parent_ids: list[str]) -> list[tuple[str, str | None]]:
        if not parent_ids:
            return []
        rows = await self._all(
            "SELECT id, parent_id FROM pm_work_items WHERE parent_id = ANY($1::text[])"
            " AND deleted_at IS NULL ORDER BY position, item_number",
            list(parent_ids),
        )
        return [(r[0], r[1]) for r in rows]

    async def comments_for_items(self, ids: list[str]) -> list[Comment]:
        # SQLite's order: per id in the given order, then a stable sort by created_at.
        if not ids:
            return []
        return [
            Comment(*r)
            for r in await self._all(
                f"SELECT {C_COLS} FROM pm_comments WHERE work_item_id = ANY($1::text[])"
                " AND deleted_at IS NULL"
                " ORDER BY created_at, array_position($1::text[], work_item_id), seq",
                list(ids),
            )
        ]

    async def te_for_items(self, ids: list[str]) -> list[TimeEntry]:
        if not ids:
            return []
        return [
            _te(r)
            for r in await self._all(
                f"SELECT {T_COLS} FROM pm_time_entries WHERE work_item_id = ANY($1::text[])"
                " AND deleted_at IS NULL"
                " ORDER BY started_at DESC, array_position($1::text[], work_item_id), seq",
                list(ids),
            )
        ]

    async def deps_touching(self, ids: list[str]) -> list[Dependency]:
        if not ids:
            return []
        return [
            Dependency(*r)
            for r in await self._all(
                f"SELECT {D_COLS} FROM pm_dependencies WHERE deleted_at IS NULL AND"
                " (blocking_item_id = ANY($1::text[]) OR blocked_item_id = ANY($1::text[]))"
                " ORDER BY seq",
                list(ids),
            )
        ]

    # -- import --------------------------------------------------------------------
    async def import_item_overwrite(self, w: WorkItem) -> None:
        await self.item_update(w)


async def drive_async(program: Program[T], target: object) -> T:
    """Run `program`, awaiting each operation on `target` (cf. `store.base.drive`)."""
    try:
        op = next(program)
        while True:
            name, args = op
            op = program.send(await getattr(target, name)(*args))
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
            for version, description, sql in MIGRATIONS:
                if version in applied:
                    continue
                await conn.execute(sql)
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
            await conn.executemany(
                "INSERT INTO pm_llm_context (id, context_type, category, title, content,"
                " example_sql, example_description, priority, created_at, updated_at)"
                " VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10) ON CONFLICT DO NOTHING",
                [
                    (seed_id(n), ctype, cat, title, content, sql, desc, PRIORITY[ctype], now, now)
                    for n, ctype, cat, title, content, sql, desc in SEED
                ],
            )
            await conn.execute(
                "INSERT INTO users (id, email, name, created_at) VALUES ($1, $2, $3, $4)"
                " ON CONFLICT DO NOTHING",
                llm_user_id,
                f"{llm_user_id}@system.local",
                llm_user_name,
                now,
            )
            # Idempotency keys live a day (docs/compat.md), as on SQLite.
            await conn.execute("DELETE FROM pm_idempotency_keys WHERE created_at < $1", now - 86400)

    async def start_bus(self, publish: Any) -> Bus:
        """Start cross-process fan-out: events of other processes reach `publish`."""
        bus = Bus(self.connect_one, publish)
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
        pool, self._pool = self._pool, None
        if pool is not None:
            try:
                await asyncio.wait_for(pool.close(), 5.0)
            except _UNAVAILABLE:
                pool.terminate()

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
        except _UNAVAILABLE as err:
            log.warning("PostgreSQL unavailable: %s", err or type(err).__name__)
            raise unavailable() from None

    async def write(self, program: Program[T]) -> T:
        bus = self.bus
        async with self._connection() as conn:
            tx = PgTx(conn, self._known_users, writing=True)
            own: list[int] = []
            earlier: list[Any] = []
            projects: set[str | None] = set()
            try:
                async with conn.transaction():
                    result = await drive_async(program, tx)
                    events = events_of(result) if bus is not None else []
                    if events and bus is not None:
                        high, gaps = bus.floor()
                        own, earlier = await bus.outbox.append(
                            conn, events, high, gaps, int(time.time())
                        )
                        projects = {e.project_id for e in events}
                        # Until the caller has published our events, foreign events of
                        # these projects that commit after ours wait (order per project).
                        bus.hold(projects, max(own))
            except BaseException:
                if own and bus is not None:
                    bus.release(projects, max(own))
                raise
        self._known_users.update(tx.new_users)
        if own and bus is not None:
            try:
                await bus.wait_turn(projects, max(own))
                bus.committed(own, earlier)
            finally:
                # After the caller, resumed with our result, has published our events.
                asyncio.get_running_loop().call_soon(bus.release, projects, max(own))
        return result

    async def read(self, program: Program[T]) -> T:
        async with self._connection() as conn:
            tx = PgTx(conn, self._known_users, writing=False)
            async with conn.transaction(isolation="repeatable_read", readonly=True):
                return await drive_async(program, tx)

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
