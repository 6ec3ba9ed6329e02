"""The 28 self-describing LLM-context rows every database carries.

Ids, types, categories and priorities are those of the original (clients and agents
look them up by id); the texts are pm-fast's own and describe what the server really
enforces.
"""

from __future__ import annotations

# (number, context_type, category, title, content, example_sql, example_description)
SEED: tuple[tuple[int, str, str, str, str, str | None, str | None], ...] = (
    (
        1,
        "schema_doc",
        "work_items",
        "Work item levels",
        "Projects live in pm_projects. Work items (pm_work_items) are epics, stories or tasks: "
        "a story may sit under an epic, a task under a story, and any story or task may have no "
        "parent at all. project_id is stored on every item.",
        None,
        None,
    ),
    (
        2,
        "schema_doc",
        "sprints",
        "Sprint states",
        "A sprint (pm_sprints) is planned, active, completed or cancelled. planned may become "
        "active or cancelled, active may become completed or cancelled. A project has at most "
        "one active sprint; completed sprints are frozen.",
        None,
        None,
    ),
    (
        3,
        "schema_doc",
        "comments",
        "Comments",
        "pm_comments holds flat (unthreaded) comments on a work item. created_by is the author; "
        "only the author may edit or delete a comment.",
        None,
        None,
    ),
    (
        4,
        "schema_doc",
        "time_entries",
        "Time entries",
        "pm_time_entries records work on an item by a user. ended_at NULL means the timer is "
        "running; duration_seconds is filled when it stops.",
        None,
        None,
    ),
    (
        5,
        "schema_doc",
        "dependencies",
        "Dependency links",
        "pm_dependencies links two work items: 'blocks' (blocking_item_id must finish before "
        "blocked_item_id) or 'relates_to'. blocks links never form a cycle.",
        None,
        None,
    ),
    (
        6,
        "schema_doc",
        "activity_log",
        "Activity log",
        "pm_activity_log has one append-only row per change: entity_type, entity_id, action "
        "(created, updated, deleted), user_id and timestamp.",
        None,
        None,
    ),
    (
        7,
        "schema_doc",
        "general",
        "Soft deletes",
        "Deleting sets deleted_at; rows are never removed. Every query for live data adds "
        "deleted_at IS NULL.",
        None,
        None,
    ),
    (
        8,
        "schema_doc",
        "general",
        "Audit columns",
        "created_at and updated_at are Unix seconds (UTC); created_by and updated_by are user "
        "ids. version counts updates for optimistic locking.",
        None,
        None,
    ),
    (
        9,
        "schema_doc",
        "general",
        "Identifiers",
        "Every id is a lower-case hyphenated UUID stored as TEXT. Work items also have a "
        "per-project item_number shown as KEY-N.",
        None,
        None,
    ),
    (
        10,
        "schema_doc",
        "swim_lanes",
        "Board columns",
        "pm_swim_lanes describes board columns per project, one per status_value.",
        None,
        None,
    ),
    (
        11,
        "query_pattern",
        "work_items",
        "Items of a project as a tree",
        "Walk parent_id from epics down to tasks.",
        "SELECT id, item_type, parent_id, title FROM pm_work_items "
        "WHERE project_id = ? AND deleted_at IS NULL ORDER BY position",
        "All live items of one project in board order",
    ),
    (
        12,
        "query_pattern",
        "dependencies",
        "What blocks an item",
        "Live blocks links pointing at an item.",
        "SELECT w.* FROM pm_dependencies d JOIN pm_work_items w ON w.id = d.blocking_item_id "
        "WHERE d.blocked_item_id = ? AND d.dependency_type = 'blocks' AND d.deleted_at IS NULL",
        "Items that must finish first",
    ),
    (
        13,
        "query_pattern",
        "sprints",
        "Points done in a sprint",
        "Sum the story points of finished items of a sprint.",
        "SELECT SUM(story_points) FROM pm_work_items WHERE sprint_id = ? AND status = 'done' "
        "AND deleted_at IS NULL",
        "Completed story points",
    ),
    (
        14,
        "query_pattern",
        "time_entries",
        "Hours per item",
        "Total tracked time of stopped timers.",
        "SELECT work_item_id, SUM(duration_seconds) / 3600.0 FROM pm_time_entries "
        "WHERE deleted_at IS NULL AND ended_at IS NOT NULL GROUP BY work_item_id",
        "Hours logged per work item",
    ),
    (
        15,
        "query_pattern",
        "activity_log",
        "Latest changes",
        "Newest activity first.",
        "SELECT * FROM pm_activity_log ORDER BY timestamp DESC LIMIT 50",
        "The fifty most recent changes",
    ),
    (
        16,
        "query_pattern",
        "work_items",
        "Open items per person",
        "Count unfinished items by assignee.",
        "SELECT assignee_id, COUNT(*) FROM pm_work_items WHERE status != 'done' "
        "AND deleted_at IS NULL GROUP BY assignee_id",
        "Workload by assignee",
    ),
    (
        17,
        "query_pattern",
        "dependencies",
        "Transitive blockers",
        "Follow blocks links backwards with a recursive query.",
        "WITH RECURSIVE up(id) AS (SELECT ? UNION SELECT d.blocking_item_id FROM "
        "pm_dependencies d JOIN up ON d.blocked_item_id = up.id WHERE d.deleted_at IS NULL "
        "AND d.dependency_type = 'blocks') SELECT id FROM up",
        "Everything an item waits on",
    ),
    (
        18,
        "query_pattern",
        "work_items",
        "Unplanned items",
        "Items in no sprint that are not done.",
        "SELECT * FROM pm_work_items WHERE sprint_id IS NULL AND status != 'done' "
        "AND deleted_at IS NULL ORDER BY position",
        "The backlog",
    ),
    (
        19,
        "business_rule",
        "work_items",
        "Sprint membership",
        "An item joins a sprint through sprint_id. Any item type may be put in a sprint; the "
        "sprint should belong to the item's project.",
        None,
        None,
    ),
    (
        20,
        "business_rule",
        "time_entries",
        "One running timer",
        "Starting a timer stops the user's running timer first, so a user has at most one "
        "running timer when timers are started through the API.",
        None,
        None,
    ),
    (
        21,
        "business_rule",
        "comments",
        "Authors own comments",
        "Only a comment's author may change or delete it.",
        None,
        None,
    ),
    (
        22,
        "business_rule",
        "dependencies",
        "Links stay in a project",
        "Both ends of a new dependency must be in the same project; an item has at most 50 "
        "blockers and blocks at most 50 items.",
        None,
        None,
    ),
    (
        23,
        "business_rule",
        "work_items",
        "Statuses",
        "Work item status is backlog, todo, in_progress, review or done. Any status may follow "
        "any other. Lists hide done items unless asked to include them.",
        None,
        None,
    ),
    (
        24,
        "instruction",
        "general",
        "Skip deleted rows",
        "Always filter deleted_at IS NULL unless you want history.",
        None,
        None,
    ),
    (
        25,
        "instruction",
        "work_items",
        "Order by position",
        "Board order is the position column (ascending), not creation time.",
        None,
        None,
    ),
    (
        26,
        "instruction",
        "general",
        "Comparing ids",
        "Ids are lower-case hyphenated UUID text; compare them as strings in that form.",
        None,
        None,
    ),
    (
        27,
        "instruction",
        "general",
        "Bound your queries",
        "Add LIMIT to exploratory queries; projects can hold thousands of items.",
        None,
        None,
    ),
    (
        28,
        "instruction",
        "activity_log",
        "History lives in the activity log",
        "To learn who changed what and when, read pm_activity_log for the entity.",
        None,
        None,
    ),
)

PRIORITY = {"schema_doc": 100, "query_pattern": 90, "business_rule": 80, "instruction": 70}


def seed_id(number: int) -> str:
    return f"11111111-1111-1111-1111-{number:012d}"


def seed_rows(now: int) -> list[tuple[str | int | None, ...]]:
    """The seed as parameters of `sql.LLM_SEED_INSERT`."""
    return [
        (seed_id(n), ctype, category, title, content, example, described, PRIORITY[ctype], now, now)
        for n, ctype, category, title, content, example, described in SEED
    ]
