"""Domain entities and events to protobuf messages (spec/ws-protocol.md §3).

Every broadcast frame is encoded here once and the same bytes go to each recipient.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, assert_never

from google.protobuf.message import Message

from ..core.errors import DomainError
from ..core.model import (
    ActivityEntry,
    Comment,
    Dependency,
    Event,
    LlmContextEntry,
    Project,
    Sprint,
    TimeEntry,
    WorkItem,
)
from . import pm_pb2 as pb
from . import proto_names

# Enum values by their domain names, and back (generated from pm.proto: proto_names;
# Any: pm_pb2's stubs type an enum field as its enum class).
PROJECT_STATUS: Mapping[str, Any] = proto_names.ENUM_VALUES["ProjectStatus"]
PROJECT_STATUS_NAME = {v: k for k, v in PROJECT_STATUS.items()}
ITEM_TYPE: Mapping[str, Any] = proto_names.ENUM_VALUES["WorkItemType"]
ITEM_TYPE_NAME = {v: k for k, v in ITEM_TYPE.items()}
SPRINT_STATUS: Mapping[str, Any] = proto_names.ENUM_VALUES["SprintStatus"]
SPRINT_STATUS_NAME = {v: k for k, v in SPRINT_STATUS.items()}
DEPENDENCY_TYPE: Mapping[str, Any] = proto_names.ENUM_VALUES["DependencyType"]
DEPENDENCY_TYPE_NAME = {v: k for k, v in DEPENDENCY_TYPE.items()}

_DATE_FIELDS = {"start_date", "end_date"}


# -- entities -------------------------------------------------------------------------
def project_pb(p: Project) -> pb.Project:
    msg = pb.Project(
        id=p.id,
        title=p.title,
        key=p.key,
        status=PROJECT_STATUS.get(p.status, 0),
        version=p.version,
        created_at=p.created_at,
        updated_at=p.updated_at,
        created_by=p.created_by,
        updated_by=p.updated_by,
        next_work_item_number=p.next_work_item_number,
    )
    if p.description is not None:
        msg.description = p.description
    return msg


def work_item_pb(
    w: WorkItem, ancestors: Iterable[str] = (), descendants: Iterable[str] = ()
) -> pb.WorkItem:
    msg = pb.WorkItem(
        id=w.id,
        item_type=ITEM_TYPE.get(w.item_type, 0),
        project_id=w.project_id,
        position=w.position,
        title=w.title,
        status=w.status,
        created_at=w.created_at,
        updated_at=w.updated_at,
        created_by=w.created_by,
        updated_by=w.updated_by,
        priority=w.priority,
        version=w.version,
        item_number=w.item_number,
        ancestor_ids=list(ancestors),
        descendant_ids=list(descendants),
    )
    if w.parent_id is not None:
        msg.parent_id = w.parent_id
    if w.description is not None:
        msg.description = w.description
    if w.assignee_id is not None:
        msg.assignee_id = w.assignee_id
    if w.sprint_id is not None:
        msg.sprint_id = w.sprint_id
    if w.story_points is not None:
        msg.story_points = w.story_points
    return msg


def sprint_pb(s: Sprint) -> pb.Sprint:
    msg = pb.Sprint(
        id=s.id,
        project_id=s.project_id,
        name=s.name,
        start_date=s.start_date,
        end_date=s.end_date,
        status=SPRINT_STATUS.get(s.status, 0),
        version=s.version,
        created_at=s.created_at,
        updated_at=s.updated_at,
        created_by=s.created_by,
        updated_by=s.updated_by,
    )
    if s.goal is not None:
        msg.goal = s.goal
    return msg


def comment_pb(c: Comment) -> pb.Comment:
    return pb.Comment(
        id=c.id,
        work_item_id=c.work_item_id,
        content=c.content,
        created_at=c.created_at,
        updated_at=c.updated_at,
        created_by=c.created_by,
        updated_by=c.updated_by,
    )


def time_entry_pb(t: TimeEntry) -> pb.TimeEntry:
    msg = pb.TimeEntry(
        id=t.id,
        work_item_id=t.work_item_id,
        user_id=t.user_id,
        started_at=t.started_at,
        created_at=t.created_at,
        updated_at=t.updated_at,
    )
    if t.ended_at is not None:
        msg.ended_at = t.ended_at
    if t.duration_seconds is not None:
        msg.duration_seconds = t.duration_seconds
    if t.description is not None:
        msg.description = t.description
    return msg


def dependency_pb(d: Dependency) -> pb.Dependency:
    return pb.Dependency(
        id=d.id,
        blocking_item_id=d.blocking_item_id,
        blocked_item_id=d.blocked_item_id,
        dependency_type=DEPENDENCY_TYPE.get(d.dependency_type, 0),
        created_at=d.created_at,
        created_by=d.created_by,
    )


def activity_pb(a: ActivityEntry) -> pb.ActivityLogEntry:
    msg = pb.ActivityLogEntry(
        id=a.id,
        entity_type=a.entity_type,
        entity_id=a.entity_id,
        action=a.action,
        user_id=a.user_id,
        timestamp=a.timestamp,
    )
    for name in ("field_name", "old_value", "new_value", "comment"):
        value = getattr(a, name)
        if value is not None:
            setattr(msg, name, value)
    return msg


def llm_pb(e: LlmContextEntry) -> pb.LlmContextEntry:
    msg = pb.LlmContextEntry(
        id=e.id,
        context_type=e.context_type,
        category=e.category,
        title=e.title,
        content=e.content,
        priority=e.priority,
    )
    if e.example_sql is not None:
        msg.example_sql = e.example_sql
    if e.example_description is not None:
        msg.example_description = e.example_description
    return msg


def _change_text(name: str, value: Any) -> str | None:
    if value is None:
        return None
    if name in _DATE_FIELDS and isinstance(value, int):
        return datetime.fromtimestamp(value, UTC).isoformat()
    return str(value)


def changes_pb(previous: Any, current: Any, changed: Iterable[str]) -> list[pb.FieldChange]:
    out = []
    for name in changed:
        change = pb.FieldChange(field_name=name)
        old = _change_text(name, getattr(previous, name, None))
        new = _change_text(name, getattr(current, name, None))
        if old is not None:
            change.old_value = old
        if new is not None:
            change.new_value = new
        out.append(change)
    return out


# -- events ---------------------------------------------------------------------------
def event_payload(event: Event) -> tuple[str, Message]:
    """The `WebSocketMessage.payload` case and message that announce `event`."""
    actor, extra = event.actor, event.extra
    changed: Any = extra.get("changed", ())
    previous: Any = extra.get("previous")
    match event.kind:  # the union's tag: mypy narrows `event` to the kind's class
        case "activity.created":
            entry = event.entity
            return "activity_log_created", pb.ActivityLogCreated(entry=activity_pb(entry))
        case "work_item.created":
            item = event.entity
            msg = work_item_pb(item, extra.get("ancestor_ids", ()), extra.get("descendant_ids", ()))
            return "work_item_created", pb.WorkItemCreated(work_item=msg, user_id=actor)
        case "work_item.updated":
            item = event.entity
            msg = work_item_pb(item, extra.get("ancestor_ids", ()), extra.get("descendant_ids", ()))
            return "work_item_updated", pb.WorkItemUpdated(
                work_item=msg, changes=changes_pb(previous, item, changed), user_id=actor
            )
        case "work_item.deleted":
            item = event.entity
            return "work_item_deleted", pb.WorkItemDeleted(work_item_id=item.id, user_id=actor)
        case "sprint.created":
            sprint = event.entity
            return "sprint_created", pb.SprintCreated(sprint=sprint_pb(sprint), user_id=actor)
        case "sprint.updated":
            sprint = event.entity
            return "sprint_updated", pb.SprintUpdated(
                sprint=sprint_pb(sprint),
                changes=changes_pb(previous, sprint, changed),
                user_id=actor,
            )
        case "sprint.deleted":
            sprint = event.entity
            return "sprint_deleted", pb.SprintDeleted(sprint_id=sprint.id, user_id=actor)
        case "comment.created":
            comment = event.entity
            return "comment_created", pb.CommentCreated(comment=comment_pb(comment), user_id=actor)
        case "comment.updated":
            comment = event.entity
            return "comment_updated", pb.CommentUpdated(comment=comment_pb(comment), user_id=actor)
        case "comment.deleted":
            comment = event.entity
            return "comment_deleted", pb.CommentDeleted(comment_id=comment.id, user_id=actor)
        case "project.created":
            project = event.entity
            return "project_created", pb.ProjectCreated(project=project_pb(project), user_id=actor)
        case "project.updated":
            project = event.entity
            return "project_updated", pb.ProjectUpdated(
                project=project_pb(project),
                changes=changes_pb(previous, project, changed),
                user_id=actor,
            )
        case "project.deleted":
            project = event.entity
            return "project_deleted", pb.ProjectDeleted(project_id=project.id, user_id=actor)
        case "time_entry.created":
            te = event.entity
            return "time_entry_created", pb.TimeEntryCreated(
                time_entry=time_entry_pb(te), user_id=actor
            )
        case "time_entry.updated":
            te = event.entity
            return "time_entry_updated", pb.TimeEntryUpdated(
                time_entry=time_entry_pb(te), user_id=actor
            )
        case "time_entry.deleted":
            te = event.entity
            return "time_entry_deleted", pb.TimeEntryDeleted(
                time_entry_id=te.id, work_item_id=te.work_item_id, user_id=actor
            )
        case "dependency.created":
            dep = event.entity
            return "dependency_created", pb.DependencyCreated(
                dependency=dependency_pb(dep), user_id=actor
            )
        case "dependency.deleted":
            dep = event.entity
            return "dependency_deleted", pb.DependencyDeleted(
                dependency_id=dep.id,
                blocking_item_id=dep.blocking_item_id,
                blocked_item_id=dep.blocked_item_id,
                user_id=actor,
            )
        case _:
            assert_never(event)


# -- envelopes ------------------------------------------------------------------------
def envelope(message_id: str, case: str | None = None, payload: Message | None = None) -> bytes:
    env = pb.WebSocketMessage(message_id=message_id, timestamp=int(time.time()))
    if case is not None and payload is not None:
        getattr(env, case).CopyFrom(payload)
    data: bytes = env.SerializeToString()
    return data


_WS_ERRORS: dict[str, tuple[str, str]] = {
    "NOT_FOUND": ("NOT_FOUND", "Resource not found: "),
    "VALIDATION_ERROR": ("VALIDATION_ERROR", "Validation failed: "),
    "BAD_REQUEST": ("VALIDATION_ERROR", "Validation failed: "),
    "DUPLICATE_KEY": ("VALIDATION_ERROR", "Validation failed: "),
    "DUPLICATE": ("VALIDATION_ERROR", "Validation failed: "),
    "INVALID_MESSAGE": ("INVALID_MESSAGE", "Invalid message: "),
    "CONFLICT": ("CONFLICT", "Conflict: "),
    "DELETE_BLOCKED": ("DELETE_BLOCKED", "Cannot delete: "),
    "UNAUTHORIZED": ("UNAUTHORIZED", "Unauthorized: "),
    "SERVICE_UNAVAILABLE": ("SERVICE_UNAVAILABLE", ""),
    "TIMEOUT": ("TIMEOUT", ""),
    # pm-fast: a resume position older than the event log keeps (docs/events.md)
    "RESYNC_REQUIRED": ("RESYNC_REQUIRED", ""),
}


def error_frame(message_id: str, code: str, message: str, field: str | None = None) -> bytes:
    err = pb.Error(code=code, message=message)
    if field is not None and code == "VALIDATION_ERROR":
        err.field = field
    return envelope(message_id, "error", err)


def domain_error_frame(message_id: str, error: DomainError) -> bytes:
    code, prefix = _WS_ERRORS.get(error.code, ("DATABASE_ERROR", ""))
    if code == "DATABASE_ERROR":
        return error_frame(message_id, code, "Database error")
    message = error.message
    if message.startswith("Invalid UUID format") and error.field:
        message = f"Invalid UUID format for {error.field}"
    elif error.code == "NOT_FOUND" and error.field in ("blocking_item_id", "blocked_item_id"):
        message += " (blocking)" if error.field == "blocking_item_id" else " (blocked)"
    if error.code == "DELETE_BLOCKED" and message.startswith("Cannot delete"):
        message = "Cannot delete: " + message[len("Cannot delete") :].lstrip(": ")
    elif prefix and not message.startswith(prefix):
        message = prefix + message
    return error_frame(message_id, code, message, error.field)


# -- pm-fast's event positions (docs/events.md) -------------------------------------------
# Envelope fields outside the payload numbering, appended to an encoded envelope (a
# protobuf message's fields may come in any order): 200 `event`, 201 `positions`.
EVENT_TAG = b"\xc2\x0c"  # field 200, length-delimited
POSITIONS_TAG = b"\xca\x0c"  # field 201, length-delimited


def _varint(n: int) -> bytes:
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def event_position(tag: bytes, project_id: str, seq: int) -> bytes:
    """An `EventPosition` as envelope field `tag` (EVENT_TAG or POSITIONS_TAG)."""
    pid = project_id.encode()
    body = b"\x0a" + _varint(len(pid)) + pid + b"\x10" + _varint(seq)
    return tag + _varint(len(body)) + body
