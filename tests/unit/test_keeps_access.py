"""`sql.keeps_access`: which statements leave the SQLite writer's cache of project
states and members valid (sqlite.WriterCache). A write it wrongly calls harmless would
let a removed member keep writing, so every statement of `sql` is checked here."""

from __future__ import annotations

import re

import pytest

from pm_fast.store import sql

ALL = {name: q for name, q in vars(sql).items() if isinstance(q, sql.Query)}
ALL.update({f"ROW_STATE[{k}]": q for k, q in sql.ROW_STATE.items()})
ACCESS = re.compile(
    r"\b(?:INSERT|UPDATE|DELETE|REPLACE)\b[^;]*?\b(pm_projects|pm_project_members|users)\b",
    re.IGNORECASE,
)


@pytest.mark.parametrize("name", sorted(ALL))
def test_every_statement(name: str) -> None:
    q = ALL[name]
    if name in ("PROJECT_TAKE_NUMBER", "PROJECT_RAISE_COUNTER"):
        assert sql.keeps_access(q)  # only next_work_item_number changes
    elif ACCESS.search(q.lite):
        assert not sql.keeps_access(q), q.lite
    elif q.lite.lstrip().upper().startswith(("SELECT", "WITH RECURSIVE")):
        assert sql.keeps_access(q), q.lite


@pytest.mark.parametrize(
    "text",
    [
        "INSERT INTO pm_project_members (project_id) VALUES ($1)",
        "insert or replace into users (id) values ($1)",
        "REPLACE INTO pm_projects (id) VALUES ($1)",
        "UPDATE pm_projects SET deleted_at = $2 WHERE id = $1",
        "DELETE FROM pm_project_members WHERE project_id = $1",
        "WITH x AS (SELECT 1) UPDATE pm_projects SET title = 'a'",
        "INSERT INTO pm_work_items (id) SELECT id FROM x; DELETE FROM users",
        "SELECT 1 RETURNING 1",
        "PRAGMA foreign_keys = OFF",
        "VACUUM",
    ],
)
def test_writes_that_may_change_access_and_unknown_shapes_do_not_keep_it(text: str) -> None:
    assert not sql.keeps_access(sql.query(text))


@pytest.mark.parametrize(
    "text",
    [
        "SELECT user_id, role FROM pm_project_members WHERE project_id = $1",
        "INSERT INTO pm_activity_log (id) VALUES ($1)",
        "UPDATE pm_work_items SET title = $2 WHERE id = $1",
        "DELETE FROM pm_idempotency_keys WHERE created_at < $1",
    ],
)
def test_reads_and_writes_elsewhere_keep_it(text: str) -> None:
    assert sql.keeps_access(sql.query(text))
