"""Project membership: who may view, edit and administer a project.

Roles come from `pm_project_members` (viewer < editor < admin). A project whose only
members are the LLM user, or that has no members at all, is *shared*: every user is its
admin. That is how projects the `pm` CLI creates anonymously (and the original's REST
projects, which have no members) stay usable from the desktop (docs/compat.md).

Membership is enforced for authenticated callers: every WebSocket connection, and REST
requests when auth is enabled (the bearer token's user). With auth disabled REST has no
authentication, as in the original, so its callers are not checked. Reads are checked
here too: every read program takes the caller's `Ctx`.
"""

from __future__ import annotations

from ..core.errors import forbidden
from ..core.model import WorkItem
from ..store.base import Program, op
from .common import Ctx

LEVEL = {"viewer": 1, "editor": 2, "admin": 3}
NEED = {"view": ("View", 1), "edit": ("Edit", 2), "admin": ("Admin", 3)}


def role_in(ctx: Ctx, project_id: str) -> Program[str | None]:
    access: tuple[str | None, list[tuple[str, str]]]
    access = yield from op(lambda tx: tx.project_access(project_id))
    state, members = access
    if state != "live":
        return None
    if all(user == ctx.llm_user for user, _ in members):
        return "admin"
    for user, role in members:
        if user == ctx.actor:
            return role
    return None


def require(ctx: Ctx, project_id: str, need: str) -> Program[None]:
    if not ctx.authenticated:
        return
    role = yield from role_in(ctx, project_id)
    if role is None:
        raise forbidden("Not a member of this project")
    label, level = NEED[need]
    if LEVEL[role] < level:
        raise forbidden(f"Insufficient permission. Required: {label}, have: {role}")


def require_item_project(ctx: Ctx, item_id: str, need: str) -> Program[None]:
    """`require` on the project of work item `item_id` (a missing item has no project
    anyone may see)."""
    if not ctx.authenticated:
        return
    item: WorkItem | None = yield from op(lambda tx: tx.item_get(item_id))
    if item is None:
        raise forbidden("Not a member of this project")
    yield from require(ctx, item.project_id, need)


def may_view(ctx: Ctx, project_id: str) -> Program[bool]:
    role = yield from role_in(ctx, project_id)
    return role is not None
