# mypy: disable-error-code="no-any-return"
"""`pm-fast migrate` between SQLite and PostgreSQL, both ways (docs/migrate.md).

Each test runs `python -m pm_fast migrate` as a real child process and checks the
result row by row (every table of the original's schema, with SQLite's rowid where
PostgreSQL keeps it as `seq`) and over REST through real servers on the migrated
databases. Needs PostgreSQL (PM_FAST_PG_URL, from build/pg.sh); skipped without it.
The same whatever PM_FAST_TEST_STORE says: the servers here pick their store
explicitly.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from harness import (
    REPO_ROOT,
    ServerProcess,
    create_pg_database,
    drop_pg_database,
    fixture_path,
    pg_fetch,
)

from .conftest import EMPTY_FIXTURE, FULL_FIXTURE
from .helpers import LLM_USER, ok
from .original import OriginalServer, find_binary

pytestmark = pytest.mark.skipif(
    not os.environ.get("PM_FAST_PG_URL"),
    reason='pm-fast migrate needs PostgreSQL: set PM_FAST_PG_URL (eval "$(build/pg.sh)")',
)

# The original's tables that hold data (not _sqlx_migrations), and pm-fast's sequence.
DATA_TABLES = (
    "users",
    "pm_activity_log",
    "pm_llm_context",
    "pm_idempotency_keys",
    "pm_projects",
    "pm_sprints",
    "pm_swim_lanes",
    "pm_project_members",
    "pm_work_items",
    "pm_comments",
    "pm_time_entries",
    "pm_dependencies",
)
SEQ_TABLES = ("pm_sprints", "pm_comments", "pm_time_entries", "pm_dependencies", "pm_activity_log")
MIGRATE_TIMEOUT = 120.0
BIG = 2**62 + 12345  # a large integer that must survive both ways


# ------------------------------------------------------------------------- helpers
@dataclass
class Run:
    code: int
    out: str
    seconds: float
    max_rss_kb: int


def _env() -> dict[str, str]:
    env = dict(os.environ)
    pp = env.get("PYTHONPATH")
    env["PYTHONPATH"] = str(REPO_ROOT) + (os.pathsep + pp if pp else "")
    return env


TIME = Path("/usr/bin/time")


def migrate(*args: str, timeout: float = MIGRATE_TIMEOUT) -> Run:
    """Run `pm-fast migrate ARGS` to the end: exit code, stderr+stdout, wall time and
    peak RSS (of the migrate process by /usr/bin/time if there is one; else wait4's,
    which also counts the test process's pages the child had before exec)."""
    started = time.monotonic()
    command = [sys.executable, "-m", "pm_fast", "migrate", *args]
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as rss:
        if TIME.exists():
            command = [str(TIME), "-q", "-f", "%M", "-o", rss.name, *command]
        run = _migrate(command, started, timeout)
        measured = rss.read().strip().splitlines()
        if measured and measured[-1].isdigit():
            run.max_rss_kb = int(measured[-1])
    return run


def _spawn(command: list[str]) -> subprocess.Popen[bytes]:
    """The command in a session of its own, output (stdout and stderr) on a pipe."""
    return subprocess.Popen(
        command,
        env=_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _migrate(command: list[str], started: float, timeout: float) -> Run:
    proc = _spawn(command)
    assert proc.stdout is not None
    with proc.stdout:
        out = proc.stdout.read()  # ends when the child exits
    deadline = started + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline:
            os.kill(proc.pid, signal.SIGKILL)
            pytest.fail(f"{command} did not finish in {timeout} s")
        time.sleep(0.02)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return Run(
        proc.returncode,
        out.decode("utf-8", "replace"),
        time.monotonic() - started,
        int(usage.ru_maxrss),
    )


def sqlite_rows(path: Path, table: str) -> list[tuple[Any, ...]]:
    """Every row of a table, with the rowid where it is the order of the rows."""
    con = sqlite3.connect(str(path))
    try:
        head = "rowid, " if table in SEQ_TABLES else ""
        rows = con.execute(f"SELECT {head}* FROM {table}").fetchall()
    finally:
        con.close()
    return sorted(rows, key=repr)


def sqlite_tables(path: Path) -> set[str]:
    con = sqlite3.connect(str(path))
    try:
        return {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    finally:
        con.close()


def migrations(path: Path) -> list[tuple[Any, ...]]:
    con = sqlite3.connect(str(path))
    try:
        return con.execute(
            "SELECT version, description, success, checksum FROM _sqlx_migrations ORDER BY 1"
        ).fetchall()
    finally:
        con.close()


def assert_same_rows(a: Path, b: Path, tables: tuple[str, ...] = DATA_TABLES) -> None:
    for table in tables:
        left, right = sqlite_rows(a, table), sqlite_rows(b, table)
        assert len(left) == len(right), f"{table}: {len(left)} rows vs {len(right)}"
        assert left == right, f"{table}: rows differ"


def pg_count(url: str, table: str) -> int:
    return int(pg_fetch(url, f"SELECT count(*) FROM {table}")[0][0])


def pg_tables(url: str) -> set[str]:
    rows = pg_fetch(
        url,
        "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()",
    )
    return {str(r[0]) for r in rows}


@pytest.fixture
def pg_urls() -> Iterator[list[str]]:
    """`pg_urls.append(...)`-style: fresh databases made by `new_db`, all dropped after."""
    names: list[str] = []
    yield names
    for name in names:
        drop_pg_database(name)


def new_db(names: list[str]) -> str:
    name, url = create_pg_database()
    names.append(name)
    return url


def sqlite_server(root: Path, db: Path) -> ServerProcess:
    """pm-fast on a copy of `db` (SQLite whatever PM_FAST_TEST_STORE says)."""
    (root / ".pm").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(db, root / ".pm" / "data.db")
    return ServerProcess(root, env={"PM_DATABASE_URL": None})


def read_back(srv: ServerProcess) -> dict[str, Any]:
    """What a client sees: the projects and every project's work items."""
    with srv, srv.client() as c:
        projects = ok(c.get("/api/v1/projects"))["projects"]
        items = {
            p["id"]: ok(c.get(f"/api/v1/projects/{p['id']}/work-items"))["work_items"]
            for p in projects
        }
    return {"projects": projects, "items": items}


# --------------------------------------------------------------------- fixtures both ways
@pytest.mark.parametrize("fixture", [FULL_FIXTURE, EMPTY_FIXTURE])
def test_fixture_round_trip(fixture: str, tmp_path: Path, pg_urls: list[str]) -> None:
    """The original's database → PostgreSQL → a new SQLite file: every row of every
    table comes back the same (rowids of the rowid-ordered tables included), servers on
    all three answer the same, and the file still opens in the original."""
    src = tmp_path / "src.db"
    shutil.copyfile(fixture_path(fixture), src)
    url = new_db(pg_urls)
    there = migrate("--from", str(src), "--to", url)
    assert there.code == 0, there.out
    assert "pm_work_items: verified" in there.out
    assert "pm_fast_migration" not in pg_tables(url), "the resume marker stays behind"
    back = tmp_path / "back.db"
    home = migrate("--from", url, "--to", str(back))
    assert home.code == 0, home.out
    assert_same_rows(src, back)
    assert migrations(back) == migrations(src)
    assert "pm_fast_migration" not in sqlite_tables(back)

    # what clients see, from the original file, from PostgreSQL and from the copy back
    before = read_back(sqlite_server(tmp_path / "r1", src))
    on_pg = read_back(ServerProcess(tmp_path / "r2", env={"PM_DATABASE_URL": url}))
    after = read_back(sqlite_server(tmp_path / "r3", back))
    assert on_pg == before
    assert after == before
    if fixture == FULL_FIXTURE:
        assert len(before["projects"]) == 2

    if find_binary("pm-server") is not None:  # the original opens what came back
        root = tmp_path / "r4"
        (root / ".pm").mkdir(parents=True)
        shutil.copyfile(back, root / ".pm" / "data.db")
        with OriginalServer(root) as orig, orig.client() as c:
            projects = ok(c.get("/api/v1/projects"))["projects"]
        assert sorted(p["id"] for p in projects) == sorted(p["id"] for p in before["projects"])
        assert migrations(root / ".pm" / "data.db") == migrations(src)


def test_values_survive_both_ways(tmp_path: Path, pg_urls: list[str]) -> None:
    """NULLs, unicode (astral characters, combining marks, newlines), large integers,
    booleans, quotes: SQLite → PostgreSQL → SQLite, row for row."""
    src = tmp_path / "src.db"
    shutil.copyfile(fixture_path(FULL_FIXTURE), src)
    con = sqlite3.connect(str(src))
    with con:
        pid = con.execute("SELECT id FROM pm_projects LIMIT 1").fetchone()[0]
        con.executemany(
            "INSERT INTO pm_swim_lanes VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (str(uuid.uuid4()), pid, "Fertig ✓ 🚀", "done", 3, 1, 1, BIG, None),
                (str(uuid.uuid4()), pid, "e\u0301 'q' \"d\"\n\ttab", "todo", -5, 0, 0, 0, BIG),
            ],
        )
        con.execute(
            "UPDATE pm_work_items SET description = ?, story_points = ?, deleted_at = ?"
            " WHERE rowid = (SELECT min(rowid) FROM pm_work_items)",
            ("𝔘𝔫𝔦𝔠𝔬𝔡𝔢 — ünïcödé\r\n中文", BIG, -BIG),
        )
        con.execute(
            "INSERT INTO pm_idempotency_keys VALUES (?, ?, ?, ?)",
            ("msg-ü-1", "create_work_item", '{"a": "✓", "n": null}', BIG),
        )
    url = new_db(pg_urls)
    assert migrate("--from", str(src), "--to", url).code == 0
    row = pg_fetch(url, "SELECT is_default, updated_at FROM pm_swim_lanes WHERE position = 3")
    assert row == [(True, BIG)]
    back = tmp_path / "back.db"
    assert migrate("--from", url, "--to", str(back)).code == 0
    assert_same_rows(src, back)


# ------------------------------------------------------------------ a target with data
def test_refuses_a_target_that_holds_data(tmp_path: Path, pg_urls: list[str]) -> None:
    src = tmp_path / "src.db"
    shutil.copyfile(fixture_path(FULL_FIXTURE), src)
    url = new_db(pg_urls)
    assert migrate("--from", str(src), "--to", url).code == 0
    items = pg_fetch(url, "SELECT id, version, updated_at FROM pm_work_items ORDER BY id")

    # PostgreSQL target with data: refused, untouched
    other = tmp_path / "other.db"
    shutil.copyfile(fixture_path(EMPTY_FIXTURE), other)
    refused = migrate("--from", str(other), "--to", url)
    assert refused.code != 0
    assert "already holds data" in refused.out and "--replace" in refused.out
    assert pg_fetch(url, "SELECT id, version, updated_at FROM pm_work_items ORDER BY id") == items

    # SQLite target with data: refused, the file not changed by a byte
    target = tmp_path / "target.db"
    shutil.copyfile(fixture_path(FULL_FIXTURE), target)
    before = target.read_bytes()
    refused = migrate("--from", url, "--to", str(target))
    assert refused.code != 0 and "already holds data" in refused.out
    assert target.read_bytes() == before
    assert not Path(f"{target}-wal").exists() or Path(f"{target}-wal").stat().st_size == 0

    # --replace: the target's data goes, the source's comes
    replaced = migrate("--from", str(other), "--to", url, "--replace")
    assert replaced.code == 0, replaced.out
    assert pg_count(url, "pm_work_items") == 0
    assert pg_count(url, "pm_llm_context") == 28

    # usage errors
    assert migrate("--from", str(src)).code == 2
    assert migrate("--from", str(src), "--to", str(target)).code == 2


# ----------------------------------------------------------------- 100,000 work items
def make_big(db: Path, items: int = 100_000) -> None:
    """`db` (a schema pm-fast created) filled by direct inserts: 20 projects,
    `items` work items in epic → story → task trees (random ids, so children often sort
    before their parents), a fifth as many activity rows, comments, time entries, links,
    lanes, members, idempotency keys and event-log numbers."""
    rnd = random.Random(16)
    now = 1_760_000_000
    con = sqlite3.connect(str(db), isolation_level=None)
    con.execute("BEGIN")
    users = [str(uuid.UUID(int=rnd.getrandbits(128), version=4)) for _ in range(50)]
    con.executemany(
        "INSERT INTO users VALUES (?, ?, ?, ?)",
        [
            (u, f"u{i}@example.test", f"Üser {i} ✓" if i % 3 else None, now + i)
            for i, u in enumerate(users)
        ],
    )
    projects = [str(uuid.UUID(int=rnd.getrandbits(128), version=4)) for _ in range(20)]
    per = items // len(projects)
    con.executemany(
        "INSERT INTO pm_projects VALUES (?, ?, ?, ?, 'active', ?, ?, ?, ?, ?, NULL, ?)",
        [
            (
                p,
                f"Projekt {i} — 🚀",
                None if i % 2 else "desc\nline",
                f"P{i}",
                i + 1,
                now,
                now,
                LLM_USER,
                users[i],
                per + 1,
            )
            for i, p in enumerate(projects)
        ],
    )
    sprints = []
    for i, p in enumerate(projects):
        for k in range(10):
            sid = str(uuid.UUID(int=rnd.getrandbits(128), version=4))
            sprints.append(
                (
                    sid,
                    p,
                    f"Sprint {k}",
                    None,
                    now,
                    now + 86400 * 14,
                    "planned",
                    None if k % 2 else 30,
                    1,
                    now,
                    now,
                    users[i],
                    users[i],
                    None,
                )
            )
    con.executemany("INSERT INTO pm_sprints VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)", sprints)
    con.executemany(
        "INSERT INTO pm_swim_lanes VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL)",
        [
            (str(uuid.uuid4()), p, s.title(), s, n, int(n == 0), now, now)
            for p in projects
            for n, s in enumerate(("backlog", "todo", "in_progress", "review", "done"))
        ],
    )
    con.executemany(
        "INSERT INTO pm_project_members VALUES (?, ?, ?, ?, ?)",
        [
            (str(uuid.uuid4()), p, u, ("viewer", "editor", "admin")[j % 3], now)
            for p in projects
            for j, u in enumerate(users[:5])
        ],
    )
    rows = []
    item_ids = []
    statuses = ("backlog", "todo", "in_progress", "review", "done")
    for i, p in enumerate(projects):
        epic = story = None
        for n in range(1, per + 1):
            wid = str(uuid.UUID(int=rnd.getrandbits(128), version=4))
            if n % 100 == 1:
                kind, parent, epic = "epic", None, wid
            elif n % 10 == 1:
                kind, parent, story = "story", epic, wid
            else:
                kind, parent = "task", story
            rows.append(
                (
                    wid,
                    kind,
                    parent,
                    p,
                    n,
                    f"Item {n} ✓ ünï",
                    None if n % 3 else "x" * (n % 50),
                    statuses[n % 5],
                    ("critical", "high", "medium", "low")[n % 4],
                    None if n % 4 else n % 13,
                    users[n % 50] if n % 2 else None,
                    sprints[i * 10 + n % 10][0] if n % 5 == 0 else None,
                    n,
                    1 + n % 7,
                    now + n,
                    now + n,
                    users[0],
                    users[1],
                    BIG if n % 997 == 0 else None,
                )
            )
            item_ids.append(wid)
    con.executemany(
        "INSERT INTO pm_work_items (id, item_type, parent_id, project_id, position, title,"
        " description, status, priority, story_points, assignee_id, sprint_id, item_number,"
        " version, created_at, updated_at, created_by, updated_by, deleted_at)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        rows,
    )
    del rows
    con.executemany(
        "INSERT INTO pm_activity_log VALUES (?, 'work_item', ?, 'created', ?, NULL, ?, ?, ?, NULL)",
        [
            (
                str(uuid.UUID(int=rnd.getrandbits(128), version=4)),
                w,
                None if i % 2 else "title",
                None if i % 2 else "new ✓",
                users[i % 50],
                now + i,
            )
            for i, w in enumerate(item_ids[: items // 5])
        ],
    )
    con.executemany(
        "INSERT INTO pm_comments VALUES (?, ?, ?, ?, ?, ?, ?, NULL)",
        [
            (
                str(uuid.uuid4()),
                item_ids[i * 7],
                f"comment {i} 💬\n'quoted'",
                now,
                now,
                users[i % 50],
                users[i % 50],
            )
            for i in range(items // 10)
        ],
    )
    con.executemany(
        "INSERT INTO pm_time_entries VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)",
        [
            (
                str(uuid.uuid4()),
                item_ids[i * 13],
                users[i % 50],
                now,
                None if i % 9 == 0 else now + 60,
                None if i % 9 == 0 else 60,
                None,
                now,
                now,
            )
            for i in range(items // 20)
        ],
    )
    con.executemany(
        "INSERT INTO pm_dependencies VALUES (?, ?, ?, ?, ?, ?, NULL)",
        [
            (
                str(uuid.uuid4()),
                item_ids[2 * i],
                item_ids[2 * i + 1],
                "blocks" if i % 2 else "relates_to",
                now,
                users[0],
            )
            for i in range(items // 50)
        ],
    )
    con.executemany(
        "INSERT INTO pm_idempotency_keys VALUES (?, 'create_work_item', ?, ?)",
        [(f"msg-{i}", '{"ok": true, "n": "ü"}', now) for i in range(1000)],
    )
    con.executemany(
        "INSERT INTO pm_fast_event_seq VALUES (?, ?)",
        [(p, 1000 + i) for i, p in enumerate(projects)],
    )
    con.execute("COMMIT")
    con.close()


@pytest.fixture(scope="module")
def big_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 100,000-item database on a schema pm-fast created (one start on the original's
    empty file adds pm-fast's tables), then filled by direct inserts."""
    root = tmp_path_factory.mktemp("big")
    srv = sqlite_server(root, fixture_path(EMPTY_FIXTURE))
    with srv:
        pass
    db = root / "big.db"
    shutil.copyfile(root / ".pm" / "data.db", db)
    make_big(db)
    return db


def test_100k_both_ways(big_db: Path, tmp_path: Path, pg_urls: list[str]) -> None:
    """SQLite → PostgreSQL → SQLite, measured: the copy back equals the source row for
    row, and PostgreSQL's identity sequences continue past the copied rows."""
    fresh = new_db(pg_urls)
    there = migrate("--from", str(big_db), "--to", fresh)
    assert there.code == 0, there.out
    back = tmp_path / "back.db"
    home = migrate("--from", fresh, "--to", str(back))
    assert home.code == 0, home.out
    assert_same_rows(big_db, back, (*DATA_TABLES, "pm_fast_event_seq"))
    next_seq = pg_fetch(fresh, "SELECT nextval(pg_get_serial_sequence('pm_activity_log', 'seq'))")
    assert next_seq[0][0] > pg_fetch(fresh, "SELECT max(seq) FROM pm_activity_log")[0][0]
    print(
        f"\nmigrate 100k SQLite -> PostgreSQL: {there.seconds:.1f} s, peak RSS"
        f" {there.max_rss_kb / 1024:.0f} MiB; PostgreSQL -> SQLite: {home.seconds:.1f} s,"
        f" peak RSS {home.max_rss_kb / 1024:.0f} MiB"
    )


def test_100k_interrupted_and_resumed(big_db: Path, pg_urls: list[str]) -> None:
    """SIGKILL while the work items are being copied; the same command again resumes
    (the tables done are kept, the one cut short starts over) and the result verifies."""
    url = new_db(pg_urls)
    proc = _spawn([sys.executable, "-m", "pm_fast", "migrate", "--from", str(big_db), "--to", url])
    assert proc.stdout is not None
    seen = []
    try:
        deadline = time.monotonic() + MIGRATE_TIMEOUT
        for raw in proc.stdout:  # progress lines: "pm_work_items: 20000/100000 rows"
            line = raw.decode()
            seen.append(line)
            if line.startswith("pm_work_items: ") and "/" in line:
                os.kill(proc.pid, signal.SIGKILL)
                break
            assert time.monotonic() < deadline, "no progress on pm_work_items"
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL, "".join(seen)
    assert pg_count(url, "pm_projects") == 20  # a table before: committed
    assert pg_count(url, "pm_work_items") == 0  # the one cut short: rolled back
    assert "pm_fast_migration" in pg_tables(url)

    resumed = migrate("--from", str(big_db), "--to", url)
    assert resumed.code == 0, resumed.out
    assert "resuming" in resumed.out
    assert "pm_projects: copied by the earlier run" in resumed.out
    assert "pm_work_items: verified 100000 rows" in resumed.out
    assert "pm_fast_migration" not in pg_tables(url)

    print(f"\nmigrate 100k SQLite -> PostgreSQL, resumed after SIGKILL: {resumed.seconds:.1f} s")
