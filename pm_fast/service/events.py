"""Reading the event log (realtime/eventlog.py): resume checks, replay steps, REST read."""

from __future__ import annotations

from typing import Any

import msgspec

from ..core.model import Event
from ..realtime import eventlog
from ..store.base import Program, op
from .access import may_view, require
from .common import Ctx, resolve_project

# GET /api/v1/projects/{id}/events: events per page unless `limit` says otherwise.
PAGE = 1000
MAX_PAGE = 10000


class LoggedEvent(msgspec.Struct, kw_only=True):
    seq: int
    kind: str
    project_id: str
    actor: str
    created_at: int
    entity: Any
    extra: dict[str, Any]


class EventPage(msgspec.Struct, kw_only=True):
    project_id: str
    since: int
    # the project's last event number when the page was read; `next_since` is where
    # the next page starts (equal to `last_seq` once everything has been read)
    last_seq: int
    next_since: int
    oldest_seq: int | None
    events: list[LoggedEvent]


def event_positions() -> Program[dict[str, int]]:
    """Every project's last event number (this process's starting point)."""
    positions: dict[str, int] = yield from op(lambda tx: tx.event_positions())
    return positions


def check_resume(positions: dict[str, int]) -> Program[None]:
    """Raise RESYNC_REQUIRED unless every project's events after its position are kept."""
    for pid, after in positions.items():
        oldest, last = yield from op(lambda tx: tx.event_bounds(pid))
        if not eventlog.resumable(after, oldest, last):
            raise eventlog.resync(pid, after, oldest, last)


def replay_step(project_id: str, after: int, upto: int) -> Program[list[Event]]:
    """The next events of a project's log after `after`, up to `upto` (one chunk)."""
    rows = yield from op(lambda tx: tx.event_rows(project_id, after, upto, eventlog.REPLAY_CHUNK))
    return [event for event, _ in eventlog.decode_rows(rows, after, upto)]


def events_since(ctx: Ctx, ident: str, since: int, limit: int) -> Program[EventPage]:
    project = yield from resolve_project(ident)
    yield from require(ctx, project.id, "view")
    oldest, last = yield from op(lambda tx: tx.event_bounds(project.id))
    if not eventlog.resumable(since, oldest, last):
        raise eventlog.resync(project.id, since, oldest, last)
    rows = yield from op(lambda tx: tx.event_rows(project.id, since, last, limit))
    pairs = eventlog.decode_rows(rows, since, last)[:limit]
    return EventPage(
        project_id=project.id,
        since=since,
        last_seq=last,
        next_since=pairs[-1][0].seq if pairs else since,
        oldest_seq=oldest,
        events=[
            LoggedEvent(
                seq=event.seq,
                kind=event.kind,
                project_id=project.id,
                actor=event.actor,
                created_at=created,
                entity=event.entity,
                extra=event.extra,
            )
            for event, created in pairs
        ],
    )


def viewable(
    ctx: Ctx, project_ids: list[str], sprint_ids: list[str]
) -> Program[tuple[list[str], list[str]]]:
    """The ids among those asked for whose project the caller may view."""
    keep_projects = []
    for pid in dict.fromkeys(project_ids):
        state = yield from op(lambda tx: tx.row_state("project", pid))
        if state == "live" and (yield from may_view(ctx, pid)):
            keep_projects.append(pid)
    keep_sprints = []
    for sid in dict.fromkeys(sprint_ids):
        sprint = yield from op(lambda tx: tx.sprint_get(sid))
        if sprint is not None and (yield from may_view(ctx, sprint.project_id)):
            keep_sprints.append(sid)
    return keep_projects, keep_sprints


def subscribable(
    ctx: Ctx, project_ids: list[str], sprint_ids: list[str], resume: dict[str, int]
) -> Program[tuple[list[str], list[str]]]:
    """`viewable`, and RESYNC_REQUIRED if the events after a viewable project's resume
    position are no longer all kept (then nothing is subscribed)."""
    projects, sprints = yield from viewable(ctx, project_ids, sprint_ids)
    yield from check_resume({p: resume[p] for p in projects if p in resume})
    return projects, sprints
