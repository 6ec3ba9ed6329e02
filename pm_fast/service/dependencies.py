"""Dependency links: no self links, no duplicates, no blocks cycles, same project, 50 max."""

from __future__ import annotations

from .. import accel
from ..core import rules
from ..core.commands import CreateDependency
from ..core.errors import DomainError, forbidden, invalid, not_found
from ..core.model import Dependency, DependencyCreated, DependencyDeleted, WorkItem
from ..store.base import Program, op
from .access import require
from .common import (
    Ctx,
    Outcome,
    begin,
    committed,
    message_id,
    new_id,
    require_item,
    resolve_work_item,
)


def list_dependencies(ctx: Ctx, item_ident: str) -> Program[list[Dependency]]:
    item = yield from resolve_work_item(item_ident)
    yield from require(ctx, item.project_id, "view")
    deps: list[Dependency] = yield from op(lambda tx: tx.deps_for_item(item.id))
    return deps


def dependencies_of(ctx: Ctx, item_id: str) -> Program[tuple[list[Dependency], list[Dependency]]]:
    """The dependencies that block the item, and those it blocks."""
    item = yield from require_item(message_id(ctx, item_id, "work_item_id"))
    yield from require(ctx, item.project_id, "view")
    deps: list[Dependency] = yield from op(lambda tx: tx.deps_for_item(item.id))
    return (
        [d for d in deps if d.blocked_item_id == item.id],
        [d for d in deps if d.blocking_item_id == item.id],
    )


def _require_item(wid: str, shown: str, field: str) -> Program[WorkItem]:
    item: WorkItem | None = yield from op(lambda tx: tx.item_get(wid))
    if item is None:
        raise DomainError("NOT_FOUND", f"Work item {shown} not found", field)
    return item


def create_dependency(ctx: Ctx, cmd: CreateDependency) -> Program[Outcome[Dependency]]:
    blocking_id = rules.parse_uuid(cmd.blocking_item_id, "blocking_item_id")
    blocked_id = rules.parse_uuid(cmd.blocked_item_id, "blocked_item_id")
    if ctx.profile.message_wording:  # the original WebSocket handler's checks, in its order
        if blocking_id == blocked_id:
            raise invalid("Work item cannot block itself", "blocked_item_id")
        if cmd.dependency_type not in rules.DEPENDENCY_TYPES:
            raise invalid(
                "Invalid dependency_type. Must be BLOCKS or RELATES_TO", "dependency_type"
            )
    dep_type = rules.check_dependency_type(cmd.dependency_type)
    if blocking_id == blocked_id:
        raise invalid("A work item cannot depend on itself", "blocked_item_id")
    blocking = yield from _require_item(blocking_id, cmd.blocking_item_id, "blocking_item_id")
    blocked = yield from _require_item(blocked_id, cmd.blocked_item_id, "blocked_item_id")
    if blocking.project_id != blocked.project_id:
        raise invalid(
            "Dependencies can only be created between items in the same project",
            "blocking_item_id",
        )
    yield from require(ctx, blocking.project_id, "edit")
    existing: tuple[Dependency, bool] | None = yield from op(
        lambda tx: tx.dep_pair_any(blocking_id, blocked_id)
    )
    if existing is not None and not existing[1]:
        raise DomainError("DUPLICATE", "This dependency already exists", "blocked_item_id")
    blockers, _ = yield from op(lambda tx: tx.dep_counts(blocked_id))
    if blockers >= rules.MAX_LINKS_PER_ITEM:
        raise invalid(
            f"Item already has {blockers} blocking dependencies (max {rules.MAX_LINKS_PER_ITEM})",
            "blocked_item_id",
        )
    _, blocks = yield from op(lambda tx: tx.dep_counts(blocking_id))
    if blocks >= rules.MAX_LINKS_PER_ITEM:
        raise invalid(
            f"Item already blocks {blocks} items (max {rules.MAX_LINKS_PER_ITEM})",
            "blocking_item_id",
        )
    if dep_type == "blocks":
        edges: list[tuple[str, str]] = yield from op(lambda tx: tx.blocks_edges())
        path = accel.would_cycle(edges, blocking_id, blocked_id)
        if path is not None:
            shown = " → ".join(rules.short_id(p) for p in path)
            raise invalid(
                f"Circular dependency detected: {shown}. This would create a cycle.",
                "blocking_item_id",
            )
    yield from begin(ctx)
    # A soft-deleted link of the same pair still holds the table's UNIQUE(pair): it comes
    # back to life under its own id, so its activity rows and any stored reply that name
    # it keep naming a row that exists.
    dep = Dependency(
        id=existing[0].id if existing is not None else new_id(),
        blocking_item_id=blocking_id,
        blocked_item_id=blocked_id,
        dependency_type=dep_type,
        created_at=ctx.now,
        created_by=ctx.actor,
    )
    if existing is not None:
        yield from op(lambda tx: tx.dep_revive(dep))
    else:
        yield from op(lambda tx: tx.dep_insert(dep))
    return (yield from committed(ctx, DependencyCreated, dep, blocked.project_id))


def _require_link_writer(ctx: Ctx, dep: Dependency) -> Program[None]:
    """The caller must be allowed to edit the project the link is in. A link between two
    projects (stored before links were checked) may be removed by an editor of either."""
    projects: list[str] = []
    for wid in (dep.blocking_item_id, dep.blocked_item_id):
        item: WorkItem | None = yield from op(lambda tx: tx.item_get(wid))
        if item is not None and item.project_id not in projects:
            projects.append(item.project_id)
    refused: DomainError | None = None
    for pid in projects:
        try:
            yield from require(ctx, pid, "edit")
            return
        except DomainError as err:
            refused = refused or err
    if refused is not None:
        raise refused
    if not projects and ctx.authenticated:
        # both ends are deleted: no project vouches for the caller
        raise forbidden("Not a member of this project")


def delete_dependency(ctx: Ctx, text: str) -> Program[Outcome[Dependency]]:
    text = message_id(ctx, text, "dependency_id")
    did = rules.parse_uuid(text)
    dep: Dependency | None = yield from op(lambda tx: tx.dep_get(did))
    if dep is None:
        raise not_found(f"Dependency {text} not found")
    yield from _require_link_writer(ctx, dep)
    yield from begin(ctx)
    yield from op(lambda tx: tx.dep_soft_delete(dep.id, ctx.now))
    item: WorkItem | None = yield from op(lambda tx: tx.item_get(dep.blocked_item_id))
    project_id = item.project_id if item else None
    return (yield from committed(ctx, DependencyDeleted, dep, project_id))
