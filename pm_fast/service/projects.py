"""Projects: create, read, update, soft delete."""

from __future__ import annotations

from typing import Any

from msgspec import structs

from ..core import rules
from ..core.commands import CreateProject, UpdateProject
from ..core.errors import DomainError, conflict, delete_blocked, invalid
from ..core.model import Project, ProjectCreated, ProjectDeleted, ProjectUpdated
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
    new_id,
    resolve_project,
)

# What the original's WebSocket validator allows in a project key (2-20 bytes of these).
KEY_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")


def list_projects() -> Program[list[Project]]:
    projects: list[Project] = yield from op(lambda tx: tx.projects_all())
    return projects


def list_projects_for(ctx: Ctx) -> Program[list[Project]]:
    """The projects `ctx.actor` may view (all of them for unauthenticated callers)."""
    if not ctx.authenticated:
        return (yield from list_projects())
    projects: list[Project] = yield from op(
        lambda tx: tx.viewable_projects(ctx.actor, ctx.llm_user)
    )
    return projects


def get_project(ctx: Ctx, ident: str) -> Program[Project]:
    project = yield from resolve_project(ident)
    yield from require(ctx, project.id, "view")
    return project


def _title(ctx: Ctx, value: str) -> str:
    if ctx.profile.message_limits:
        return rules.require_title(value, ctx.limits.max_title_length)
    title = rules.trim(value)
    if not title:
        raise invalid("Project title cannot be empty", "title")
    return title


def _description(ctx: Ctx, value: str) -> str | None:
    if ctx.profile.message_limits and len(value) > ctx.limits.max_description_length:
        raise invalid(
            f"description exceeds maximum length ({ctx.limits.max_description_length} characters)",
            "description",
        )
    return rules.optional_text(value)


def _check_message(ctx: Ctx, cmd: CreateProject) -> None:
    """The original WebSocket validator's limits on a new project, on the text as sent."""
    check_length(cmd.title, 1, ctx.limits.max_title_length, "title")
    limit = ctx.limits.max_description_length
    if cmd.description is not None and len(cmd.description) > limit:
        raise rules.malformed(
            f"description exceeds maximum length ({limit} characters)", "description"
        )
    if not 2 <= len(cmd.key.encode()) <= 20:
        raise rules.malformed("key must be 2-20 characters", "key")
    if not set(cmd.key) <= KEY_CHARS:
        raise rules.malformed("key must contain only letters, numbers, and underscores", "key")


def _status(ctx: Ctx, value: str) -> str:
    if ctx.profile.message_wording and value not in rules.PROJECT_STATUSES:
        # the WebSocket edge passes a number that names no status as its digits
        raise invalid(f"Invalid status value: {value}", "status")
    return rules.check_choice(value, rules.PROJECT_STATUSES, "status", "status")


def create_project(ctx: Ctx, cmd: CreateProject) -> Program[Outcome[Project]]:
    if ctx.profile.message_limits:
        _check_message(ctx, cmd)
    title = _title(ctx, cmd.title)
    key = rules.trim(cmd.key).upper()
    if not key:
        raise invalid("Project key cannot be empty", "key")
    taken: tuple[Project, bool] | None = yield from op(lambda tx: tx.project_by_key_any(key))
    if taken is not None:
        existing, deleted = taken
        note = " (deleted)" if deleted else ""
        raise DomainError(
            "DUPLICATE_KEY",
            f"Project with key '{key}' already exists{note} (current version: {existing.version})",
            "key",
        )
    yield from begin(ctx)
    project = Project(
        id=new_id(),
        key=key,
        title=title,
        description=rules.optional_text(cmd.description),
        status="active",
        version=1,
        created_at=ctx.now,
        updated_at=ctx.now,
        created_by=ctx.actor,
        updated_by=ctx.actor,
        next_work_item_number=1,
    )
    yield from op(lambda tx: tx.project_insert(project))
    # The creator administers the project (the original only does this on WebSocket).
    yield from op(lambda tx: tx.member_add(project.id, ctx.actor, "admin", ctx.now, new_id()))
    return (yield from committed(ctx, ProjectCreated, project, project.id))


def _project_id(ctx: Ctx, ident: str) -> str:
    """On WebSocket a project id is a UUID only (made canonical), in its own words."""
    if not ctx.profile.message_wording:
        return ident
    pid = rules.try_uuid(ident)
    if pid is None:
        raise invalid("Invalid project_id format", "project_id")
    return pid


def update_project(ctx: Ctx, ident: str, cmd: UpdateProject) -> Program[Outcome[Project]]:
    project = yield from resolve_project(_project_id(ctx, ident))
    yield from require(ctx, project.id, "admin")
    if cmd.expected_version != project.version:
        raise conflict(
            f"Version mismatch: expected {cmd.expected_version}, found {project.version}",
            project.version,
        )
    proposed: dict[str, Any] = {}
    if cmd.title is not None:
        proposed["title"] = _title(ctx, cmd.title)
    if cmd.description is not None:
        proposed["description"] = _description(ctx, cmd.description)
    if cmd.status is not None:
        proposed["status"] = _status(ctx, cmd.status)
    changes = diff(project, proposed)
    if not changes:
        return Outcome(project)
    version = rules.next_version(project.version)
    yield from begin(ctx)
    updated = structs.replace(
        project, **changes, version=version, updated_at=ctx.now, updated_by=ctx.actor
    )
    yield from op(lambda tx: tx.project_update(updated))
    return (
        yield from committed(
            ctx,
            ProjectUpdated,
            updated,
            project.id,
            {"changed": list(changes), "previous": project},
            changes_note(ctx, list(changes)),
        )
    )


def delete_project(
    ctx: Ctx, ident: str, expected_version: int | None = None
) -> Program[Outcome[Project]]:
    project = yield from resolve_project(_project_id(ctx, ident))
    yield from require(ctx, project.id, "admin")
    if expected_version is not None and expected_version != project.version:
        raise conflict(
            f"Version mismatch: expected {expected_version}, found {project.version}",
            project.version,
        )
    live_items: int = yield from op(lambda tx: tx.project_live_item_count(project.id))
    if live_items:
        raise delete_blocked(
            f"Cannot delete project with {live_items} work item(s). Delete work items first."
        )
    yield from begin(ctx)
    yield from op(lambda tx: tx.project_soft_delete(project.id, ctx.now))
    return (yield from committed(ctx, ProjectDeleted, project, project.id))
