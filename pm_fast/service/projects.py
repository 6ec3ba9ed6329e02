"""Projects: create, read, update, soft delete."""

from __future__ import annotations

from ..core import rules
from ..core.commands import CreateProject, UpdateProject
from ..core.errors import conflict, delete_blocked, invalid
from ..core.model import Event, Project
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


def list_projects() -> Program[list[Project]]:
    projects: list[Project] = yield db.projects_all()
    return projects


def get_project(ident: str) -> Program[Project]:
    return (yield from resolve_project(ident))


def create_project(ctx: Ctx, cmd: CreateProject) -> Program[Outcome[Project]]:
    title = cmd.title.strip()
    if not title:
        raise invalid("Title cannot be empty", "title")
    key = cmd.key.strip().upper()
    if not key:
        raise invalid("Key cannot be empty", "key")
    taken: tuple[Project, bool] | None = yield db.project_by_key_any(key)
    if taken is not None:
        existing, deleted = taken
        note = " (deleted)" if deleted else ""
        raise conflict(f"Project with key '{key}' already exists{note}", existing.version)
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
    yield db.project_insert(project)
    # The creator administers the project (the original only does this on WebSocket).
    yield db.member_add(project.id, ctx.actor, "admin", ctx.now, new_id())
    entry = yield from record(ctx, "project", project.id, "created")
    return Outcome(
        project,
        [
            activity_event(entry, project.id),
            Event("project.created", project.id, project, ctx.actor),
        ],
    )


def update_project(ctx: Ctx, ident: str, cmd: UpdateProject) -> Program[Outcome[Project]]:
    project = yield from resolve_project(ident)
    if cmd.expected_version != project.version:
        raise conflict(
            f"Version mismatch: expected {cmd.expected_version}, found {project.version}",
            project.version,
        )
    title, description, status = project.title, project.description, project.status
    changed: list[str] = []
    if cmd.title is not None:
        title = cmd.title.strip()
        if not title:
            raise invalid("Title cannot be empty", "title")
        if title != project.title:
            changed.append("title")
    if cmd.description is not None:
        description = rules.optional_text(cmd.description)
        if description != project.description:
            changed.append("description")
    if cmd.status is not None:
        status = rules.check_choice(cmd.status, rules.PROJECT_STATUSES, "status", "status")
        if status != project.status:
            changed.append("status")
    if not changed:
        return Outcome(project)
    yield from begin(ctx)
    updated = Project(
        id=project.id,
        key=project.key,
        title=title,
        description=description,
        status=status,
        version=project.version + 1,
        created_at=project.created_at,
        updated_at=ctx.now,
        created_by=project.created_by,
        updated_by=ctx.actor,
        next_work_item_number=project.next_work_item_number,
    )
    yield db.project_update(updated)
    entry = yield from record(ctx, "project", project.id, "updated", changes_note(changed))
    return Outcome(
        updated,
        [
            activity_event(entry, project.id),
            Event("project.updated", project.id, updated, ctx.actor, {"changed": changed}),
        ],
    )


def delete_project(ctx: Ctx, ident: str) -> Program[Outcome[Project]]:
    project = yield from resolve_project(ident)
    live_items: int = yield db.project_live_item_count(project.id)
    if live_items:
        raise delete_blocked(
            f"Cannot delete project with {live_items} work item(s). Delete work items first."
        )
    yield from begin(ctx)
    yield db.project_soft_delete(project.id, ctx.now)
    entry = yield from record(ctx, "project", project.id, "deleted")
    return Outcome(
        project,
        [
            activity_event(entry, project.id),
            Event("project.deleted", project.id, project, ctx.actor),
        ],
    )
