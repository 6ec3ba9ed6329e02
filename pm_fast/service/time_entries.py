"""Time entries: timers owned by one user; starting one stops the user's running timer."""

from __future__ import annotations

from msgspec import structs

from ..core import rules
from ..core.commands import CreateTimeEntry, UpdateTimeEntry
from ..core.errors import forbidden, invalid, not_found
from ..core.model import TimeEntry, WorkItem
from ..store.base import Program, db
from .common import Ctx, Outcome, begin, committed, new_id, resolve_work_item


def list_time_entries(item_ident: str) -> Program[list[TimeEntry]]:
    item = yield from resolve_work_item(item_ident)
    entries: list[TimeEntry] = yield db.te_by_item(item.id)
    return entries


def require_entry(text: str) -> Program[TimeEntry]:
    tid = rules.parse_uuid(text)
    entry: TimeEntry | None = yield db.te_get(tid)
    if entry is None:
        raise not_found(f"Time entry {tid} not found")
    return entry


def get_time_entry(text: str) -> Program[TimeEntry]:
    return (yield from require_entry(text))


def _require_own(text: str, ctx: Ctx, verb: str) -> Program[TimeEntry]:
    entry = yield from require_entry(text)
    if entry.user_id != ctx.actor:
        raise forbidden(f"Cannot {verb} another user's time entry")
    return entry


def _stopped(entry: TimeEntry, now: int) -> TimeEntry:
    return structs.replace(
        entry,
        ended_at=now,
        duration_seconds=max(0, now - entry.started_at),
        is_running=False,
        updated_at=now,
    )


def _project_of(work_item_id: str) -> Program[str | None]:
    item: WorkItem | None = yield db.item_get(work_item_id)
    return item.project_id if item else None


def create_time_entry(ctx: Ctx, cmd: CreateTimeEntry) -> Program[Outcome[TimeEntry]]:
    wid = rules.try_uuid(cmd.work_item_id)
    if wid is None:
        raise invalid(f"Invalid work_item_id: '{cmd.work_item_id}'", "work_item_id")
    item = yield from resolve_work_item(wid)
    yield from begin(ctx)
    outcome: Outcome[TimeEntry]
    events = []
    running: list[TimeEntry] = yield db.te_running_for_user(ctx.actor)
    for old in running:
        stopped = _stopped(old, ctx.now)
        yield db.te_update(stopped)
        project_id = yield from _project_of(old.work_item_id)
        outcome = yield from committed(
            ctx, "time_entry", "updated", stopped, project_id, note="1 fields changed"
        )
        events.extend(outcome.events)
    te = TimeEntry(
        id=new_id(),
        work_item_id=item.id,
        user_id=ctx.actor,
        started_at=ctx.now,
        ended_at=None,
        duration_seconds=None,
        description=rules.optional_text(cmd.description),
        is_running=True,
        created_at=ctx.now,
        updated_at=ctx.now,
    )
    yield db.te_insert(te)
    outcome = yield from committed(ctx, "time_entry", "created", te, item.project_id)
    outcome.events[:0] = events
    return outcome


def update_time_entry(ctx: Ctx, text: str, cmd: UpdateTimeEntry) -> Program[Outcome[TimeEntry]]:
    te = yield from _require_own(text, ctx, "update")
    updated = te
    if cmd.stop and te.is_running:
        updated = _stopped(te, ctx.now)
    if cmd.description is not None:
        description = rules.optional_text(cmd.description)
        if description != te.description:
            updated = structs.replace(updated, description=description, updated_at=ctx.now)
    if updated is te:
        return Outcome(te)
    yield from begin(ctx)
    yield db.te_update(updated)
    project_id = yield from _project_of(te.work_item_id)
    return (yield from committed(ctx, "time_entry", "updated", updated, project_id))


def delete_time_entry(ctx: Ctx, text: str) -> Program[Outcome[TimeEntry]]:
    te = yield from _require_own(text, ctx, "delete")
    yield from begin(ctx)
    yield db.te_soft_delete(te.id, ctx.now)
    project_id = yield from _project_of(te.work_item_id)
    return (yield from committed(ctx, "time_entry", "deleted", te, project_id))
