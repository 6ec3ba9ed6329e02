"""Reading the activity log and the LLM context."""

from __future__ import annotations

from ..core import rules
from ..core.errors import invalid, not_found
from ..core.model import ActivityEntry, Comment, Dependency, LlmContextEntry, TimeEntry, WorkItem
from ..store.base import Program, op
from .access import require
from .common import Ctx

ENTITY_TYPES = ("work_item", "sprint", "comment", "time_entry", "dependency", "project")


def _project_of_entity(entity_type: str, entity_id: str) -> Program[str | None]:
    if entity_type == "project":
        state = yield from op(lambda tx: tx.row_state("project", entity_id))
        return entity_id if state == "live" else None
    if entity_type == "sprint":
        sprint = yield from op(lambda tx: tx.sprint_get(entity_id))
        return sprint.project_id if sprint else None
    item_id: str | None = entity_id
    if entity_type == "comment":
        comment: Comment | None = yield from op(lambda tx: tx.comment_get(entity_id))
        item_id = comment.work_item_id if comment else None
    elif entity_type == "time_entry":
        entry: TimeEntry | None = yield from op(lambda tx: tx.te_get(entity_id))
        item_id = entry.work_item_id if entry else None
    elif entity_type == "dependency":
        dep: Dependency | None = yield from op(lambda tx: tx.dep_get(entity_id))
        item_id = dep.blocked_item_id if dep else None
    if item_id is None:
        return None
    item: WorkItem | None = yield from op(lambda tx: tx.item_get(item_id))
    return item.project_id if item else None


def activity_log(
    ctx: Ctx, entity_type: str, entity_text: str, limit: int, offset: int
) -> Program[tuple[list[ActivityEntry], int, bool]]:
    """Entries of one live entity, newest first: (page, total count, has more)."""
    entity_id = rules.try_uuid(entity_text)
    if entity_id is None:
        raise invalid(f"Invalid entity_id: {entity_text}", "entity_id")
    if entity_type not in ENTITY_TYPES:
        raise invalid(
            f"Invalid entity_type '{entity_type}'. Must be one of: {list(ENTITY_TYPES)}",
            "entity_type",
        )
    project_id = yield from _project_of_entity(entity_type, entity_id)
    if project_id is None:
        raise not_found(f"{entity_type} {entity_id} not found")
    yield from require(ctx, project_id, "view")
    limit = min(max(limit, 1), 100)
    offset = max(offset, 0)
    entries: list[ActivityEntry] = yield from op(
        lambda tx: tx.activity_for(entity_type, entity_id, limit, offset)
    )
    total: int = yield from op(lambda tx: tx.activity_count(entity_type, entity_id))
    return entries, total, offset + limit < total


def llm_context(
    category: str | None, context_type: str | None, min_priority: int | None
) -> Program[list[LlmContextEntry]]:
    rows: list[LlmContextEntry] = yield from op(lambda tx: tx.llm_context())
    return [
        r
        for r in rows
        if (category is None or r.category == category)
        and (context_type is None or r.context_type == context_type)
        and (min_priority is None or r.priority >= min_priority)
    ]
