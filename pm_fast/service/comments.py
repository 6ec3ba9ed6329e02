"""Comments: flat, trimmed, edited and deleted by their author only."""

from __future__ import annotations

from ..core import rules
from ..core.commands import CreateComment, UpdateComment
from ..core.errors import forbidden, not_found
from ..core.model import Comment, Event, WorkItem
from ..store.base import Program, db
from .common import Ctx, Outcome, activity_event, begin, new_id, record, resolve_work_item


def list_comments(item_ident: str) -> Program[list[Comment]]:
    item = yield from resolve_work_item(item_ident)
    comments: list[Comment] = yield db.comments_by_item(item.id)
    return comments


def _require(text: str) -> Program[Comment]:
    cid = rules.parse_uuid(text)
    comment: Comment | None = yield db.comment_get(cid)
    if comment is None:
        raise not_found(f"Comment {cid} not found")
    return comment


def _project_of(comment: Comment) -> Program[str | None]:
    item: WorkItem | None = yield db.item_get(comment.work_item_id)
    return item.project_id if item else None


def create_comment(ctx: Ctx, item_ident: str, cmd: CreateComment) -> Program[Outcome[Comment]]:
    content = rules.check_content(cmd.content, ctx.limits.max_comment_length)
    item = yield from resolve_work_item(item_ident)
    yield from begin(ctx)
    comment = Comment(
        id=new_id(),
        work_item_id=item.id,
        content=content,
        created_at=ctx.now,
        updated_at=ctx.now,
        created_by=ctx.actor,
        updated_by=ctx.actor,
    )
    yield db.comment_insert(comment)
    entry = yield from record(ctx, "comment", comment.id, "created")
    return Outcome(
        comment,
        [
            activity_event(entry, item.project_id),
            Event("comment.created", item.project_id, comment, ctx.actor),
        ],
    )


def update_comment(ctx: Ctx, text: str, cmd: UpdateComment) -> Program[Outcome[Comment]]:
    content = rules.check_content(cmd.content, ctx.limits.max_comment_length)
    comment = yield from _require(text)
    if comment.created_by != ctx.actor:
        raise forbidden("Cannot edit another user's comment")
    if content == comment.content:
        return Outcome(comment)
    yield from begin(ctx)
    updated = Comment(
        id=comment.id,
        work_item_id=comment.work_item_id,
        content=content,
        created_at=comment.created_at,
        updated_at=ctx.now,
        created_by=comment.created_by,
        updated_by=ctx.actor,
    )
    yield db.comment_update(updated)
    entry = yield from record(ctx, "comment", comment.id, "updated")
    project_id = yield from _project_of(comment)
    return Outcome(
        updated,
        [
            activity_event(entry, project_id),
            Event("comment.updated", project_id, updated, ctx.actor),
        ],
    )


def delete_comment(ctx: Ctx, text: str) -> Program[Outcome[Comment]]:
    comment = yield from _require(text)
    if comment.created_by != ctx.actor:
        raise forbidden("Cannot delete another user's comment")
    yield from begin(ctx)
    yield db.comment_soft_delete(comment.id, ctx.now)
    entry = yield from record(ctx, "comment", comment.id, "deleted")
    project_id = yield from _project_of(comment)
    return Outcome(
        comment,
        [
            activity_event(entry, project_id),
            Event("comment.deleted", project_id, comment, ctx.actor),
        ],
    )
