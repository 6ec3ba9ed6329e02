"""The SQL of both stores, written once: statements, their parameters, their row mappers.

Statements are written with PostgreSQL's numbered placeholders (`$1`, `$2`, a number
may repeat) and translated once, at import, for SQLite (`?1`, `?2`: SQLite's numbered
parameters, so both stores bind the same argument tuple). A few words differ between
the two dialects and are written as tokens:

* `{seq}`: the column that gives insertion order (SQLite's `rowid`; the identity
  column `seq` on PostgreSQL, see postgres_schema.py);
* `{greatest}`: the two-argument maximum (`MAX` on SQLite, `GREATEST` on PostgreSQL);
* `{ids}`: membership in a list of ids, the operation's only argument (SQLite:
  `IN (?1, ..., ?n)`, expanded per call; PostgreSQL: `= ANY($1::text[])`).

A `Query` also says what its operation returns (`one` row, `all` rows, or nothing) and
how a row becomes a model; `Queries` declares the store operations that are nothing but
one query, with their argument and result types, so each store implements them with one
generic method (`SqliteTx._run`, `PgTx._run`). Operations that differ between the
stores (locking, optimistic version checks, caches, upserts that report conflicts) are
written by the stores themselves, from the statements here.

Column lists follow the field order of the msgspec Structs in pm_fast/core/model.py,
so a row builds an entity positionally.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, TypeVar, overload

from msgspec import structs

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


# -- column lists ------------------------------------------------------------------------
# Values read back into the range of the field they travel in. pm-fast checks every
# value before writing it, but a database written by an older pm-fast (or edited by
# hand) may hold more than a protobuf int32 or a year 1-9999 timestamp can carry, and one
# such row would make every list of its project fail to encode. Reads bring those into
# range; the next write of the row stores the value read.
def _within(column: str, low: int, high: int) -> str:
    """`column`, or the nearest bound when it lies outside [low, high] (NULL stays NULL)."""
    return (
        f"CASE WHEN {column} > {high} THEN {high} WHEN {column} < {low} THEN {low}"
        f" ELSE {column} END"
    )


def _i32(column: str) -> str:
    return _within(column, -(2**31), 2**31 - 1)


def _date(column: str) -> str:
    # 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59Z (core.rules.TIMESTAMP_RANGE)
    return _within(column, -62_135_596_800, 253_402_300_799)


# The columns an entity is written with, in the field order of its Struct.
P_INSERT_COLS = (
    "id, key, title, description, status, version, created_at, updated_at, created_by,"
    " updated_by, next_work_item_number"
)
S_INSERT_COLS = (
    "id, project_id, name, goal, start_date, end_date, status, version, created_at,"
    " updated_at, created_by, updated_by"
)
T_INSERT_COLS = (
    "id, work_item_id, user_id, started_at, ended_at, duration_seconds, description,"
    " created_at, updated_at"
)
# What an entity is read from, in the same order.
P_COLS = (
    f"id, key, title, description, status, {_i32('version')}, created_at, updated_at,"
    f" created_by, updated_by, {_i32('next_work_item_number')}"
)
S_COLS = (
    f"id, project_id, name, goal, {_date('start_date')}, {_date('end_date')}, status,"
    f" {_i32('version')}, created_at, updated_at, created_by, updated_by"
)
# story points, number, position and version of a work item `w`
W_INTS = (
    f"{_i32('w.story_points')}, {_i32('w.item_number')}, {_i32('w.position')}, {_i32('w.version')}"
)
W_COLS = (
    "w.id, COALESCE(p.key, 'UNKNOWN') || '-' || w.item_number, w.item_type, w.title,"
    " w.description, w.status, w.priority, w.parent_id, w.project_id, w.assignee_id,"
    f" w.sprint_id, {W_INTS}, w.created_at, w.updated_at, w.created_by, w.updated_by"
)
W_FROM = "pm_work_items w LEFT JOIN pm_projects p ON p.id = w.project_id AND p.deleted_at IS NULL"
C_COLS = "id, work_item_id, content, created_at, updated_at, created_by, updated_by"
D_COLS = "id, blocking_item_id, blocked_item_id, dependency_type, created_at, created_by"
T_COLS = (
    f"id, work_item_id, user_id, started_at, ended_at, {_i32('duration_seconds')},"
    " description, created_at, updated_at"
)
L_COLS = (
    f"id, project_id, name, status_value, {_i32('position')}, is_default, created_at, updated_at"
)
A_COLS = (
    "id, entity_type, entity_id, action, field_name, old_value, new_value, user_id,"
    " timestamp, comment"
)
# The columns a work item is written with: its fields but the display key.
W_INSERT_COLS = (
    "id, item_type, title, description, status, priority, parent_id, project_id, assignee_id,"
    " sprint_id, story_points, item_number, position, version, created_at, updated_at,"
    " created_by, updated_by"
)

STATE_TABLES = {
    "project": "pm_projects",
    "sprint": "pm_sprints",
    "work_item": "pm_work_items",
    "comment": "pm_comments",
    "time_entry": "pm_time_entries",
    "dependency": "pm_dependencies",
}

# -- dialects ----------------------------------------------------------------------------
_LITE_WORDS = {"{seq}": "rowid", "{greatest}": "MAX"}
_PG_WORDS = {"{seq}": "seq", "{greatest}": "GREATEST", "{ids}": "= ANY($1::text[])"}
_PLACEHOLDER = re.compile(r"\$(\d+)")
PG_LOCK = " FOR NO KEY UPDATE"


def _words(text: str, words: dict[str, str]) -> str:
    for token, word in words.items():
        text = text.replace(token, word)
    return text


def _lite_placeholder(number: re.Match[str]) -> str:
    return "?" + number[1]


def to_sqlite(text: str) -> str:
    # A function, not the template "?\1": `re` expands a template in Python for every
    # match, a third of this module's import time (the sidecar's start-up).
    return _PLACEHOLDER.sub(_lite_placeholder, _words(text, _LITE_WORDS))


def to_pg(text: str) -> str:
    return _words(text, _PG_WORDS)


def params(text: str) -> int:
    """The highest placeholder number in a statement."""
    return max((int(n) for n in _PLACEHOLDER.findall(text)), default=0)


def sqlite_ids(text: str, count: int) -> str:
    """A translated `{ids}` statement for a list of `count` ids."""
    return text.replace("{ids}", "IN (" + ",".join(f"?{i}" for i in range(1, count + 1)) + ")")


# -- row mappers -------------------------------------------------------------------------
def time_entry(row: Any) -> TimeEntry:
    return TimeEntry(
        row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[4] is None, row[7], row[8]
    )


def lane(row: Any) -> SwimLane:
    return SwimLane(row[0], row[1], row[2], row[3], row[4], bool(row[5]), row[6], row[7])


def _int(row: Any) -> int:
    return int(row[0])


def _bool(row: Any) -> bool:
    return bool(row[0])


def _str(row: Any) -> str:
    return str(row[0])


def _pair(row: Any) -> tuple[Any, Any]:
    return (row[0], row[1])


def _counts(row: Any) -> tuple[int, int]:
    return (int(row[0]), int(row[1]))


def _state(row: Any) -> str:
    return "live" if row[0] else "deleted"


def _with_deleted(model: Callable[..., Any]) -> Callable[[Any], tuple[Any, bool]]:
    """A row of the model's columns plus a last `deleted` flag."""

    def build(row: Any) -> tuple[Any, bool]:
        return (model(*row[:-1]), bool(row[-1]))

    return build


def _positional(model: Callable[..., Any]) -> Callable[[Any], Any]:
    def build(row: Any) -> Any:
        return model(*row)

    return build


# -- parameters of the writes ------------------------------------------------------------
# Most tables take an entity's fields in its Struct order (the column lists above).
_fields = structs.astuple


def _item_row(w: WorkItem) -> tuple[Any, ...]:
    """A work item's columns in the order of W_INSERT_COLS (its fields but the key)."""
    t = structs.astuple(w)
    return (t[0], *t[2:])


def item_create_args(w: WorkItem) -> tuple[Any, ...]:
    """A new item's columns but the number and position (which the store assigns)."""
    t = _item_row(w)
    return t[:11] + t[13:]


def _item_update_args(w: WorkItem) -> tuple[Any, ...]:
    t = _item_row(w)
    return t[:11] + t[12:]  # item_number never changes


def _te_args(t: TimeEntry) -> tuple[Any, ...]:
    f = structs.astuple(t)
    return f[:7] + f[8:]  # is_running is computed


# -- queries -----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Query:
    """One statement in both dialects and what its operation makes of the result.

    `returns`: "one" (the first row mapped by `row`, None without a row), "all" (every
    row mapped), or "none" (a write). `args` turns the operation's arguments into the
    statement's parameters (default: as given). `ids`: the only argument is a list of
    ids (`{ids}`); an empty list returns [] without a query, and `post(rows, ids)`
    may reorder the result. `seen` (PostgreSQL): the table whose row version a write
    transaction remembers for its optimistic UPDATE. `lockable` (PostgreSQL): write
    transactions read the rows `FOR NO KEY UPDATE` (`pg_locked`).
    """

    text: str
    lite: str
    pg: str
    pg_locked: str
    returns: str
    row: Callable[[Any], Any] | None
    args: Callable[..., tuple[Any, ...]] | None
    ids: bool
    post: Callable[[list[Any], Sequence[str]], list[Any]] | None
    seen: str | None


def query(
    text: str,
    returns: str = "none",
    row: Callable[[Any], Any] | None = None,
    *,
    args: Callable[..., tuple[Any, ...]] | None = None,
    ids: bool = False,
    post: Callable[[list[Any], Sequence[str]], list[Any]] | None = None,
    seen: str | None = None,
    lockable: bool = False,
) -> Query:
    pg = to_pg(text)
    return Query(
        text,
        to_sqlite(text),
        pg,
        pg + PG_LOCK if lockable else pg,
        returns,
        row,
        args,
        ids,
        post,
        seen,
    )


def bind(q: Query, *args: Any) -> tuple[Any, ...]:
    """The statement's parameters for the operation's arguments."""
    return q.args(*args) if q.args else args


@functools.cache
def versioned(q: Query) -> str:
    """PostgreSQL text of an UPDATE that applies only to a live row still at the version
    this transaction read (the last parameter; NULL when it read none)."""
    n = params(q.text) + 1
    return f"{q.pg} AND deleted_at IS NULL AND (${n}::bigint IS NULL OR version = ${n})"


# users
USER_INSERT = query(
    "INSERT INTO users (id, email, name, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING"
)
USER_EXISTS = query("SELECT EXISTS (SELECT 1 FROM users WHERE id = $1)", "one", _bool)
ROW_STATE = {
    entity: query(f"SELECT deleted_at IS NULL FROM {table} WHERE id = $1", "one", _state)
    for entity, table in STATE_TABLES.items()
}

# projects
PROJECT_GET = query(
    f"SELECT {P_COLS} FROM pm_projects WHERE id = $1 AND deleted_at IS NULL",
    "one",
    _positional(Project),
    seen="pm_projects",
)
PROJECT_BY_KEY = query(
    f"SELECT {P_COLS} FROM pm_projects WHERE key = $1 AND deleted_at IS NULL",
    "one",
    _positional(Project),
    seen="pm_projects",
)
PROJECT_BY_KEY_ANY = query(
    f"SELECT {P_COLS}, deleted_at IS NOT NULL FROM pm_projects WHERE key = $1",
    "one",
    _with_deleted(Project),
)
PROJECTS_ALL = query(
    f"SELECT {P_COLS} FROM pm_projects WHERE deleted_at IS NULL ORDER BY title, id",
    "all",
    _positional(Project),
)
PROJECT_INSERT = query(
    f"INSERT INTO pm_projects ({P_INSERT_COLS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)",
    args=_fields,
)
PROJECT_UPDATE = query(
    "UPDATE pm_projects SET key = $2, title = $3, description = $4, status = $5, version = $6,"
    " created_at = $7, updated_at = $8, created_by = $9, updated_by = $10 WHERE id = $1",
    args=lambda p: _fields(p)[:10],
)
PROJECT_SOFT_DELETE = query(
    "UPDATE pm_projects SET deleted_at = $2 WHERE id = $1 AND deleted_at IS NULL"
)
PROJECT_LIVE_ITEM_COUNT = query(
    "SELECT COUNT(*) FROM pm_work_items WHERE project_id = $1 AND deleted_at IS NULL",
    "one",
    _int,
)
# The project's next item number and its key (for the display key).
PROJECT_TAKE_NUMBER = query(
    "UPDATE pm_projects SET next_work_item_number = next_work_item_number + 1"
    " WHERE id = $1 AND deleted_at IS NULL RETURNING next_work_item_number - 1, key",
    "one",
    lambda r: (int(r[0]), str(r[1])),
)
PROJECT_RAISE_COUNTER = query(
    "UPDATE pm_projects SET next_work_item_number = {greatest}(next_work_item_number,"
    " (SELECT COALESCE(MAX(item_number), 0) + 1 FROM pm_work_items WHERE project_id = $1))"
    " WHERE id = $1"
)
# Writes to these tables cannot change whether a project is live or who its members
# are (no cascade or trigger leads from them to pm_projects or pm_project_members).
_ACCESS_NEUTRAL_TABLES = frozenset(
    {
        "pm_work_items",
        "pm_activity_log",
        "pm_idempotency_keys",
        "pm_comments",
        "pm_time_entries",
        "pm_sprints",
        "pm_dependencies",
        "pm_llm_context",
        "pm_fast_events",
        "pm_fast_event_seq",
    }
)
_WRITE_TARGET = re.compile(
    r"\b(?:INSERT(?:\s+OR\s+\w+)?\s+INTO|UPDATE(?:\s+OR\s+\w+)?|DELETE\s+FROM|REPLACE\s+INTO)"
    r"\s+(\w+)",
    re.IGNORECASE,
)
# Taking or raising an item number writes pm_projects, but not its state or members.
_keeps_access: dict[int, bool] = {id(PROJECT_TAKE_NUMBER): True, id(PROJECT_RAISE_COUNTER): True}


def keeps_access(q: Query) -> bool:
    """Whether running `q` leaves every project's state and members as they were (the
    writer's cache of them, sqlite.WriterCache, survives it): a plain SELECT, a write
    to a table listed above, or taking an item number. Anything else (a write to
    pm_projects or pm_project_members, to users, a statement of another shape) does
    not. Decided once per statement."""
    known = _keeps_access.get(id(q))
    if known is None:
        text = q.lite.lstrip()
        targets = _WRITE_TARGET.findall(text)
        if targets:
            known = all(t.lower() in _ACCESS_NEUTRAL_TABLES for t in targets)
        else:  # a read, unless it has a shape not foreseen here
            known = text[:6].upper() in ("SELECT", "WITH R", "WITH S") and (
                "RETURNING" not in text.upper()
            )
        _keeps_access[id(q)] = known
    return known


# Only role checks read members (one row per user and project): the order is a tie-break.
MEMBERS_OF = query(
    "SELECT user_id, role FROM pm_project_members WHERE project_id = $1 ORDER BY created_at, id",
    "all",
    _pair,
)
VIEWABLE_PROJECTS = query(
    f"SELECT {P_COLS} FROM pm_projects p WHERE deleted_at IS NULL AND ("
    " EXISTS (SELECT 1 FROM pm_project_members m WHERE m.project_id = p.id"
    " AND m.user_id = $1) OR NOT EXISTS (SELECT 1 FROM pm_project_members m"
    " WHERE m.project_id = p.id AND m.user_id != $2)) ORDER BY title, id",
    "all",
    _positional(Project),
)
MEMBER_ADD = query(
    "INSERT INTO pm_project_members (project_id, user_id, role, created_at, id)"
    " VALUES ($1,$2,$3,$4,$5) ON CONFLICT DO NOTHING"
)

# sprints
# Equal start dates come out oldest first, as the original lists them.
_SPRINT_ORDER = " ORDER BY start_date DESC, {seq}"
SPRINT_GET = query(
    f"SELECT {S_COLS} FROM pm_sprints WHERE id = $1 AND deleted_at IS NULL",
    "one",
    _positional(Sprint),
    seen="pm_sprints",
)
# The project of a sprint, deleted or not (an item may name a deleted sprint).
SPRINT_PROJECT = query("SELECT project_id FROM pm_sprints WHERE id = $1", "one", lambda r: r[0])
# The project of a work item, live or deleted.
ITEM_PROJECT = query("SELECT project_id FROM pm_work_items WHERE id = $1", "one", lambda r: r[0])
SPRINTS_BY_PROJECT = query(
    f"SELECT {S_COLS} FROM pm_sprints WHERE project_id = $1 AND deleted_at IS NULL" + _SPRINT_ORDER,
    "all",
    _positional(Sprint),
)
SPRINT_ACTIVE_OTHER = query(
    f"SELECT {S_COLS} FROM pm_sprints WHERE project_id = $1 AND status = 'active'"
    " AND id != $2 AND deleted_at IS NULL LIMIT 1",
    "one",
    _positional(Sprint),
)
SPRINT_INSERT = query(
    f"INSERT INTO pm_sprints ({S_INSERT_COLS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)",
    args=_fields,
)
SPRINT_UPDATE = query(
    "UPDATE pm_sprints SET project_id = $2, name = $3, goal = $4, start_date = $5,"
    " end_date = $6, status = $7, version = $8, created_at = $9, updated_at = $10,"
    " created_by = $11, updated_by = $12 WHERE id = $1",
    args=_fields,
)
SPRINT_SOFT_DELETE = query("UPDATE pm_sprints SET deleted_at = $2 WHERE id = $1")

# work items
ITEM_GET = query(
    f"SELECT {W_COLS} FROM {W_FROM} WHERE w.id = $1 AND w.deleted_at IS NULL",
    "one",
    _positional(WorkItem),
    seen="pm_work_items",
)
ITEM_BY_NUMBER = query(
    f"SELECT {W_COLS} FROM {W_FROM} WHERE w.project_id = $1 AND w.item_number = $2"
    " AND w.deleted_at IS NULL",
    "one",
    _positional(WorkItem),
    seen="pm_work_items",
)
ITEMS_BY_PROJECT = query(
    f"SELECT {W_COLS} FROM {W_FROM} WHERE w.project_id = $1 AND w.deleted_at IS NULL"
    " ORDER BY w.position, w.item_number",
    "all",
    _positional(WorkItem),
)
ITEMS_HIERARCHY = query(
    "SELECT id, parent_id FROM pm_work_items WHERE project_id = $1 AND deleted_at IS NULL"
    " ORDER BY position, item_number",
    "all",
    _pair,
)
ITEM_CHILDREN_ROWS = query(
    "SELECT id, parent_id FROM pm_work_items WHERE parent_id {ids}"
    " AND deleted_at IS NULL ORDER BY position, item_number",
    "all",
    _pair,
    ids=True,
)
ITEM_PARENT_CHAIN = query(
    "WITH RECURSIVE up(id, parent_id, depth) AS ("
    " SELECT id, parent_id, 0 FROM pm_work_items WHERE id = $1 AND deleted_at IS NULL"
    " UNION"
    " SELECT w.id, w.parent_id, up.depth + 1 FROM pm_work_items w JOIN up"
    " ON w.id = up.parent_id WHERE w.deleted_at IS NULL AND up.depth < $2)"
    " SELECT id, parent_id FROM up",
    "all",
    _pair,
)
ITEM_NUMBER_USED = query(
    "SELECT EXISTS (SELECT 1 FROM pm_work_items WHERE project_id = $1 AND item_number = $2)",
    "one",
    _bool,
)
# Children in another project (stored by versions that did not check, or by the
# original) do not hold their parent: its owners could neither see nor delete them.
ITEM_LIVE_CHILDREN = query(
    "SELECT COUNT(*) FROM pm_work_items WHERE parent_id = $1 AND deleted_at IS NULL"
    " AND project_id = (SELECT project_id FROM pm_work_items WHERE id = $1)",
    "one",
    _int,
)
ITEM_IS_LIVE = query(
    "SELECT EXISTS (SELECT 1 FROM pm_work_items WHERE id = $1 AND deleted_at IS NULL)",
    "one",
    _bool,
)
ITEM_INSERT = query(
    f"INSERT INTO pm_work_items ({W_INSERT_COLS})"
    " VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18)",
    args=_item_row,
)
# Every mutable column (never item_number).
ITEM_UPDATE = query(
    "UPDATE pm_work_items SET item_type = $2, title = $3, description = $4, status = $5,"
    " priority = $6, parent_id = $7, project_id = $8, assignee_id = $9, sprint_id = $10,"
    " story_points = $11, position = $12, version = $13, created_at = $14, updated_at = $15,"
    " created_by = $16, updated_by = $17 WHERE id = $1",
    args=_item_update_args,
)
ITEM_SOFT_DELETE = query(
    "UPDATE pm_work_items SET deleted_at = $2, updated_at = $2, updated_by = $3"
    " WHERE id = $1 AND deleted_at IS NULL"
)

# comments
COMMENT_GET = query(
    f"SELECT {C_COLS} FROM pm_comments WHERE id = $1 AND deleted_at IS NULL",
    "one",
    _positional(Comment),
    lockable=True,
)
COMMENTS_BY_ITEM = query(
    f"SELECT {C_COLS} FROM pm_comments WHERE work_item_id = $1 AND deleted_at IS NULL"
    " ORDER BY created_at, {seq}",
    "all",
    _positional(Comment),
)
COMMENT_INSERT = query(
    f"INSERT INTO pm_comments ({C_COLS}) VALUES ($1,$2,$3,$4,$5,$6,$7)", args=_fields
)
COMMENT_UPDATE = query(
    "UPDATE pm_comments SET work_item_id = $2, content = $3, created_at = $4,"
    " updated_at = $5, created_by = $6, updated_by = $7 WHERE id = $1",
    args=_fields,
)
COMMENT_SOFT_DELETE = query("UPDATE pm_comments SET deleted_at = $2 WHERE id = $1")

# dependencies
DEP_GET = query(
    f"SELECT {D_COLS} FROM pm_dependencies WHERE id = $1 AND deleted_at IS NULL",
    "one",
    _positional(Dependency),
    lockable=True,
)
DEPS_FOR_ITEM = query(
    f"SELECT {D_COLS} FROM pm_dependencies WHERE (blocking_item_id = $1"
    " OR blocked_item_id = $1) AND deleted_at IS NULL ORDER BY id",
    "all",
    _positional(Dependency),
)
DEP_PAIR_ANY = query(
    f"SELECT {D_COLS}, deleted_at IS NOT NULL FROM pm_dependencies"
    " WHERE blocking_item_id = $1 AND blocked_item_id = $2",
    "one",
    _with_deleted(Dependency),
)
# (live links where $1 is blocked, live links where $1 blocks)
DEP_COUNTS = query(
    "SELECT COUNT(*) FILTER (WHERE blocked_item_id = $1),"
    " COUNT(*) FILTER (WHERE blocking_item_id = $1)"
    " FROM pm_dependencies WHERE (blocked_item_id = $1 OR blocking_item_id = $1)"
    " AND deleted_at IS NULL",
    "one",
    _counts,
)
BLOCKS_EDGES = query(
    "SELECT blocking_item_id, blocked_item_id FROM pm_dependencies"
    " WHERE dependency_type = 'blocks' AND deleted_at IS NULL ORDER BY {seq}",
    "all",
    _pair,
)
DEP_INSERT = query(
    f"INSERT INTO pm_dependencies ({D_COLS}) VALUES ($1,$2,$3,$4,$5,$6)", args=_fields
)
DEP_REVIVE = query(
    "UPDATE pm_dependencies SET dependency_type = $2, created_at = $3, created_by = $4,"
    " deleted_at = NULL WHERE id = $1 AND deleted_at IS NOT NULL",
    args=lambda d: (d.id, d.dependency_type, d.created_at, d.created_by),
)
DEP_SOFT_DELETE = query("UPDATE pm_dependencies SET deleted_at = $2 WHERE id = $1")

# time entries
TE_GET = query(
    f"SELECT {T_COLS} FROM pm_time_entries WHERE id = $1 AND deleted_at IS NULL",
    "one",
    time_entry,
    lockable=True,
)
TE_BY_ITEM = query(
    f"SELECT {T_COLS} FROM pm_time_entries WHERE work_item_id = $1"
    " AND deleted_at IS NULL ORDER BY started_at DESC, {seq}",
    "all",
    time_entry,
)
TE_RUNNING_FOR_USER = query(
    f"SELECT {T_COLS} FROM pm_time_entries WHERE user_id = $1 AND ended_at IS NULL"
    " AND deleted_at IS NULL ORDER BY started_at DESC",
    "all",
    time_entry,
    lockable=True,
)
TE_INSERT = query(
    f"INSERT INTO pm_time_entries ({T_INSERT_COLS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)",
    args=_te_args,
)
TE_UPDATE = query(
    "UPDATE pm_time_entries SET work_item_id = $2, user_id = $3, started_at = $4,"
    " ended_at = $5, duration_seconds = $6, description = $7, created_at = $8,"
    " updated_at = $9 WHERE id = $1",
    args=_te_args,
)
TE_SOFT_DELETE = query("UPDATE pm_time_entries SET deleted_at = $2 WHERE id = $1")

# swim lanes, activity, llm context, idempotency
LANES_BY_PROJECT = query(
    f"SELECT {L_COLS} FROM pm_swim_lanes WHERE project_id = $1 AND deleted_at IS NULL"
    " ORDER BY position, id",
    "all",
    lane,
)
ACTIVITY_INSERT = query(
    f"INSERT INTO pm_activity_log ({A_COLS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)",
    args=_fields,
)
ACTIVITY_FOR = query(
    f"SELECT {A_COLS} FROM pm_activity_log WHERE entity_type = $1"
    " AND entity_id = $2 ORDER BY timestamp DESC, {seq} DESC LIMIT $3 OFFSET $4",
    "all",
    _positional(ActivityEntry),
)
ACTIVITY_COUNT = query(
    "SELECT COUNT(*) FROM pm_activity_log WHERE entity_type = $1 AND entity_id = $2",
    "one",
    _int,
)
LLM_CONTEXT = query(
    "SELECT id, context_type, category, title, content, example_sql,"
    f" example_description, {_i32('priority')} FROM pm_llm_context WHERE deleted_at IS NULL"
    " ORDER BY priority DESC, title",
    "all",
    _positional(LlmContextEntry),
)
LLM_SEED_INSERT = query(
    "INSERT INTO pm_llm_context (id, context_type, category, title, content,"
    " example_sql, example_description, priority, created_at, updated_at)"
    " VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10) ON CONFLICT DO NOTHING"
)
IDEM_GET = query("SELECT result_json FROM pm_idempotency_keys WHERE message_id = $1", "one", _str)
IDEM_PUT = query(
    "INSERT INTO pm_idempotency_keys (message_id, operation, result_json, created_at)"
    " VALUES ($1, $2, $3, $4) ON CONFLICT (message_id) DO NOTHING"
)
IDEM_PRUNE = query("DELETE FROM pm_idempotency_keys WHERE created_at < $1")

# export: what an import can restore, in the original's order -------------------------
# An export holds the live rows whose owners are exported too: work items and sprints of
# live projects; comments, time entries and links of exported items (a link needs both
# ends). A work item's parent or sprint that is not exported (deleted, or in a deleted
# project) is exported as null. So every reference in an export resolves inside it, or,
# for a scoped export, to a live row of the server (docs/compat.md).
#
# Orders are the original's (SQLite walks an index for each list, and ties come out in
# the index's order): projects by title (ties by key), work items by position (ties by
# project and number), sprints by start date descending (ties by end date, then the
# newest row, descending), comments by creation time (ties: the newest row first), links
# by blocked item (ties: the oldest row first), time entries by start descending (ties:
# the oldest row first). A scoped export lists the same rows in the same order as the
# full one, restricted to its items.
_LIVE_PROJECTS = "SELECT id FROM pm_projects WHERE deleted_at IS NULL"
_EXPORTED_ITEMS = (
    "SELECT xi.id FROM pm_work_items xi JOIN pm_projects xp ON xp.id = xi.project_id"
    " WHERE xi.deleted_at IS NULL AND xp.deleted_at IS NULL"
)
# A parent or sprint in another project is exported as null, and a link between two
# projects is left out: an import stores no such reference either (docs/compat.md).
_SAME_PROJECT_PARENT = (
    "EXISTS (SELECT 1 FROM pm_work_items xw WHERE xw.id = w.parent_id"
    " AND xw.project_id = w.project_id AND xw.deleted_at IS NULL)"
)
_SAME_PROJECT_SPRINT = (
    "EXISTS (SELECT 1 FROM pm_sprints xt WHERE xt.id = w.sprint_id"
    " AND xt.project_id = w.project_id AND xt.deleted_at IS NULL)"
)
_SAME_PROJECT_LINK = (
    "(SELECT project_id FROM pm_work_items WHERE id = blocking_item_id)"
    " = (SELECT project_id FROM pm_work_items WHERE id = blocked_item_id)"
)
_EXPORT_W_COLS = (
    "w.id, p.key || '-' || w.item_number, w.item_type, w.title, w.description, w.status,"
    f" w.priority, CASE WHEN {_SAME_PROJECT_PARENT} THEN w.parent_id END,"
    " w.project_id, w.assignee_id,"
    f" CASE WHEN {_SAME_PROJECT_SPRINT} THEN w.sprint_id END,"
    f" {W_INTS}, w.created_at, w.updated_at, w.created_by, w.updated_by"
)


def _export_lists(scoped: bool) -> dict[str, Query]:
    """The export's queries: of everything, or (`scoped`) restricted to a list of items."""

    def only(condition: str) -> str:
        return f" AND {condition}" if scoped else ""

    return {
        "work_items": query(
            f"SELECT {_EXPORT_W_COLS} FROM pm_work_items w JOIN pm_projects p"
            " ON p.id = w.project_id WHERE w.deleted_at IS NULL AND p.deleted_at IS NULL"
            + only("w.id {ids}")
            + " ORDER BY w.position, w.project_id, w.item_number",
            "all",
            _positional(WorkItem),
            ids=scoped,
        ),
        "sprints": query(
            f"SELECT {S_COLS} FROM pm_sprints WHERE deleted_at IS NULL"
            f" AND project_id IN ({_LIVE_PROJECTS})"
            + only("id {ids}")
            + " ORDER BY start_date DESC, end_date DESC, {seq} DESC",
            "all",
            _positional(Sprint),
            ids=scoped,
        ),
        "comments": query(
            f"SELECT {C_COLS} FROM pm_comments WHERE deleted_at IS NULL"
            f" AND work_item_id IN ({_EXPORTED_ITEMS})"
            + only("work_item_id {ids}")
            + " ORDER BY created_at, {seq} DESC",
            "all",
            _positional(Comment),
            ids=scoped,
        ),
        "dependencies": query(
            f"SELECT {D_COLS} FROM pm_dependencies WHERE deleted_at IS NULL"
            f" AND blocking_item_id IN ({_EXPORTED_ITEMS})"
            f" AND blocked_item_id IN ({_EXPORTED_ITEMS}) AND {_SAME_PROJECT_LINK}"
            + only("(blocking_item_id {ids} OR blocked_item_id {ids})")
            + " ORDER BY blocked_item_id, {seq}",
            "all",
            _positional(Dependency),
            ids=scoped,
        ),
        "time_entries": query(
            f"SELECT {T_COLS} FROM pm_time_entries WHERE deleted_at IS NULL"
            f" AND work_item_id IN ({_EXPORTED_ITEMS})"
            + only("work_item_id {ids}")
            + " ORDER BY started_at DESC, {seq}",
            "all",
            time_entry,
            ids=scoped,
        ),
    }


_FULL = _export_lists(scoped=False)
EXPORT = {
    "projects": query(
        f"SELECT {P_COLS} FROM pm_projects WHERE deleted_at IS NULL ORDER BY title, key",
        "all",
        _positional(Project),
    ),
    "work_items": _FULL["work_items"],
    "sprints": _FULL["sprints"],
    "comments": _FULL["comments"],
    "swim_lanes": query(
        f"SELECT {L_COLS} FROM pm_swim_lanes WHERE deleted_at IS NULL"
        f" AND project_id IN ({_LIVE_PROJECTS}) ORDER BY position, id",
        "all",
        lane,
    ),
    "dependencies": _FULL["dependencies"],
    "time_entries": _FULL["time_entries"],
}
# The lists of a scoped export, each for a list of ids: of work items (`work_items`,
# `comments`, `dependencies` touching them, `time_entries`) or of sprints (`sprints`).
EXPORT_SCOPED = _export_lists(scoped=True)

# -- store operations that are one query -------------------------------------------------
P = ParamSpec("P")
R = TypeVar("R")


class QueryOp(Generic[P, R]):
    """A store operation that is exactly one query: a method of both stores' `Tx`.

    Read on a transaction object it is a method taking the operation's arguments (`P`)
    and returning its result (`R`); the SQLite transaction runs the query at once, the
    PostgreSQL one returns a coroutine. The types are written once, in `Queries`, and
    mypy checks them against `base.Tx` / `base.AsyncTx` where the stores' drivers take
    their transactions.
    """

    __slots__ = ("q",)

    if not TYPE_CHECKING:
        # `QueryOp[[str], Project | None](query)` is written for mypy; at run time the
        # subscription gives the class itself (same instance: with __slots__ no alias
        # is recorded on it). Building the ~60 typing aliases cost ~2 ms of start-up.
        def __class_getitem__(cls, params):
            return cls

    def __init__(self, q: Query) -> None:
        self.q = q

    @overload
    def __get__(self, tx: None, owner: type) -> QueryOp[P, R]: ...
    @overload
    def __get__(self, tx: SyncQueries, owner: type) -> Callable[P, R]: ...
    @overload
    def __get__(self, tx: AsyncQueries, owner: type) -> Callable[P, Coroutine[Any, Any, R]]: ...
    def __get__(self, tx: SyncQueries | AsyncQueries | None, owner: type) -> Any:
        if tx is None:
            return self
        q, run = self.q, tx._run

        def operation(*args: Any) -> Any:
            return run(q, args)

        return operation


class Queries:
    """The store operations that are one query each, with their parameters and results.

    Both stores' transaction classes inherit them (through `SyncQueries` and
    `AsyncQueries`) and override those that need more on their store (caches, locks,
    optimistic version checks)."""

    project_get = QueryOp[[str], Project | None](PROJECT_GET)
    project_by_key = QueryOp[[str], Project | None](PROJECT_BY_KEY)
    project_by_key_any = QueryOp[[str], tuple[Project, bool] | None](PROJECT_BY_KEY_ANY)
    projects_all = QueryOp[[], list[Project]](PROJECTS_ALL)
    project_insert = QueryOp[[Project], None](PROJECT_INSERT)
    project_update = QueryOp[[Project], None](PROJECT_UPDATE)
    project_soft_delete = QueryOp[[str, int], None](PROJECT_SOFT_DELETE)
    project_live_item_count = QueryOp[[str], int](PROJECT_LIVE_ITEM_COUNT)
    project_raise_counter = QueryOp[[str], None](PROJECT_RAISE_COUNTER)
    viewable_projects = QueryOp[[str, str], list[Project]](VIEWABLE_PROJECTS)
    member_add = QueryOp[[str, str, str, int, str], None](MEMBER_ADD)
    sprint_get = QueryOp[[str], Sprint | None](SPRINT_GET)
    sprint_project = QueryOp[[str], str | None](SPRINT_PROJECT)
    item_project = QueryOp[[str], str | None](ITEM_PROJECT)
    sprints_by_project = QueryOp[[str], list[Sprint]](SPRINTS_BY_PROJECT)
    sprint_active_other = QueryOp[[str, str], Sprint | None](SPRINT_ACTIVE_OTHER)
    sprint_update = QueryOp[[Sprint], None](SPRINT_UPDATE)
    sprint_soft_delete = QueryOp[[str, int], None](SPRINT_SOFT_DELETE)
    sprint_insert = QueryOp[[Sprint], None](SPRINT_INSERT)
    item_get = QueryOp[[str], WorkItem | None](ITEM_GET)
    item_by_number = QueryOp[[str, int], WorkItem | None](ITEM_BY_NUMBER)
    items_by_project = QueryOp[[str], list[WorkItem]](ITEMS_BY_PROJECT)
    items_hierarchy = QueryOp[[str], list[tuple[str, str | None]]](ITEMS_HIERARCHY)
    item_children_rows = QueryOp[[Sequence[str]], list[tuple[str, str | None]]](ITEM_CHILDREN_ROWS)
    item_parent_chain = QueryOp[[str, int], list[tuple[str, str | None]]](ITEM_PARENT_CHAIN)
    item_live_children = QueryOp[[str], int](ITEM_LIVE_CHILDREN)
    item_number_used = QueryOp[[str, int], bool](ITEM_NUMBER_USED)
    comment_get = QueryOp[[str], Comment | None](COMMENT_GET)
    comments_by_item = QueryOp[[str], list[Comment]](COMMENTS_BY_ITEM)
    comment_insert = QueryOp[[Comment], None](COMMENT_INSERT)
    comment_update = QueryOp[[Comment], None](COMMENT_UPDATE)
    comment_soft_delete = QueryOp[[str, int], None](COMMENT_SOFT_DELETE)
    dep_get = QueryOp[[str], Dependency | None](DEP_GET)
    deps_for_item = QueryOp[[str], list[Dependency]](DEPS_FOR_ITEM)
    export_items = QueryOp[[Sequence[str]], list[WorkItem]](EXPORT_SCOPED["work_items"])
    export_sprints = QueryOp[[Sequence[str]], list[Sprint]](EXPORT_SCOPED["sprints"])
    export_comments = QueryOp[[Sequence[str]], list[Comment]](EXPORT_SCOPED["comments"])
    export_dependencies = QueryOp[[Sequence[str]], list[Dependency]](EXPORT_SCOPED["dependencies"])
    export_time_entries = QueryOp[[Sequence[str]], list[TimeEntry]](EXPORT_SCOPED["time_entries"])
    dep_pair_any = QueryOp[[str, str], tuple[Dependency, bool] | None](DEP_PAIR_ANY)
    dep_counts = QueryOp[[str], tuple[int, int]](DEP_COUNTS)
    blocks_edges = QueryOp[[], list[tuple[str, str]]](BLOCKS_EDGES)
    dep_insert = QueryOp[[Dependency], None](DEP_INSERT)
    dep_revive = QueryOp[[Dependency], None](DEP_REVIVE)
    dep_soft_delete = QueryOp[[str, int], None](DEP_SOFT_DELETE)
    te_get = QueryOp[[str], TimeEntry | None](TE_GET)
    te_by_item = QueryOp[[str], list[TimeEntry]](TE_BY_ITEM)
    te_running_for_user = QueryOp[[str], list[TimeEntry]](TE_RUNNING_FOR_USER)
    te_insert = QueryOp[[TimeEntry], None](TE_INSERT)
    te_update = QueryOp[[TimeEntry], None](TE_UPDATE)
    te_soft_delete = QueryOp[[str, int], None](TE_SOFT_DELETE)
    lanes_by_project = QueryOp[[str], list[SwimLane]](LANES_BY_PROJECT)
    activity_insert = QueryOp[[ActivityEntry], None](ACTIVITY_INSERT)
    activity_for = QueryOp[[str, str, int, int], list[ActivityEntry]](ACTIVITY_FOR)
    activity_count = QueryOp[[str, str], int](ACTIVITY_COUNT)
    llm_context = QueryOp[[], list[LlmContextEntry]](LLM_CONTEXT)
    idem_get = QueryOp[[str], str | None](IDEM_GET)
    idem_put = QueryOp[[str, str, str, int], None](IDEM_PUT)
    idem_prune = QueryOp[[int], None](IDEM_PRUNE)


class SyncQueries(Queries):
    """`Queries` run at once (the SQLite store's `SqliteTx`)."""

    def _run(self, q: Query, args: tuple[Any, ...]) -> Any:
        raise NotImplementedError


class AsyncQueries(Queries):
    """`Queries` as coroutines (the PostgreSQL store's `PgTx`)."""

    async def _run(self, q: Query, args: tuple[Any, ...]) -> Any:
        raise NotImplementedError
