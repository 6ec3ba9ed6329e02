"""The PostgreSQL schema of pm-fast: pm-server 0.1.4's tables in PostgreSQL's types.

Tables, columns, CHECKs, uniques and foreign keys are those of the SQLite schema
(`sqlite_schema.py`), with these deliberate differences:

* every integer column is BIGINT (SQLite's INTEGER is 64-bit); booleans are BOOLEAN;
* text columns sort bytewise (COLLATE "C"), as SQLite's BINARY collation does, so
  listings come out in the same order whatever the database's locale;
* tables that SQLite lists in `rowid` order (sprints, comments, dependencies, time
  entries, the activity log) carry an identity column `seq` that plays the rowid's part;
* one more index, for the next sibling position of a new work item;
* pm-fast's own bookkeeping: `pm_fast_schema_migrations` (applied versions) and the
  `pm_fast_events` outbox that carries committed events to the other processes
  (`realtime/bus.py`).

Migrations are applied in order, each once, inside one transaction that holds an
advisory lock, so several processes starting together do not race.
"""

from __future__ import annotations

# Key of the transaction-scoped advisory lock held while migrating.
MIGRATION_LOCK_KEY = 0x706D66617374  # "pmfast"

_T = 'TEXT COLLATE "C"'

_INITIAL = f"""
CREATE TABLE users (
    id {_T} PRIMARY KEY,
    email {_T},
    name {_T},
    created_at BIGINT NOT NULL DEFAULT (extract(epoch from now())::bigint)
);
CREATE INDEX idx_users_email ON users(email);

CREATE TABLE pm_activity_log (
    id {_T} PRIMARY KEY,
    entity_type {_T} NOT NULL,
    entity_id {_T} NOT NULL,
    action {_T} NOT NULL,
    field_name {_T},
    old_value {_T},
    new_value {_T},
    user_id {_T} NOT NULL,
    timestamp BIGINT NOT NULL,
    comment {_T},
    seq BIGINT GENERATED ALWAYS AS IDENTITY,
    FOREIGN KEY (user_id) REFERENCES users(id)
);
CREATE INDEX idx_pm_activity_log_entity ON pm_activity_log(entity_type, entity_id);
CREATE INDEX idx_pm_activity_log_timestamp ON pm_activity_log(timestamp DESC);
CREATE INDEX idx_pm_activity_log_user ON pm_activity_log(user_id);
CREATE INDEX idx_pm_activity_log_action ON pm_activity_log(action);

CREATE TABLE pm_llm_context (
    id {_T} PRIMARY KEY,
    context_type {_T} NOT NULL CHECK(context_type IN
        ('schema_doc', 'query_pattern', 'business_rule', 'example', 'instruction')),
    category {_T} NOT NULL,
    title {_T} NOT NULL,
    content {_T} NOT NULL,
    example_sql {_T},
    example_description {_T},
    priority BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    deleted_at BIGINT
);
CREATE INDEX idx_pm_llm_context_type ON pm_llm_context(context_type) WHERE deleted_at IS NULL;
CREATE INDEX idx_pm_llm_context_category ON pm_llm_context(category) WHERE deleted_at IS NULL;
CREATE INDEX idx_pm_llm_context_priority ON pm_llm_context(priority DESC)
    WHERE deleted_at IS NULL;

CREATE TABLE pm_idempotency_keys (
    message_id {_T} PRIMARY KEY,
    operation {_T} NOT NULL,
    result_json {_T} NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE pm_projects (
    id {_T} PRIMARY KEY,
    title {_T} NOT NULL,
    description {_T},
    key {_T} NOT NULL,
    status {_T} NOT NULL DEFAULT 'active' CHECK(status IN ('active', 'archived')),
    version BIGINT NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    created_by {_T} NOT NULL,
    updated_by {_T} NOT NULL,
    deleted_at BIGINT,
    next_work_item_number BIGINT NOT NULL DEFAULT 1,
    UNIQUE(key)
);

CREATE TABLE pm_sprints (
    id {_T} PRIMARY KEY,
    project_id {_T} NOT NULL,
    name {_T} NOT NULL,
    goal {_T},
    start_date BIGINT NOT NULL,
    end_date BIGINT NOT NULL,
    status {_T} NOT NULL DEFAULT 'planned'
        CHECK(status IN ('planned', 'active', 'completed', 'cancelled')),
    velocity BIGINT,
    version BIGINT NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    created_by {_T} NOT NULL,
    updated_by {_T} NOT NULL,
    deleted_at BIGINT,
    FOREIGN KEY (project_id) REFERENCES pm_projects(id) ON DELETE CASCADE
);

CREATE TABLE pm_swim_lanes (
    id {_T} PRIMARY KEY,
    project_id {_T} NOT NULL,
    name {_T} NOT NULL,
    status_value {_T} NOT NULL,
    position BIGINT NOT NULL DEFAULT 0,
    is_default BOOLEAN NOT NULL DEFAULT false,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    deleted_at BIGINT,
    FOREIGN KEY (project_id) REFERENCES pm_projects(id) ON DELETE CASCADE,
    UNIQUE(project_id, status_value)
);

CREATE TABLE pm_project_members (
    id {_T} PRIMARY KEY,
    project_id {_T} NOT NULL,
    user_id {_T} NOT NULL,
    role {_T} NOT NULL CHECK(role IN ('viewer', 'editor', 'admin')),
    created_at BIGINT NOT NULL,
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
    id {_T} PRIMARY KEY,
    item_type {_T} NOT NULL CHECK(item_type IN ('epic', 'story', 'task')),
    parent_id {_T},
    project_id {_T} NOT NULL,
    position BIGINT NOT NULL DEFAULT 0,
    title {_T} NOT NULL,
    description {_T},
    status {_T} NOT NULL DEFAULT 'backlog'
        CHECK(status IN ('backlog', 'todo', 'in_progress', 'review', 'done')),
    priority {_T} NOT NULL DEFAULT 'medium'
        CHECK(priority IN ('critical', 'high', 'medium', 'low')),
    story_points BIGINT,
    assignee_id {_T},
    sprint_id {_T},
    item_number BIGINT NOT NULL,
    version BIGINT NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    created_by {_T} NOT NULL,
    updated_by {_T} NOT NULL,
    deleted_at BIGINT,
    FOREIGN KEY (project_id) REFERENCES pm_projects(id) ON DELETE CASCADE,
    FOREIGN KEY (parent_id) REFERENCES pm_work_items(id) ON DELETE SET NULL,
    FOREIGN KEY (sprint_id) REFERENCES pm_sprints(id) ON DELETE SET NULL,
    FOREIGN KEY (assignee_id) REFERENCES users(id) ON DELETE SET NULL,
    UNIQUE(project_id, item_number)
);

CREATE TABLE pm_comments (
    id {_T} PRIMARY KEY,
    work_item_id {_T} NOT NULL,
    content {_T} NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    created_by {_T} NOT NULL,
    updated_by {_T} NOT NULL,
    deleted_at BIGINT,
    seq BIGINT GENERATED ALWAYS AS IDENTITY,
    FOREIGN KEY (work_item_id) REFERENCES pm_work_items(id) ON DELETE CASCADE,
    FOREIGN KEY (created_by) REFERENCES users(id),
    FOREIGN KEY (updated_by) REFERENCES users(id)
);

CREATE TABLE pm_time_entries (
    id {_T} PRIMARY KEY,
    work_item_id {_T} NOT NULL,
    user_id {_T} NOT NULL,
    started_at BIGINT NOT NULL,
    ended_at BIGINT,
    duration_seconds BIGINT,
    description {_T},
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    deleted_at BIGINT,
    seq BIGINT GENERATED ALWAYS AS IDENTITY,
    FOREIGN KEY (work_item_id) REFERENCES pm_work_items(id) ON DELETE CASCADE,
    FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE
);

CREATE TABLE pm_dependencies (
    id {_T} PRIMARY KEY,
    blocking_item_id {_T} NOT NULL,
    blocked_item_id {_T} NOT NULL,
    dependency_type {_T} NOT NULL DEFAULT 'blocks'
        CHECK(dependency_type IN ('blocks', 'relates_to')),
    created_at BIGINT NOT NULL,
    created_by {_T} NOT NULL,
    deleted_at BIGINT,
    seq BIGINT GENERATED ALWAYS AS IDENTITY,
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
-- pm-fast: the next sibling position of a new item is one index probe.
CREATE INDEX idx_pm_work_items_siblings ON pm_work_items(project_id, parent_id, position)
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

_OUTBOX = f"""
CREATE TABLE pm_fast_events (
    seq BIGSERIAL PRIMARY KEY,
    origin {_T} NOT NULL,
    project_id {_T} NOT NULL,  -- '' for events of no project
    payload BYTEA NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX idx_pm_fast_events_created ON pm_fast_events(created_at);
CREATE INDEX idx_pm_fast_events_project ON pm_fast_events(project_id, seq);
"""

# Two steps that each would cost a round trip more (and, worse, one more round trip
# while the project is locked) as separate statements. Each statement of a VOLATILE
# function takes a fresh snapshot, so what follows a lock sees what committed before it.
_FUNCTIONS = """
CREATE FUNCTION pm_fast_max_position(p_project TEXT, p_parent TEXT) RETURNS BIGINT
LANGUAGE plpgsql VOLATILE AS $fn$
BEGIN
    -- Creates in one project take turns (they would anyway on the project row for
    -- their number), so two of them never pick the same position. An advisory lock
    -- queues waiters fairly; waiting on the row lock measured 2x slower, with a 10x
    -- worse tail, at 16 concurrent creates in one project.
    PERFORM pg_advisory_xact_lock(hashtextextended('pm_fast:positions:' || p_project, 0));
    IF p_parent IS NULL THEN
        RETURN COALESCE((SELECT MAX(position) FROM pm_work_items WHERE project_id = p_project
                         AND parent_id IS NULL AND deleted_at IS NULL), 0);
    END IF;
    RETURN COALESCE((SELECT MAX(position) FROM pm_work_items WHERE project_id = p_project
                     AND parent_id = p_parent AND deleted_at IS NULL), 0);
END
$fn$;

CREATE FUNCTION pm_fast_outbox_append(
    p_origin TEXT, p_project TEXT, p_payload BYTEA, p_now BIGINT, p_floor BIGINT,
    p_gaps BIGINT[]
) RETURNS TABLE (r_seq BIGINT, r_origin TEXT, r_payload BYTEA, r_mine BOOLEAN)
LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE
    new_seq BIGINT;
BEGIN
    -- Held until commit: per project, seq order is commit order (realtime/bus.py).
    PERFORM pg_advisory_xact_lock(hashtextextended('pm_fast_events:' || p_project, 0));
    INSERT INTO pm_fast_events (origin, project_id, payload, created_at)
        VALUES (p_origin, p_project, p_payload, p_now) RETURNING seq INTO new_seq;
    PERFORM pg_notify('pm_fast_events', new_seq::text);
    RETURN QUERY SELECT new_seq, p_origin, NULL::BYTEA, true;
    -- Rows of the project committed before the lock that the caller may not have seen.
    RETURN QUERY
        SELECT e.seq, e.origin::TEXT,
               CASE WHEN e.origin = p_origin THEN NULL ELSE e.payload END, false
        FROM pm_fast_events e
        WHERE e.project_id = p_project AND e.seq <> new_seq
          AND (e.seq > p_floor OR e.seq = ANY(p_gaps));
END
$fn$;
"""

# One statement for a new work item: number, position and the row itself. Without it a
# create is three round trips, two of them while the project's creates wait on its lock.
_CREATE_ITEM = """
CREATE FUNCTION pm_fast_item_create(
    p_id TEXT, p_item_type TEXT, p_title TEXT, p_description TEXT, p_status TEXT,
    p_priority TEXT, p_parent TEXT, p_project TEXT, p_assignee TEXT, p_sprint TEXT,
    p_story_points BIGINT, p_version BIGINT, p_created_at BIGINT, p_updated_at BIGINT,
    p_created_by TEXT, p_updated_by TEXT
) RETURNS TABLE (r_number BIGINT, r_position BIGINT, r_key TEXT, r_parent_live BOOLEAN)
LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE
    v_number BIGINT;
    v_key TEXT;
    v_position BIGINT;
BEGIN
    -- Creates in one project take turns, as in pm_fast_max_position (migration 3).
    PERFORM pg_advisory_xact_lock(hashtextextended('pm_fast:positions:' || p_project, 0));
    UPDATE pm_projects SET next_work_item_number = next_work_item_number + 1
        WHERE id = p_project AND deleted_at IS NULL
        RETURNING next_work_item_number - 1, key INTO v_number, v_key;
    IF NOT FOUND THEN
        RETURN;  -- no live project: no row
    END IF;
    -- A fresh snapshot (VOLATILE): the items of every earlier create of the project.
    IF p_parent IS NULL THEN
        v_position := COALESCE((SELECT MAX(position) FROM pm_work_items
            WHERE project_id = p_project AND parent_id IS NULL AND deleted_at IS NULL), 0) + 1;
    ELSE
        v_position := COALESCE((SELECT MAX(position) FROM pm_work_items
            WHERE project_id = p_project AND parent_id = p_parent AND deleted_at IS NULL), 0) + 1;
    END IF;
    INSERT INTO pm_work_items (id, item_type, title, description, status, priority, parent_id,
        project_id, assignee_id, sprint_id, story_points, item_number, position, version,
        created_at, updated_at, created_by, updated_by)
    VALUES (p_id, p_item_type, p_title, p_description, p_status, p_priority, p_parent,
        p_project, p_assignee, p_sprint, p_story_points, v_number, v_position, p_version,
        p_created_at, p_updated_at, p_created_by, p_updated_by);
    -- The parent's foreign key is now share-locked: a delete of it that committed before
    -- shows here (see PgTx.item_live_children).
    RETURN QUERY SELECT v_number, v_position, v_key,
        p_parent IS NULL OR EXISTS (SELECT 1 FROM pm_work_items
                                    WHERE id = p_parent AND deleted_at IS NULL);
END
$fn$;
"""

# The create of migration 4, with the next position kept within int32 (the position
# field of the protocol): past the end of the range a new item takes the last position
# and still sorts last, after its siblings of the same position (by item number).
_CREATE_ITEM_FITTING = (
    _CREATE_ITEM.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1)
    .replace("v_position := COALESCE(", "v_position := LEAST(2147483647, COALESCE(")
    .replace("deleted_at IS NULL), 0) + 1;", "deleted_at IS NULL), 0) + 1);")
)
assert _CREATE_ITEM_FITTING.count("LEAST(2147483647, COALESCE(") == 2
assert _CREATE_ITEM_FITTING.count("), 0) + 1);") == 2

# Exports list sprints of equal dates newest row first, as the original does (its SQLite
# walks the dates index backwards): sprints get the rowid's stand-in too.
_SPRINT_SEQ = """
ALTER TABLE pm_sprints ADD COLUMN seq BIGINT GENERATED ALWAYS AS IDENTITY;
"""

# The event log for exact resume (realtime/eventlog.py): each project's events numbered
# 1, 2, ... in commit order. The number is taken under the project's outbox lock, which
# is held until commit, so numbers are gapless per project and their order is commit
# order; the outbox row records the numbers of its events.
_EVENT_SEQ = f"""
ALTER TABLE pm_fast_events ADD COLUMN first_seq BIGINT, ADD COLUMN last_seq BIGINT;
CREATE INDEX idx_pm_fast_events_first ON pm_fast_events(project_id, first_seq);
CREATE TABLE pm_fast_event_seq (
    project_id {_T} PRIMARY KEY,
    last_seq BIGINT NOT NULL
);

CREATE FUNCTION pm_fast_outbox_append_seq(
    p_origin TEXT, p_project TEXT, p_payload BYTEA, p_now BIGINT, p_floor BIGINT,
    p_gaps BIGINT[], p_count INTEGER
) RETURNS TABLE (r_seq BIGINT, r_origin TEXT, r_payload BYTEA, r_mine BOOLEAN, r_first BIGINT)
LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE
    new_seq BIGINT;
    v_first BIGINT;
    v_last BIGINT;
BEGIN
    -- Held until commit: per project, seq order is commit order (realtime/bus.py).
    PERFORM pg_advisory_xact_lock(hashtextextended('pm_fast_events:' || p_project, 0));
    IF p_count > 0 THEN
        INSERT INTO pm_fast_event_seq AS s (project_id, last_seq) VALUES (p_project, p_count)
            ON CONFLICT (project_id) DO UPDATE SET last_seq = s.last_seq + EXCLUDED.last_seq
            RETURNING s.last_seq INTO v_last;
        v_first := v_last - p_count + 1;
    END IF;
    INSERT INTO pm_fast_events (origin, project_id, payload, created_at, first_seq, last_seq)
        VALUES (p_origin, p_project, p_payload, p_now, v_first, v_last)
        RETURNING seq INTO new_seq;
    PERFORM pg_notify('pm_fast_events', new_seq::text);
    RETURN QUERY SELECT new_seq, p_origin, NULL::BYTEA, true, v_first;
    -- Rows of the project committed before the lock that the caller may not have seen.
    RETURN QUERY
        SELECT e.seq, e.origin::TEXT,
               CASE WHEN e.origin = p_origin THEN NULL ELSE e.payload END, false, e.first_seq
        FROM pm_fast_events e
        WHERE e.project_id = p_project AND e.seq <> new_seq
          AND (e.seq > p_floor OR e.seq = ANY(p_gaps));
END
$fn$;
"""

# Numbers and positions taken outside the create's transaction (realtime creates of one
# project no longer take turns until COMMIT). `pm_fast_item_reserve` runs as its own
# short transaction: under the project's position lock (held for that statement only)
# it bumps the project's counter and picks the next sibling position, above every live
# sibling *and* every position claimed by a create that has not committed yet; the claim
# row says so. The create's transaction inserts the item and deletes its claim
# (`pm_fast_item_insert`), so a concurrent reserve sees either the claim or the item,
# never neither. A create that fails after reserving leaves a gap in the numbers (the
# spec allows them) and its claim is removed (or ignored after 10 minutes).
_ITEM_RESERVE = f"""
CREATE TABLE pm_fast_item_claims (
    item_id {_T} PRIMARY KEY,
    project_id {_T} NOT NULL,
    parent_key {_T} NOT NULL,  -- '' for top-level items
    position BIGINT NOT NULL,
    claimed_at BIGINT NOT NULL
);
CREATE INDEX idx_pm_fast_item_claims_siblings
    ON pm_fast_item_claims(project_id, parent_key, position);

CREATE FUNCTION pm_fast_item_reserve(p_id TEXT, p_project TEXT, p_parent TEXT, p_own BOOLEAN)
RETURNS TABLE (r_number BIGINT, r_position BIGINT, r_key TEXT)
LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE
    v_number BIGINT;
    v_key TEXT;
    v_position BIGINT;
    v_now BIGINT := extract(epoch from clock_timestamp())::bigint;
BEGIN
    IF p_own THEN
        -- Its own transaction: its commit need not wait for the disk. The create that
        -- uses the number commits later, and its commit flushes the log up to here.
        PERFORM set_config('synchronous_commit', 'off', true);
    END IF;
    PERFORM pg_advisory_xact_lock(hashtextextended('pm_fast:positions:' || p_project, 0));
    UPDATE pm_projects SET next_work_item_number = next_work_item_number + 1
        WHERE id = p_project AND deleted_at IS NULL
        RETURNING next_work_item_number - 1, key INTO v_number, v_key;
    IF NOT FOUND THEN
        RETURN;  -- no live project: no row
    END IF;
    -- One snapshot (one expression) for the live siblings and the claims: a create that
    -- committed meanwhile shows as its item, one still running as its claim.
    IF p_parent IS NULL THEN
        v_position := LEAST(2147483647, GREATEST(
            (SELECT MAX(position) FROM pm_work_items
             WHERE project_id = p_project AND parent_id IS NULL AND deleted_at IS NULL),
            (SELECT MAX(position) FROM pm_fast_item_claims
             WHERE project_id = p_project AND parent_key = '' AND claimed_at > v_now - 600),
            0) + 1);
    ELSE
        v_position := LEAST(2147483647, GREATEST(
            (SELECT MAX(position) FROM pm_work_items
             WHERE project_id = p_project AND parent_id = p_parent AND deleted_at IS NULL),
            (SELECT MAX(position) FROM pm_fast_item_claims
             WHERE project_id = p_project AND parent_key = p_parent
               AND claimed_at > v_now - 600),
            0) + 1);
    END IF;
    DELETE FROM pm_fast_item_claims WHERE project_id = p_project AND claimed_at < v_now - 600;
    INSERT INTO pm_fast_item_claims (item_id, project_id, parent_key, position, claimed_at)
        VALUES (p_id, p_project, COALESCE(p_parent, ''), v_position, v_now);
    RETURN QUERY SELECT v_number, v_position, v_key;
END
$fn$;

CREATE FUNCTION pm_fast_item_insert(
    p_id TEXT, p_item_type TEXT, p_title TEXT, p_description TEXT, p_status TEXT,
    p_priority TEXT, p_parent TEXT, p_project TEXT, p_assignee TEXT, p_sprint TEXT,
    p_story_points BIGINT, p_version BIGINT, p_created_at BIGINT, p_updated_at BIGINT,
    p_created_by TEXT, p_updated_by TEXT, p_number BIGINT, p_position BIGINT
) RETURNS TABLE (r_project_live BOOLEAN, r_parent_live BOOLEAN)
LANGUAGE plpgsql VOLATILE AS $fn$
BEGIN
    INSERT INTO pm_work_items (id, item_type, title, description, status, priority, parent_id,
        project_id, assignee_id, sprint_id, story_points, item_number, position, version,
        created_at, updated_at, created_by, updated_by)
    VALUES (p_id, p_item_type, p_title, p_description, p_status, p_priority, p_parent,
        p_project, p_assignee, p_sprint, p_story_points, p_number, p_position, p_version,
        p_created_at, p_updated_at, p_created_by, p_updated_by);
    -- Gone when the item commits, in the same commit.
    DELETE FROM pm_fast_item_claims WHERE item_id = p_id;
    -- The foreign keys now hold key-share locks on the project and the parent: a delete
    -- of either that committed before shows here (a fresh snapshot: VOLATILE), and one
    -- that locks them later (PgTx.project_live_item_count, .item_live_children) sees
    -- this item.
    RETURN QUERY SELECT
        EXISTS (SELECT 1 FROM pm_projects WHERE id = p_project AND deleted_at IS NULL),
        p_parent IS NULL OR EXISTS (SELECT 1 FROM pm_work_items
                                    WHERE id = p_parent AND deleted_at IS NULL);
END
$fn$;
"""

# The one-statement create of migration 5, for a create that runs alone: it also stays
# above the positions claimed by creates still running (`_ITEM_RESERVE`). It holds the
# position lock until its commit, so a reserve that comes later sees its item.
_CREATE_ITEM_CLAIMS = _CREATE_ITEM_FITTING.replace(
    "deleted_at IS NULL), 0) + 1);",
    "deleted_at IS NULL), 0,\n            (SELECT MAX(position) FROM pm_fast_item_claims"
    " WHERE project_id = p_project AND parent_key = COALESCE(p_parent, '')"
    " AND claimed_at > extract(epoch from clock_timestamp())::bigint - 600)) + 1);",
).replace("COALESCE((SELECT MAX(position)", "GREATEST((SELECT MAX(position)")
assert _CREATE_ITEM_CLAIMS.count("FROM pm_fast_item_claims") == 2
assert _CREATE_ITEM_CLAIMS.count("GREATEST((SELECT MAX(position)") == 2

# The lock that makes a repeat of an idempotent create on another process wait for the
# first one, then its stored reply, in one round trip. The SELECT runs after the lock
# with a snapshot of its own (VOLATILE), so it sees what the first one committed.
_IDEM_GET = """
CREATE FUNCTION pm_fast_idem_get(p_key TEXT) RETURNS TEXT
LANGUAGE plpgsql VOLATILE AS $fn$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended('pm_fast:idem:' || p_key, 0));
    RETURN (SELECT result_json FROM pm_idempotency_keys WHERE message_id = p_key);
END
$fn$;
"""

# (version, description, SQL). Append only: a released migration never changes.
MIGRATIONS: tuple[tuple[int, str, str], ...] = (
    (1, "pm-server 0.1.4 tables", _INITIAL),
    (2, "event outbox for cross-process fan-out", _OUTBOX),
    (3, "functions: next sibling position, outbox append", _FUNCTIONS),
    (4, "function: work item create", _CREATE_ITEM),
    (5, "function: work item create keeps positions within int32", _CREATE_ITEM_FITTING),
    (6, "sprints: insertion order", _SPRINT_SEQ),
    (7, "event log: numbers per project for exact resume", _EVENT_SEQ),
    (8, "work item create: number and position outside the transaction", _ITEM_RESERVE),
    (9, "work item create alone: above claimed positions", _CREATE_ITEM_CLAIMS),
    (10, "function: idempotency lock and stored reply", _IDEM_GET),
)

BOOKKEEPING = """
CREATE TABLE IF NOT EXISTS pm_fast_schema_migrations (
    version BIGINT PRIMARY KEY,
    description TEXT NOT NULL,
    applied_at BIGINT NOT NULL
)
"""
