"""The SQLite schema of pm-server 0.1.4 (the state after its 18 migrations).

A database pm-fast creates is table-for-table, constraint-for-constraint the one the
original builds, and carries the original's `_sqlx_migrations` rows so that the
original can open it (sqlx compares each applied version's checksum with its own).
"""

from __future__ import annotations

SCHEMA = """
CREATE TABLE _sqlx_migrations (
    version BIGINT PRIMARY KEY,
    description TEXT NOT NULL,
    installed_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    success BOOLEAN NOT NULL,
    checksum BLOB NOT NULL,
    execution_time BIGINT NOT NULL
);

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    email TEXT,
    name TEXT,
    created_at INTEGER NOT NULL DEFAULT (strftime('%s', 'now'))
);
CREATE INDEX idx_users_email ON users(email);

CREATE TABLE pm_activity_log (
    id TEXT PRIMARY KEY,
    entity_type TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    action TEXT NOT NULL,
    field_name TEXT,
    old_value TEXT,
    new_value TEXT,
    user_id TEXT NOT NULL,
    timestamp INTEGER NOT NULL,
    comment TEXT,
    FOREIGN KEY (user_id) REFERENCES users(id)
);
CREATE INDEX idx_pm_activity_log_entity ON pm_activity_log(entity_type, entity_id);
CREATE INDEX idx_pm_activity_log_timestamp ON pm_activity_log(timestamp DESC);
CREATE INDEX idx_pm_activity_log_user ON pm_activity_log(user_id);
CREATE INDEX idx_pm_activity_log_action ON pm_activity_log(action);

CREATE TABLE pm_llm_context (
    id TEXT PRIMARY KEY,
    context_type TEXT NOT NULL CHECK(context_type IN
        ('schema_doc', 'query_pattern', 'business_rule', 'example', 'instruction')),
    category TEXT NOT NULL,
    title TEXT NOT NULL,
    content TEXT NOT NULL,
    example_sql TEXT,
    example_description TEXT,
    priority INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    deleted_at INTEGER
);
CREATE INDEX idx_pm_llm_context_type ON pm_llm_context(context_type) WHERE deleted_at IS NULL;
CREATE INDEX idx_pm_llm_context_category ON pm_llm_context(category) WHERE deleted_at IS NULL;
CREATE INDEX idx_pm_llm_context_priority ON pm_llm_context(priority DESC)
    WHERE deleted_at IS NULL;

CREATE TABLE pm_idempotency_keys (
    message_id TEXT PRIMARY KEY,
    operation TEXT NOT NULL,
    result_json TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE pm_projects (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    description TEXT,
    key TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'active' CHECK(status IN ('active', 'archived')),
    version INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    deleted_at INTEGER,
    next_work_item_number INTEGER NOT NULL DEFAULT 1,
    UNIQUE(key)
);

CREATE TABLE pm_sprints (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    name TEXT NOT NULL,
    goal TEXT,
    start_date INTEGER NOT NULL,
    end_date INTEGER NOT NULL,
    status TEXT NOT NULL DEFAULT 'planned'
        CHECK(status IN ('planned', 'active', 'completed', 'cancelled')),
    velocity INTEGER,
    version INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    deleted_at INTEGER,
    FOREIGN KEY (project_id) REFERENCES pm_projects(id) ON DELETE CASCADE
);

CREATE TABLE pm_swim_lanes (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    name TEXT NOT NULL,
    status_value TEXT NOT NULL,
    position INTEGER NOT NULL DEFAULT 0,
    is_default BOOLEAN NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    deleted_at INTEGER,
    FOREIGN KEY (project_id) REFERENCES pm_projects(id) ON DELETE CASCADE,
    UNIQUE(project_id, status_value)
);

CREATE TABLE pm_project_members (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    role TEXT NOT NULL CHECK(role IN ('viewer', 'editor', 'admin')),
    created_at INTEGER NOT NULL,
    FOREIGN KEY (project_id) REFERENCES pm_projects(id) ON DELETE CASCADE,
    UNIQUE(project_id, user_id)
);

CREATE INDEX idx_pm_projects_status ON pm_projects(status) WHERE deleted_at IS NULL;
CREATE INDEX idx_pm_projects_key ON pm_projects(key) WHERE deleted_at IS NULL;
CREATE INDEX idx_pm_sprints_project ON pm_sprints(project_id) WHERE deleted_at IS NULL;
CREATE INDEX idx_pm_sprints_dates ON pm_sprints(start_date, end_date) WHERE deleted_at IS NULL;
CREATE INDEX idx_pm_sprints_status ON pm_sprints(status) WHERE deleted_at IS NULL;
CREATE INDEX idx_pm_swim_lanes_project ON pm_swim_lanes(project_id) WHERE deleted_at IS NULL;
CREATE UNIQUE INDEX idx_pm_project_members_project_user
    ON pm_project_members(project_id, user_id);
CREATE INDEX idx_pm_project_members_project ON pm_project_members(project_id);
CREATE INDEX idx_pm_project_members_user ON pm_project_members(user_id);

CREATE TABLE pm_work_items (
    id TEXT PRIMARY KEY,
    item_type TEXT NOT NULL CHECK(item_type IN ('epic', 'story', 'task')),
    parent_id TEXT,
    project_id TEXT NOT NULL,
    position INTEGER NOT NULL DEFAULT 0,
    title TEXT NOT NULL,
    description TEXT,
    status TEXT NOT NULL DEFAULT 'backlog'
        CHECK(status IN ('backlog', 'todo', 'in_progress', 'review', 'done')),
    priority TEXT NOT NULL DEFAULT 'medium'
        CHECK(priority IN ('critical', 'high', 'medium', 'low')),
    story_points INTEGER,
    assignee_id TEXT,
    sprint_id TEXT,
    item_number INTEGER NOT NULL,
    version INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    deleted_at INTEGER,
    FOREIGN KEY (project_id) REFERENCES pm_projects(id) ON DELETE CASCADE,
    FOREIGN KEY (parent_id) REFERENCES pm_work_items(id) ON DELETE SET NULL,
    FOREIGN KEY (sprint_id) REFERENCES pm_sprints(id) ON DELETE SET NULL,
    FOREIGN KEY (assignee_id) REFERENCES users(id) ON DELETE SET NULL,
    UNIQUE(project_id, item_number)
);

CREATE TABLE pm_comments (
    id TEXT PRIMARY KEY,
    work_item_id TEXT NOT NULL,
    content TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    deleted_at INTEGER,
    FOREIGN KEY (work_item_id) REFERENCES pm_work_items(id) ON DELETE CASCADE,
    FOREIGN KEY (created_by) REFERENCES users(id),
    FOREIGN KEY (updated_by) REFERENCES users(id)
);

CREATE TABLE pm_time_entries (
    id TEXT PRIMARY KEY,
    work_item_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    ended_at INTEGER,
    duration_seconds INTEGER,
    description TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    deleted_at INTEGER,
    FOREIGN KEY (work_item_id) REFERENCES pm_work_items(id) ON DELETE CASCADE,
    FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE
);

CREATE TABLE pm_dependencies (
    id TEXT PRIMARY KEY,
    blocking_item_id TEXT NOT NULL,
    blocked_item_id TEXT NOT NULL,
    dependency_type TEXT NOT NULL DEFAULT 'blocks'
        CHECK(dependency_type IN ('blocks', 'relates_to')),
    created_at INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    deleted_at INTEGER,
    FOREIGN KEY (blocking_item_id) REFERENCES pm_work_items(id) ON DELETE CASCADE,
    FOREIGN KEY (blocked_item_id) REFERENCES pm_work_items(id) ON DELETE CASCADE,
    FOREIGN KEY (created_by) REFERENCES users(id),
    UNIQUE(blocking_item_id, blocked_item_id),
    CHECK(blocking_item_id != blocked_item_id)
);

CREATE INDEX idx_pm_work_items_project ON pm_work_items(project_id) WHERE deleted_at IS NULL;
CREATE INDEX idx_pm_work_items_parent ON pm_work_items(parent_id) WHERE deleted_at IS NULL;
CREATE INDEX idx_pm_work_items_sprint ON pm_work_items(sprint_id) WHERE deleted_at IS NULL;
CREATE INDEX idx_pm_work_items_status ON pm_work_items(status) WHERE deleted_at IS NULL;
CREATE INDEX idx_pm_work_items_assignee ON pm_work_items(assignee_id) WHERE deleted_at IS NULL;
CREATE INDEX idx_pm_work_items_type ON pm_work_items(item_type) WHERE deleted_at IS NULL;
CREATE INDEX idx_pm_work_items_item_number ON pm_work_items(project_id, item_number)
    WHERE deleted_at IS NULL;
CREATE INDEX idx_pm_comments_work_item ON pm_comments(work_item_id) WHERE deleted_at IS NULL;
CREATE INDEX idx_pm_comments_created ON pm_comments(created_at DESC) WHERE deleted_at IS NULL;
CREATE INDEX idx_pm_time_entries_work_item ON pm_time_entries(work_item_id)
    WHERE deleted_at IS NULL;
CREATE INDEX idx_pm_time_entries_user ON pm_time_entries(user_id) WHERE deleted_at IS NULL;
CREATE INDEX idx_pm_time_entries_started ON pm_time_entries(started_at DESC)
    WHERE deleted_at IS NULL;
CREATE INDEX idx_pm_time_entries_running ON pm_time_entries(ended_at)
    WHERE ended_at IS NULL AND deleted_at IS NULL;
CREATE INDEX idx_pm_dependencies_blocking ON pm_dependencies(blocking_item_id)
    WHERE deleted_at IS NULL;
CREATE INDEX idx_pm_dependencies_blocked ON pm_dependencies(blocked_item_id)
    WHERE deleted_at IS NULL;
"""

# (version, description, SHA-384 checksum) of the original's 18 migrations (spec Appendix A).
MIGRATIONS: tuple[tuple[int, str, str], ...] = (
    (
        20260110000000,
        "create users",
        "2039c2ae8b73060b7df67fda4c40f6d5b63b59c24f9cdd1ca04df65764c2908d402ea2014f7ede1b82e27e4e08593966",
    ),
    (
        20260110000001,
        "create work items",
        "c8dc63bf31b1437a58ff8ef52103a3a132e0cf4a79834c418d25cb889942f659f230676e464754c2e88716233216953a",
    ),
    (
        20260110000002,
        "create sprints",
        "3b9388f47b8d06ca6a634bf37392f65ede180dd0fd541086b554bf449128133caab160c48fc8ceeb01bc4356ae472a15",
    ),
    (
        20260110000003,
        "create comments",
        "ed3adc502988eace063cd9a31de745b9a1fbfa8a0f3e4df90ebcd383984a8e2bbcd2923ee44a42609e7a5757f4dda57b",
    ),
    (
        20260110000004,
        "create time entries",
        "e36dcc8fe6e217368ff2e62355332eebf23947f057eea06044fc65491d78c9986f85fe3545a97a6ba3916509504f5e19",
    ),
    (
        20260110000005,
        "create dependencies",
        "e631af4b85814fcc46987e6171069fe6306c2c22973d4f2274c23d79f4782bd84f7432994c823e3592e9caaab9f5fbbd",
    ),
    (
        20260110000006,
        "create activity log",
        "deca88b30e98b4275a1b79505f2262f8824c3e66d3484a8b990e40b562191704a4bf684c8cca3de57902024548f1aac9",
    ),
    (
        20260110000007,
        "create swim lanes",
        "5973339197aaccaf6b1c4111d23cac80a40f37a55b3d52a5ebea85375e0ee269ccf9ff3150df3ed3c934f05da01c9feb",
    ),
    (
        20260110000008,
        "create llm context",
        "f08912e639edbfc1214df0e79464404e050d1a39031b198011b3629118fd55db065341c3e748cef5136c8be259761bbe",
    ),
    (
        20260110000009,
        "add version column",
        "bc3fd3f11bbd6e08c297430c1d1a7c6839cb0c5449e432291cf1d285b5c8c2833e70bb756538c20c11f8a98f1ef37251",
    ),
    (
        20260110000010,
        "add project members",
        "c3faea218447e59e7e04b7c888376997f10f3dca67f48fc2fa8b060aed4a55db0ccbdd70d0137fced13faf79c01e4127",
    ),
    (
        20260110000011,
        "add idempotency keys",
        "bab44ba6c7c1d720f07da3ea5f236676c0046cb1b5dcc7d7f325aabd98d9657ed71c9a96708d0f14922c6305d7ed1778",
    ),
    (
        20260116000001,
        "add priority and story points",
        "be50353867bf4f91dcc21e59d3a6b6309033dfaa4b24abf65ec45539801bb4134afdc45210116cdf971c7de2c9280e25",
    ),
    (
        20260119194912,
        "add work item fks",
        "5eecc9a3515f730f57792c667a4ed0e4e8469e8c4c7d71468a0d06f48c4a5501f383f4d2f9308982725236a1d2a63d05",
    ),
    (
        20260121000001,
        "create projects table",
        "8fa64af753279fd1ee51714dd1e374a4bb390bf410abfffa0bb623e11f15d337bc7760fec69084bb5ab572710492be40",
    ),
    (
        20260127000001,
        "seed llm context",
        "0aeb5ecd0daa65ad57062a68ccff1baf1a5cd1d8e5d30e41ed1958fc8e4610093caa55c2545135dadba629e5037ed37f",
    ),
    (
        20260202000001,
        "fix dependency unique constraint",
        "bd88820719519893956c49397e35f35a1683884cbbf25b7f721b30fff81116860bf4f2789bef7f74d28c8c3ad5da8486",
    ),
    (
        20260203000001,
        "add work item numbers",
        "512f044810b438d6dc6132d657344e3cefebf7d8ccc02cd7a697039349a2e6e0afeac39b44800c31be227f429e611dbb",
    ),
)
