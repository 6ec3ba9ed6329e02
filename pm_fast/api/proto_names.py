"""The `WebSocketMessage.payload` cases as data: message class, direction, reply.

Written from spec/ws-protocol.md §3.1. The WebSocket edge uses it to reject
server→client payloads sent by a client (INVALID_MESSAGE), to know which success
payload answers each request, and to recognise the two requests acknowledged by an
envelope without payload. tests/unit/test_proto.py checks it against the descriptors.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from google.protobuf.message import Message

from pm_fast.api import pm_pb2


class Direction(enum.Enum):
    """Who sends a payload case, and in what role."""

    REQUEST = "request"
    """Client→server; the server answers each one with exactly one reply frame."""

    REPLY = "reply"
    """Server→client, only as the answer to a request (same message_id)."""

    REPLY_AND_EVENT = "reply_and_event"
    """Server→client, both as an answer and as a broadcast to subscribers (fresh id).

    In the original, project, time-entry and dependency events are broadcast only when
    the change came through REST; whether pm-fast broadcasts them for WebSocket changes
    too is the realtime layer's decision (docs/compat.md), not this table's.
    """

    EVENT = "event"
    """Server→client, only as a broadcast (never an answer)."""


@dataclass(frozen=True, slots=True)
class PayloadCase:
    """One `oneof payload` case of the envelope."""

    name: str
    """Field name in `WebSocketMessage` (what `WhichOneof("payload")` returns)."""
    number: int
    """Field number on the wire."""
    message: type[Message]
    direction: Direction
    reply: str | None = None
    """For a request: the case name of its success reply; None when the success reply
    is an envelope without payload (Subscribe, Unsubscribe). Always None otherwise."""


def _cases(*cases: PayloadCase) -> Mapping[str, PayloadCase]:
    return MappingProxyType({case.name: case for case in cases})


_Q = Direction.REQUEST
_R = Direction.REPLY
_RE = Direction.REPLY_AND_EVENT
_E = Direction.EVENT

PAYLOAD_CASES: Final[Mapping[str, PayloadCase]] = _cases(
    # connection and subscription
    PayloadCase("ping", 10, pm_pb2.Ping, _Q, "pong"),
    PayloadCase("pong", 11, pm_pb2.Pong, _R),
    PayloadCase("subscribe", 20, pm_pb2.Subscribe, _Q, None),
    PayloadCase("unsubscribe", 21, pm_pb2.Unsubscribe, _Q, None),
    # work items
    PayloadCase(
        "create_work_item_request", 30, pm_pb2.CreateWorkItemRequest, _Q, "work_item_created"
    ),
    PayloadCase(
        "update_work_item_request", 31, pm_pb2.UpdateWorkItemRequest, _Q, "work_item_updated"
    ),
    PayloadCase(
        "delete_work_item_request", 32, pm_pb2.DeleteWorkItemRequest, _Q, "work_item_deleted"
    ),
    PayloadCase("get_work_items_request", 33, pm_pb2.GetWorkItemsRequest, _Q, "work_items_list"),
    PayloadCase("work_item_created", 40, pm_pb2.WorkItemCreated, _RE),
    PayloadCase("work_item_updated", 41, pm_pb2.WorkItemUpdated, _RE),
    PayloadCase("work_item_deleted", 42, pm_pb2.WorkItemDeleted, _RE),
    PayloadCase("work_items_list", 43, pm_pb2.WorkItemsList, _R),
    # sprints
    PayloadCase("create_sprint_request", 50, pm_pb2.CreateSprintRequest, _Q, "sprint_created"),
    PayloadCase("update_sprint_request", 51, pm_pb2.UpdateSprintRequest, _Q, "sprint_updated"),
    PayloadCase("delete_sprint_request", 52, pm_pb2.DeleteSprintRequest, _Q, "sprint_deleted"),
    PayloadCase("get_sprints_request", 53, pm_pb2.GetSprintsRequest, _Q, "sprints_list"),
    PayloadCase("sprint_created", 60, pm_pb2.SprintCreated, _RE),
    PayloadCase("sprint_updated", 61, pm_pb2.SprintUpdated, _RE),
    PayloadCase("sprint_deleted", 62, pm_pb2.SprintDeleted, _RE),
    PayloadCase("sprints_list", 63, pm_pb2.SprintsList, _R),
    # comments
    PayloadCase("create_comment_request", 70, pm_pb2.CreateCommentRequest, _Q, "comment_created"),
    PayloadCase("update_comment_request", 71, pm_pb2.UpdateCommentRequest, _Q, "comment_updated"),
    PayloadCase("delete_comment_request", 72, pm_pb2.DeleteCommentRequest, _Q, "comment_deleted"),
    PayloadCase("get_comments_request", 73, pm_pb2.GetCommentsRequest, _Q, "comments_list"),
    PayloadCase("comment_created", 80, pm_pb2.CommentCreated, _RE),
    PayloadCase("comment_updated", 81, pm_pb2.CommentUpdated, _RE),
    PayloadCase("comment_deleted", 82, pm_pb2.CommentDeleted, _RE),
    PayloadCase("comments_list", 83, pm_pb2.CommentsList, _R),
    # projects
    PayloadCase("create_project_request", 90, pm_pb2.CreateProjectRequest, _Q, "project_created"),
    PayloadCase("update_project_request", 91, pm_pb2.UpdateProjectRequest, _Q, "project_updated"),
    PayloadCase("delete_project_request", 92, pm_pb2.DeleteProjectRequest, _Q, "project_deleted"),
    PayloadCase("list_projects_request", 93, pm_pb2.ListProjectsRequest, _Q, "project_list"),
    PayloadCase("project_created", 94, pm_pb2.ProjectCreated, _RE),
    PayloadCase("project_updated", 95, pm_pb2.ProjectUpdated, _RE),
    PayloadCase("project_deleted", 96, pm_pb2.ProjectDeleted, _RE),
    PayloadCase("project_list", 97, pm_pb2.ProjectList, _R),
    # errors
    PayloadCase("error", 100, pm_pb2.Error, _R),
    # time entries
    PayloadCase("start_timer_request", 110, pm_pb2.StartTimerRequest, _Q, "timer_started"),
    PayloadCase("stop_timer_request", 111, pm_pb2.StopTimerRequest, _Q, "timer_stopped"),
    PayloadCase(
        "create_time_entry_request", 112, pm_pb2.CreateTimeEntryRequest, _Q, "time_entry_created"
    ),
    PayloadCase(
        "update_time_entry_request", 113, pm_pb2.UpdateTimeEntryRequest, _Q, "time_entry_updated"
    ),
    PayloadCase(
        "delete_time_entry_request", 114, pm_pb2.DeleteTimeEntryRequest, _Q, "time_entry_deleted"
    ),
    PayloadCase(
        "get_time_entries_request", 115, pm_pb2.GetTimeEntriesRequest, _Q, "time_entries_list"
    ),
    PayloadCase(
        "get_running_timer_request",
        116,
        pm_pb2.GetRunningTimerRequest,
        _Q,
        "running_timer_response",
    ),
    PayloadCase("timer_started", 120, pm_pb2.TimerStarted, _R),
    PayloadCase("timer_stopped", 121, pm_pb2.TimerStopped, _R),
    PayloadCase("time_entry_created", 122, pm_pb2.TimeEntryCreated, _RE),
    PayloadCase("time_entry_updated", 123, pm_pb2.TimeEntryUpdated, _RE),
    PayloadCase("time_entry_deleted", 124, pm_pb2.TimeEntryDeleted, _RE),
    PayloadCase("time_entries_list", 125, pm_pb2.TimeEntriesList, _R),
    PayloadCase("running_timer_response", 126, pm_pb2.RunningTimerResponse, _R),
    # dependencies
    PayloadCase(
        "create_dependency_request", 130, pm_pb2.CreateDependencyRequest, _Q, "dependency_created"
    ),
    PayloadCase(
        "delete_dependency_request", 131, pm_pb2.DeleteDependencyRequest, _Q, "dependency_deleted"
    ),
    PayloadCase(
        "get_dependencies_request", 132, pm_pb2.GetDependenciesRequest, _Q, "dependencies_list"
    ),
    PayloadCase("dependency_created", 135, pm_pb2.DependencyCreated, _RE),
    PayloadCase("dependency_deleted", 136, pm_pb2.DependencyDeleted, _RE),
    PayloadCase("dependencies_list", 137, pm_pb2.DependenciesList, _R),
    # activity log and LLM context
    PayloadCase(
        "get_activity_log_request", 140, pm_pb2.GetActivityLogRequest, _Q, "activity_log_list"
    ),
    PayloadCase("activity_log_list", 141, pm_pb2.ActivityLogList, _R),
    PayloadCase("activity_log_created", 142, pm_pb2.ActivityLogCreated, _E),
    PayloadCase(
        "get_llm_context_request", 143, pm_pb2.GetLlmContextRequest, _Q, "llm_context_list"
    ),
    PayloadCase("llm_context_list", 144, pm_pb2.LlmContextList, _R),
)
"""All 62 payload cases by field name, in field-number order."""

REQUEST_CASES: Final[tuple[str, ...]] = tuple(
    name for name, case in PAYLOAD_CASES.items() if case.direction is Direction.REQUEST
)
"""The 31 client→server cases. Each one that decodes gets exactly one reply frame with
the request's message_id: its success payload, an Error, or (Subscribe/Unsubscribe) an
envelope without payload."""

EMPTY_ACK_CASES: Final[frozenset[str]] = frozenset(
    name for name in REQUEST_CASES if PAYLOAD_CASES[name].reply is None
)
"""Requests whose success reply is an envelope carrying no payload."""

SERVER_ONLY_CASES: Final[frozenset[str]] = frozenset(
    name for name, case in PAYLOAD_CASES.items() if case.direction is not Direction.REQUEST
)
"""The 31 server→client cases; a client frame carrying one is answered INVALID_MESSAGE."""
