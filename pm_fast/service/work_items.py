"""Work items: hierarchy, numbering, positions, versions, filters."""

from __future__ import annotations

from typing import Any

from msgspec import structs

from .. import accel
from ..core import rules
from ..core.commands import CreateWorkItem, UpdateWorkItem, WorkItemFilter
from ..core.errors import conflict, delete_blocked, invalid, not_found
from ..core.model import WorkItem, WorkItemCreated, WorkItemDeleted, WorkItemUpdated
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
    resolve_work_item,
)

MAX_PARENT_DEPTH = 100


def get_work_item(ctx: Ctx, ident: str) -> Program[WorkItem]:
    item = yield from resolve_work_item(ident)
    yield from require(ctx, item.project_id, "view")
    return item


def list_work_items(ctx: Ctx, project_ident: str, flt: WorkItemFilter) -> Program[list[WorkItem]]:
    project = yield from resolve_project(project_ident)
    yield from require(ctx, project.id, "view")
    # Given but empty is still given: the original refuses it as a display key.
    below: WorkItem | None = None
    above: WorkItem | None = None
    if flt.descendants_of is not None:
        below = yield from resolve_work_item(flt.descendants_of)
    if flt.ancestors_of is not None:
        above = yield from resolve_work_item(flt.ancestors_of)
    items: list[WorkItem] = yield from op(lambda tx: tx.items_by_project(project.id))
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


def hierarchy_maps(
    rows: list[tuple[str, str | None]],
) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Ancestor ids (nearest first) and descendant ids (breadth first) of every item."""
    parent = dict(rows)
    children: dict[str, list[str]] = {}
    for item, up in rows:
        if up is not None:
            children.setdefault(up, []).append(item)
    ancestors: dict[str, list[str]] = {}
    descendants: dict[str, list[str]] = {}
    for item, _ in rows:
        chain: list[str] = []
        up = parent.get(item)
        while up is not None and up in parent and up != item and up not in chain:
            chain.append(up)
            if len(chain) >= MAX_PARENT_DEPTH:
                break
            up = parent.get(up)
        ancestors[item] = chain
        found: list[str] = []
        seen = {item}
        frontier = children.get(item, [])
        while frontier:
            nxt: list[str] = []
            for child in frontier:
                if child not in seen:
                    seen.add(child)
                    found.append(child)
                    nxt.extend(children.get(child, ()))
            frontier = nxt
        descendants[item] = found
    return ancestors, descendants


def list_with_hierarchy(
    ctx: Ctx, project_text: str
) -> Program[tuple[list[WorkItem], dict[str, list[str]], dict[str, list[str]]]]:
    """Every live item of a project (done included) with its ancestors and descendants."""
    pid = rules.try_uuid(project_text)
    if pid is None:
        raise invalid(f"Invalid project_id: {project_text}", "project_id")
    yield from require(ctx, pid, "view")
    items: list[WorkItem] = yield from op(lambda tx: tx.items_by_project(pid))
    ancestors, descendants = hierarchy_maps([(i.id, i.parent_id) for i in items])
    return items, ancestors, descendants


def item_hierarchy(item: WorkItem) -> Program[tuple[list[str], list[str]]]:
    """Ancestors (nearest first) and descendants (breadth first) of one item."""
    rows: list[tuple[str, str | None]] = yield from op(
        lambda tx: tx.items_hierarchy(item.project_id)
    )
    below = accel.descendants(rows, item.id, None)
    above = yield from ancestor_ids(item)
    return above, below


def ancestor_ids(item: WorkItem) -> Program[list[str]]:
    """The parent chain of `item`, nearest first."""
    if item.parent_id is None:
        return []
    rows: list[tuple[str, str | None]] = yield from op(
        lambda tx: tx.item_parent_chain(item.id, MAX_PARENT_DEPTH)
    )
    return accel.ancestors(rows, item.id, MAX_PARENT_DEPTH)


def _check_parent(child_type: str, parent_text: str, project_id: str) -> Program[WorkItem]:
    """The parent must exist, fit the hierarchy and live in the child's project (the
    original never compared projects, so a caller could hang items under another
    project's epic, out of its owners' sight but blocking their deletes)."""
    pid = rules.parse_uuid(parent_text, "parent_id")
    parent: WorkItem | None = yield from op(lambda tx: tx.item_get(pid))
    if parent is None:
        raise invalid("Validation failed: Parent work item not found", "parent_id")
    if parent.project_id != project_id:
        raise invalid(
            "Validation failed: Parent work item must be in the same project", "parent_id"
        )
    rules.check_hierarchy(parent.item_type, child_type)
    return parent


def create_work_item(ctx: Ctx, cmd: CreateWorkItem) -> Program[Outcome[WorkItem]]:
    if ctx.profile.message_wording and cmd.item_type not in rules.ITEM_TYPES:
        # the WebSocket edge passes a number that names no type as its digits
        raise invalid(f"Invalid item_type: {cmd.item_type}", "item_type")
    item_type = rules.check_item_type(cmd.item_type)
    if ctx.profile.message_limits:
        check_length(cmd.title, 1, ctx.limits.max_title_length, "title")
    title = rules.require_title(cmd.title, ctx.limits.max_title_length)
    description = (
        None
        if cmd.description is None
        else rules.check_description(
            cmd.description, ctx.limits.max_description_length, on_create=True
        )
    )
    pid = rules.parse_uuid(cmd.project_id, "project_id")
    yield from require(ctx, pid, "edit")
    parent: WorkItem | None = None
    if cmd.parent_id:
        parent = yield from _check_parent(item_type, cmd.parent_id, pid)
    status = rules.check_item_choice(
        cmd.status if cmd.status is not None else "backlog", rules.ITEM_STATUSES, "status"
    )
    priority = rules.check_item_choice(
        cmd.priority if cmd.priority is not None else "medium", rules.PRIORITIES, "priority"
    )
    yield from begin(ctx)
    # The store numbers the item and puts it after its last sibling.
    item: WorkItem | None = yield from op(
        lambda tx: tx.item_create(
            WorkItem(
                id=new_id(),
                display_key="",
                item_type=item_type,
                title=title,
                description=description,
                status=status,
                priority=priority,
                parent_id=parent.id if parent else None,
                project_id=pid,
                assignee_id=None,
                sprint_id=None,
                story_points=None,
                item_number=0,
                position=0,
                version=1,
                created_at=ctx.now,
                updated_at=ctx.now,
                created_by=ctx.actor,
                updated_by=ctx.actor,
            )
        )
    )
    if item is None:
        raise not_found(f"Project {cmd.project_id} not found")
    if item.item_number > rules.MAX_ITEM_NUMBER:
        # The counter ran out of int32 numbers: nothing of this create is kept.
        raise invalid(
            f"Project {item.display_key.rsplit('-', 1)[0]} has no item numbers left"
            f" (the highest is {rules.MAX_ITEM_NUMBER})",
            "item_number",
        )
    ancestors = yield from ancestor_ids(item)
    return (
        yield from committed(
            ctx,
            WorkItemCreated,
            item,
            pid,
            {"ancestor_ids": ancestors, "descendant_ids": []},
        )
    )


def update_work_item(ctx: Ctx, ident: str, cmd: UpdateWorkItem) -> Program[Outcome[WorkItem]]:
    ident = message_id(ctx, ident, "work_item_id")
    item = yield from resolve_work_item(ident)
    yield from require(ctx, item.project_id, "edit")
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
        proposed["status"] = rules.check_item_choice(cmd.status, rules.ITEM_STATUSES, "status")
    if cmd.priority is not None:
        proposed["priority"] = rules.check_item_choice(cmd.priority, rules.PRIORITIES, "priority")
    if cmd.assignee_id is not None:
        assignee = rules.parse_uuid(cmd.assignee_id, "assignee_id") if cmd.assignee_id else None
        if assignee not in (None, item.assignee_id) and not (
            yield from op(lambda tx: tx.user_exists(assignee))
        ):
            raise invalid(f"User {assignee} not found", "assignee_id")
        proposed["assignee_id"] = assignee
    if cmd.sprint_id is not None:
        sprint = rules.parse_uuid(cmd.sprint_id, "sprint_id") if cmd.sprint_id else None
        if sprint not in (None, item.sprint_id):
            # A deleted sprint may still be named (spec), but only one of this project.
            owner: str | None = yield from op(lambda tx: tx.sprint_project(sprint))
            if owner is None:
                raise invalid(f"Sprint {sprint} not found", "sprint_id")
            if owner != item.project_id:
                raise invalid(
                    f"Sprint {sprint} must be in the same project as the work item", "sprint_id"
                )
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
    version = rules.next_version(item.version)
    yield from begin(ctx)
    updated = structs.replace(
        item, **changes, version=version, updated_at=ctx.now, updated_by=ctx.actor
    )
    yield from op(lambda tx: tx.item_update(updated))
    ancestors, descendants = yield from item_hierarchy(updated)
    return (
        yield from committed(
            ctx,
            WorkItemUpdated,
            updated,
            item.project_id,
            {
                "changed": list(changes),
                "previous": item,
                "ancestor_ids": ancestors,
                "descendant_ids": descendants,
            },
            changes_note(ctx, list(changes)),
        )
    )


def _check_reparent(item: WorkItem, parent_text: str) -> Program[str]:
    new_parent = rules.parse_uuid(parent_text, "parent_id")
    if new_parent == item.id:
        raise invalid(f"Work item {item.id} cannot be its own parent", "parent_id")
    parent = yield from _check_parent(item.item_type, new_parent, item.project_id)
    chain: list[tuple[str, str | None]] = yield from op(
        lambda tx: tx.item_parent_chain(parent.id, MAX_PARENT_DEPTH)
    )
    if accel.is_reachable_parent_cycle(chain, item.id, parent.id, MAX_PARENT_DEPTH):
        raise invalid("Validation failed: Setting this parent would create a cycle", "parent_id")
    return parent.id


def delete_work_item(ctx: Ctx, ident: str) -> Program[Outcome[WorkItem]]:
    ident = message_id(ctx, ident, "work_item_id")
    item = yield from resolve_work_item(ident)
    yield from require(ctx, item.project_id, "admin")
    children: int = yield from op(lambda tx: tx.item_live_children(item.id))
    if children:
        raise delete_blocked(
            f"Cannot delete work item with {children} child item(s). Delete children first."
        )
    yield from begin(ctx)
    yield from op(lambda tx: tx.item_soft_delete(item.id, item.project_id, ctx.now, ctx.actor))
    return (yield from committed(ctx, WorkItemDeleted, item, item.project_id))
