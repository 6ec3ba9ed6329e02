"""Time entries: timers owned by one user; starting one stops the user's running timer."""

from __future__ import annotations

from ..core import rules
from ..core.commands import CreateTimeEntry, UpdateTimeEntry
from ..core.errors import forbidden, invalid, not_found
from ..core.model import Event, TimeEntry, WorkItem
from ..store.base import Program, db
from .common import Ctx, Outcome, activity_event, begin, new_id, record, resolve_work_item


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


def _stopped(entry: TimeEntry, now: int) -> TimeEntry:
    return TimeEntry(
        id=entry.id,
        work_item_id=entry.work_item_id,
        user_id=entry.user_id,
        started_at=entry.started_at,
        ended_at=now,
        duration_seconds=max(0, now - entry.started_at),
        description=entry.description,
        is_running=False,
        created_at=entry.created_at,
        updated_at=now,
    )


def _project_of(work_item_id: str) -> Program[str | None]:
    item: WorkItem | None = yield db.item_get(work_item_id)
    return item.project_id if item else None


def create_time_entry(ctx: Ctx, cmd: CreateTimeEntry) -> Program[Outcome[TimeEntry]]:
    wid = rules.try_uuid(cmd.work_item_id)
    if wid is None:
        raise invalid(f"Invalid work_item_id: '{cmd.work_item_id}'", "work_item_id")
    description = rules.optional_text(cmd.description)
    item = yield from resolve_work_item(wid)
    yield from begin(ctx)
    events: list[Event] = []
    running: list[TimeEntry] = yield db.te_running_for_user(ctx.actor)
    for old in running:
        stopped = _stopped(old, ctx.now)
        yield db.te_update(stopped)
        entry = yield from record(ctx, "time_entry", old.id, "updated", "1 fields changed")
        project_id = yield from _project_of(old.work_item_id)
        events.append(activity_event(entry, project_id))
        events.append(Event("time_entry.updated", project_id, stopped, ctx.actor))
    te = TimeEntry(
        id=new_id(),
        work_item_id=item.id,
        user_id=ctx.actor,
        started_at=ctx.now,
        ended_at=None,
        duration_seconds=None,
        description=description,
        is_running=True,
        created_at=ctx.now,
        updated_at=ctx.now,
    )
    yield db.te_insert(te)
    entry = yield from record(ctx, "time_entry", te.id, "created")
    events.append(activity_event(entry, item.project_id))
    events.append(Event("time_entry.created", item.project_id, te, ctx.actor))
    return Outcome(te, events)


def update_time_entry(ctx: Ctx, text: str, cmd: UpdateTimeEntry) -> Program[Outcome[TimeEntry]]:
    te = yield from require_entry(text)
    if te.user_id != ctx.actor:
        raise forbidden("Cannot update another user's time entry")
    updated = te
    if cmd.stop and te.is_running:
        updated = _stopped(te, ctx.now)
    if cmd.description is not None:
        description = rules.optional_text(cmd.description)
        if description != te.description:
            updated = TimeEntry(
                id=updated.id,
                work_item_id=updated.work_item_id,
                user_id=updated.user_id,
                started_at=updated.started_at,
                ended_at=updated.ended_at,
                duration_seconds=updated.duration_seconds,
                description=description,
                is_running=updated.is_running,
                created_at=updated.created_at,
                updated_at=ctx.now,
            )
    if updated is te:
        return Outcome(te)
    yield from begin(ctx)
    yield db.te_update(updated)
    entry = yield from record(ctx, "time_entry", te.id, "updated")
    project_id = yield from _project_of(te.work_item_id)
    return Outcome(
        updated,
        [
            activity_event(entry, project_id),
            Event("time_entry.updated", project_id, updated, ctx.actor),
        ],
    )


def delete_time_entry(ctx: Ctx, text: str) -> Program[Outcome[TimeEntry]]:
    te = yield from require_entry(text)
    if te.user_id != ctx.actor:
        raise forbidden("Cannot delete another user's time entry")
    yield from begin(ctx)
    yield db.te_soft_delete(te.id, ctx.now)
    entry = yield from record(ctx, "time_entry", te.id, "deleted")
    project_id = yield from _project_of(te.work_item_id)
    return Outcome(
        te,
        [
            activity_event(entry, project_id),
            Event("time_entry.deleted", project_id, te, ctx.actor),
        ],
    )
