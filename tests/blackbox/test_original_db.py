# mypy: disable-error-code="no-any-return"
"""Database compatibility with the original ``pm-server``, both ways (spec §2.1, §2.2,
Appendix A; docs/compat.md "Database").

The same non-trivial REST history (creates, updates, reparenting, soft deletes of every
kind) is written once by pm-fast and once by the original. Each database is then opened
by the other server, read back entity by entity over REST and compared with what the
writer itself answered; the reader then writes more and the writer reopens the file and
must read exactly what the reader answered. Both databases are also compared with each
other (schema, migration bookkeeping, activity rows, entities with ids aside).

SQLite only; skipped (with the reason printed) when the original binary is absent.
"""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from harness import ServerProcess, sqlite_only

from .helpers import (
    LLM_USER,
    PM_FAST_INDEXES,
    PM_FAST_TABLES,
    create_comment,
    create_dependency,
    create_item,
    create_project,
    create_sprint,
    now,
    ok,
    start_timer,
    uniq_key,
    update_item,
    user_headers,
)
from .original import TS_KEYS, OriginalServer, diff_paths, need_pm_server, normalize

pytestmark = sqlite_only("opens SQLite database files with the original pm-server")

USER = "5d9b7c1e-3a2f-4e8d-9c6b-1f2e3d4c5b6a"


# --------------------------------------------------------------------------- helpers
def add_user(db: Path) -> None:
    con = sqlite3.connect(str(db), timeout=10)
    try:
        con.execute(
            "INSERT OR IGNORE INTO users (id, email, name, created_at) VALUES (?, ?, ?, ?)",
            (USER, "writer@example.test", "Writer", now()),
        )
        con.commit()
    finally:
        con.close()


def add_swim_lanes(db: Path, project_id: str) -> None:
    """Nothing in either server creates lanes: put three in (one soft-deleted)."""
    con = sqlite3.connect(str(db), timeout=10)
    try:
        for n, (name, status, pos, default, deleted) in enumerate(
            [
                ("Review", "review", 3, 0, None),
                ("Backlog", "backlog", 1, 1, None),
                ("Old", "todo", 2, 0, 1700000500),
            ]
        ):
            con.execute(
                "INSERT INTO pm_swim_lanes (id, project_id, name, status_value, position, "
                "is_default, created_at, updated_at, deleted_at) VALUES (?,?,?,?,?,?,?,?,?)",
                (
                    f"5a5a5a5a-0000-4000-8000-{n:012d}",
                    project_id,
                    name,
                    status,
                    pos,
                    default,
                    1700000000 + n,
                    1700000100 + n,
                    deleted,
                ),
            )
        con.commit()
    finally:
        con.close()


def copy_database(src_root: Path, dst_root: Path) -> None:
    """Copy `.pm/data.db` (and WAL side files, if any) of a stopped server."""
    (dst_root / ".pm").mkdir(parents=True, exist_ok=True)
    for name in ("data.db", "data.db-wal", "data.db-shm"):
        p = src_root / ".pm" / name
        if p.exists():
            shutil.copyfile(p, dst_root / ".pm" / name)


def write_history(c: httpx.Client) -> dict[str, Any]:
    """A REST history touching every entity kind; returns the ids by logical name."""
    ids: dict[str, Any] = {"keys": {}}
    u = user_headers(USER)
    p1 = create_project(c, uniq_key("A"), "Alpha", "the main project")
    p2 = create_project(c, uniq_key("B"), "Beta", user=USER)
    p3 = create_project(c, uniq_key("C"), "Gamma")
    ids["keys"] = {"P1": p1["key"], "P2": p2["key"], "P3": p3["key"]}
    ids.update(P1=p1["id"], P2=p2["id"], P3=p3["id"])
    pid = p1["id"]
    e = create_item(c, pid, "epic", "Epic", description="big", priority="high")
    s1 = create_item(c, pid, "story", "Story 1", e["id"])
    s2 = create_item(c, pid, "story", "Story 2", e["id"], user=USER)
    t11 = create_item(c, pid, "task", "Task 11", s1["id"])
    t12 = create_item(c, pid, "task", "Task 12", s1["id"], status="todo")
    t21 = create_item(c, pid, "task", "Task 21", s2["id"])
    t22 = create_item(c, pid, "task", "Task 22", s2["id"])
    o = create_item(c, pid, "task", "Orphan")
    q = create_item(c, p2["id"], "story", "Beta story")
    for n, w in (
        ("E", e),
        ("S1", s1),
        ("S2", s2),
        ("T11", t11),
        ("T12", t12),
        ("T21", t21),
        ("T22", t22),
        ("O", o),
        ("Q", q),
    ):
        ids[n] = w["id"]
    t0 = now()
    sp1 = create_sprint(c, pid, "Sprint 1", t0 - 86400, t0 + 13 * 86400, goal="first")
    sp2 = create_sprint(c, pid, "Sprint 2", t0 + 14 * 86400, t0 + 28 * 86400)
    sp3 = create_sprint(c, pid, "Sprint 3", t0 + 28 * 86400, t0 + 42 * 86400, user=USER)
    ids.update(SP1=sp1["id"], SP2=sp2["id"], SP3=sp3["id"])
    # updates
    ok(c.put(f"/api/v1/sprints/{sp1['id']}", json={"status": "active", "expected_version": 1}))
    ok(
        c.put(
            f"/api/v1/sprints/{sp3['id']}",
            json={"name": "Sprint three", "goal": "later", "expected_version": 1},
            headers=u,
        )
    )
    ok(
        update_item(
            c,
            t11["id"],
            1,
            title="Task 11 (renamed)",
            status="in_progress",
            priority="critical",
            story_points=8,
            sprint_id=sp1["id"],
            assignee_id=LLM_USER,
            description="now with text",
        )
    )
    ok(update_item(c, t11["id"], 2, user=USER, status="review"))
    ok(update_item(c, t12["id"], 1, status="done", sprint_id=sp2["id"]))
    ok(update_item(c, t22["id"], 1, parent_id=s1["id"], update_parent=True))
    ok(update_item(c, o["id"], 1, position=5, story_points=0))
    ok(update_item(c, s2["id"], 1, sprint_id=sp1["id"], user=USER))
    ok(update_item(c, s2["id"], 2, sprint_id=""))
    ok(
        c.put(
            f"/api/v1/projects/{p2['id']}",
            json={"status": "archived", "description": "old", "expected_version": 1},
        )
    )
    ok(c.put(f"/api/v1/projects/{pid}", json={"title": "Alpha!", "expected_version": 1}))
    # comments
    c1 = create_comment(c, t11["id"], "first")
    c2 = create_comment(c, t11["id"], "second", user=USER)
    c3 = create_comment(c, t21["id"], "on a task that goes away")
    c4 = create_comment(c, e["id"], "epic note")
    ok(c.put(f"/api/v1/comments/{c1['id']}", json={"content": "first, edited"}))
    ok(c.delete(f"/api/v1/comments/{c4['id']}"))
    ids.update(C1=c1["id"], C2=c2["id"], C3=c3["id"], C4=c4["id"])
    # dependencies
    d1 = create_dependency(c, t11["id"], o["id"])
    d2 = create_dependency(c, s1["id"], s2["id"], "relates_to", user=USER)
    d3 = create_dependency(c, e["id"], t21["id"])
    d4 = create_dependency(c, t21["id"], o["id"])
    ok(c.delete(f"/api/v1/dependencies/{d3['id']}"))
    ids.update(D1=d1["id"], D2=d2["id"], D3=d3["id"], D4=d4["id"])
    # time entries
    te1 = start_timer(c, t11["id"], "pairing")
    ok(c.put(f"/api/v1/time-entries/{te1['id']}", json={"stop": True}))
    ok(c.put(f"/api/v1/time-entries/{te1['id']}", json={"description": "pairing, done"}))
    te2 = start_timer(c, t11["id"])
    te3 = start_timer(c, o["id"], "mine", user=USER)
    ok(c.put(f"/api/v1/time-entries/{te3['id']}", json={"stop": True}, headers=u))
    te4 = start_timer(c, t21["id"], "to delete", user=USER)
    ok(c.put(f"/api/v1/time-entries/{te4['id']}", json={"stop": True}, headers=u))
    ok(c.delete(f"/api/v1/time-entries/{te4['id']}", headers=u))
    ids.update(TE1=te1["id"], TE2=te2["id"], TE3=te3["id"], TE4=te4["id"])
    # deletes
    ok(c.delete(f"/api/v1/work-items/{t21['id']}"))  # its comment, link, timer stay
    ok(c.delete(f"/api/v1/sprints/{sp2['id']}"))  # T12 still names it
    ok(c.delete(f"/api/v1/projects/{p3['key']}"))
    return ids


def read_all(c: httpx.Client, ids: dict[str, Any]) -> dict[str, Any]:
    """Every entity of the history, read back over REST: label -> (status, body).

    Error bodies are reduced to their code (error texts are compared elsewhere)."""
    out: dict[str, Any] = {}

    def get(label: str, path: str, **params: Any) -> None:
        r = c.get(path, params=params)
        body = r.json()
        if r.status_code != 200:
            body = body["error"]["code"]
        out[label] = (r.status_code, body)

    get("projects", "/api/v1/projects")
    for n in ("P1", "P2", "P3"):
        get(f"project {n}", f"/api/v1/projects/{ids[n]}")
        get(f"project {n} by key", f"/api/v1/projects/{ids['keys'][n]}")
    for n in ("P1", "P2"):
        get(f"sprints of {n}", f"/api/v1/projects/{ids[n]}/sprints")
        get(f"items of {n}", f"/api/v1/projects/{ids[n]}/work-items", include_done="true")
        get(f"open items of {n}", f"/api/v1/projects/{ids[n]}/work-items")
        get(f"swim lanes of {n}", f"/api/v1/projects/{ids[n]}/swim-lanes")
    p1 = ids["P1"]
    get(
        "descendants of E",
        f"/api/v1/projects/{p1}/work-items",
        descendants_of=ids["E"],
        include_done="true",
    )
    get("ancestors of T22", f"/api/v1/projects/{p1}/work-items", ancestors_of=ids["T22"])
    get(
        "children of S1",
        f"/api/v1/projects/{p1}/work-items",
        parent_id=ids["S1"],
        include_done="true",
    )
    get("orphans", f"/api/v1/projects/{p1}/work-items", orphaned="true")
    get("sprint 1 items", f"/api/v1/projects/{p1}/work-items", sprint_id=ids["SP1"])
    new = [k for k in ids if k.startswith("NEW")]
    for n in ["E", "S1", "S2", "T11", "T12", "T21", "T22", "O", "Q", *new]:
        get(f"item {n}", f"/api/v1/work-items/{ids[n]}")
        get(f"comments of {n}", f"/api/v1/work-items/{ids[n]}/comments")
        get(f"time entries of {n}", f"/api/v1/work-items/{ids[n]}/time-entries")
        get(f"dependencies of {n}", f"/api/v1/work-items/{ids[n]}/dependencies")
    for n in [k for k in ids if k.startswith("SP")]:
        get(f"sprint {n}", f"/api/v1/sprints/{ids[n]}")
    for n in [k for k in ids if k.startswith("TE")]:
        get(f"time entry {n}", f"/api/v1/time-entries/{ids[n]}")
    return out


def assert_same_reads(expected: dict[str, Any], got: dict[str, Any], who: str) -> None:
    assert list(expected) == list(got)
    diffs = [
        f"{label}:\n    writer: {json.dumps(expected[label])[:1500]}\n"
        f"    {who}: {json.dumps(got[label])[:1500]}"
        for label in expected
        if expected[label] != got[label]
    ]
    assert not diffs, f"{who} reads the database differently:\n" + "\n".join(diffs)


def write_more(c: httpx.Client, ids: dict[str, Any]) -> None:
    """The reader continues the history on the writer's database."""
    pid = ids["P1"]
    n1 = create_item(c, pid, "task", "Added by the reader", ids["S1"])
    n2 = create_item(c, pid, "story", "Reader story", ids["E"], user=USER)
    ids.update(NEW1=n1["id"], NEW2=n2["id"])
    t11 = ok(c.get(f"/api/v1/work-items/{ids['T11']}"))["work_item"]
    ok(update_item(c, ids["T11"], t11["version"], status="done", story_points=13))
    ok(update_item(c, n1["id"], 1, parent_id=n2["id"], update_parent=True))
    create_comment(c, n1["id"], "reader comment")
    ok(
        c.put(
            f"/api/v1/comments/{ids['C2']}",
            json={"content": "second, edited by its author"},
            headers=user_headers(USER),
        )
    )
    ok(c.delete(f"/api/v1/comments/{ids['C1']}"))
    ok(c.delete(f"/api/v1/dependencies/{ids['D1']}"))
    create_dependency(c, n1["id"], ids["O"])
    ok(c.put(f"/api/v1/time-entries/{ids['TE2']}", json={"stop": True}))
    sp = create_sprint(c, pid, "Reader sprint", now() + 50 * 86400, now() + 60 * 86400)
    ids["SP4"] = sp["id"]
    ok(c.put(f"/api/v1/sprints/{ids['SP1']}", json={"status": "completed", "expected_version": 2}))
    ok(c.delete(f"/api/v1/work-items/{ids['T12']}"))
    p1 = ok(c.get(f"/api/v1/projects/{pid}"))["project"]
    ok(
        c.put(
            f"/api/v1/projects/{pid}",
            json={"description": "changed by the reader", "expected_version": p1["version"]},
        )
    )


# --------------------------------------------------------------------------- fixtures
class Written:
    def __init__(self, root: Path, ids: dict[str, Any], reads: dict[str, Any]) -> None:
        self.root = root
        self.ids = ids
        self.reads = reads

    @property
    def db(self) -> Path:
        return self.root / ".pm" / "data.db"


def _write_with(srv: ServerProcess) -> Written:
    try:
        srv.start()
        add_user(srv.root / ".pm" / "data.db")
        with srv.client() as c:
            ids = write_history(c)
            add_swim_lanes(srv.root / ".pm" / "data.db", ids["P1"])
            reads = read_all(c, ids)
        srv.stop()
    finally:
        srv.close(remove=False)
    return Written(srv.root, ids, reads)


@pytest.fixture(scope="module")
def by_fast(tmp_path_factory: pytest.TempPathFactory) -> Written:
    need_pm_server()
    return _write_with(ServerProcess(tmp_path_factory.mktemp("db-by-fast")))


@pytest.fixture(scope="module")
def by_orig(tmp_path_factory: pytest.TempPathFactory) -> Written:
    return _write_with(OriginalServer(tmp_path_factory.mktemp("db-by-orig")))


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[list[ServerProcess]]:
    made: list[ServerProcess] = []
    yield made
    for srv in made:
        srv.close(remove=False)


def reopen(made: list[ServerProcess], srv: ServerProcess) -> httpx.Client:
    made.append(srv)
    srv.start()
    return srv.client()


# --------------------------------------------------------------------------- tests
def test_original_opens_pm_fast_database(
    by_fast: Written, tmp_path: Path, servers: list[ServerProcess]
) -> None:
    """pm-fast's database → the original reads every entity as pm-fast did; the original
    writes more → pm-fast reopens it and reads what the original answered."""
    root = tmp_path / "repo"
    copy_database(by_fast.root, root)
    ids = json.loads(json.dumps(by_fast.ids))
    migrations = _rows(root / ".pm" / "data.db", MIGRATIONS)
    orig = OriginalServer(root)
    with reopen(servers, orig) as c:
        assert_same_reads(by_fast.reads, read_all(c, ids), "the original")
        write_more(c, ids)
        after = read_all(c, ids)
    orig.stop()
    assert _rows(root / ".pm" / "data.db", MIGRATIONS) == migrations, "the original migrated"
    with reopen(servers, ServerProcess(root)) as c:
        assert_same_reads(after, read_all(c, ids), "pm-fast")


def test_pm_fast_opens_original_database(
    by_orig: Written, tmp_path: Path, servers: list[ServerProcess]
) -> None:
    """The original's database → pm-fast reads every entity as the original did; pm-fast
    writes more → the original reopens it and reads what pm-fast answered."""
    root = tmp_path / "repo"
    copy_database(by_orig.root, root)
    ids = json.loads(json.dumps(by_orig.ids))
    migrations = _rows(root / ".pm" / "data.db", MIGRATIONS)
    fast = ServerProcess(root)
    with reopen(servers, fast) as c:
        assert_same_reads(by_orig.reads, read_all(c, ids), "pm-fast")
        write_more(c, ids)
        after = read_all(c, ids)
    fast.stop()
    assert _rows(root / ".pm" / "data.db", MIGRATIONS) == migrations, "pm-fast migrated"
    with reopen(servers, OriginalServer(root)) as c:
        assert_same_reads(after, read_all(c, ids), "the original")


MIGRATIONS = "SELECT version, description, success, checksum FROM _sqlx_migrations ORDER BY 1"


def _rows(db: Path, sql: str) -> list[tuple[Any, ...]]:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_schema_and_migrations_match_original(by_fast: Written, by_orig: Written) -> None:
    """Appendix A / compat.md: same tables, indexes and `_sqlx_migrations` rows."""
    q = "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"

    def schema(db: Path) -> list[tuple[Any, ...]]:
        # the stored CREATE text, whitespace and SQL comments aside (they differ in places)
        rows = [
            (t, n, tb, " ".join(re.sub(r"--[^\n]*", "", sql or "").split()))
            for t, n, tb, sql in _rows(db, q)
        ]
        return sorted(rows)

    fast_s, orig_s = schema(by_fast.db), schema(by_orig.db)
    # pm-fast's event log (docs/events.md) is its own; the original ignores it
    own = {r[1] for r in fast_s if r[1] in PM_FAST_TABLES | PM_FAST_INDEXES}
    assert own == PM_FAST_TABLES | PM_FAST_INDEXES
    fast_s = [r for r in fast_s if r[1] not in own]
    assert [r for r in fast_s if r not in orig_s] == [], "only in pm-fast's database"
    assert [r for r in orig_s if r not in fast_s] == [], "only in the original's database"
    fast_m, orig_m = _rows(by_fast.db, MIGRATIONS), _rows(by_orig.db, MIGRATIONS)
    assert len(orig_m) == 18
    assert fast_m == orig_m


def test_same_history_same_entities(by_fast: Written, by_orig: Written) -> None:
    """The same REST history gives the same entities on both servers (ids, timestamps
    and project keys aside)."""

    def norm(w: Written, ids: dict[str, str]) -> Any:
        names = {v: k for k, v in w.ids.items() if isinstance(v, str)}
        text = json.dumps(w.reads)
        for key_name, key in w.ids["keys"].items():
            text = text.replace(key, f"<key {key_name}>")
        for uid, name in names.items():
            text = text.replace(uid, f"<{name}>")
        keep = frozenset({LLM_USER, USER})
        return normalize(json.loads(text), ids, keep, TS_KEYS | {"start_date", "end_date"})

    f, o = norm(by_fast, {}), norm(by_orig, {})
    diffs = [d for label in f for d in diff_paths(f[label], o[label], label)]
    assert not diffs, "pm-fast vs original:\n" + "\n".join(diffs[:40])


def test_rest_activity_rows_match_original(by_fast: Written, by_orig: Written) -> None:
    """§2.9: one activity row per REST mutation; field_name/old/new/comment are NULL."""
    q = (
        "SELECT entity_type, action, field_name, old_value, new_value, comment, user_id "
        "FROM pm_activity_log"
    )
    fast_rows = sorted(_rows(by_fast.db, q), key=repr)
    orig_rows = sorted(_rows(by_orig.db, q), key=repr)
    assert fast_rows == orig_rows
