"""Comments: flat, trimmed, edited and deleted by their author only."""

from __future__ import annotations

from msgspec import structs

from ..core import rules
from ..core.commands import CreateComment, UpdateComment
from ..core.errors import forbidden, not_found
from ..core.model import Comment, CommentCreated, CommentDeleted, CommentUpdated, WorkItem
from ..store.base import Program, op
from .access import require, require_item_project
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


def list_comments(ctx: Ctx, item_ident: str) -> Program[list[Comment]]:
    item = yield from resolve_work_item(item_ident)
    yield from require(ctx, item.project_id, "view")
    comments: list[Comment] = yield from op(lambda tx: tx.comments_by_item(item.id))
    return comments


def list_comments_for(ctx: Ctx, item_id: str) -> Program[list[Comment]]:
    item = yield from require_item(message_id(ctx, item_id, "work_item_id"))
    yield from require(ctx, item.project_id, "view")
    comments: list[Comment] = yield from op(lambda tx: tx.comments_by_item(item.id))
    return comments


def _require_own(text: str, ctx: Ctx, verb: str) -> Program[Comment]:
    cid = rules.parse_uuid(text)
    comment: Comment | None = yield from op(lambda tx: tx.comment_get(cid))
    if comment is None:
        raise not_found(f"Comment {text} not found")
    if comment.created_by != ctx.actor:
        raise forbidden(f"Cannot {verb} another user's comment")
    if (yield from op(lambda tx: tx.row_state("work_item", comment.work_item_id))) != "live":
        raise not_found(f"Work item {comment.work_item_id} not found")
    # One's own comment, but in a project one may (no longer) write: refused too.
    yield from require_item_project(ctx, comment.work_item_id, "edit")
    return comment


def _project_of(comment: Comment) -> Program[str | None]:
    item: WorkItem | None = yield from op(lambda tx: tx.item_get(comment.work_item_id))
    return item.project_id if item else None


def create_comment(ctx: Ctx, item_ident: str, cmd: CreateComment) -> Program[Outcome[Comment]]:
    content = rules.check_content(cmd.content, ctx.limits.max_comment_length)
    item_ident = message_id(ctx, item_ident, "work_item_id")
    item = yield from resolve_work_item(item_ident)
    yield from require(ctx, item.project_id, "edit")
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
    yield from op(lambda tx: tx.comment_insert(comment))
    return (yield from committed(ctx, CommentCreated, comment, item.project_id))


def update_comment(ctx: Ctx, text: str, cmd: UpdateComment) -> Program[Outcome[Comment]]:
    content = rules.check_content(cmd.content, ctx.limits.max_comment_length)
    text = message_id(ctx, text, "comment_id")
    comment = yield from _require_own(text, ctx, "edit")
    if content == comment.content:
        return Outcome(comment)
    yield from begin(ctx)
    updated = structs.replace(comment, content=content, updated_at=ctx.now, updated_by=ctx.actor)
    yield from op(lambda tx: tx.comment_update(updated))
    project_id = yield from _project_of(comment)
    return (yield from committed(ctx, CommentUpdated, updated, project_id))


def delete_comment(ctx: Ctx, text: str) -> Program[Outcome[Comment]]:
    comment = yield from _require_own(message_id(ctx, text, "comment_id"), ctx, "delete")
    yield from begin(ctx)
    yield from op(lambda tx: tx.comment_soft_delete(comment.id, ctx.now))
    project_id = yield from _project_of(comment)
    return (yield from committed(ctx, CommentDeleted, comment, project_id))
