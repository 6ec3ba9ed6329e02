"""Sprints: the state machine, one active sprint per project, completed sprints frozen."""

from __future__ import annotations

from ..core import rules
from ..core.commands import CreateSprint, UpdateSprint
from ..core.errors import conflict, delete_blocked, invalid, not_found
from ..core.model import Event, Project, Sprint
from ..store.base import Program, db
from .common import (
    Ctx,
    Outcome,
    activity_event,
    begin,
    changes_note,
    new_id,
    record,
    resolve_project,
)


def list_sprints(project_ident: str) -> Program[list[Sprint]]:
    project = yield from resolve_project(project_ident)
    sprints: list[Sprint] = yield db.sprints_by_project(project.id)
    return sprints


def require_sprint(text: str) -> Program[Sprint]:
    sid = rules.parse_uuid(text)
    sprint: Sprint | None = yield db.sprint_get(sid)
    if sprint is None:
        raise not_found(f"Sprint {sid} not found")
    return sprint


def get_sprint(text: str) -> Program[Sprint]:
    return (yield from require_sprint(text))


def _name(value: str) -> str:
    name = value.strip()
    if not name:
        raise invalid("Sprint name cannot be empty", "name")
    return name


def create_sprint(ctx: Ctx, cmd: CreateSprint) -> Program[Outcome[Sprint]]:
    name = _name(cmd.name)
    goal = rules.optional_text(cmd.goal)
    pid = rules.try_uuid(cmd.project_id)
    if pid is None:
        raise invalid(f"Invalid project_id: '{cmd.project_id}'", "project_id")
    start = rules.check_timestamp(cmd.start_date, "start_date")
    end = rules.check_timestamp(cmd.end_date, "end_date")
    if end <= start:
        raise invalid("end_date must be after start_date", "end_date")
    project: Project | None = yield db.project_get(pid)
    if project is None:
        raise not_found(f"Project {pid} not found")
    yield from begin(ctx)
    sprint = Sprint(
        id=new_id(),
        project_id=pid,
        name=name,
        goal=goal,
        start_date=start,
        end_date=end,
        status="planned",
        version=1,
        created_at=ctx.now,
        updated_at=ctx.now,
        created_by=ctx.actor,
        updated_by=ctx.actor,
    )
    yield db.sprint_insert(sprint)
    entry = yield from record(ctx, "sprint", sprint.id, "created")
    return Outcome(
        sprint,
        [activity_event(entry, pid), Event("sprint.created", pid, sprint, ctx.actor)],
    )


def update_sprint(ctx: Ctx, text: str, cmd: UpdateSprint) -> Program[Outcome[Sprint]]:
    sprint = yield from require_sprint(text)
    if cmd.expected_version != sprint.version:
        raise conflict(
            f"Version mismatch: expected {cmd.expected_version}, found {sprint.version}",
            sprint.version,
        )
    if sprint.status == "completed":
        raise conflict("Completed sprints cannot be modified", sprint.version)
    name, goal, start, end, status = (
        sprint.name,
        sprint.goal,
        sprint.start_date,
        sprint.end_date,
        sprint.status,
    )
    if cmd.name is not None:
        name = _name(cmd.name)
    if cmd.goal is not None:
        goal = rules.optional_text(cmd.goal)
    if cmd.start_date is not None:
        start = rules.check_timestamp(cmd.start_date, "start_date")
    if cmd.end_date is not None:
        end = rules.check_timestamp(cmd.end_date, "end_date")
    if end <= start:
        raise invalid("end_date must be after start_date", "end_date")
    if cmd.status is not None:
        status = rules.check_choice(cmd.status, rules.SPRINT_STATUSES, "status", "status")
        rules.check_sprint_transition(sprint.status, status)
        if status == "active" and sprint.status != "active":
            other: Sprint | None = yield db.sprint_active_other(sprint.project_id, sprint.id)
            if other is not None:
                raise conflict(
                    f"Another sprint ({other.name}) is already active in this project",
                    sprint.version,
                )
    changed = [
        f
        for f, old, new in (
            ("name", sprint.name, name),
            ("goal", sprint.goal, goal),
            ("start_date", sprint.start_date, start),
            ("end_date", sprint.end_date, end),
            ("status", sprint.status, status),
        )
        if old != new
    ]
    if not changed:
        return Outcome(sprint)
    yield from begin(ctx)
    updated = Sprint(
        id=sprint.id,
        project_id=sprint.project_id,
        name=name,
        goal=goal,
        start_date=start,
        end_date=end,
        status=status,
        version=sprint.version + 1,
        created_at=sprint.created_at,
        updated_at=ctx.now,
        created_by=sprint.created_by,
        updated_by=ctx.actor,
    )
    yield db.sprint_update(updated)
    entry = yield from record(ctx, "sprint", sprint.id, "updated", changes_note(changed))
    return Outcome(
        updated,
        [
            activity_event(entry, sprint.project_id),
            Event("sprint.updated", sprint.project_id, updated, ctx.actor, {"changed": changed}),
        ],
    )


def delete_sprint(ctx: Ctx, text: str) -> Program[Outcome[Sprint]]:
    sprint = yield from require_sprint(text)
    if sprint.status == "completed":
        raise delete_blocked("Cannot delete completed sprint")
    yield from begin(ctx)
    yield db.sprint_soft_delete(sprint.id, ctx.now)
    entry = yield from record(ctx, "sprint", sprint.id, "deleted")
    return Outcome(
        sprint,
        [
            activity_event(entry, sprint.project_id),
            Event("sprint.deleted", sprint.project_id, sprint, ctx.actor),
        ],
    )
