"""Commands: what a caller asks a service to do, independent of the edge it came through.

REST decodes JSON bodies straight into these; the WebSocket edge builds them from
protobuf. `None` means "not given" (a JSON null counts as not given, as in the original).
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from .rules import I32_MAX, I32_MIN

# An integer that travels in a protobuf int32 field. A JSON body with a value outside
# is refused while decoding (REST 422 with the field, as the original's i32 fields).
Int32 = Annotated[int, msgspec.Meta(ge=I32_MIN, le=I32_MAX)]


class CreateProject(msgspec.Struct, forbid_unknown_fields=False):
    title: str
    key: str
    description: str | None = None


class UpdateProject(msgspec.Struct):
    expected_version: Int32
    title: str | None = None
    description: str | None = None
    status: str | None = None


class CreateSprint(msgspec.Struct):
    project_id: str
    name: str
    start_date: int
    end_date: int
    goal: str | None = None


class UpdateSprint(msgspec.Struct):
    expected_version: Int32
    name: str | None = None
    goal: str | None = None
    start_date: int | None = None
    end_date: int | None = None
    status: str | None = None


class CreateWorkItem(msgspec.Struct):
    project_id: str
    item_type: str
    title: str
    description: str | None = None
    parent_id: str | None = None
    status: str | None = None
    priority: str | None = None


class UpdateWorkItem(msgspec.Struct):
    expected_version: Int32
    title: str | None = None
    description: str | None = None
    status: str | None = None
    priority: str | None = None
    assignee_id: str | None = None
    sprint_id: str | None = None
    story_points: Int32 | None = None
    parent_id: str | None = None
    update_parent: bool = False
    position: Int32 | None = None


class CreateComment(msgspec.Struct):
    content: str


class UpdateComment(msgspec.Struct):
    content: str


class CreateDependency(msgspec.Struct):
    blocking_item_id: str
    blocked_item_id: str
    dependency_type: str


class CreateTimeEntry(msgspec.Struct):
    work_item_id: str
    description: str | None = None


class UpdateTimeEntry(msgspec.Struct):
    stop: bool | None = None
    description: str | None = None
    # WebSocket edits of a finished entry (REST sends only `stop` and `description`).
    started_at: int | None = None
    ended_at: int | None = None


class CreateManualTimeEntry(msgspec.Struct):
    work_item_id: str
    started_at: int
    ended_at: int
    description: str | None = None


class WorkItemFilter(msgspec.Struct):
    item_type: str | None = None
    status: str | None = None
    sprint_id: str | None = None
    parent_id: str | None = None
    orphaned: bool = False
    descendants_of: str | None = None
    ancestors_of: str | None = None
    include_done: bool = False


class ExportScope(msgspec.Struct):
    work_item: str | None = None
    descendant_levels: int = 0
    comments: bool = False
    sprints: bool = False
    dependencies: bool = False
    time_entries: bool = False
