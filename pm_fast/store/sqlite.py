"""SQLite store: one writer connection, a few reader connections, all through aiosqlite.

Each aiosqlite connection owns a thread. A program (see `store.base`) is shipped to
that thread as one callable and runs there start to finish inside one transaction, so
a mutation is one hop across threads no matter how many statements it needs.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar, cast

import aiosqlite

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
from .base import Program, drive
from .columns import (
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
from .sqlite_schema import MIGRATIONS, SCHEMA

log = logging.getLogger("pm_fast")
T = TypeVar("T")


class StoreOpenError(Exception):
    """The database cannot be opened as a pm-server database."""


def _te(row: tuple[Any, ...]) -> TimeEntry:
    return TimeEntry(
        row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[4] is None, row[7], row[8]
    )


def _lane(row: tuple[Any, ...]) -> SwimLane:
    return SwimLane(row[0], row[1], row[2], row[3], row[4], bool(row[5]), row[6], row[7])


class PositionCache:
    """Highest live sibling position per (project, parent), kept by the writer thread.

    Finding the next position otherwise scans every NULL-parent item of a project on
    each create (the original's indexes have no position column, and pm-fast keeps its
    schema identical). Only the writer fills it; any commit by another connection
    (`PRAGMA data_version` changes) or any rollback empties it.
    """

    def __init__(self) -> None:
        self.by_project: dict[str, dict[str | None, int]] = {}
        self.data_version = -1

    def validate(self, conn: sqlite3.Connection) -> None:
        version = conn.execute("PRAGMA data_version").fetchone()[0]
        if version != self.data_version:
            self.by_project.clear()
            self.data_version = version


class SqliteTx:
    """The operations a program may yield, executed synchronously on one connection."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        known_users: set[str],
        positions: PositionCache | None = None,
    ) -> None:
        self.c = conn
        self.known_users = known_users
        self.new_users: list[str] = []
        self.positions = positions

    # -- helpers -----------------------------------------------------------------
    def _one(self, sql: str, args: Iterable[Any] = ()) -> tuple[Any, ...] | None:
        row: tuple[Any, ...] | None = self.c.execute(sql, tuple(args)).fetchone()
        return row

    def _all(self, sql: str, args: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        rows: list[tuple[Any, ...]] = self.c.execute(sql, tuple(args)).fetchall()
        return rows

    # -- users ---------------------------------------------------------------------
    def ensure_user(self, user_id: str, now: int) -> None:
        if user_id in self.known_users:
            return
        self.c.execute(
            "INSERT OR IGNORE INTO users (id, email, name, created_at) VALUES (?, ?, NULL, ?)",
            (user_id, f"user-{user_id[:8]}@localhost", now),
        )
        self.new_users.append(user_id)

    def user_exists(self, user_id: str) -> bool:
        if user_id in self.known_users:
            return True
        return self._one("SELECT 1 FROM users WHERE id = ?", (user_id,)) is not None

    # -- generic -------------------------------------------------------------------
    def row_state(self, entity: str, row_id: str) -> str | None:
        """None if no row has this id, else 'live' or 'deleted'."""
        table = STATE_TABLES[entity]
        row = self._one(f"SELECT deleted_at IS NULL FROM {table} WHERE id = ?", (row_id,))
        if row is None:
            return None
        return "live" if row[0] else "deleted"

    # -- projects ------------------------------------------------------------------
    def project_get(self, pid: str) -> Project | None:
        row = self._one(
            f"SELECT {P_COLS} FROM pm_projects WHERE id = ? AND deleted_at IS NULL", (pid,)
        )
        return Project(*row) if row else None

    def project_by_key(self, key: str) -> Project | None:
        row = self._one(
            f"SELECT {P_COLS} FROM pm_projects WHERE key = ? AND deleted_at IS NULL", (key,)
        )
        return Project(*row) if row else None

    def project_by_key_any(self, key: str) -> tuple[Project, bool] | None:
        row = self._one(
            f"SELECT {P_COLS}, deleted_at IS NOT NULL FROM pm_projects WHERE key = ?", (key,)
        )
        return (Project(*row[:-1]), bool(row[-1])) if row else None

    def projects_all(self) -> list[Project]:
        return [
            Project(*r)
            for r in self._all(
                f"SELECT {P_COLS} FROM pm_projects WHERE deleted_at IS NULL ORDER BY title, id"
            )
        ]

    def project_insert(self, p: Project) -> None:
        self.c.execute(
            "INSERT INTO pm_projects (id, key, title, description, status, version, created_at,"
            " updated_at, created_by, updated_by, next_work_item_number)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (
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
            ),
        )

    def project_update(self, p: Project) -> None:
        self.c.execute(
            "UPDATE pm_projects SET key = ?, title = ?, description = ?, status = ?, version = ?,"
            " created_at = ?, updated_at = ?, created_by = ?, updated_by = ? WHERE id = ?",
            (
                p.key,
                p.title,
                p.description,
                p.status,
                p.version,
                p.created_at,
                p.updated_at,
                p.created_by,
                p.updated_by,
                p.id,
            ),
        )

    def project_soft_delete(self, pid: str, now: int) -> None:
        self.c.execute("UPDATE pm_projects SET deleted_at = ? WHERE id = ?", (now, pid))

    def project_live_item_count(self, pid: str) -> int:
        row = self._one(
            "SELECT COUNT(*) FROM pm_work_items WHERE project_id = ? AND deleted_at IS NULL",
            (pid,),
        )
        return int(row[0]) if row else 0

    def project_take_number(self, pid: str) -> int | None:
        row = self._one(
            "UPDATE pm_projects SET next_work_item_number = next_work_item_number + 1"
            " WHERE id = ? AND deleted_at IS NULL RETURNING next_work_item_number - 1",
            (pid,),
        )
        return int(row[0]) if row else None

    def project_raise_counter(self, pid: str) -> None:
        self.c.execute(
            "UPDATE pm_projects SET next_work_item_number = MAX(next_work_item_number,"
            " (SELECT COALESCE(MAX(item_number), 0) + 1 FROM pm_work_items WHERE project_id = ?))"
            " WHERE id = ?",
            (pid, pid),
        )

    def members_of(self, pid: str) -> list[tuple[str, str]]:
        return self._all(
            "SELECT user_id, role FROM pm_project_members WHERE project_id = ? ORDER BY created_at",
            (pid,),
        )

    def viewable_projects(self, user: str, llm_user: str) -> list[Project]:
        """Live projects where `user` is a member, or that are shared (no member but
        the LLM user), ordered by title."""
        return [
            Project(*r)
            for r in self._all(
                f"SELECT {P_COLS} FROM pm_projects p WHERE deleted_at IS NULL AND ("
                " EXISTS (SELECT 1 FROM pm_project_members m WHERE m.project_id = p.id"
                " AND m.user_id = ?) OR NOT EXISTS (SELECT 1 FROM pm_project_members m"
                " WHERE m.project_id = p.id AND m.user_id != ?)) ORDER BY title, id",
                (user, llm_user),
            )
        ]

    def member_add(self, pid: str, user_id: str, role: str, now: int, member_id: str) -> None:
        self.c.execute(
            "INSERT OR IGNORE INTO pm_project_members (id, project_id, user_id, role, created_at)"
            " VALUES (?,?,?,?,?)",
            (member_id, pid, user_id, role, now),
        )

    # -- sprints -------------------------------------------------------------------
    def sprint_get(self, sid: str) -> Sprint | None:
        row = self._one(
            f"SELECT {S_COLS} FROM pm_sprints WHERE id = ? AND deleted_at IS NULL", (sid,)
        )
        return Sprint(*row) if row else None

    def sprints_by_project(self, pid: str) -> list[Sprint]:
        return [
            Sprint(*r)
            for r in self._all(
                f"SELECT {S_COLS} FROM pm_sprints WHERE project_id = ? AND deleted_at IS NULL"
                " ORDER BY start_date DESC, id",
                (pid,),
            )
        ]

    def sprints_by_ids(self, ids: list[str]) -> list[Sprint]:
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        return [
            Sprint(*r)
            for r in self._all(
                f"SELECT {S_COLS} FROM pm_sprints WHERE id IN ({marks}) AND deleted_at IS NULL"
                " ORDER BY start_date DESC, id",
                ids,
            )
        ]

    def sprint_active_other(self, pid: str, exclude_id: str) -> Sprint | None:
        row = self._one(
            f"SELECT {S_COLS} FROM pm_sprints WHERE project_id = ? AND status = 'active'"
            " AND id != ? AND deleted_at IS NULL LIMIT 1",
            (pid, exclude_id),
        )
        return Sprint(*row) if row else None

    def sprint_insert(self, s: Sprint) -> None:
        self.c.execute(
            f"INSERT INTO pm_sprints ({S_COLS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (
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
            ),
        )

    def sprint_update(self, s: Sprint) -> None:
        self.c.execute(
            "UPDATE pm_sprints SET project_id = ?, name = ?, goal = ?, start_date = ?,"
            " end_date = ?, status = ?, version = ?, created_at = ?, updated_at = ?,"
            " created_by = ?, updated_by = ? WHERE id = ?",
            (
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
                s.id,
            ),
        )

    def sprint_soft_delete(self, sid: str, now: int) -> None:
        self.c.execute("UPDATE pm_sprints SET deleted_at = ? WHERE id = ?", (now, sid))

    # -- work items ----------------------------------------------------------------
    def item_get(self, wid: str) -> WorkItem | None:
        row = self._one(
            f"SELECT {W_COLS} FROM {W_FROM} WHERE w.id = ? AND w.deleted_at IS NULL", (wid,)
        )
        return WorkItem(*row) if row else None

    def item_by_number(self, pid: str, number: int) -> WorkItem | None:
        row = self._one(
            f"SELECT {W_COLS} FROM {W_FROM} WHERE w.project_id = ? AND w.item_number = ?"
            " AND w.deleted_at IS NULL",
            (pid, number),
        )
        return WorkItem(*row) if row else None

    def items_by_project(self, pid: str) -> list[WorkItem]:
        return [
            WorkItem(*r)
            for r in self._all(
                f"SELECT {W_COLS} FROM {W_FROM} WHERE w.project_id = ? AND w.deleted_at IS NULL"
                " ORDER BY w.position, w.item_number",
                (pid,),
            )
        ]

    def items_hierarchy(self, pid: str) -> list[tuple[str, str | None]]:
        """(id, parent_id) of the project's live items, in board order."""
        return self._all(
            "SELECT id, parent_id FROM pm_work_items WHERE project_id = ? AND deleted_at IS NULL"
            " ORDER BY position, item_number",
            (pid,),
        )

    def item_parent_chain(self, start: str, max_depth: int) -> list[tuple[str, str | None]]:
        """(id, parent_id) rows walking up from `start` (inclusive), any project."""
        return self._all(
            "WITH RECURSIVE up(id, parent_id, depth) AS ("
            " SELECT id, parent_id, 0 FROM pm_work_items WHERE id = ? AND deleted_at IS NULL"
            " UNION"
            " SELECT w.id, w.parent_id, up.depth + 1 FROM pm_work_items w JOIN up"
            " ON w.id = up.parent_id WHERE w.deleted_at IS NULL AND up.depth < ?)"
            " SELECT id, parent_id FROM up",
            (start, max_depth),
        )

    def item_number_used(self, pid: str, number: int) -> bool:
        return (
            self._one(
                "SELECT 1 FROM pm_work_items WHERE project_id = ? AND item_number = ?",
                (pid, number),
            )
            is not None
        )

    def item_max_position(self, pid: str, parent_id: str | None) -> int:
        cached = self.positions.by_project.get(pid) if self.positions else None
        if cached is not None and parent_id in cached:
            return cached[parent_id]
        row = self._one(
            "SELECT MAX(position) FROM pm_work_items WHERE project_id = ? AND parent_id IS ?"
            " AND deleted_at IS NULL",
            (pid, parent_id),
        )
        value = int(row[0]) if row and row[0] is not None else 0
        if self.positions is not None:
            self.positions.by_project.setdefault(pid, {})[parent_id] = value
        return value

    def _forget_positions(self, pid: str) -> None:
        if self.positions is not None:
            self.positions.by_project.pop(pid, None)

    def item_live_children(self, wid: str) -> int:
        row = self._one(
            "SELECT COUNT(*) FROM pm_work_items WHERE parent_id = ? AND deleted_at IS NULL",
            (wid,),
        )
        return int(row[0]) if row else 0

    def item_insert(self, w: WorkItem) -> None:
        self.c.execute(
            "INSERT INTO pm_work_items (id, item_type, parent_id, project_id, position, title,"
            " description, status, priority, story_points, assignee_id, sprint_id, item_number,"
            " version, created_at, updated_at, created_by, updated_by)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
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
            ),
        )
        siblings = self.positions.by_project.get(w.project_id) if self.positions else None
        if siblings is not None and w.parent_id in siblings:
            siblings[w.parent_id] = max(siblings[w.parent_id], w.position)

    def item_update(self, w: WorkItem) -> None:
        """Write every mutable column (never item_number)."""
        # Position or parent may change: forget the whole project (cheap to refill).
        self._forget_positions(w.project_id)
        self.c.execute(
            "UPDATE pm_work_items SET item_type = ?, parent_id = ?, project_id = ?, position = ?,"
            " title = ?, description = ?, status = ?, priority = ?, story_points = ?,"
            " assignee_id = ?, sprint_id = ?, version = ?, created_at = ?, updated_at = ?,"
            " created_by = ?, updated_by = ? WHERE id = ?",
            (
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
                w.id,
            ),
        )

    def item_soft_delete(self, wid: str, pid: str, now: int, actor: str) -> None:
        self._forget_positions(pid)
        self.c.execute(
            "UPDATE pm_work_items SET deleted_at = ?, updated_at = ?, updated_by = ? WHERE id = ?",
            (now, now, actor, wid),
        )

    # -- comments ------------------------------------------------------------------
    def comment_get(self, cid: str) -> Comment | None:
        row = self._one(
            f"SELECT {C_COLS} FROM pm_comments WHERE id = ? AND deleted_at IS NULL", (cid,)
        )
        return Comment(*row) if row else None

    def comments_by_item(self, wid: str) -> list[Comment]:
        return [
            Comment(*r)
            for r in self._all(
                f"SELECT {C_COLS} FROM pm_comments WHERE work_item_id = ? AND deleted_at IS NULL"
                " ORDER BY created_at, rowid",
                (wid,),
            )
        ]

    def comment_insert(self, c: Comment) -> None:
        self.c.execute(
            f"INSERT INTO pm_comments ({C_COLS}) VALUES (?,?,?,?,?,?,?)",
            (
                c.id,
                c.work_item_id,
                c.content,
                c.created_at,
                c.updated_at,
                c.created_by,
                c.updated_by,
            ),
        )

    def comment_update(self, c: Comment) -> None:
        self.c.execute(
            "UPDATE pm_comments SET work_item_id = ?, content = ?, created_at = ?,"
            " updated_at = ?, created_by = ?, updated_by = ? WHERE id = ?",
            (
                c.work_item_id,
                c.content,
                c.created_at,
                c.updated_at,
                c.created_by,
                c.updated_by,
                c.id,
            ),
        )

    def comment_soft_delete(self, cid: str, now: int) -> None:
        self.c.execute("UPDATE pm_comments SET deleted_at = ? WHERE id = ?", (now, cid))

    # -- dependencies --------------------------------------------------------------
    def dep_get(self, did: str) -> Dependency | None:
        row = self._one(
            f"SELECT {D_COLS} FROM pm_dependencies WHERE id = ? AND deleted_at IS NULL", (did,)
        )
        return Dependency(*row) if row else None

    def deps_for_item(self, wid: str) -> list[Dependency]:
        return [
            Dependency(*r)
            for r in self._all(
                f"SELECT {D_COLS} FROM pm_dependencies WHERE (blocking_item_id = ?"
                " OR blocked_item_id = ?) AND deleted_at IS NULL ORDER BY id",
                (wid, wid),
            )
        ]

    def dep_pair_any(self, blocking: str, blocked: str) -> tuple[Dependency, bool] | None:
        row = self._one(
            f"SELECT {D_COLS}, deleted_at IS NOT NULL FROM pm_dependencies"
            " WHERE blocking_item_id = ? AND blocked_item_id = ?",
            (blocking, blocked),
        )
        return (Dependency(*row[:-1]), bool(row[-1])) if row else None

    def dep_counts(self, wid: str) -> tuple[int, int]:
        """(live links where wid is blocked, live links where wid blocks)."""
        row = self._one(
            "SELECT COALESCE(SUM(blocked_item_id = ?), 0), COALESCE(SUM(blocking_item_id = ?), 0)"
            " FROM pm_dependencies WHERE (blocked_item_id = ? OR blocking_item_id = ?)"
            " AND deleted_at IS NULL",
            (wid, wid, wid, wid),
        )
        return (int(row[0]), int(row[1])) if row else (0, 0)

    def blocks_edges(self) -> list[tuple[str, str]]:
        return self._all(
            "SELECT blocking_item_id, blocked_item_id FROM pm_dependencies"
            " WHERE dependency_type = 'blocks' AND deleted_at IS NULL ORDER BY rowid"
        )

    def dep_insert(self, d: Dependency) -> None:
        self.c.execute(
            f"INSERT INTO pm_dependencies ({D_COLS}) VALUES (?,?,?,?,?,?)",
            (
                d.id,
                d.blocking_item_id,
                d.blocked_item_id,
                d.dependency_type,
                d.created_at,
                d.created_by,
            ),
        )

    def dep_replace_deleted(self, old_id: str, d: Dependency) -> None:
        self.c.execute(
            "UPDATE pm_dependencies SET id = ?, dependency_type = ?, created_at = ?,"
            " created_by = ?, deleted_at = NULL WHERE id = ? AND deleted_at IS NOT NULL",
            (d.id, d.dependency_type, d.created_at, d.created_by, old_id),
        )

    def dep_soft_delete(self, did: str, now: int) -> None:
        self.c.execute("UPDATE pm_dependencies SET deleted_at = ? WHERE id = ?", (now, did))

    # -- time entries --------------------------------------------------------------
    def te_get(self, tid: str) -> TimeEntry | None:
        row = self._one(
            f"SELECT {T_COLS} FROM pm_time_entries WHERE id = ? AND deleted_at IS NULL", (tid,)
        )
        return _te(row) if row else None

    def te_by_item(self, wid: str) -> list[TimeEntry]:
        return [
            _te(r)
            for r in self._all(
                f"SELECT {T_COLS} FROM pm_time_entries WHERE work_item_id = ?"
                " AND deleted_at IS NULL ORDER BY started_at DESC, rowid",
                (wid,),
            )
        ]

    def te_running_for_user(self, user_id: str) -> list[TimeEntry]:
        return [
            _te(r)
            for r in self._all(
                f"SELECT {T_COLS} FROM pm_time_entries WHERE user_id = ? AND ended_at IS NULL"
                " AND deleted_at IS NULL ORDER BY started_at DESC",
                (user_id,),
            )
        ]

    def te_insert(self, t: TimeEntry) -> None:
        self.c.execute(
            f"INSERT INTO pm_time_entries ({T_COLS}) VALUES (?,?,?,?,?,?,?,?,?)",
            (
                t.id,
                t.work_item_id,
                t.user_id,
                t.started_at,
                t.ended_at,
                t.duration_seconds,
                t.description,
                t.created_at,
                t.updated_at,
            ),
        )

    def te_update(self, t: TimeEntry) -> None:
        self.c.execute(
            "UPDATE pm_time_entries SET work_item_id = ?, user_id = ?, started_at = ?,"
            " ended_at = ?, duration_seconds = ?, description = ?, created_at = ?,"
            " updated_at = ? WHERE id = ?",
            (
                t.work_item_id,
                t.user_id,
                t.started_at,
                t.ended_at,
                t.duration_seconds,
                t.description,
                t.created_at,
                t.updated_at,
                t.id,
            ),
        )

    def te_soft_delete(self, tid: str, now: int) -> None:
        self.c.execute("UPDATE pm_time_entries SET deleted_at = ? WHERE id = ?", (now, tid))

    # -- swim lanes, activity, llm context -----------------------------------------
    def lanes_by_project(self, pid: str) -> list[SwimLane]:
        return [
            _lane(r)
            for r in self._all(
                f"SELECT {L_COLS} FROM pm_swim_lanes WHERE project_id = ? AND deleted_at IS NULL"
                " ORDER BY position, id",
                (pid,),
            )
        ]

    def activity_insert(self, a: ActivityEntry) -> None:
        self.c.execute(
            "INSERT INTO pm_activity_log (id, entity_type, entity_id, action, field_name,"
            " old_value, new_value, user_id, timestamp, comment) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (
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
            ),
        )

    def activity_for(
        self, entity_type: str, entity_id: str, limit: int, offset: int
    ) -> list[ActivityEntry]:
        return [
            ActivityEntry(*r)
            for r in self._all(
                "SELECT id, entity_type, entity_id, action, field_name, old_value, new_value,"
                " user_id, timestamp, comment FROM pm_activity_log WHERE entity_type = ?"
                " AND entity_id = ? ORDER BY timestamp DESC, rowid DESC LIMIT ? OFFSET ?",
                (entity_type, entity_id, limit, offset),
            )
        ]

    def activity_count(self, entity_type: str, entity_id: str) -> int:
        row = self._one(
            "SELECT COUNT(*) FROM pm_activity_log WHERE entity_type = ? AND entity_id = ?",
            (entity_type, entity_id),
        )
        return int(row[0]) if row else 0

    def llm_context(self) -> list[LlmContextEntry]:
        return [
            LlmContextEntry(*r)
            for r in self._all(
                "SELECT id, context_type, category, title, content, example_sql,"
                " example_description, priority FROM pm_llm_context WHERE deleted_at IS NULL"
                " ORDER BY priority DESC, title"
            )
        ]

    # -- idempotency -----------------------------------------------------------------
    def idem_get(self, key: str) -> str | None:
        row = self._one("SELECT result_json FROM pm_idempotency_keys WHERE message_id = ?", (key,))
        return str(row[0]) if row else None

    def idem_put(self, key: str, operation: str, result: str, now: int) -> None:
        self.c.execute(
            "INSERT INTO pm_idempotency_keys (message_id, operation, result_json, created_at)"
            " VALUES (?, ?, ?, ?) ON CONFLICT(message_id) DO NOTHING",
            (key, operation, result, now),
        )

    def idem_prune(self, older_than: int) -> None:
        self.c.execute("DELETE FROM pm_idempotency_keys WHERE created_at < ?", (older_than,))

    # -- export --------------------------------------------------------------------
    def export_all(self) -> dict[str, list[Any]]:
        return {
            "projects": self.projects_all(),
            "work_items": [
                WorkItem(*r)
                for r in self._all(
                    f"SELECT {W_COLS} FROM {W_FROM} WHERE w.deleted_at IS NULL"
                    " ORDER BY w.position, w.project_id, w.item_number"
                )
            ],
            "sprints": [
                Sprint(*r)
                for r in self._all(
                    f"SELECT {S_COLS} FROM pm_sprints WHERE deleted_at IS NULL"
                    " ORDER BY start_date DESC, id"
                )
            ],
            "comments": [
                Comment(*r)
                for r in self._all(
                    f"SELECT {C_COLS} FROM pm_comments WHERE deleted_at IS NULL"
                    " ORDER BY created_at, rowid"
                )
            ],
            "swim_lanes": [
                _lane(r)
                for r in self._all(
                    f"SELECT {L_COLS} FROM pm_swim_lanes WHERE deleted_at IS NULL"
                    " ORDER BY position, id"
                )
            ],
            "dependencies": [
                Dependency(*r)
                for r in self._all(
                    f"SELECT {D_COLS} FROM pm_dependencies WHERE deleted_at IS NULL ORDER BY rowid"
                )
            ],
            "time_entries": [
                _te(r)
                for r in self._all(
                    f"SELECT {T_COLS} FROM pm_time_entries WHERE deleted_at IS NULL"
                    " ORDER BY started_at DESC, rowid"
                )
            ],
        }

    def items_by_ids(self, ids: list[str]) -> list[WorkItem]:
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        found = {
            r[0]: WorkItem(*r)
            for r in self._all(
                f"SELECT {W_COLS} FROM {W_FROM} WHERE w.id IN ({marks}) AND w.deleted_at IS NULL",
                ids,
            )
        }
        return [found[i] for i in ids if i in found]

    def item_children_rows(self, parent_ids: list[str]) -> list[tuple[str, str | None]]:
        """(id, parent_id) of live children of any of `parent_ids`, in board order."""
        if not parent_ids:
            return []
        marks = ",".join("?" * len(parent_ids))
        return self._all(
            f"SELECT id, parent_id FROM pm_work_items WHERE parent_id IN ({marks})"
            " AND deleted_at IS NULL ORDER BY position, item_number",
            parent_ids,
        )

    def comments_for_items(self, ids: list[str]) -> list[Comment]:
        out: list[Comment] = []
        for i in ids:
            out.extend(self.comments_by_item(i))
        out.sort(key=lambda c: c.created_at)
        return out

    def te_for_items(self, ids: list[str]) -> list[TimeEntry]:
        out: list[TimeEntry] = []
        for i in ids:
            out.extend(self.te_by_item(i))
        out.sort(key=lambda t: -t.started_at)
        return out

    def deps_touching(self, ids: list[str]) -> list[Dependency]:
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        return [
            Dependency(*r)
            for r in self._all(
                f"SELECT {D_COLS} FROM pm_dependencies WHERE deleted_at IS NULL AND"
                f" (blocking_item_id IN ({marks}) OR blocked_item_id IN ({marks})) ORDER BY rowid",
                ids + ids,
            )
        ]

    # -- import --------------------------------------------------------------------
    def import_item_overwrite(self, w: WorkItem) -> None:
        self.item_update(w)


# PRAGMA synchronous: NORMAL is the original's (in WAL mode a commit survives a crash
# of the process but not necessarily of the machine); FULL syncs the WAL on every
# commit, which group commit pays once per batch.
SYNCHRONOUS = ("NORMAL", "FULL")


def _configure(conn: sqlite3.Connection, synchronous: str = "NORMAL") -> None:
    conn.execute("PRAGMA busy_timeout = 5000")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute(f"PRAGMA synchronous = {SYNCHRONOUS[SYNCHRONOUS.index(synchronous)]}")


def _settle(
    batch: list[tuple[Program[Any], asyncio.Future[Any]]], results: list[tuple[bool, Any]]
) -> None:
    """Give each waiting caller of a batch its own result or error."""
    for (_, future), (ok, value) in zip(batch, results, strict=True):
        if future.done():
            continue
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)


class SqliteStore:
    """The embedded default store."""

    def __init__(
        self,
        path: Path,
        readers: int = 2,
        batch_limit: int = 64,
        read_batch_limit: int = 64,
        synchronous: str = "NORMAL",
    ) -> None:
        self.path = path
        self.synchronous = synchronous
        self._reader_count = readers
        self._writer: aiosqlite.Connection | None = None
        self._readers: asyncio.Queue[aiosqlite.Connection] = asyncio.Queue()
        self._all_readers: list[aiosqlite.Connection] = []
        self._known_users: set[str] = set()
        self._positions = PositionCache()
        self._pending: list[tuple[Program[Any], asyncio.Future[Any]]] = []
        self._flushing = False
        # At most this many mutations share a transaction; 1 turns group commit off.
        self.batch_limit = batch_limit
        # Reads queue here and each free reader takes up to this many per thread hop.
        self._read_pending: list[tuple[Program[Any], asyncio.Future[Any]]] = []
        self.read_batch_limit = read_batch_limit

    # -- life cycle ----------------------------------------------------------------
    async def open(self, llm_user_id: str, llm_user_name: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        writer = await aiosqlite.connect(str(self.path), isolation_level=None)
        self._writer = writer
        try:
            await self._on_thread(writer, self._prepare, llm_user_id, llm_user_name)
        except BaseException:
            await writer.close()
            self._writer = None
            raise
        for _ in range(self._reader_count):
            reader = await aiosqlite.connect(str(self.path), isolation_level=None)
            await self._on_thread(reader, _configure, self.synchronous)
            self._all_readers.append(reader)
            self._release_reader(reader)

    @staticmethod
    async def _on_thread(conn: aiosqlite.Connection, fn: Callable[..., T], *args: Any) -> T:
        # aiosqlite runs every call on the connection's own thread; `_execute` is how
        # it ships a callable there (pinned version 0.22.1).
        raw = conn._conn
        result: T = await conn._execute(fn, raw, *args)  # type: ignore[no-untyped-call]
        return result

    def _prepare(self, conn: sqlite3.Connection, llm_user_id: str, llm_user_name: str) -> None:
        _configure(conn, self.synchronous)
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()
        if mode and str(mode[0]).lower() != "wal":
            log.warning("could not switch %s to WAL (journal mode %s)", self.path, mode[0])
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        now = int(time.time())
        if "pm_projects" not in tables:
            if tables - {"sqlite_sequence"}:
                raise StoreOpenError(
                    f"{self.path} is not a pm-server database (tables: {sorted(tables)})"
                )
            self._create(conn, now)
        else:
            self._check_migrations(conn, tables)
        conn.execute(
            "INSERT OR IGNORE INTO users (id, email, name, created_at) VALUES (?, ?, ?, ?)",
            (llm_user_id, f"{llm_user_id}@system.local", llm_user_name, now),
        )
        # Idempotency keys live a day (docs/compat.md); the original never pruned them.
        conn.execute("DELETE FROM pm_idempotency_keys WHERE created_at < ?", (now - 86400,))
        self._known_users.add(llm_user_id)

    def _create(self, conn: sqlite3.Connection, now: int) -> None:
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            for version, description, checksum in MIGRATIONS:
                conn.execute(
                    "INSERT INTO _sqlx_migrations (version, description, success, checksum,"
                    " execution_time) VALUES (?, ?, 1, ?, 0)",
                    (version, description, bytes.fromhex(checksum)),
                )
            for number, ctype, category, title, content, sql, sql_desc in SEED:
                conn.execute(
                    "INSERT OR IGNORE INTO pm_llm_context (id, context_type, category, title,"
                    " content, example_sql, example_description, priority, created_at,"
                    " updated_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
                    (
                        seed_id(number),
                        ctype,
                        category,
                        title,
                        content,
                        sql,
                        sql_desc,
                        PRIORITY[ctype],
                        now,
                        now,
                    ),
                )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        log.info("created database %s", self.path)

    def _check_migrations(self, conn: sqlite3.Connection, tables: set[str]) -> None:
        if "_sqlx_migrations" not in tables:
            raise StoreOpenError(f"{self.path} has no _sqlx_migrations table")
        applied = {
            int(v): (bytes(c).hex(), bool(s))
            for v, c, s in conn.execute("SELECT version, checksum, success FROM _sqlx_migrations")
        }
        missing = [v for v, _, _ in MIGRATIONS if v not in applied]
        if missing:
            raise StoreOpenError(
                f"{self.path} was written by an older pm-server: migrations {missing} are not"
                " applied; open it once with pm-server 0.1.4 first"
            )
        for version, _, checksum in MIGRATIONS:
            stored, success = applied[version]
            if stored != checksum or not success:
                raise StoreOpenError(
                    f"{self.path}: migration {version} has checksum {stored} (success={success}),"
                    f" expected {checksum}"
                )
        extra = sorted(set(applied) - {v for v, _, _ in MIGRATIONS})
        if extra:
            log.warning("%s has migrations newer than pm-server 0.1.4: %s", self.path, extra)

    async def close(self) -> None:
        # Let queued mutations finish: their callers are waiting for an answer.
        deadline = time.monotonic() + 10.0
        while (
            self._pending or self._flushing or self._read_pending
        ) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        for reader in self._all_readers:
            await reader.close()
        self._all_readers.clear()
        if self._writer is not None:
            await self._writer.close()
            self._writer = None

    # -- running programs ----------------------------------------------------------
    def _run_batch(
        self, conn: sqlite3.Connection, programs: list[Program[Any]]
    ) -> tuple[list[tuple[bool, Any]], list[str]]:
        """Group commit: every program in one transaction, each in its own savepoint.

        A program that raises is rolled back to its savepoint and gets its own error;
        the others still commit. Nothing is acknowledged before COMMIT returns.
        """
        results: list[tuple[bool, Any]] = []
        new_users: list[str] = []
        conn.execute("BEGIN IMMEDIATE")
        try:
            self._positions.validate(conn)
            # A lone mutation needs no savepoint: on error the transaction is its own.
            alone = len(programs) == 1
            for program in programs:
                tx = SqliteTx(conn, self._known_users, self._positions)
                if not alone:
                    conn.execute("SAVEPOINT program")
                try:
                    value = drive(program, tx)
                except Exception as err:  # noqa: BLE001 - the error belongs to its caller
                    conn.execute("ROLLBACK" if alone else "ROLLBACK TO program")
                    if not alone:
                        conn.execute("RELEASE program")
                    self._positions.by_project.clear()
                    results.append((False, err))
                    continue
                if not alone:
                    conn.execute("RELEASE program")
                results.append((True, value))
                new_users.extend(tx.new_users)
            if conn.in_transaction:
                conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            self._positions.by_project.clear()
            raise
        return results, new_users

    def _run_reads(
        self, conn: sqlite3.Connection, programs: list[Program[Any]]
    ) -> list[tuple[bool, Any]]:
        """Batched reads: every program on one snapshot, each with its own result."""
        results: list[tuple[bool, Any]] = []
        conn.execute("BEGIN")
        try:
            for program in programs:
                try:
                    results.append((True, drive(program, SqliteTx(conn, self._known_users))))
                except Exception as err:  # noqa: BLE001 - the error belongs to its caller
                    results.append((False, err))
        finally:
            conn.execute("COMMIT")
        return results

    async def write(self, program: Program[T]) -> T:
        """Queue a mutation; concurrent ones share one transaction (group commit)."""
        if self._writer is None:
            raise RuntimeError("store is closed")
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._pending.append((program, future))
        if not self._flushing:
            self._flushing = True
            asyncio.get_running_loop().create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        try:
            while self._pending and self._writer is not None:
                batch = self._pending[: self.batch_limit]
                del self._pending[: self.batch_limit]
                try:
                    done: tuple[list[tuple[bool, Any]], list[str]] = await self._on_thread(
                        self._writer, self._run_batch, [program for program, _ in batch]
                    )
                except BaseException as err:  # the whole transaction failed
                    _settle(batch, [(False, err)] * len(batch))
                    if not isinstance(err, Exception):
                        raise
                    continue
                results, new_users = done
                self._known_users.update(new_users)
                _settle(batch, results)
        finally:
            self._flushing = False

    async def read(self, program: Program[T]) -> T:
        """Run a read on a free reader, or queue it: a reader that comes free runs the
        queued reads together (one snapshot, one thread hop)."""
        if not self._read_pending and not self._readers.empty():
            reader = self._readers.get_nowait()
            try:
                ((ok, value),) = await self._on_thread(reader, self._run_reads, [program])
            finally:
                self._release_reader(reader)
            if ok:
                return cast(T, value)
            raise value
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._read_pending.append((program, future))
        if not self._readers.empty():
            self._start_reads(self._readers.get_nowait())
        return await future

    def _release_reader(self, reader: aiosqlite.Connection) -> None:
        if self._read_pending:
            self._start_reads(reader)
        else:
            self._readers.put_nowait(reader)

    def _start_reads(self, reader: aiosqlite.Connection) -> None:
        asyncio.get_running_loop().create_task(self._read_flush(reader))

    async def _read_flush(self, reader: aiosqlite.Connection) -> None:
        try:
            while self._read_pending:
                batch = self._read_pending[: self.read_batch_limit]
                del self._read_pending[: self.read_batch_limit]
                try:
                    results = await self._on_thread(
                        reader, self._run_reads, [program for program, _ in batch]
                    )
                except BaseException as err:  # the snapshot itself failed
                    _settle(batch, [(False, err)] * len(batch))
                    if not isinstance(err, Exception):
                        raise
                    continue
                _settle(batch, results)
        finally:
            if reader in self._all_readers:  # not closed meanwhile
                self._release_reader(reader)

    async def ping(self) -> float:
        reader = await self._readers.get()
        try:
            start = time.perf_counter()
            await self._on_thread(reader, lambda c: c.execute("SELECT 1").fetchone())
            return (time.perf_counter() - start) * 1000.0
        finally:
            self._release_reader(reader)

    async def checkpoint(self) -> None:
        writer = self._writer
        if writer is None:
            raise RuntimeError("store is closed")
        await self._on_thread(
            writer, lambda c: c.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        )
