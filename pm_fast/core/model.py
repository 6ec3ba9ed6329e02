"""Domain entities as msgspec Structs.

Field order is the JSON field order of the REST DTOs (spec §1.3) and, for the stored
entities, also the column order the stores select, so a row tuple builds a Struct
positionally without per-field work.
"""

from __future__ import annotations

from typing import Any

import msgspec


class Project(msgspec.Struct, kw_only=False):
    id: str
    key: str
    title: str
    description: str | None
    status: str
    version: int
    created_at: int
    updated_at: int
    created_by: str
    updated_by: str
    next_work_item_number: int


class Sprint(msgspec.Struct):
    id: str
    project_id: str
    name: str
    goal: str | None
    start_date: int
    end_date: int
    status: str
    version: int
    created_at: int
    updated_at: int
    created_by: str
    updated_by: str


class WorkItem(msgspec.Struct):
    id: str
    display_key: str
    item_type: str
    title: str
    description: str | None
    status: str
    priority: str
    parent_id: str | None
    project_id: str
    assignee_id: str | None
    sprint_id: str | None
    story_points: int | None
    item_number: int
    position: int
    version: int
    created_at: int
    updated_at: int
    created_by: str
    updated_by: str


class Comment(msgspec.Struct):
    id: str
    work_item_id: str
    content: str
    created_at: int
    updated_at: int
    created_by: str
    updated_by: str


class Dependency(msgspec.Struct):
    id: str
    blocking_item_id: str
    blocked_item_id: str
    dependency_type: str
    created_at: int
    created_by: str


class SwimLane(msgspec.Struct):
    id: str
    project_id: str
    name: str
    status_value: str
    position: int
    is_default: bool
    created_at: int
    updated_at: int


class TimeEntry(msgspec.Struct):
    id: str
    work_item_id: str
    user_id: str
    started_at: int
    ended_at: int | None
    duration_seconds: int | None
    description: str | None
    is_running: bool
    created_at: int
    updated_at: int


class ActivityEntry(msgspec.Struct):
    id: str
    entity_type: str
    entity_id: str
    action: str
    field_name: str | None
    old_value: str | None
    new_value: str | None
    user_id: str
    timestamp: int
    comment: str | None


class LlmContextEntry(msgspec.Struct):
    id: str
    context_type: str
    category: str
    title: str
    content: str
    example_sql: str | None
    example_description: str | None
    priority: int


class Event(msgspec.Struct):
    """Something a committed mutation changed, for subscribers of `project_id`.

    `kind` is e.g. "work_item.created"; `entity` the entity after the change (or the
    deleted entity); `extra` carries kind-specific data (ancestor ids, changes, ...).
    """

    kind: str
    project_id: str | None
    entity: Any
    actor: str
    extra: dict[str, Any] = {}
    # Place in the project's event log (1, 2, ... in commit order), given by the store
    # inside the change's transaction; 0 for an event of no project (docs/events.md).
    seq: int = 0
