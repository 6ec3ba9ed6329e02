"""Sync export and import (schema_version 1, spec §1.6)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import msgspec

from ..core import rules
from ..core.commands import ExportScope, Int32
from ..core.errors import DomainError, conflict, invalid, not_found
from ..core.model import (
    Comment,
    Dependency,
    Project,
    Sprint,
    SwimLane,
    TimeEntry,
    WorkItem,
)
from ..store.base import Program, Tx, op
from .access import require
from .common import Ctx, new_id, resolve_work_item

SCHEMA_VERSION = 1


class ExportData(msgspec.Struct):
    schema_version: int
    exported_at: str
    exported_by: str
    projects: list[Project]
    work_items: list[WorkItem]
    sprints: list[Sprint]
    comments: list[Comment]
    swim_lanes: list[SwimLane]
    dependencies: list[Dependency]
    time_entries: list[TimeEntry]


# -- import DTOs: like the export DTOs, but nullable fields may be left out ------------
class ProjectIn(msgspec.Struct):
    id: str
    key: str
    title: str
    status: str
    version: Int32
    created_at: int
    updated_at: int
    created_by: str
    updated_by: str
    next_work_item_number: Int32
    description: str | None = None


class SprintIn(msgspec.Struct):
    id: str
    project_id: str
    name: str
    start_date: int
    end_date: int
    status: str
    version: Int32
    created_at: int
    updated_at: int
    created_by: str
    updated_by: str
    goal: str | None = None


class WorkItemIn(msgspec.Struct):
    id: str
    display_key: str
    item_type: str
    title: str
    status: str
    priority: str
    project_id: str
    item_number: Int32
    position: Int32
    version: Int32
    created_at: int
    updated_at: int
    created_by: str
    updated_by: str
    description: str | None = None
    parent_id: str | None = None
    assignee_id: str | None = None
    sprint_id: str | None = None
    story_points: Int32 | None = None


class CommentIn(msgspec.Struct):
    id: str
    work_item_id: str
    content: str
    created_at: int
    updated_at: int
    created_by: str
    updated_by: str


class SwimLaneIn(msgspec.Struct):
    id: str
    project_id: str
    name: str
    status_value: str
    position: Int32
    is_default: bool
    created_at: int
    updated_at: int


class DependencyIn(msgspec.Struct):
    id: str
    blocking_item_id: str
    blocked_item_id: str
    dependency_type: str
    created_at: int
    created_by: str


class TimeEntryIn(msgspec.Struct):
    id: str
    work_item_id: str
    user_id: str
    started_at: int
    is_running: bool
    created_at: int
    updated_at: int
    ended_at: int | None = None
    duration_seconds: Int32 | None = None
    description: str | None = None


class ImportData(msgspec.Struct):
    schema_version: int
    exported_at: str
    exported_by: str
    projects: list[ProjectIn]
    work_items: list[WorkItemIn]
    sprints: list[SprintIn]
    comments: list[CommentIn]
    swim_lanes: list[SwimLaneIn]
    dependencies: list[DependencyIn]
    time_entries: list[TimeEntryIn]


class Counts(msgspec.Struct):
    created: int = 0
    updated: int = 0
    skipped: int = 0


class ImportResult(msgspec.Struct):
    projects: Counts
    sprints: Counts
    swim_lanes: Counts
    work_items: Counts
    comments: Counts
    dependencies: Counts
    time_entries: Counts


def _now_rfc3339() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


# -- export ---------------------------------------------------------------------------
# Both exports hold exactly what an import restores, in the original's order (the
# queries in store/sql.py say which rows and why; docs/compat.md).
# With auth enabled an export holds only the projects the caller may view.
def export(ctx: Ctx, scope: ExportScope) -> Program[ExportData]:
    if scope.work_item is None:
        everything: dict[str, Any] = yield from op(lambda tx: tx.export_all())
        if ctx.authenticated:
            everything = yield from _viewable_part(ctx, everything)
        return ExportData(SCHEMA_VERSION, _now_rfc3339(), "pm-server", **everything)
    root = yield from resolve_work_item(scope.work_item)
    yield from require(ctx, root.project_id, "view")
    ids = [root.id]
    seen = {root.id}
    frontier = [root.id]
    for _ in range(scope.descendant_levels):
        if not frontier:
            break
        rows: list[tuple[str, str | None]] = yield from op(
            lambda tx: tx.item_children_rows(frontier)
        )
        frontier = [i for i, _ in rows if i not in seen]
        seen.update(frontier)
        ids.extend(frontier)
    items: list[WorkItem] = yield from op(lambda tx: tx.export_items(ids))
    if ctx.authenticated:
        visible = yield from _viewable_ids(ctx)
        items = [i for i in items if i.project_id in visible]
    if not any(i.id == root.id for i in items):
        # An item of a deleted project: never exported (an import could not restore it).
        raise not_found(f"Work item with ID {root.id} not found")
    ids = [i.id for i in items]
    comments: list[Comment] = (
        (yield from op(lambda tx: tx.export_comments(ids))) if scope.comments else []
    )
    entries: list[TimeEntry] = (
        (yield from op(lambda tx: tx.export_time_entries(ids))) if scope.time_entries else []
    )
    deps: list[Dependency] = (
        (yield from op(lambda tx: tx.export_dependencies(ids))) if scope.dependencies else []
    )
    sprints: list[Sprint] = []
    if scope.sprints:
        sprint_ids = list(dict.fromkeys(i.sprint_id for i in items if i.sprint_id))
        sprints = yield from op(lambda tx: tx.export_sprints(sprint_ids))
        if ctx.authenticated:
            sprints = [s for s in sprints if s.project_id in visible]
    return ExportData(
        SCHEMA_VERSION, _now_rfc3339(), "pm-server", [], items, sprints, comments, [], deps, entries
    )


def _viewable_ids(ctx: Ctx) -> Program[set[str]]:
    found: list[Project] = yield from op(lambda tx: tx.viewable_projects(ctx.actor, ctx.llm_user))
    return {p.id for p in found}


def _viewable_part(ctx: Ctx, rows: dict[str, Any]) -> Program[dict[str, Any]]:
    """The rows of a full export that belong to projects `ctx` may view."""
    visible = yield from _viewable_ids(ctx)
    items = [w for w in rows["work_items"] if w.project_id in visible]
    item_ids = {w.id for w in items}
    return {
        "projects": [p for p in rows["projects"] if p.id in visible],
        "work_items": items,
        "sprints": [s for s in rows["sprints"] if s.project_id in visible],
        "swim_lanes": [s for s in rows["swim_lanes"] if s.project_id in visible],
        "comments": [c for c in rows["comments"] if c.work_item_id in item_ids],
        "dependencies": [
            d
            for d in rows["dependencies"]
            if d.blocking_item_id in item_ids and d.blocked_item_id in item_ids
        ],
        "time_entries": [t for t in rows["time_entries"] if t.work_item_id in item_ids],
    }


# -- import ---------------------------------------------------------------------------
def _bad(entity: str, index: int, err: DomainError) -> DomainError:
    return invalid(f"Failed to convert {entity} DTO #{index}: {err.message}", err.field)


def _uuid(value: str, field: str) -> str:
    return rules.parse_uuid(value, field)


def _opt_uuid(value: str | None, field: str) -> str | None:
    return None if value is None else rules.parse_uuid(value, field)


def _ts(value: int, field: str) -> int:
    return rules.check_timestamp(value, field)


def _next_number(value: int) -> int:
    """A project's counter: the number its next item gets, or one past the last one."""
    if not (1 <= value <= rules.MAX_ITEM_NUMBER + 1):
        raise invalid(
            f"next_work_item_number must be between 1 and {rules.MAX_ITEM_NUMBER + 1}, got {value}",
            "next_work_item_number",
        )
    return value


def _project(p: ProjectIn) -> Project:
    return Project(
        _uuid(p.id, "id"),
        p.key,
        p.title,
        p.description,
        rules.check_choice(p.status, rules.PROJECT_STATUSES, "status", "status"),
        p.version,
        _ts(p.created_at, "created_at"),
        _ts(p.updated_at, "updated_at"),
        _uuid(p.created_by, "created_by"),
        _uuid(p.updated_by, "updated_by"),
        _next_number(p.next_work_item_number),
    )


def _sprint(s: SprintIn) -> Sprint:
    return Sprint(
        _uuid(s.id, "id"),
        _uuid(s.project_id, "project_id"),
        s.name,
        s.goal,
        _ts(s.start_date, "start_date"),
        _ts(s.end_date, "end_date"),
        rules.check_choice(s.status, rules.SPRINT_STATUSES, "status", "status"),
        s.version,
        _ts(s.created_at, "created_at"),
        _ts(s.updated_at, "updated_at"),
        _uuid(s.created_by, "created_by"),
        _uuid(s.updated_by, "updated_by"),
    )


def _item(w: WorkItemIn) -> WorkItem:
    return WorkItem(
        _uuid(w.id, "id"),
        w.display_key,
        rules.check_item_type(w.item_type),
        w.title,
        w.description,
        rules.check_choice(w.status, rules.ITEM_STATUSES, "status", "status"),
        rules.check_choice(w.priority, rules.PRIORITIES, "priority", "priority"),
        _opt_uuid(w.parent_id, "parent_id"),
        _uuid(w.project_id, "project_id"),
        _opt_uuid(w.assignee_id, "assignee_id"),
        _opt_uuid(w.sprint_id, "sprint_id"),
        w.story_points,
        rules.check_item_number(w.item_number),
        w.position,
        w.version,
        _ts(w.created_at, "created_at"),
        _ts(w.updated_at, "updated_at"),
        _uuid(w.created_by, "created_by"),
        _uuid(w.updated_by, "updated_by"),
    )


def _comment(c: CommentIn) -> Comment:
    return Comment(
        _uuid(c.id, "id"),
        _uuid(c.work_item_id, "work_item_id"),
        c.content,
        _ts(c.created_at, "created_at"),
        _ts(c.updated_at, "updated_at"),
        _uuid(c.created_by, "created_by"),
        _uuid(c.updated_by, "updated_by"),
    )


def _dependency(d: DependencyIn) -> Dependency:
    return Dependency(
        _uuid(d.id, "id"),
        _uuid(d.blocking_item_id, "blocking_item_id"),
        _uuid(d.blocked_item_id, "blocked_item_id"),
        rules.check_choice(d.dependency_type, rules.DEPENDENCY_TYPES, "dependency_type", "type"),
        _ts(d.created_at, "created_at"),
        _uuid(d.created_by, "created_by"),
    )


def _time_entry(t: TimeEntryIn) -> TimeEntry:
    ended = None if t.ended_at is None else _ts(t.ended_at, "ended_at")
    return TimeEntry(
        _uuid(t.id, "id"),
        _uuid(t.work_item_id, "work_item_id"),
        _uuid(t.user_id, "user_id"),
        _ts(t.started_at, "started_at"),
        ended,
        t.duration_seconds,
        t.description,
        ended is None,
        _ts(t.created_at, "created_at"),
        _ts(t.updated_at, "updated_at"),
    )


def _convert(entity: str, rows: list[Any], fn: Any) -> list[Any]:
    out = []
    for index, row in enumerate(rows):
        try:
            out.append(fn(row))
        except DomainError as err:
            raise _bad(entity, index, err) from None
    return out


def _parents_first(items: list[WorkItem]) -> list[WorkItem]:
    by_id = {w.id: w for w in items}
    done: set[str] = set()
    ordered: list[WorkItem] = []
    for start in items:
        chain: list[WorkItem] = []
        node: WorkItem | None = start
        while node is not None and node.id not in done and node not in chain:
            chain.append(node)
            node = by_id.get(node.parent_id) if node.parent_id else None
        for w in reversed(chain):
            if w.id not in done:
                done.add(w.id)
                ordered.append(w)
    return ordered


def _require_import_rights(
    ctx: Ctx,
    projects: list[Project],
    sprints: list[Sprint],
    items: list[WorkItem],
    comments: list[Comment],
    deps: list[Dependency],
    entries: list[TimeEntry],
) -> Program[None]:
    """With auth enabled an import may write only into projects the caller administers
    or that the import creates (docs/compat.md). A row is placed by the file and, if it
    exists here, by where it is now; rows of projects unknown here are skipped by the
    import and need nothing."""
    created: set[str] = set()
    touched: set[str] = set()
    for p in projects:
        if (yield from op(lambda tx: tx.row_state("project", p.id))) is None:
            created.add(p.id)
        else:
            touched.add(p.id)
    touched.update(s.project_id for s in sprints)
    touched.update(w.project_id for w in items)
    for s in sprints:
        stored_sprint: str | None = yield from op(lambda tx: tx.sprint_project(s.id))
        if stored_sprint is not None:
            touched.add(stored_sprint)
    in_file = {w.id: w.project_id for w in items}
    item_ids = [w.id for w in items]
    item_ids += [c.work_item_id for c in comments] + [t.work_item_id for t in entries]
    for d in deps:
        item_ids += [d.blocking_item_id, d.blocked_item_id]
    for c in comments:
        stored_comment: Comment | None = yield from op(lambda tx: tx.comment_get(c.id))
        if stored_comment is not None:
            item_ids.append(stored_comment.work_item_id)
    for t in entries:
        stored_entry: TimeEntry | None = yield from op(lambda tx: tx.te_get(t.id))
        if stored_entry is not None:
            item_ids.append(stored_entry.work_item_id)
    for wid in dict.fromkeys(item_ids):
        for pid in (in_file.get(wid), (yield from op(lambda tx: tx.item_project(wid)))):
            if pid is not None:
                touched.add(pid)
    for pid in sorted(touched - created):
        if (yield from op(lambda tx: tx.row_state("project", pid))) is not None:
            yield from require(ctx, pid, "admin")


def import_data(ctx: Ctx, data: ImportData) -> Program[ImportResult]:
    """Upsert everything in one transaction (the original had none; docs/compat.md)."""
    if data.schema_version != SCHEMA_VERSION:
        raise invalid(f"Unsupported schema version: {data.schema_version}", "schema_version")
    projects = _convert("project", data.projects, _project)
    sprints = _convert("sprint", data.sprints, _sprint)
    items = _parents_first(_convert("work_item", data.work_items, _item))
    comments = _convert("comment", data.comments, _comment)
    deps = _convert("dependency", data.dependencies, _dependency)
    entries = _convert("time_entry", data.time_entries, _time_entry)
    if ctx.authenticated:
        yield from _require_import_rights(ctx, projects, sprints, items, comments, deps, entries)
    items, deps, crossing = yield from _confine_references(items, sprints, deps)
    result = ImportResult(Counts(), Counts(), Counts(), Counts(), Counts(), Counts(), Counts())
    result.dependencies.skipped = crossing
    result.swim_lanes.skipped = len(data.swim_lanes)

    for p in projects:
        state = yield from op(lambda tx: tx.row_state("project", p.id))
        if state is None:
            taken: tuple[Project, bool] | None = yield from op(
                lambda tx: tx.project_by_key_any(p.key)
            )
            if taken is not None:
                raise conflict(f"Project with key '{p.key}' already exists", taken[0].version)
            yield from op(lambda tx: tx.project_insert(p))
            # With auth enabled the importing user administers what it creates.
            admin = ctx.actor if ctx.authenticated else p.created_by
            if ctx.authenticated:
                yield from op(lambda tx: tx.ensure_user(ctx.actor, ctx.now))
            yield from op(lambda tx: tx.member_add(p.id, admin, "admin", ctx.now, new_id()))
            result.projects.created += 1
            continue
        current: Project | None = None
        if state == "live":
            current = yield from op(lambda tx: tx.project_get(p.id))
        if current is not None and p.updated_at > current.updated_at:
            if p.key != current.key:
                other: Project | None = yield from op(lambda tx: tx.project_by_key(p.key))
                if other is not None and other.id != p.id:
                    raise conflict(f"Project with key '{p.key}' already exists", other.version)
            yield from op(lambda tx: tx.project_update(p))
            result.projects.updated += 1
        else:
            result.projects.skipped += 1

    # Rows whose owner is in neither the payload nor this server (the original exports
    # the live rows of deleted projects and items) are skipped; a parent or sprint that
    # is unknown is left out (docs/compat.md). Sprints and comments go in in reverse:
    # an export lists equal dates newest row first, and so will the next export.
    for s in reversed(sprints):
        yield from _upsert(
            ctx,
            result.sprints,
            "sprint",
            s,
            lambda tx, r: tx.sprint_get(r),
            lambda tx, r: tx.sprint_insert(r),
            lambda tx, r: tx.sprint_update(r),
        )

    touched_projects: set[str] = set()
    for w in items:
        created = yield from _upsert(
            ctx,
            result.work_items,
            "work_item",
            w,
            lambda tx, r: tx.item_get(r),
            lambda tx, r: tx.item_insert(r),
            lambda tx, r: tx.item_update(r),
        )
        if created:
            touched_projects.add(w.project_id)
    for pid in touched_projects:
        yield from op(lambda tx: tx.project_raise_counter(pid))

    for c in reversed(comments):
        yield from _upsert(
            ctx,
            result.comments,
            "comment",
            c,
            lambda tx, r: tx.comment_get(r),
            lambda tx, r: tx.comment_insert(r),
            lambda tx, r: tx.comment_update(r),
        )

    for d in deps:
        state = yield from op(lambda tx: tx.row_state("dependency", d.id))
        if state is not None:
            result.dependencies.skipped += 1
            continue
        pair: tuple[Dependency, bool] | None = yield from op(
            lambda tx: tx.dep_pair_any(d.blocking_item_id, d.blocked_item_id)
        )
        if pair is not None:
            result.dependencies.skipped += 1
            continue
        if d.blocking_item_id == d.blocked_item_id:
            raise invalid("A work item cannot depend on itself", "blocked_item_id")
        if not (yield from _owners_known("dependency", d)):
            result.dependencies.skipped += 1
            continue
        yield from op(lambda tx: tx.ensure_user(d.created_by, ctx.now))
        yield from op(lambda tx: tx.dep_insert(d))
        result.dependencies.created += 1

    for t in entries:
        yield from _upsert(
            ctx,
            result.time_entries,
            "time_entry",
            t,
            lambda tx, r: tx.te_get(r),
            lambda tx, r: tx.te_insert(r),
            lambda tx, r: tx.te_update(r),
        )
    return result


def _confine_references(
    items: list[WorkItem], sprints: list[Sprint], deps: list[Dependency]
) -> Program[tuple[list[WorkItem], list[Dependency], int]]:
    """Keep every reference of the file inside its project (docs/compat.md).

    A record that this server keeps in another project than the file says (an item or
    sprint moved between projects) refuses the whole import (400, naming it). A work
    item's parent or sprint in another project is imported as null and a link between
    two projects is left out (counted as skipped), as the export leaves them out: the
    original did not check them, so its backups may hold some. Rows are placed by the
    file first, else by this server (live or deleted); unknown ones are left to the
    rules below. Returns the items, the links to import and how many were left out.
    """
    item_project = {w.id: w.project_id for w in items}
    sprint_project = {s.id: s.project_id for s in sprints}

    def stored(kind: str, rid: str) -> Program[str | None]:
        if kind == "work_item":
            return (yield from op(lambda tx: tx.item_project(rid)))
        return (yield from op(lambda tx: tx.sprint_project(rid)))

    for kind, rows in (("sprint", sprints), ("work_item", items)):
        for row in rows:
            here = yield from stored(kind, row.id)
            if here is not None and here != row.project_id:
                shown = "Sprint" if kind == "sprint" else "Work item"
                raise invalid(
                    f"{shown} {row.id} is in project {here} here; the import would move it"
                    f" to project {row.project_id}",
                    "project_id",
                )
    kept: list[WorkItem] = []
    for w in items:
        changes: dict[str, None] = {}
        if w.parent_id:
            parent = item_project.get(w.parent_id) or (yield from stored("work_item", w.parent_id))
            if parent is not None and parent != w.project_id:
                changes["parent_id"] = None
        if w.sprint_id:
            sprint = sprint_project.get(w.sprint_id) or (yield from stored("sprint", w.sprint_id))
            if sprint is not None and sprint != w.project_id:
                changes["sprint_id"] = None
        kept.append(msgspec.structs.replace(w, **changes) if changes else w)
    links: list[Dependency] = []
    for d in deps:
        ends = []
        for wid in (d.blocking_item_id, d.blocked_item_id):
            ends.append(item_project.get(wid) or (yield from stored("work_item", wid)))
        if None in ends or ends[0] == ends[1]:
            links.append(d)
    return kept, links, len(deps) - len(links)


def _owners_known(entity: str, row: Any) -> Program[bool]:
    """Whether the rows `row` belongs to exist here (live or deleted)."""
    owners: list[tuple[str, str]]
    if entity in ("sprint", "work_item"):
        owners = [("project", row.project_id)]
    elif entity in ("comment", "time_entry"):
        owners = [("work_item", row.work_item_id)]
    elif entity == "dependency":
        owners = [("work_item", row.blocking_item_id), ("work_item", row.blocked_item_id)]
    else:
        owners = []
    for kind, owner_id in owners:
        if (yield from op(lambda tx: tx.row_state(kind, owner_id))) is None:
            return False
    return True


def _known_references(w: WorkItem) -> Program[WorkItem]:
    """`w` without a parent or sprint that does not exist here."""
    changes: dict[str, None] = {}
    parent, sprint = w.parent_id, w.sprint_id
    if parent and (yield from op(lambda tx: tx.row_state("work_item", parent))) is None:
        changes["parent_id"] = None
    if sprint and (yield from op(lambda tx: tx.row_state("sprint", sprint))) is None:
        changes["sprint_id"] = None
    return msgspec.structs.replace(w, **changes) if changes else w


def _users_of(entity: str, row: Any) -> list[str]:
    if entity == "work_item":
        return [row.assignee_id] if row.assignee_id else []
    if entity == "comment":
        return [row.created_by, row.updated_by]
    if entity == "time_entry":
        return [row.user_id]
    return []


def _upsert(
    ctx: Ctx,
    counts: Counts,
    entity: str,
    row: Any,
    get: Callable[[Tx, str], Any],
    insert: Callable[[Tx, Any], None],
    update: Callable[[Tx, Any], None],
) -> Program[bool]:
    """Insert if absent, overwrite if strictly newer, else skip. True when inserted."""
    state = yield from op(lambda tx: tx.row_state(entity, row.id))
    if state == "deleted":
        # A local deletion wins over an imported copy (docs/compat.md).
        counts.skipped += 1
        return False
    if state == "live":
        current = yield from op(lambda tx: get(tx, row.id))
        if row.updated_at <= current.updated_at:
            counts.skipped += 1
            return False
    if not (yield from _owners_known(entity, row)):
        counts.skipped += 1
        return False
    if entity == "work_item":
        if state is None and (
            yield from op(lambda tx: tx.item_number_used(row.project_id, row.item_number))
        ):
            raise invalid(
                f"Work item {row.id}: number {row.item_number} is already used in its project",
                "item_number",
            )
        row = yield from _known_references(row)
    for user in _users_of(entity, row):
        yield from op(lambda tx: tx.ensure_user(user, ctx.now))
    if state is None:
        yield from op(lambda tx: insert(tx, row))
        counts.created += 1
        return True
    yield from op(lambda tx: update(tx, row))
    counts.updated += 1
    return False
