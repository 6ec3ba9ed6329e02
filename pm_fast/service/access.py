"""Project membership: who may view, edit and administer a project.

Roles come from `pm_project_members` (viewer < editor < admin). A project whose only
members are the LLM user, or that has no members at all, is *shared*: every user is its
admin. That is how projects the `pm` CLI creates anonymously (and the original's REST
projects, which have no members) stay usable from the desktop (docs/compat.md).

Membership is enforced for authenticated callers (WebSocket). REST has no
authentication, as in the original, so its callers are not checked.
"""

from __future__ import annotations

from ..core.errors import forbidden
from ..store.base import Program, db
from .common import Ctx

LEVEL = {"viewer": 1, "editor": 2, "admin": 3}
NEED = {"view": ("View", 1), "edit": ("Edit", 2), "admin": ("Admin", 3)}


def role_in(ctx: Ctx, project_id: str) -> Program[str | None]:
    if (yield db.row_state("project", project_id)) != "live":
        return None
    members: list[tuple[str, str]] = yield db.members_of(project_id)
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


def may_view(ctx: Ctx, project_id: str) -> Program[bool]:
    role = yield from role_in(ctx, project_id)
    return role is not None
