"""Time entries: timers owned by one user; starting one stops the user's running timer."""

from __future__ import annotations

from msgspec import structs

from ..core import rules
from ..core.commands import CreateManualTimeEntry, CreateTimeEntry, UpdateTimeEntry
from ..core.errors import forbidden, invalid, not_found
from ..core.model import TimeEntry, TimeEntryCreated, TimeEntryDeleted, TimeEntryUpdated, WorkItem
from ..store.base import Program, op
from .access import require, require_item_project
from .common import (
    Ctx,
    Outcome,
    begin,
    changes_note,
    committed,
    new_id,
    require_item,
    resolve_work_item,
)

FUTURE_SLACK = 60
MAX_DESCRIPTION = 1000
MAX_DURATION = 24 * 3600


def list_time_entries(ctx: Ctx, item_ident: str) -> Program[list[TimeEntry]]:
    item = yield from resolve_work_item(item_ident)
    yield from require(ctx, item.project_id, "view")
    entries: list[TimeEntry] = yield from op(lambda tx: tx.te_by_item(item.id))
    return entries


def page_time_entries(
    ctx: Ctx, item_text: str, limit: int | None, offset: int | None
) -> Program[tuple[list[TimeEntry], int]]:
    """Entries of all users on an item, newest first, and their total count."""
    wid = rules.parse_uuid(item_text, "work_item_id")
    limit = 100 if limit is None else min(max(limit, 1), 500)
    offset = 0 if offset is None or offset < 0 else offset
    item = yield from require_item(wid)
    yield from require(ctx, item.project_id, "view")
    entries: list[TimeEntry] = yield from op(lambda tx: tx.te_by_item(item.id))
    return entries[offset : offset + limit], len(entries)


def running_timer(ctx: Ctx) -> Program[TimeEntry | None]:
    running: list[TimeEntry] = yield from op(lambda tx: tx.te_running_for_user(ctx.actor))
    return running[0] if running else None


def require_entry(text: str, field: str | None = None) -> Program[TimeEntry]:
    tid = rules.parse_uuid(text, field)
    entry: TimeEntry | None = yield from op(lambda tx: tx.te_get(tid))
    if entry is None:
        raise not_found(f"Time entry {text} not found")
    return entry


def get_time_entry(ctx: Ctx, text: str) -> Program[TimeEntry]:
    entry = yield from require_entry(text)
    yield from require_item_project(ctx, entry.work_item_id, "view")
    return entry


def _require_own(text: str, ctx: Ctx, verb: str, field: str | None = None) -> Program[TimeEntry]:
    entry = yield from require_entry(text, field)
    if entry.user_id != ctx.actor:
        raise forbidden(f"Cannot {verb} another user's time entry")
    yield from _require_live_item(ctx, entry)
    return entry


def _require_live_item(ctx: Ctx, entry: TimeEntry) -> Program[None]:
    # Entries of a deleted work item are read-only (the original saved the change and
    # then answered NOT_FOUND; pm-fast answers NOT_FOUND and saves nothing).
    if (yield from op(lambda tx: tx.row_state("work_item", entry.work_item_id))) != "live":
        raise not_found(f"Work item {entry.work_item_id} not found")
    # One's own entry, but in a project one may (no longer) write: refused too.
    yield from require_item_project(ctx, entry.work_item_id, "edit")


def _check_description(ctx: Ctx, value: str | None) -> None:
    if ctx.profile.message_limits and value is not None and len(value) > MAX_DESCRIPTION:
        raise rules.malformed(
            f"description must not exceed {MAX_DESCRIPTION} characters", "description"
        )


def _stopped(entry: TimeEntry, now: int) -> TimeEntry:
    return structs.replace(
        entry,
        ended_at=now,
        # bounded: a row stored before start times were checked may be decades old
        duration_seconds=rules.bounded_duration(now - entry.started_at),
        is_running=False,
        updated_at=now,
    )


def _check_span(started: int, ended: int, now: int) -> None:
    rules.check_timestamp(started, "started_at")
    rules.check_timestamp(ended, "ended_at")
    if started > now + FUTURE_SLACK:
        raise invalid("started_at cannot be in the future", "started_at")
    if ended > now + FUTURE_SLACK:
        raise invalid("ended_at cannot be in the future", "ended_at")
    if started >= ended:
        raise invalid("started_at must be before ended_at", "started_at")
    if ended - started > MAX_DURATION:
        raise invalid("Duration cannot exceed 24 hours", "ended_at")


def _project_of(work_item_id: str) -> Program[str | None]:
    item: WorkItem | None = yield from op(lambda tx: tx.item_get(work_item_id))
    return item.project_id if item else None


def start_timer(
    ctx: Ctx, cmd: CreateTimeEntry, field: str = "work_item_id"
) -> Program[Outcome[tuple[TimeEntry, TimeEntry | None]]]:
    """Start a running entry for the caller, stopping the caller's running timer first."""
    _check_description(ctx, cmd.description)
    if ctx.profile.message_wording:
        rules.parse_uuid(cmd.work_item_id, field)
    wid = rules.try_uuid(cmd.work_item_id)
    if wid is None:
        raise invalid(f"Invalid work_item_id: '{cmd.work_item_id}'", field)
    item = yield from require_item(wid, cmd.work_item_id)
    yield from require(ctx, item.project_id, "edit")
    yield from begin(ctx)
    events = []
    stopped: TimeEntry | None = None
    running: list[TimeEntry] = yield from op(lambda tx: tx.te_running_for_user(ctx.actor))
    for old in running:
        stopped = _stopped(old, ctx.now)
        yield from op(lambda tx: tx.te_update(stopped))
        project_id = yield from _project_of(old.work_item_id)
        outcome = yield from committed(
            ctx, TimeEntryUpdated, stopped, project_id, note=changes_note(ctx, ["ended_at"])
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
    yield from op(lambda tx: tx.te_insert(te))
    created = yield from committed(ctx, TimeEntryCreated, te, item.project_id)
    return Outcome((te, stopped), events + created.events)


def create_time_entry(ctx: Ctx, cmd: CreateTimeEntry) -> Program[Outcome[TimeEntry]]:
    """REST `POST /time-entries`: start a timer."""
    outcome = yield from start_timer(ctx, cmd)
    return Outcome(outcome.value[0], outcome.events)


def stop_timer(ctx: Ctx, text: str) -> Program[Outcome[TimeEntry]]:
    te = yield from require_entry(text, "time_entry_id")
    if te.user_id != ctx.actor:
        raise forbidden("Cannot stop another user's timer")
    if not te.is_running:
        raise invalid("Timer is not running", "time_entry_id")
    yield from _require_live_item(ctx, te)
    yield from begin(ctx)
    stopped = _stopped(te, ctx.now)
    yield from op(lambda tx: tx.te_update(stopped))
    project_id = yield from _project_of(te.work_item_id)
    return (
        yield from committed(
            ctx, TimeEntryUpdated, stopped, project_id, note=changes_note(ctx, ["ended_at"])
        )
    )


def create_manual(ctx: Ctx, cmd: CreateManualTimeEntry) -> Program[Outcome[TimeEntry]]:
    """A finished entry with given start and end (WebSocket CreateTimeEntry)."""
    _check_span(cmd.started_at, cmd.ended_at, ctx.now)
    _check_description(ctx, cmd.description)
    wid = rules.parse_uuid(cmd.work_item_id, "work_item_id")
    item = yield from require_item(wid)
    yield from require(ctx, item.project_id, "edit")
    yield from begin(ctx)
    te = TimeEntry(
        id=new_id(),
        work_item_id=item.id,
        user_id=ctx.actor,
        started_at=cmd.started_at,
        ended_at=cmd.ended_at,
        duration_seconds=cmd.ended_at - cmd.started_at,
        description=rules.optional_text(cmd.description),
        is_running=False,
        created_at=ctx.now,
        updated_at=ctx.now,
    )
    yield from op(lambda tx: tx.te_insert(te))
    return (yield from committed(ctx, TimeEntryCreated, te, item.project_id))


def update_time_entry(
    ctx: Ctx, text: str, cmd: UpdateTimeEntry, field: str | None = None
) -> Program[Outcome[TimeEntry]]:
    te = yield from _require_own(text, ctx, "update", field)
    _check_description(ctx, cmd.description)
    updated = te
    changed: list[str] = []
    if cmd.stop and te.is_running:
        updated = _stopped(te, ctx.now)
        changed.append("ended_at")
    if cmd.started_at is not None and cmd.started_at != te.started_at:
        rules.check_timestamp(cmd.started_at, "started_at")
        if updated.ended_at is None:
            # A running timer: the duration its stop will derive must fit its field.
            rules.check_duration(ctx.now - cmd.started_at, "started_at")
        updated = structs.replace(updated, started_at=cmd.started_at)
        changed.append("started_at")
    if cmd.ended_at is not None and cmd.ended_at != te.ended_at:
        updated = structs.replace(updated, ended_at=cmd.ended_at, is_running=False)
        changed.append("ended_at")
    if cmd.description is not None:
        description = rules.optional_text(cmd.description)
        if description != te.description:
            updated = structs.replace(updated, description=description)
            changed.append("description")
    if not changed:
        return Outcome(te)
    if updated.ended_at is not None and ("started_at" in changed or cmd.ended_at is not None):
        _check_span(updated.started_at, updated.ended_at, ctx.now)
        updated = structs.replace(updated, duration_seconds=updated.ended_at - updated.started_at)
    updated = structs.replace(updated, updated_at=ctx.now)
    yield from begin(ctx)
    yield from op(lambda tx: tx.te_update(updated))
    project_id = yield from _project_of(te.work_item_id)
    return (
        yield from committed(
            ctx,
            TimeEntryUpdated,
            updated,
            project_id,
            note=changes_note(ctx, sorted(set(changed))),
        )
    )


def delete_time_entry(ctx: Ctx, text: str, field: str | None = None) -> Program[Outcome[TimeEntry]]:
    te = yield from _require_own(text, ctx, "delete", field)
    yield from begin(ctx)
    yield from op(lambda tx: tx.te_soft_delete(te.id, ctx.now))
    project_id = yield from _project_of(te.work_item_id)
    return (yield from committed(ctx, TimeEntryDeleted, te, project_id))
