"""Work items: hierarchy, numbering, positions, versions, filters."""

from __future__ import annotations

from typing import Any

from msgspec import structs

from .. import accel
from ..core import rules
from ..core.commands import CreateWorkItem, UpdateWorkItem, WorkItemFilter
from ..core.errors import conflict, delete_blocked, invalid, not_found
from ..core.model import Project, WorkItem
from ..store.base import Program, db
from .common import (
    Ctx,
    Outcome,
    begin,
    changes_note,
    committed,
    diff,
    new_id,
    resolve_project,
    resolve_work_item,
)

MAX_PARENT_DEPTH = 100


def get_work_item(ident: str) -> Program[WorkItem]:
    return (yield from resolve_work_item(ident))


def list_work_items(project_ident: str, flt: WorkItemFilter) -> Program[list[WorkItem]]:
    project = yield from resolve_project(project_ident)
    below = yield from resolve_work_item(flt.descendants_of) if flt.descendants_of else _none()
    above = yield from resolve_work_item(flt.ancestors_of) if flt.ancestors_of else _none()
    items: list[WorkItem] = yield db.items_by_project(project.id)
    # Traversals run over every live item; done items are dropped afterwards, so a done
    # story does not hide its open tasks (docs/compat.md).
    if below is not None or above is not None:
        rows = [(i.id, i.parent_id) for i in items]
        if below is not None:
            keep = set(accel.descendants(rows, below.id, None))
            items = [i for i in items if i.id in keep]
        if above is not None:
            keep = set(accel.ancestors(rows, above.id, MAX_PARENT_DEPTH))
            items = [i for i in items if i.id in keep]
    if not flt.include_done:
        items = [i for i in items if i.status != "done"]
    if flt.item_type is not None:
        items = [i for i in items if i.item_type == flt.item_type]
    if flt.status is not None:
        items = [i for i in items if i.status == flt.status]
    if flt.sprint_id is not None:
        items = [i for i in items if i.sprint_id == flt.sprint_id]
    if flt.orphaned:
        items = [i for i in items if i.parent_id is None]
    elif flt.parent_id is not None:
        items = [i for i in items if i.parent_id == flt.parent_id]
    return items


def _none() -> Program[None]:
    return None
    yield  # pragma: no cover - makes this a generator


def ancestor_ids(item: WorkItem) -> Program[list[str]]:
    """The parent chain of `item`, nearest first."""
    if item.parent_id is None:
        return []
    rows: list[tuple[str, str | None]] = yield db.item_parent_chain(item.id, MAX_PARENT_DEPTH)
    return accel.ancestors(rows, item.id, MAX_PARENT_DEPTH)


def _check_parent(child_type: str, parent_text: str) -> Program[WorkItem]:
    pid = rules.parse_uuid(parent_text, "parent_id")
    parent: WorkItem | None = yield db.item_get(pid)
    if parent is None:
        raise invalid("Validation failed: Parent work item not found", "parent_id")
    rules.check_hierarchy(parent.item_type, child_type)
    return parent


def create_work_item(ctx: Ctx, cmd: CreateWorkItem) -> Program[Outcome[WorkItem]]:
    item_type = rules.check_item_type(cmd.item_type)
    title = rules.require_title(cmd.title, ctx.limits.max_title_length)
    description = (
        None
        if cmd.description is None
        else rules.check_description(
            cmd.description, ctx.limits.max_description_length, on_create=True
        )
    )
    pid = rules.parse_uuid(cmd.project_id, "project_id")
    parent: WorkItem | None = None
    if cmd.parent_id:
        parent = yield from _check_parent(item_type, cmd.parent_id)
    status = rules.check_choice(
        cmd.status if cmd.status is not None else "backlog", rules.ITEM_STATUSES, "status", "status"
    )
    priority = rules.check_choice(
        cmd.priority if cmd.priority is not None else "medium",
        rules.PRIORITIES,
        "priority",
        "priority",
    )
    project: Project | None = yield db.project_get(pid)
    if project is None:
        raise not_found(f"Project {pid} not found")
    yield from begin(ctx)
    parent_id = parent.id if parent else None
    position = (yield db.item_max_position(pid, parent_id)) + 1
    number: int | None = yield db.project_take_number(pid)
    if number is None:
        raise not_found(f"Project {pid} not found")
    item = WorkItem(
        id=new_id(),
        display_key=f"{project.key}-{number}",
        item_type=item_type,
        title=title,
        description=description,
        status=status,
        priority=priority,
        parent_id=parent_id,
        project_id=pid,
        assignee_id=None,
        sprint_id=None,
        story_points=None,
        item_number=number,
        position=position,
        version=1,
        created_at=ctx.now,
        updated_at=ctx.now,
        created_by=ctx.actor,
        updated_by=ctx.actor,
    )
    yield db.item_insert(item)
    ancestors = yield from ancestor_ids(item)
    return (
        yield from committed(
            ctx,
            "work_item",
            "created",
            item,
            pid,
            {"ancestor_ids": ancestors, "descendant_ids": []},
        )
    )


def update_work_item(ctx: Ctx, ident: str, cmd: UpdateWorkItem) -> Program[Outcome[WorkItem]]:
    item = yield from resolve_work_item(ident)
    if cmd.expected_version != item.version:
        raise conflict("Version mismatch - work item was modified by another user", item.version)
    proposed: dict[str, Any] = {}
    if cmd.title is not None:
        proposed["title"] = rules.require_title(cmd.title, ctx.limits.max_title_length)
    if cmd.description is not None:
        proposed["description"] = rules.check_description(
            cmd.description, ctx.limits.max_description_length, on_create=False
        )
    if cmd.status is not None:
        proposed["status"] = rules.check_choice(cmd.status, rules.ITEM_STATUSES, "status", "status")
    if cmd.priority is not None:
        proposed["priority"] = rules.check_choice(
            cmd.priority, rules.PRIORITIES, "priority", "priority"
        )
    if cmd.assignee_id is not None:
        assignee = rules.parse_uuid(cmd.assignee_id, "assignee_id") if cmd.assignee_id else None
        if assignee not in (None, item.assignee_id) and not (yield db.user_exists(assignee)):
            raise invalid(f"User {assignee} not found", "assignee_id")
        proposed["assignee_id"] = assignee
    if cmd.sprint_id is not None:
        sprint = rules.parse_uuid(cmd.sprint_id, "sprint_id") if cmd.sprint_id else None
        if sprint not in (None, item.sprint_id) and (yield db.row_state("sprint", sprint)) is None:
            raise invalid(f"Sprint {sprint} not found", "sprint_id")
        proposed["sprint_id"] = sprint
    if cmd.story_points is not None:
        proposed["story_points"] = rules.check_story_points(cmd.story_points)
    if cmd.position is not None:
        proposed["position"] = rules.check_position(cmd.position)
    if cmd.update_parent:
        proposed["parent_id"] = (
            (yield from _check_reparent(item, cmd.parent_id)) if cmd.parent_id else None
        )
    changes = diff(item, proposed)
    if not changes:
        return Outcome(item)
    yield from begin(ctx)
    updated = structs.replace(
        item, **changes, version=item.version + 1, updated_at=ctx.now, updated_by=ctx.actor
    )
    yield db.item_update(updated)
    ancestors = yield from ancestor_ids(updated)
    return (
        yield from committed(
            ctx,
            "work_item",
            "updated",
            updated,
            item.project_id,
            {"changed": list(changes), "previous": item, "ancestor_ids": ancestors},
            changes_note(list(changes)),
        )
    )


def _check_reparent(item: WorkItem, parent_text: str) -> Program[str]:
    new_parent = rules.parse_uuid(parent_text, "parent_id")
    if new_parent == item.id:
        raise invalid(f"Work item {item.id} cannot be its own parent", "parent_id")
    parent = yield from _check_parent(item.item_type, new_parent)
    chain: list[tuple[str, str | None]] = yield db.item_parent_chain(parent.id, MAX_PARENT_DEPTH)
    if accel.is_reachable_parent_cycle(chain, item.id, parent.id, MAX_PARENT_DEPTH):
        raise invalid("Validation failed: Setting this parent would create a cycle", "parent_id")
    return parent.id


def delete_work_item(ctx: Ctx, ident: str) -> Program[Outcome[WorkItem]]:
    item = yield from resolve_work_item(ident)
    children: int = yield db.item_live_children(item.id)
    if children:
        raise delete_blocked(
            f"Cannot delete work item with {children} child item(s). Delete children first."
        )
    yield from begin(ctx)
    yield db.item_soft_delete(item.id, item.project_id, ctx.now, ctx.actor)
    return (yield from committed(ctx, "work_item", "deleted", item, item.project_id))
