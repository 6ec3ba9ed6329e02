"""Column lists and table names shared by the SQLite and PostgreSQL stores.

The select order of each list is the field order of its msgspec Struct in
pm_fast/core/model.py, so a row builds an entity positionally.
"""

from __future__ import annotations

P_COLS = (
    "id, key, title, description, status, version, created_at, updated_at, created_by,"
    " updated_by, next_work_item_number"
)
S_COLS = (
    "id, project_id, name, goal, start_date, end_date, status, version, created_at,"
    " updated_at, created_by, updated_by"
)
W_COLS = (
    "w.id, COALESCE(p.key, 'UNKNOWN') || '-' || w.item_number, w.item_type, w.title,"
    " w.description, w.status, w.priority, w.parent_id, w.project_id, w.assignee_id,"
    " w.sprint_id, w.story_points, w.item_number, w.position, w.version, w.created_at,"
    " w.updated_at, w.created_by, w.updated_by"
)
W_FROM = "pm_work_items w LEFT JOIN pm_projects p ON p.id = w.project_id AND p.deleted_at IS NULL"
C_COLS = "id, work_item_id, content, created_at, updated_at, created_by, updated_by"
D_COLS = "id, blocking_item_id, blocked_item_id, dependency_type, created_at, created_by"
T_COLS = (
    "id, work_item_id, user_id, started_at, ended_at, duration_seconds, description,"
    " created_at, updated_at"
)
L_COLS = "id, project_id, name, status_value, position, is_default, created_at, updated_at"
A_COLS = (
    "id, entity_type, entity_id, action, field_name, old_value, new_value, user_id,"
    " timestamp, comment"
)

STATE_TABLES = {
    "project": "pm_projects",
    "sprint": "pm_sprints",
    "work_item": "pm_work_items",
    "comment": "pm_comments",
    "time_entry": "pm_time_entries",
    "dependency": "pm_dependencies",
}
