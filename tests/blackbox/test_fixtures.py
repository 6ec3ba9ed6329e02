# mypy: disable-error-code="no-any-return"
"""Database compatibility with the original pm-server v0.1.4 (fixtures, Appendix A, §2)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from .conftest import EMPTY_FIXTURE, FULL_FIXTURE, ServerFactory
from .helpers import (
    LLM_USER,
    PM_FAST_INDEXES,
    PM_FAST_TABLES,
    create_comment,
    create_dependency,
    create_item,
    create_project,
    create_sprint,
    db_dump,
    db_query,
    export_all,
    get_item,
    list_items,
    new_uuid,
    ok,
    start_timer,
    update_item,
)

WEB = "9531985d-5d9d-49f8-9818-e811892f902b"
API = "cd02c5e1-1635-4d03-951f-d8f9a2c68e45"

MIGRATIONS = [
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
]


def rows_as_dicts(path: Path, sql: str) -> list[dict[str, Any]]:
    con = sqlite3.connect(str(path))
    con.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in con.execute(sql)]
    finally:
        con.close()


def integrity(path: Path) -> str:
    return db_query(path, "PRAGMA integrity_check")[0][0]


def expected_from_db(path: Path) -> dict[str, dict[str, dict[str, Any]]]:
    """What the REST API must show for every live row of the database, keyed by id."""
    projects = {
        r["id"]: {
            "id": r["id"],
            "key": r["key"],
            "title": r["title"],
            "description": r["description"],
            "status": r["status"],
            "version": r["version"],
            "created_at": r["created_at"],
            "updated_at": r["updated_at"],
            "created_by": r["created_by"],
            "updated_by": r["updated_by"],
            "next_work_item_number": r["next_work_item_number"],
        }
        for r in rows_as_dicts(path, "SELECT * FROM pm_projects WHERE deleted_at IS NULL")
    }
    keys = {r["id"]: r["key"] for r in rows_as_dicts(path, "SELECT id, key FROM pm_projects")}
    items = {
        r["id"]: {
            "id": r["id"],
            "display_key": f"{keys[r['project_id']]}-{r['item_number']}",
            "item_type": r["item_type"],
            "title": r["title"],
            "description": r["description"],
            "status": r["status"],
            "priority": r["priority"],
            "parent_id": r["parent_id"],
            "project_id": r["project_id"],
            "assignee_id": r["assignee_id"],
            "sprint_id": r["sprint_id"],
            "story_points": r["story_points"],
            "item_number": r["item_number"],
            "position": r["position"],
            "version": r["version"],
            "created_at": r["created_at"],
            "updated_at": r["updated_at"],
            "created_by": r["created_by"],
            "updated_by": r["updated_by"],
        }
        for r in rows_as_dicts(path, "SELECT * FROM pm_work_items WHERE deleted_at IS NULL")
    }
    sprints = {
        r["id"]: {
            "id": r["id"],
            "project_id": r["project_id"],
            "name": r["name"],
            "goal": r["goal"],
            "start_date": r["start_date"],
            "end_date": r["end_date"],
            "status": r["status"],
            "version": r["version"],
            "created_at": r["created_at"],
            "updated_at": r["updated_at"],
            "created_by": r["created_by"],
            "updated_by": r["updated_by"],
        }
        for r in rows_as_dicts(path, "SELECT * FROM pm_sprints WHERE deleted_at IS NULL")
    }
    comments = {
        r["id"]: {
            "id": r["id"],
            "work_item_id": r["work_item_id"],
            "content": r["content"],
            "created_at": r["created_at"],
            "updated_at": r["updated_at"],
            "created_by": r["created_by"],
            "updated_by": r["updated_by"],
        }
        for r in rows_as_dicts(path, "SELECT * FROM pm_comments WHERE deleted_at IS NULL")
    }
    deps = {
        r["id"]: {
            "id": r["id"],
            "blocking_item_id": r["blocking_item_id"],
            "blocked_item_id": r["blocked_item_id"],
            "dependency_type": r["dependency_type"],
            "created_at": r["created_at"],
            "created_by": r["created_by"],
        }
        for r in rows_as_dicts(path, "SELECT * FROM pm_dependencies WHERE deleted_at IS NULL")
    }
    entries = {
        r["id"]: {
            "id": r["id"],
            "work_item_id": r["work_item_id"],
            "user_id": r["user_id"],
            "started_at": r["started_at"],
            "ended_at": r["ended_at"],
            "duration_seconds": r["duration_seconds"],
            "description": r["description"],
            "is_running": r["ended_at"] is None,
            "created_at": r["created_at"],
            "updated_at": r["updated_at"],
        }
        for r in rows_as_dicts(path, "SELECT * FROM pm_time_entries WHERE deleted_at IS NULL")
    }
    return {
        "projects": projects,
        "work_items": items,
        "sprints": sprints,
        "comments": comments,
        "dependencies": deps,
        "time_entries": entries,
    }


@pytest.mark.parametrize("fixture", [FULL_FIXTURE, EMPTY_FIXTURE])
def test_fixture_opened_served_and_unchanged(server_factory: ServerFactory, fixture: str) -> None:
    srv = server_factory(start=False, fixture=fixture)
    srv.prepare()
    before = db_dump(srv.db_path)
    expected = expected_from_db(srv.db_path)
    if fixture == FULL_FIXTURE:
        # the fixture itself: WEB and API, 26 items each numbered 1..26
        for pid in (WEB, API):
            nums = sorted(
                r[0]
                for r in db_query(
                    srv.db_path, "SELECT item_number FROM pm_work_items WHERE project_id=?", (pid,)
                )
            )
            assert nums == list(range(1, 27))
        assert {p["key"] for p in expected["projects"].values()} == {"WEB", "API"}
    srv.start()
    with srv.client() as c:
        projects = ok(c.get("/api/v1/projects"))["projects"]
        assert projects == sorted(expected["projects"].values(), key=lambda p: p["title"])
        data = export_all(c)
        for kind, rows in expected.items():
            got = {x["id"]: x for x in data[kind]}
            assert got == rows, kind
        if fixture == FULL_FIXTURE:
            assert [p["key"] for p in projects] == ["API", "WEB"]  # "Public API" < "Website..."
            for key, pid in (("WEB", WEB), ("API", API)):
                items = list_items(c, key, include_done=True)
                assert sorted(w["item_number"] for w in items) == list(range(1, 27))
                for n in (1, 2, 14, 26):
                    w = get_item(c, f"{key}-{n}")
                    assert w == expected["work_items"][w["id"]]
                    assert w["project_id"] == pid
            assert get_item(c, "WEB-1")["title"] == "WEB epic 1"
            assert get_item(c, "API-26")["title"] == "API task 2.3.3"
            deps = ok(c.get("/api/v1/work-items/WEB-2/dependencies"))["dependencies"]
            assert [d["dependency_type"] for d in deps] == ["blocks"]
            comments = ok(c.get("/api/v1/work-items/WEB-3/comments"))["comments"]
            assert [x["content"] for x in comments] == ["Looks good to me"]
            sprints = ok(c.get("/api/v1/projects/WEB/sprints"))["sprints"]
            assert [s["status"] for s in sprints] == ["active"]
        else:
            assert projects == []
    srv.stop()
    after = db_dump(srv.db_path)
    # the original's tables, and pm-fast's event log beside them
    assert set(after) == set(before) | PM_FAST_TABLES
    for table in before:
        if table == "users" and fixture == EMPTY_FIXTURE:
            added = [r for r in after["users"] if r not in before["users"]]
            assert [r[:3] for r in added] == [
                (LLM_USER, f"{LLM_USER}@system.local", "LLM Assistant")
            ]
            assert [r for r in after["users"] if r in before["users"]] == before["users"]
            continue
        assert after[table] == before[table], table
    assert integrity(srv.db_path) == "ok"
    assert db_query(srv.db_path, "PRAGMA journal_mode")[0][0] == "wal"


def test_fixture_write_then_reopen(server_factory: ServerFactory) -> None:
    srv = server_factory(start=False, fixture=FULL_FIXTURE)
    srv.prepare()
    migrations_before = db_query(srv.db_path, "SELECT * FROM _sqlx_migrations ORDER BY version")
    srv.start()
    with srv.client() as c:
        w = create_item(
            c, WEB, "task", "new after migration", parent_id="f9ebdacc-0cb1-429c-a58c-da1495e60af5"
        )
        assert w["item_number"] == 27 and w["display_key"] == "WEB-27"
        assert w["position"] == 4  # three tasks already under story 1.1
        u = ok(update_item(c, "API-3", 1, title="renamed", status="done"))["work_item"]
        assert u["version"] == 2
        # fixture's WEB sprint is active: a second active sprint is refused
        s = create_sprint(c, WEB)
        r = c.put(f"/api/v1/sprints/{s['id']}", json={"status": "active", "expected_version": 1})
        assert r.status_code == 409
        # a user of the fixture can act
        cm = create_comment(
            c, "WEB-27", "from fixture user", user="d23f0824-128b-4f33-8c5c-7fd0a6a3a450"
        )
        assert cm["created_by"] == "d23f0824-128b-4f33-8c5c-7fd0a6a3a450"
    srv.stop()
    assert integrity(srv.db_path) == "ok"
    assert (
        db_query(srv.db_path, "SELECT * FROM _sqlx_migrations ORDER BY version")
        == migrations_before
    )
    assert db_query(
        srv.db_path, "SELECT next_work_item_number FROM pm_projects WHERE id=?", (WEB,)
    ) == [(28,)]
    srv.start()
    with srv.client() as c:
        assert get_item(c, "WEB-27")["title"] == "new after migration"
        assert get_item(c, "API-3")["title"] == "renamed"
    srv.stop()
    assert (
        db_query(srv.db_path, "SELECT * FROM _sqlx_migrations ORDER BY version")
        == migrations_before
    )


def test_new_database_bookkeeping(server_factory: ServerFactory) -> None:
    srv = server_factory()
    assert srv.db_path.exists()
    srv.stop()
    db = srv.db_path
    assert integrity(db) == "ok"
    assert db_query(db, "PRAGMA journal_mode")[0][0] == "wal"
    rows = db_query(
        db, "SELECT version, description, success, checksum FROM _sqlx_migrations ORDER BY version"
    )
    assert [(v, d, s, bytes(c).hex()) for v, d, s, c in rows] == [
        (v, d, 1, h) for v, d, h in MIGRATIONS
    ]
    for (c,) in db_query(db, "SELECT checksum FROM _sqlx_migrations"):
        assert isinstance(c, bytes) and len(c) == 48
    cols = [r[1:3] for r in db_query(db, "PRAGMA table_info(_sqlx_migrations)")]
    assert cols == [
        ("version", "BIGINT"),
        ("description", "TEXT"),
        ("installed_on", "TIMESTAMP"),
        ("success", "BOOLEAN"),
        ("checksum", "BLOB"),
        ("execution_time", "BIGINT"),
    ]
    ids = [r[0] for r in db_query(db, "SELECT id FROM pm_llm_context ORDER BY id")]
    assert ids == [f"11111111-1111-1111-1111-0000000000{n:02d}" for n in range(1, 29)]
    by_type = db_query(
        db,
        "SELECT context_type, priority, count(*) FROM pm_llm_context "
        "GROUP BY context_type, priority ORDER BY priority DESC",
    )
    assert by_type == [
        ("schema_doc", 100, 10),
        ("query_pattern", 90, 8),
        ("business_rule", 80, 5),
        ("instruction", 70, 5),
    ]
    users = db_query(db, "SELECT id, email, name FROM users")
    assert users == [(LLM_USER, f"{LLM_USER}@system.local", "LLM Assistant")]


def test_new_database_matches_original_schema_and_seed(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    from harness import fixture_path

    original = tmp_path / "original.db"
    original.write_bytes(fixture_path(EMPTY_FIXTURE).read_bytes())
    srv = server_factory()
    srv.stop()
    db = srv.db_path

    def tables(p: Path) -> list[str]:
        return [
            r[0]
            for r in db_query(
                p,
                "SELECT name FROM sqlite_master WHERE type='table' "
                "AND name NOT LIKE 'sqlite_%' ORDER BY name",
            )
        ]

    assert tables(db) == sorted([*tables(original), *PM_FAST_TABLES])
    for t in tables(original):
        assert db_query(db, f'PRAGMA table_info("{t}")') == db_query(
            original, f'PRAGMA table_info("{t}")'
        ), t
        fks = sorted(r[2:] for r in db_query(original, f'PRAGMA foreign_key_list("{t}")'))
        assert sorted(r[2:] for r in db_query(db, f'PRAGMA foreign_key_list("{t}")')) == fks, t

    def indexes(p: Path) -> list[tuple[str, str]]:
        return db_query(
            p,
            "SELECT name, tbl_name FROM sqlite_master WHERE type='index' "
            "AND name NOT LIKE 'sqlite_autoindex_%' ORDER BY name",
        )

    assert [i for i in indexes(db) if i[0] not in PM_FAST_INDEXES] == indexes(original)
    assert {i[0] for i in indexes(db)} >= PM_FAST_INDEXES
    seed_cols = "id, context_type, category, priority, deleted_at"
    assert db_query(db, f"SELECT {seed_cols} FROM pm_llm_context ORDER BY id") == db_query(
        original, f"SELECT {seed_cols} FROM pm_llm_context ORDER BY id"
    )


def test_new_database_seed_texts_are_pm_fasts_own(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    """Ids, types, categories and priorities are the original's (checked elsewhere); the
    texts are pm-fast's own, written for it: every row has a title and content, and the
    query patterns carry example SQL that SQLite can prepare against the schema."""
    srv = server_factory()
    srv.stop()
    rows = db_query(
        srv.db_path,
        "SELECT id, context_type, title, content, example_sql FROM pm_llm_context ORDER BY id",
    )
    assert len(rows) == 28
    conn = sqlite3.connect(srv.db_path)
    try:
        for row_id, ctype, title, content, sql in rows:
            assert title.strip() and content.strip(), row_id
            if ctype == "query_pattern":
                assert sql, row_id
                conn.execute("EXPLAIN " + sql.replace("?", "NULL"))
            else:
                assert sql is None, row_id
    finally:
        conn.close()


def test_rest_writes_leave_expected_rows(server_factory: ServerFactory) -> None:
    """§2.9 activity rows, compat.md member row and stub users, as seen in the database."""
    srv = server_factory()
    user = new_uuid()
    with srv.client() as c:
        p = create_project(c, user=user)
        ok(
            c.put(
                f"/api/v1/projects/{p['id']}",
                json={"title": p["title"], "expected_version": 1},
                headers={"X-User-Id": user},
            )
        )  # no-op: no row
        ok(
            c.put(
                f"/api/v1/projects/{p['id']}",
                json={"title": "changed", "expected_version": 1},
                headers={"X-User-Id": user},
            )
        )
        a = create_item(c, p["id"], "task", "a", user=user)
        b = create_item(c, p["id"], "task", "b")
        ok(update_item(c, a["id"], 1))  # no-op: no row
        ok(update_item(c, a["id"], 1, title="a2", user=user))
        cm = create_comment(c, a["id"], "hello", user=user)
        ok(c.delete(f"/api/v1/comments/{cm['id']}", headers={"X-User-Id": user}))
        d = create_dependency(c, a["id"], b["id"], user=user)
        t1 = start_timer(c, a["id"], user=user)
        t2 = start_timer(c, b["id"], user=user)  # auto-stops t1
        te_url = f"/api/v1/time-entries/{t2['id']}"
        ok(c.put(te_url, json={}, headers={"X-User-Id": user}))  # no-op: no row
        ok(c.put(te_url, json={"description": "now described"}, headers={"X-User-Id": user}))
        s = create_sprint(c, p["id"], user=user)
        # sync import writes no activity rows; a new project's creator becomes admin
        from .test_sync import fresh_dataset

        data = fresh_dataset()
        res = ok(c.post("/api/v1/sync/import", json=data))
        assert res["projects"]["created"] == 1
    srv.stop()
    db = srv.db_path
    log = db_query(
        db,
        "SELECT entity_type, entity_id, action, user_id, field_name, old_value, "
        "new_value, comment FROM pm_activity_log",
    )
    expected = [
        ("project", p["id"], "created", user),
        ("project", p["id"], "updated", user),
        ("work_item", a["id"], "created", user),
        ("work_item", b["id"], "created", LLM_USER),
        ("work_item", a["id"], "updated", user),
        ("comment", cm["id"], "created", user),
        ("comment", cm["id"], "deleted", user),
        ("dependency", d["id"], "created", user),
        ("time_entry", t1["id"], "created", user),
        ("time_entry", t1["id"], "updated", user),
        ("time_entry", t2["id"], "created", user),
        ("time_entry", t2["id"], "updated", user),
        ("sprint", s["id"], "created", user),
    ]
    assert sorted(r[:4] for r in log) == sorted(expected)
    for r in log:
        assert r[4:7] == (None, None, None), r
    imported = data["projects"][0]
    members = db_query(db, "SELECT project_id, user_id, role FROM pm_project_members")
    assert sorted(members) == sorted(
        [(p["id"], user, "admin"), (imported["id"], imported["created_by"], "admin")]
    )
    users = dict((r[0], r[1]) for r in db_query(db, "SELECT id, email FROM users"))
    assert set(users) == {
        LLM_USER,
        user,
        imported["created_by"],
        data["time_entries"][0]["user_id"],
    }  # stub users from the import
    assert users[LLM_USER] == f"{LLM_USER}@system.local"
    assert users[user] == f"user-{user[:8]}@localhost"
    assert integrity(db) == "ok"
