"""The protobuf schema (pm_fast/api/pm.proto → pm_pb2) against spec/ws-protocol.md §3.

The tables below are written from the spec, not from the .proto, so a wrong name,
number, type or label in the schema fails here. Wire compatibility is also checked
without the generator: a small hand-written encoder/decoder builds and reads frames
from the spec's field numbers alone.
"""

from __future__ import annotations

from typing import Any

import pytest
from google.protobuf import descriptor_pb2
from google.protobuf.message import Message

from pm_fast.api import pm_pb2, proto_names
from pm_fast.api.proto_names import Direction

# --------------------------------------------------------------------------- spec tables

# (field number, type, label). Type: a scalar name, or an enum / message name.
# Label: plain (no presence), optional (explicit presence), repeated, oneof.
Field = tuple[int, str, str]

PLAIN, OPT, REP, ONEOF = "plain", "optional", "repeated", "oneof"
S, I32, I64, B, U64 = "string", "int32", "int64", "bool", "uint64"

ENUMS: dict[str, dict[str, int]] = {
    "ProjectStatus": {
        "PROJECT_STATUS_UNSPECIFIED": 0,
        "PROJECT_STATUS_ACTIVE": 1,
        "PROJECT_STATUS_ARCHIVED": 2,
    },
    "WorkItemType": {"WORK_ITEM_TYPE_UNSPECIFIED": 0, "EPIC": 2, "STORY": 3, "TASK": 4},
    "SprintStatus": {
        "SPRINT_STATUS_UNSPECIFIED": 0,
        "PLANNED": 1,
        "ACTIVE": 2,
        "COMPLETED": 3,
        "CANCELLED": 4,
    },
    "DependencyType": {"DEPENDENCY_TYPE_UNSPECIFIED": 0, "BLOCKS": 1, "RELATES_TO": 2},
}

# §3.1: (number, case name, message type, direction, success reply type or None).
# Directions: "C2S"; "reply"; "reply+bcast"; "reply+rest-bcast" (broadcast only when
# the change came through REST); "bcast" (broadcast only). A reply of "ack" means an
# envelope without payload.
ENVELOPE_CASES: list[tuple[int, str, str, str, str | None]] = [
    (10, "ping", "Ping", "C2S", "Pong"),
    (11, "pong", "Pong", "reply", None),
    (20, "subscribe", "Subscribe", "C2S", "ack"),
    (21, "unsubscribe", "Unsubscribe", "C2S", "ack"),
    (30, "create_work_item_request", "CreateWorkItemRequest", "C2S", "WorkItemCreated"),
    (31, "update_work_item_request", "UpdateWorkItemRequest", "C2S", "WorkItemUpdated"),
    (32, "delete_work_item_request", "DeleteWorkItemRequest", "C2S", "WorkItemDeleted"),
    (33, "get_work_items_request", "GetWorkItemsRequest", "C2S", "WorkItemsList"),
    (40, "work_item_created", "WorkItemCreated", "reply+bcast", None),
    (41, "work_item_updated", "WorkItemUpdated", "reply+bcast", None),
    (42, "work_item_deleted", "WorkItemDeleted", "reply+bcast", None),
    (43, "work_items_list", "WorkItemsList", "reply", None),
    (50, "create_sprint_request", "CreateSprintRequest", "C2S", "SprintCreated"),
    (51, "update_sprint_request", "UpdateSprintRequest", "C2S", "SprintUpdated"),
    (52, "delete_sprint_request", "DeleteSprintRequest", "C2S", "SprintDeleted"),
    (53, "get_sprints_request", "GetSprintsRequest", "C2S", "SprintsList"),
    (60, "sprint_created", "SprintCreated", "reply+bcast", None),
    (61, "sprint_updated", "SprintUpdated", "reply+bcast", None),
    (62, "sprint_deleted", "SprintDeleted", "reply+bcast", None),
    (63, "sprints_list", "SprintsList", "reply", None),
    (70, "create_comment_request", "CreateCommentRequest", "C2S", "CommentCreated"),
    (71, "update_comment_request", "UpdateCommentRequest", "C2S", "CommentUpdated"),
    (72, "delete_comment_request", "DeleteCommentRequest", "C2S", "CommentDeleted"),
    (73, "get_comments_request", "GetCommentsRequest", "C2S", "CommentsList"),
    (80, "comment_created", "CommentCreated", "reply+bcast", None),
    (81, "comment_updated", "CommentUpdated", "reply+bcast", None),
    (82, "comment_deleted", "CommentDeleted", "reply+bcast", None),
    (83, "comments_list", "CommentsList", "reply", None),
    (90, "create_project_request", "CreateProjectRequest", "C2S", "ProjectCreated"),
    (91, "update_project_request", "UpdateProjectRequest", "C2S", "ProjectUpdated"),
    (92, "delete_project_request", "DeleteProjectRequest", "C2S", "ProjectDeleted"),
    (93, "list_projects_request", "ListProjectsRequest", "C2S", "ProjectList"),
    (94, "project_created", "ProjectCreated", "reply+rest-bcast", None),
    (95, "project_updated", "ProjectUpdated", "reply+rest-bcast", None),
    (96, "project_deleted", "ProjectDeleted", "reply+rest-bcast", None),
    (97, "project_list", "ProjectList", "reply", None),
    (100, "error", "Error", "reply", None),
    (110, "start_timer_request", "StartTimerRequest", "C2S", "TimerStarted"),
    (111, "stop_timer_request", "StopTimerRequest", "C2S", "TimerStopped"),
    (112, "create_time_entry_request", "CreateTimeEntryRequest", "C2S", "TimeEntryCreated"),
    (113, "update_time_entry_request", "UpdateTimeEntryRequest", "C2S", "TimeEntryUpdated"),
    (114, "delete_time_entry_request", "DeleteTimeEntryRequest", "C2S", "TimeEntryDeleted"),
    (115, "get_time_entries_request", "GetTimeEntriesRequest", "C2S", "TimeEntriesList"),
    (116, "get_running_timer_request", "GetRunningTimerRequest", "C2S", "RunningTimerResponse"),
    (120, "timer_started", "TimerStarted", "reply", None),
    (121, "timer_stopped", "TimerStopped", "reply", None),
    (122, "time_entry_created", "TimeEntryCreated", "reply+rest-bcast", None),
    (123, "time_entry_updated", "TimeEntryUpdated", "reply+rest-bcast", None),
    (124, "time_entry_deleted", "TimeEntryDeleted", "reply+rest-bcast", None),
    (125, "time_entries_list", "TimeEntriesList", "reply", None),
    (126, "running_timer_response", "RunningTimerResponse", "reply", None),
    (130, "create_dependency_request", "CreateDependencyRequest", "C2S", "DependencyCreated"),
    (131, "delete_dependency_request", "DeleteDependencyRequest", "C2S", "DependencyDeleted"),
    (132, "get_dependencies_request", "GetDependenciesRequest", "C2S", "DependenciesList"),
    (135, "dependency_created", "DependencyCreated", "reply+rest-bcast", None),
    (136, "dependency_deleted", "DependencyDeleted", "reply+rest-bcast", None),
    (137, "dependencies_list", "DependenciesList", "reply", None),
    (140, "get_activity_log_request", "GetActivityLogRequest", "C2S", "ActivityLogList"),
    (141, "activity_log_list", "ActivityLogList", "reply", None),
    (142, "activity_log_created", "ActivityLogCreated", "bcast", None),
    (143, "get_llm_context_request", "GetLlmContextRequest", "C2S", "LlmContextList"),
    (144, "llm_context_list", "LlmContextList", "reply", None),
]

_ENVELOPE: dict[str, Field] = {"message_id": (1, S, PLAIN), "timestamp": (2, I64, PLAIN)}
_ENVELOPE.update({case: (num, typ, ONEOF) for num, case, typ, _, _ in ENVELOPE_CASES})

MESSAGES: dict[str, dict[str, Field]] = {
    "WebSocketMessage": _ENVELOPE,
    # §3.4 entities
    "Project": {
        "id": (1, S, PLAIN),
        "title": (2, S, PLAIN),
        "description": (3, S, OPT),
        "key": (4, S, PLAIN),
        "status": (5, "ProjectStatus", PLAIN),
        "version": (6, I32, PLAIN),
        "created_at": (7, I64, PLAIN),
        "updated_at": (8, I64, PLAIN),
        "created_by": (9, S, PLAIN),
        "updated_by": (10, S, PLAIN),
        "deleted_at": (11, I64, OPT),
        "next_work_item_number": (12, I32, PLAIN),
    },
    "WorkItem": {
        "id": (1, S, PLAIN),
        "item_type": (2, "WorkItemType", PLAIN),
        "parent_id": (3, S, OPT),
        "project_id": (4, S, PLAIN),
        "position": (5, I32, PLAIN),
        "title": (6, S, PLAIN),
        "description": (7, S, OPT),
        "status": (8, S, PLAIN),
        "assignee_id": (9, S, OPT),
        "sprint_id": (10, S, OPT),
        "created_at": (11, I64, PLAIN),
        "updated_at": (12, I64, PLAIN),
        "created_by": (13, S, PLAIN),
        "updated_by": (14, S, PLAIN),
        "deleted_at": (15, I64, OPT),
        "priority": (16, S, PLAIN),
        "story_points": (17, I32, OPT),
        "version": (18, I32, PLAIN),
        "item_number": (19, I32, PLAIN),
        "ancestor_ids": (20, S, REP),
        "descendant_ids": (21, S, REP),
    },
    "Sprint": {
        "id": (1, S, PLAIN),
        "project_id": (2, S, PLAIN),
        "name": (3, S, PLAIN),
        "goal": (4, S, OPT),
        "start_date": (5, I64, PLAIN),
        "end_date": (6, I64, PLAIN),
        "status": (7, "SprintStatus", PLAIN),
        "version": (13, I32, PLAIN),
        "created_at": (8, I64, PLAIN),
        "updated_at": (9, I64, PLAIN),
        "created_by": (10, S, PLAIN),
        "updated_by": (11, S, PLAIN),
        "deleted_at": (12, I64, OPT),
    },
    "Comment": {
        "id": (1, S, PLAIN),
        "work_item_id": (2, S, PLAIN),
        "content": (3, S, PLAIN),
        "created_at": (4, I64, PLAIN),
        "updated_at": (5, I64, PLAIN),
        "created_by": (6, S, PLAIN),
        "updated_by": (7, S, PLAIN),
        "deleted_at": (8, I64, OPT),
    },
    "TimeEntry": {
        "id": (1, S, PLAIN),
        "work_item_id": (2, S, PLAIN),
        "user_id": (3, S, PLAIN),
        "started_at": (4, I64, PLAIN),
        "ended_at": (5, I64, OPT),
        "duration_seconds": (6, I32, OPT),
        "description": (7, S, OPT),
        "created_at": (8, I64, PLAIN),
        "updated_at": (9, I64, PLAIN),
        "deleted_at": (10, I64, OPT),
    },
    "Dependency": {
        "id": (1, S, PLAIN),
        "blocking_item_id": (2, S, PLAIN),
        "blocked_item_id": (3, S, PLAIN),
        "dependency_type": (4, "DependencyType", PLAIN),
        "created_at": (5, I64, PLAIN),
        "created_by": (6, S, PLAIN),
        "deleted_at": (7, I64, OPT),
    },
    "SwimLane": {
        "id": (1, S, PLAIN),
        "project_id": (2, S, PLAIN),
        "name": (3, S, PLAIN),
        "status_value": (4, S, PLAIN),
        "position": (5, I32, PLAIN),
        "is_default": (6, B, PLAIN),
        "created_at": (7, I64, PLAIN),
        "updated_at": (8, I64, PLAIN),
        "deleted_at": (9, I64, OPT),
    },
    "FieldChange": {
        "field_name": (1, S, PLAIN),
        "old_value": (2, S, OPT),
        "new_value": (3, S, OPT),
    },
    "ActivityLogEntry": {
        "id": (1, S, PLAIN),
        "entity_type": (2, S, PLAIN),
        "entity_id": (3, S, PLAIN),
        "action": (4, S, PLAIN),
        "field_name": (5, S, OPT),
        "old_value": (6, S, OPT),
        "new_value": (7, S, OPT),
        "user_id": (8, S, PLAIN),
        "timestamp": (9, I64, PLAIN),
        "comment": (10, S, OPT),
    },
    "LlmContextEntry": {
        "id": (1, S, PLAIN),
        "context_type": (2, S, PLAIN),
        "category": (3, S, PLAIN),
        "title": (4, S, PLAIN),
        "content": (5, S, PLAIN),
        "example_sql": (6, S, OPT),
        "example_description": (7, S, OPT),
        "priority": (8, I32, PLAIN),
    },
    # §3.5 connection & subscription
    "Ping": {"timestamp": (1, I64, PLAIN)},
    "Pong": {"timestamp": (1, I64, PLAIN)},
    "Subscribe": {"project_ids": (1, S, REP), "sprint_ids": (2, S, REP)},
    "Unsubscribe": {"project_ids": (1, S, REP), "sprint_ids": (2, S, REP)},
    "Error": {"code": (1, S, PLAIN), "message": (2, S, PLAIN), "field": (3, S, OPT)},
    # §3.6 projects
    "CreateProjectRequest": {
        "title": (1, S, PLAIN),
        "description": (2, S, OPT),
        "key": (3, S, PLAIN),
    },
    "UpdateProjectRequest": {
        "project_id": (1, S, PLAIN),
        "expected_version": (2, I32, PLAIN),
        "title": (3, S, OPT),
        "description": (4, S, OPT),
        "status": (5, "ProjectStatus", OPT),
    },
    "DeleteProjectRequest": {"project_id": (1, S, PLAIN), "expected_version": (2, I32, PLAIN)},
    "ListProjectsRequest": {},
    "ProjectCreated": {"project": (1, "Project", PLAIN), "user_id": (2, S, PLAIN)},
    "ProjectUpdated": {
        "project": (1, "Project", PLAIN),
        "changes": (2, "FieldChange", REP),
        "user_id": (3, S, PLAIN),
    },
    "ProjectDeleted": {"project_id": (1, S, PLAIN), "user_id": (2, S, PLAIN)},
    "ProjectList": {"projects": (1, "Project", REP)},
    # §3.7 work items
    "CreateWorkItemRequest": {
        "item_type": (1, "WorkItemType", PLAIN),
        "title": (2, S, PLAIN),
        "description": (3, S, OPT),
        "parent_id": (4, S, OPT),
        "project_id": (5, S, PLAIN),
        "status": (6, S, OPT),
        "priority": (7, S, OPT),
    },
    "UpdateWorkItemRequest": {
        "work_item_id": (1, S, PLAIN),
        "expected_version": (2, I32, PLAIN),
        "title": (3, S, OPT),
        "description": (4, S, OPT),
        "status": (5, S, OPT),
        "assignee_id": (6, S, OPT),
        "sprint_id": (7, S, OPT),
        "position": (8, I32, OPT),
        "priority": (9, S, OPT),
        "story_points": (10, I32, OPT),
        "parent_id": (11, S, OPT),
        "update_parent": (12, B, PLAIN),
    },
    "DeleteWorkItemRequest": {"work_item_id": (1, S, PLAIN)},
    "GetWorkItemsRequest": {"project_id": (1, S, PLAIN), "since_timestamp": (2, I64, OPT)},
    "WorkItemCreated": {"work_item": (1, "WorkItem", PLAIN), "user_id": (2, S, PLAIN)},
    "WorkItemUpdated": {
        "work_item": (1, "WorkItem", PLAIN),
        "changes": (2, "FieldChange", REP),
        "user_id": (3, S, PLAIN),
    },
    "WorkItemDeleted": {"work_item_id": (1, S, PLAIN), "user_id": (2, S, PLAIN)},
    "WorkItemsList": {"work_items": (1, "WorkItem", REP), "as_of_timestamp": (2, I64, PLAIN)},
    # §3.8 sprints
    "CreateSprintRequest": {
        "project_id": (1, S, PLAIN),
        "name": (2, S, PLAIN),
        "goal": (3, S, OPT),
        "start_date": (4, I64, PLAIN),
        "end_date": (5, I64, PLAIN),
    },
    "UpdateSprintRequest": {
        "sprint_id": (1, S, PLAIN),
        "expected_version": (2, I32, PLAIN),
        "name": (3, S, OPT),
        "goal": (4, S, OPT),
        "start_date": (5, I64, OPT),
        "end_date": (6, I64, OPT),
        "status": (7, "SprintStatus", OPT),
    },
    "DeleteSprintRequest": {"sprint_id": (1, S, PLAIN)},
    "GetSprintsRequest": {"project_id": (1, S, PLAIN)},
    "SprintCreated": {"sprint": (1, "Sprint", PLAIN), "user_id": (2, S, PLAIN)},
    "SprintUpdated": {
        "sprint": (1, "Sprint", PLAIN),
        "changes": (2, "FieldChange", REP),
        "user_id": (3, S, PLAIN),
    },
    "SprintDeleted": {"sprint_id": (1, S, PLAIN), "user_id": (2, S, PLAIN)},
    "SprintsList": {"sprints": (1, "Sprint", REP)},
    # §3.9 comments
    "CreateCommentRequest": {"work_item_id": (1, S, PLAIN), "content": (2, S, PLAIN)},
    "UpdateCommentRequest": {"comment_id": (1, S, PLAIN), "content": (2, S, PLAIN)},
    "DeleteCommentRequest": {"comment_id": (1, S, PLAIN)},
    "GetCommentsRequest": {"work_item_id": (1, S, PLAIN)},
    "CommentCreated": {"comment": (1, "Comment", PLAIN), "user_id": (2, S, PLAIN)},
    "CommentUpdated": {"comment": (1, "Comment", PLAIN), "user_id": (2, S, PLAIN)},
    "CommentDeleted": {"comment_id": (1, S, PLAIN), "user_id": (2, S, PLAIN)},
    "CommentsList": {"comments": (1, "Comment", REP)},
    # §3.10 time entries
    "StartTimerRequest": {"work_item_id": (1, S, PLAIN), "description": (2, S, OPT)},
    "StopTimerRequest": {"time_entry_id": (1, S, PLAIN)},
    "CreateTimeEntryRequest": {
        "work_item_id": (1, S, PLAIN),
        "started_at": (2, I64, PLAIN),
        "ended_at": (3, I64, PLAIN),
        "description": (4, S, OPT),
    },
    "UpdateTimeEntryRequest": {
        "time_entry_id": (1, S, PLAIN),
        "started_at": (2, I64, OPT),
        "ended_at": (3, I64, OPT),
        "description": (4, S, OPT),
    },
    "DeleteTimeEntryRequest": {"time_entry_id": (1, S, PLAIN)},
    "GetTimeEntriesRequest": {
        "work_item_id": (1, S, PLAIN),
        "limit": (2, I32, OPT),
        "offset": (3, I32, OPT),
    },
    "GetRunningTimerRequest": {},
    "TimerStarted": {
        "time_entry": (1, "TimeEntry", PLAIN),
        "user_id": (2, S, PLAIN),
        "stopped_entry": (3, "TimeEntry", OPT),
    },
    "TimerStopped": {"time_entry": (1, "TimeEntry", PLAIN), "user_id": (2, S, PLAIN)},
    "TimeEntryCreated": {"time_entry": (1, "TimeEntry", PLAIN), "user_id": (2, S, PLAIN)},
    "TimeEntryUpdated": {"time_entry": (1, "TimeEntry", PLAIN), "user_id": (2, S, PLAIN)},
    "TimeEntryDeleted": {
        "time_entry_id": (1, S, PLAIN),
        "work_item_id": (2, S, PLAIN),
        "user_id": (3, S, PLAIN),
    },
    "TimeEntriesList": {"time_entries": (1, "TimeEntry", REP), "total_count": (2, I32, PLAIN)},
    "RunningTimerResponse": {"time_entry": (1, "TimeEntry", OPT)},
    # §3.11 dependencies
    "CreateDependencyRequest": {
        "blocking_item_id": (1, S, PLAIN),
        "blocked_item_id": (2, S, PLAIN),
        "dependency_type": (3, "DependencyType", PLAIN),
    },
    "DeleteDependencyRequest": {"dependency_id": (1, S, PLAIN)},
    "GetDependenciesRequest": {"work_item_id": (1, S, PLAIN)},
    "DependencyCreated": {"dependency": (1, "Dependency", PLAIN), "user_id": (2, S, PLAIN)},
    "DependencyDeleted": {
        "dependency_id": (1, S, PLAIN),
        "blocking_item_id": (2, S, PLAIN),
        "blocked_item_id": (3, S, PLAIN),
        "user_id": (4, S, PLAIN),
    },
    "DependenciesList": {
        "blocking": (1, "Dependency", REP),
        "blocked": (2, "Dependency", REP),
    },
    # §3.12 activity log & LLM context
    "GetActivityLogRequest": {
        "entity_type": (1, S, PLAIN),
        "entity_id": (2, S, PLAIN),
        "limit": (3, I32, PLAIN),
        "offset": (4, I32, PLAIN),
    },
    "ActivityLogList": {
        "entries": (1, "ActivityLogEntry", REP),
        "total_count": (2, I32, PLAIN),
        "has_more": (3, B, PLAIN),
    },
    "ActivityLogCreated": {"entry": (1, "ActivityLogEntry", PLAIN)},
    "GetLlmContextRequest": {
        "category": (1, S, OPT),
        "context_type": (2, S, OPT),
        "min_priority": (3, I32, OPT),
    },
    "LlmContextList": {"entries": (1, "LlmContextEntry", REP)},
}

ENTITIES = [
    "Project", "WorkItem", "Sprint", "Comment", "TimeEntry", "Dependency", "SwimLane",
    "FieldChange", "ActivityLogEntry", "LlmContextEntry",
]  # fmt: skip

# pm-fast's extension (docs/events.md): one new message and new fields, only under
# numbers the original leaves unused, so a client built from its .proto sees none of it.
SPEC_MESSAGE_COUNT = len(MESSAGES)
EXTENSION_MESSAGES: dict[str, dict[str, Field]] = {
    "EventPosition": {"project_id": (1, S, PLAIN), "seq": (2, U64, PLAIN)},
}
EXTENSION_FIELDS: dict[str, dict[str, Field]] = {
    "WebSocketMessage": {
        "event": (200, "EventPosition", PLAIN),
        "positions": (201, "EventPosition", REP),
    },
    "Subscribe": {"resume": (3, "EventPosition", REP)},
}
for _name, _fields in EXTENSION_FIELDS.items():
    _taken = {number for number, _, _ in MESSAGES[_name].values()}
    assert not _taken & {number for number, _, _ in _fields.values()}, _name
    MESSAGES[_name] = {**MESSAGES[_name], **_fields}
MESSAGES.update(EXTENSION_MESSAGES)

# --------------------------------------------------------------------------- helpers

_SCALAR_TYPES = {
    descriptor_pb2.FieldDescriptorProto.TYPE_STRING: S,
    descriptor_pb2.FieldDescriptorProto.TYPE_INT32: I32,
    descriptor_pb2.FieldDescriptorProto.TYPE_INT64: I64,
    descriptor_pb2.FieldDescriptorProto.TYPE_BOOL: B,
    descriptor_pb2.FieldDescriptorProto.TYPE_UINT64: U64,
}


def _file_proto() -> descriptor_pb2.FileDescriptorProto:
    return descriptor_pb2.FileDescriptorProto.FromString(pm_pb2.DESCRIPTOR.serialized_pb)


def _describe(msg: descriptor_pb2.DescriptorProto) -> dict[str, Field]:
    """The schema's view of one message, in the spec table's vocabulary."""
    out: dict[str, Field] = {}
    fdp = descriptor_pb2.FieldDescriptorProto
    for f in msg.field:
        if f.type in (fdp.TYPE_MESSAGE, fdp.TYPE_ENUM):
            assert f.type_name.startswith(".pm."), f.type_name
            typ = f.type_name.removeprefix(".pm.")
            kind_ok = typ in (MESSAGES if f.type == fdp.TYPE_MESSAGE else ENUMS)
            assert kind_ok, f"{msg.name}.{f.name}: {typ} is the wrong kind of type"
        else:
            typ = _SCALAR_TYPES.get(f.type, f"unexpected type {f.type}")
        if f.label == fdp.LABEL_REPEATED:
            label = REP
        elif f.proto3_optional:
            label = OPT
        elif f.HasField("oneof_index"):
            assert msg.oneof_decl[f.oneof_index].name == "payload"
            label = ONEOF
        else:
            label = PLAIN
        out[f.name] = (f.number, typ, label)
    return out


def _sample_scalar(typ: str, number: int, field: str) -> Any:
    if typ == S:
        return f"{field}-{number}-é✓"  # non-ASCII: strings must travel as UTF-8
    if typ == I32:
        return -(1000 + number)  # negative int32 takes the 10-byte varint form
    if typ == I64:
        return 1_700_000_000_000 + number
    if typ == U64:
        return 2**63 + number  # beyond int64: uint64 on the wire
    if typ == B:
        return True
    if typ in ENUMS:
        return max(ENUMS[typ].values())
    raise AssertionError(f"no sample for {typ}")


def _filled(name: str) -> Message:
    """An instance of `name` with every field (oneof aside) set to a non-default value."""
    msg: Message = getattr(pm_pb2, name)()
    for field, (number, typ, label) in MESSAGES[name].items():
        if label == ONEOF:
            continue
        if typ in MESSAGES:
            if label == REP:
                getattr(msg, field).add().CopyFrom(_filled(typ))
            else:
                getattr(msg, field).CopyFrom(_filled(typ))
                assert msg.HasField(field), f"{name}.{field} sub-message not set"
        elif label == REP:
            getattr(msg, field).append(_sample_scalar(typ, number, field))
        else:
            setattr(msg, field, _sample_scalar(typ, number, field))
    return msg


# A wire codec written from the protobuf encoding rules, independent of the generator.
VARINT, LEN = 0, 2


def varint(n: int) -> bytes:
    n &= (1 << 64) - 1  # negative int32/int64 are sent as their 64-bit two's complement
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def tag(number: int, wire_type: int) -> bytes:
    return varint(number << 3 | wire_type)


def vi(number: int, value: int) -> bytes:
    return tag(number, VARINT) + varint(value)


def ld(number: int, payload: bytes | str) -> bytes:
    data = payload.encode() if isinstance(payload, str) else payload
    return tag(number, LEN) + varint(len(data)) + data


def read_fields(buf: bytes) -> list[tuple[int, int, int | bytes]]:
    """(number, wire type, value) of each top-level field, in wire order."""
    out: list[tuple[int, int, int | bytes]] = []
    pos = 0

    def read_varint() -> int:
        nonlocal pos
        shift = result = 0
        while True:
            byte = buf[pos]
            pos += 1
            result |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                return result

    while pos < len(buf):
        key = read_varint()
        number, wire_type = key >> 3, key & 7
        if wire_type == VARINT:
            out.append((number, wire_type, read_varint()))
        elif wire_type == LEN:
            size = read_varint()
            out.append((number, wire_type, buf[pos : pos + size]))
            pos += size
        else:
            raise AssertionError(f"unexpected wire type {wire_type}")
    return out


def _roundtrip(msg: Message) -> Message:
    data = msg.SerializeToString()
    back = type(msg).FromString(data)
    assert back == msg
    assert back.SerializeToString() == data
    return back


# --------------------------------------------------------------------------- (a) schema


def test_counts_match_spec_3_13() -> None:
    fp = _file_proto()
    assert SPEC_MESSAGE_COUNT == 73
    assert len(MESSAGES) == 73 + len(EXTENSION_MESSAGES)
    assert len(ENUMS) == 4
    assert len(ENVELOPE_CASES) == 62
    assert len(ENTITIES) == 10
    assert sum(1 for c in ENVELOPE_CASES if c[3] == "C2S") == 31
    assert len(fp.message_type) == 73 + len(EXTENSION_MESSAGES)
    assert len(fp.enum_type) == 4
    payload_names = {c[2] for c in ENVELOPE_CASES}
    assert len(payload_names) == 62  # one message type per case
    assert set(MESSAGES) == (
        payload_names | set(ENTITIES) | {"WebSocketMessage"} | set(EXTENSION_MESSAGES)
    )


def test_file_identity() -> None:
    fp = _file_proto()
    assert fp.syntax == "proto3"
    assert fp.package == "pm"
    assert list(fp.dependency) == []
    assert all(not m.nested_type and not m.enum_type for m in fp.message_type)


def test_message_names_match_spec() -> None:
    assert {m.name for m in _file_proto().message_type} == set(MESSAGES)


@pytest.mark.parametrize("name", sorted(MESSAGES))
def test_message_fields_match_spec(name: str) -> None:
    (msg,) = [m for m in _file_proto().message_type if m.name == name]
    assert _describe(msg) == MESSAGES[name]
    real_oneofs = {
        msg.oneof_decl[f.oneof_index].name
        for f in msg.field
        if f.HasField("oneof_index") and not f.proto3_optional
    }
    assert real_oneofs == ({"payload"} if name == "WebSocketMessage" else set())


@pytest.mark.parametrize("name", sorted(MESSAGES))
def test_runtime_descriptors_match_spec(name: str) -> None:
    desc = getattr(pm_pb2, name).DESCRIPTOR
    assert desc.full_name == f"pm.{name}"
    assert {f.name: f.number for f in desc.fields} == {
        field: spec[0] for field, spec in MESSAGES[name].items()
    }
    for field, (_, _, label) in MESSAGES[name].items():
        fd = desc.fields_by_name[field]
        # §2.5: only optional, sub-message and oneof fields have presence.
        assert fd.has_presence == (
            label in (OPT, ONEOF) or (label == PLAIN and MESSAGES[name][field][1] in MESSAGES)
        )


def test_enums_match_spec() -> None:
    fp = _file_proto()
    got = {e.name: {v.name: v.number for v in e.value} for e in fp.enum_type}
    assert got == ENUMS
    for enum_name, values in ENUMS.items():
        wrapper = getattr(pm_pb2, enum_name)
        for value_name, number in values.items():
            assert wrapper.Value(value_name) == number
            assert getattr(pm_pb2, value_name) == number


# --------------------------------------------------------------------------- (b) every message


@pytest.mark.parametrize("name", sorted(MESSAGES))
def test_filled_message_roundtrips(name: str) -> None:
    msg = _filled(name)
    expected = {f for f, (_, _, label) in MESSAGES[name].items() if label != ONEOF}
    assert {fd.name for fd, _ in msg.ListFields()} == expected  # nothing left at default
    back = _roundtrip(msg)
    # Every field appears on the wire under the spec's number.
    numbers = {n for n, _, _ in read_fields(back.SerializeToString())}
    assert numbers == {MESSAGES[name][f][0] for f in expected}


@pytest.mark.parametrize(
    "name,field",
    [
        (n, f)
        for n, fields in sorted(MESSAGES.items())
        for f, (_, typ, label) in fields.items()
        if label == OPT
    ],
)
def test_optional_zero_value_keeps_presence(name: str, field: str) -> None:
    """§2.5: an optional field set to ""/0 is present, unlike an absent one."""
    _, typ, _ = MESSAGES[name][field]
    msg: Message = getattr(pm_pb2, name)()
    if typ in MESSAGES:
        getattr(msg, field).SetInParent()
    else:
        setattr(msg, field, {S: "", I32: 0, I64: 0}.get(typ, 0))
    back = _roundtrip(msg)
    assert back.HasField(field)
    assert not getattr(pm_pb2, name).FromString(b"").HasField(field)


# --------------------------------------------------------------------------- (c) envelope


@pytest.mark.parametrize("number,case,type_name", [c[:3] for c in ENVELOPE_CASES])
def test_envelope_case_roundtrips(number: int, case: str, type_name: str) -> None:
    payload = _filled(type_name)
    env = pm_pb2.WebSocketMessage(message_id="5d0e…-id", timestamp=1_772_480_025, **{case: payload})
    assert env.WhichOneof("payload") == case
    back = _roundtrip(env)
    assert back.WhichOneof("payload") == case
    assert getattr(back, case) == payload
    fields = read_fields(back.SerializeToString())
    assert fields[-1] == (number, LEN, payload.SerializeToString())
    assert [n for n, _, _ in fields] == [1, 2, number]


def test_envelope_cases_are_exclusive() -> None:
    env = pm_pb2.WebSocketMessage(ping=pm_pb2.Ping(timestamp=1))
    env.error.code = "NOT_FOUND"
    assert env.WhichOneof("payload") == "error"
    assert not env.HasField("ping")


# --------------------------------------------------------------------------- (d) hand-built bytes


def test_hand_built_ping_envelope() -> None:
    frame = ld(1, "req-1") + vi(2, 1_772_480_025) + ld(10, vi(1, 42))
    env = pm_pb2.WebSocketMessage.FromString(frame)
    assert env.message_id == "req-1"
    assert env.timestamp == 1_772_480_025
    assert env.WhichOneof("payload") == "ping"
    assert env.ping.timestamp == 42
    assert env.SerializeToString() == frame


def test_hand_built_ack_has_no_payload() -> None:
    env = pm_pb2.WebSocketMessage.FromString(ld(1, "sub-1") + vi(2, 7))
    assert env.WhichOneof("payload") is None


def test_unused_envelope_number_decodes_as_no_payload() -> None:
    """§3.1: a payload under an unused number (here 12) is an unknown field."""
    env = pm_pb2.WebSocketMessage.FromString(ld(1, "x") + ld(12, vi(1, 1)))
    assert env.message_id == "x"
    assert env.WhichOneof("payload") is None


def test_hand_built_two_byte_tag_case() -> None:
    """Field 130 needs a two-byte key (0x92 0x08)."""
    body = ld(1, "a" * 36) + ld(2, "b" * 36) + vi(3, 1)
    frame = ld(1, "dep-1") + ld(130, body)
    assert frame[7:9] == b"\x92\x08"
    env = pm_pb2.WebSocketMessage.FromString(frame)
    req = env.create_dependency_request
    assert (req.blocking_item_id, req.blocked_item_id) == ("a" * 36, "b" * 36)
    assert req.dependency_type == pm_pb2.BLOCKS
    built = pm_pb2.WebSocketMessage(
        message_id="dep-1",
        create_dependency_request=pm_pb2.CreateDependencyRequest(
            blocking_item_id="a" * 36, blocked_item_id="b" * 36, dependency_type=pm_pb2.BLOCKS
        ),
    )
    assert built.SerializeToString() == frame


def test_hand_built_last_case_llm_context_list() -> None:
    entry = ld(1, "e1") + ld(2, "schema_doc") + ld(3, "cat") + ld(4, "T") + ld(5, "C") + vi(8, 100)
    env = pm_pb2.WebSocketMessage.FromString(ld(144, ld(1, entry) + ld(1, entry)))
    assert env.WhichOneof("payload") == "llm_context_list"
    entries = env.llm_context_list.entries
    assert len(entries) == 2
    assert entries[0].priority == 100
    assert entries[0].context_type == "schema_doc"
    assert not entries[0].HasField("example_sql")


def test_hand_built_optional_presence() -> None:
    """title present but empty, position present but 0, description absent."""
    body = ld(1, "wi") + vi(2, 3) + ld(3, "") + vi(8, 0) + vi(12, 1)
    req = pm_pb2.UpdateWorkItemRequest.FromString(body)
    assert req.expected_version == 3
    assert req.HasField("title") and req.title == ""
    assert req.HasField("position") and req.position == 0
    assert not req.HasField("description")
    assert req.update_parent is True
    assert req.SerializeToString() == body


def test_plain_zero_values_are_not_sent() -> None:
    assert pm_pb2.UpdateProjectRequest(expected_version=0, project_id="").SerializeToString() == b""
    assert pm_pb2.GetActivityLogRequest.FromString(b"").limit == 0


def test_hand_built_negative_int32() -> None:
    body = vi(4, -1)
    assert body == b"\x20" + b"\xff" * 9 + b"\x01"
    req = pm_pb2.GetActivityLogRequest.FromString(body)
    assert req.offset == -1
    assert req.SerializeToString() == body


def test_hand_built_sprint_version_is_field_13() -> None:
    body = ld(1, "s") + vi(7, 2) + vi(8, 10) + vi(12, 20) + vi(13, 5)
    sprint = pm_pb2.Sprint.FromString(body)
    assert sprint.status == pm_pb2.ACTIVE
    assert (sprint.created_at, sprint.deleted_at, sprint.version) == (10, 20, 5)
    assert sprint.SerializeToString() == body  # canonical order is by field number


def test_unknown_enum_values_decode() -> None:
    """§2.5: enums are open; validation, not decoding, rejects bad values."""
    for value in (1, 99):
        req = pm_pb2.CreateWorkItemRequest.FromString(vi(1, value) + ld(5, "p"))
        assert req.item_type == value
        assert req.SerializeToString() == vi(1, value) + ld(5, "p")


def test_hand_built_error_and_subscribe() -> None:
    err = pm_pb2.Error.FromString(
        ld(1, "VALIDATION_ERROR") + ld(2, "Validation failed: x") + ld(3, "title")
    )
    assert (err.code, err.message, err.field) == (
        "VALIDATION_ERROR",
        "Validation failed: x",
        "title",
    )
    sub = pm_pb2.Subscribe.FromString(ld(1, "p1") + ld(2, "s1") + ld(1, "p2"))
    assert list(sub.project_ids) == ["p1", "p2"]
    assert list(sub.sprint_ids) == ["s1"]


def test_hand_built_utf8_string() -> None:
    text = "Zürich → 東京"
    c = pm_pb2.CreateCommentRequest.FromString(ld(2, text))
    assert c.content == text
    assert c.SerializeToString() == ld(2, text.encode("utf-8"))


# --------------------------------------------------------------------------- proto_names

_DIRECTIONS = {
    "C2S": Direction.REQUEST,
    "reply": Direction.REPLY,
    "reply+bcast": Direction.REPLY_AND_EVENT,
    "reply+rest-bcast": Direction.REPLY_AND_EVENT,
    "bcast": Direction.EVENT,
}


def test_proto_names_matches_spec_3_1() -> None:
    case_of_type = {type_name: case for _, case, type_name, _, _ in ENVELOPE_CASES}
    assert list(proto_names.PAYLOAD_CASES) == [c[1] for c in ENVELOPE_CASES]
    for number, case, type_name, direction, reply in ENVELOPE_CASES:
        entry = proto_names.PAYLOAD_CASES[case]
        assert entry.name == case
        assert entry.number == number
        assert entry.message is getattr(pm_pb2, type_name)
        assert entry.direction is _DIRECTIONS[direction]
        expected_reply = None if reply in (None, "ack") else case_of_type[reply]
        assert entry.reply == expected_reply


def test_proto_names_agrees_with_descriptor() -> None:
    oneof = pm_pb2.WebSocketMessage.DESCRIPTOR.oneofs_by_name["payload"]
    assert {f.name: (f.number, f.message_type.name) for f in oneof.fields} == {
        c.name: (c.number, c.message.DESCRIPTOR.name) for c in proto_names.PAYLOAD_CASES.values()
    }


def test_proto_names_derived_sets() -> None:
    assert len(proto_names.REQUEST_CASES) == 31
    assert len(proto_names.SERVER_ONLY_CASES) == 31
    assert sorted(proto_names.EMPTY_ACK_CASES) == ["subscribe", "unsubscribe"]
    assert set(proto_names.REQUEST_CASES).isdisjoint(proto_names.SERVER_ONLY_CASES)
    for case in proto_names.REQUEST_CASES:
        reply = proto_names.PAYLOAD_CASES[case].reply
        if reply is not None:
            assert reply in proto_names.SERVER_ONLY_CASES
