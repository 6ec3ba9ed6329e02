"""Sprints: the state machine, one active sprint per project, completed sprints frozen."""

from __future__ import annotations

from typing import Any

from msgspec import structs

from ..core import rules
from ..core.commands import CreateSprint, UpdateSprint
from ..core.errors import conflict, delete_blocked, invalid, not_found
from ..core.model import Project, Sprint, SprintCreated, SprintDeleted, SprintUpdated
from ..store.base import Program, op
from .access import require
from .common import (
    Ctx,
    Outcome,
    begin,
    changes_note,
    check_length,
    committed,
    diff,
    message_id,
    new_id,
    resolve_project,
)

YEAR = 365 * 24 * 3600


def list_sprints(ctx: Ctx, project_ident: str) -> Program[list[Sprint]]:
    project = yield from resolve_project(project_ident)
    yield from require(ctx, project.id, "view")
    sprints: list[Sprint] = yield from op(lambda tx: tx.sprints_by_project(project.id))
    return sprints


def list_sprints_for(ctx: Ctx, project_id: str) -> Program[list[Sprint]]:
    """Sprints of a project by id, for a caller who must be able to view it."""
    project_id = message_id(ctx, project_id, "project_id")
    yield from require(ctx, project_id, "view")
    sprints: list[Sprint] = yield from op(lambda tx: tx.sprints_by_project(project_id))
    return sprints


def require_sprint(text: str) -> Program[Sprint]:
    sid = rules.parse_uuid(text)
    sprint: Sprint | None = yield from op(lambda tx: tx.sprint_get(sid))
    if sprint is None:
        raise not_found(f"Sprint {text} not found")
    return sprint


def get_sprint(ctx: Ctx, text: str) -> Program[Sprint]:
    sprint = yield from require_sprint(text)
    yield from require(ctx, sprint.project_id, "view")
    return sprint


def _name(ctx: Ctx, value: str) -> str:
    if ctx.profile.message_limits and len(value) > ctx.limits.max_sprint_name_length:
        raise rules.malformed(
            f"name must not exceed {ctx.limits.max_sprint_name_length} characters", "name"
        )
    name = rules.trim(value)
    if not name:
        if ctx.profile.message_limits:
            raise rules.malformed("name must be at least 1 characters", "name")
        raise invalid("Sprint name cannot be empty", "name")
    return name


def _check_message(ctx: Ctx, cmd: CreateSprint) -> str:
    """The original WebSocket validator's limits on a new sprint (the name as sent,
    dates from a year ago to five years ahead), then its project id as a UUID."""
    check_length(cmd.name, 1, ctx.limits.max_sprint_name_length, "name")
    if cmd.start_date >= cmd.end_date:
        raise rules.malformed("start_date must be before end_date", "start_date")
    for name, value in (("start_date", cmd.start_date), ("end_date", cmd.end_date)):
        if not ctx.now - YEAR <= value <= ctx.now + 5 * YEAR:
            raise rules.malformed(f"{name} is outside reasonable range", name)
    return rules.parse_uuid(cmd.project_id, "project_id")


def _status(ctx: Ctx, value: str) -> str:
    if ctx.profile.message_wording and value not in rules.SPRINT_STATUSES:
        # the WebSocket edge passes a number that names no status as its digits
        raise invalid(f"Invalid sprint status: {value}", "status")
    return rules.check_choice(value, rules.SPRINT_STATUSES, "status", "status")


def create_sprint(ctx: Ctx, cmd: CreateSprint) -> Program[Outcome[Sprint]]:
    if ctx.profile.message_limits:
        cmd = structs.replace(cmd, project_id=_check_message(ctx, cmd))
    name = _name(ctx, cmd.name)
    goal = rules.optional_text(cmd.goal)
    pid = rules.try_uuid(cmd.project_id)
    if pid is None:
        raise invalid(f"Invalid project_id: '{cmd.project_id}'", "project_id")
    yield from require(ctx, pid, "edit")
    start = rules.check_timestamp(cmd.start_date, "start_date")
    end = rules.check_timestamp(cmd.end_date, "end_date")
    if end <= start:
        raise invalid("end_date must be after start_date", "end_date")
    project: Project | None = yield from op(lambda tx: tx.project_get(pid))
    if project is None:
        raise not_found(f"Project {cmd.project_id} not found")
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
    yield from op(lambda tx: tx.sprint_insert(sprint))
    return (yield from committed(ctx, SprintCreated, sprint, pid))


def update_sprint(ctx: Ctx, text: str, cmd: UpdateSprint) -> Program[Outcome[Sprint]]:
    sprint = yield from require_sprint(message_id(ctx, text, "sprint_id"))
    yield from require(ctx, sprint.project_id, "edit")
    if cmd.expected_version != sprint.version:
        raise conflict(
            f"Version mismatch: expected {cmd.expected_version}, found {sprint.version}",
            sprint.version,
        )
    if sprint.status == "completed":
        raise conflict("Completed sprints cannot be modified", sprint.version)
    proposed: dict[str, Any] = {}
    if cmd.name is not None:
        proposed["name"] = _name(ctx, cmd.name)
    if cmd.goal is not None:
        proposed["goal"] = rules.optional_text(cmd.goal)
    if cmd.start_date is not None:
        proposed["start_date"] = rules.check_timestamp(cmd.start_date, "start_date")
    if cmd.end_date is not None:
        proposed["end_date"] = rules.check_timestamp(cmd.end_date, "end_date")
    if proposed.get("end_date", sprint.end_date) <= proposed.get("start_date", sprint.start_date):
        raise invalid("end_date must be after start_date", "end_date")
    if cmd.status is not None:
        status = _status(ctx, cmd.status)
        rules.check_sprint_transition(sprint.status, status)
        if status == "active" and sprint.status != "active":
            other: Sprint | None = yield from op(
                lambda tx: tx.sprint_active_other(sprint.project_id, sprint.id)
            )
            if other is not None:
                raise conflict(
                    f"Another sprint ({other.name}) is already active in this project",
                    sprint.version,
                )
        proposed["status"] = status
    changes = diff(sprint, proposed)
    if not changes:
        return Outcome(sprint)
    version = rules.next_version(sprint.version)
    yield from begin(ctx)
    updated = structs.replace(
        sprint, **changes, version=version, updated_at=ctx.now, updated_by=ctx.actor
    )
    yield from op(lambda tx: tx.sprint_update(updated))
    return (
        yield from committed(
            ctx,
            SprintUpdated,
            updated,
            sprint.project_id,
            {"changed": list(changes), "previous": sprint},
            changes_note(ctx, list(changes)),
        )
    )


def delete_sprint(ctx: Ctx, text: str) -> Program[Outcome[Sprint]]:
    sprint = yield from require_sprint(message_id(ctx, text, "sprint_id"))
    yield from require(ctx, sprint.project_id, "admin")
    if sprint.status == "completed":
        raise delete_blocked("Cannot delete completed sprint")
    yield from begin(ctx)
    yield from op(lambda tx: tx.sprint_soft_delete(sprint.id, ctx.now))
    return (yield from committed(ctx, SprintDeleted, sprint, sprint.project_id))
