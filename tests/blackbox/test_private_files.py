"""The files pm-fast keeps for the user are readable by the owner only (docs/compat.md).

Under the usual umask 022 the original leaves `data.db`, its -wal and -shm, and
`server.json` at 0644 and `.pm` at 0755: every other account on the machine could read
all of the user's projects. pm-fast creates them 0600 (the directory 0700) on both
stores; a `.pm` the user made, or a database mode the user chose, is left alone.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from harness import ON_POSTGRES, ServerProcess

POSIX_ONLY = pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
pytestmark = POSIX_ONLY


@pytest.fixture(autouse=True)
def usual_umask() -> Iterator[None]:
    old = os.umask(0o022)  # inherited by the server process
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _write_something(srv: ServerProcess) -> None:
    with srv.client() as c:
        r = c.post("/api/v1/projects", json={"key": "PRV", "title": "private"})
        assert r.status_code in (200, 201), r.text


def test_files_pm_fast_creates_are_owner_only(tmp_path: Path) -> None:
    srv = ServerProcess(tmp_path, env={"PM_LOG_FILE": "server.log"})
    try:
        srv.start()
        _write_something(srv)
        pm = tmp_path / ".pm"
        assert mode(pm) == 0o700
        assert mode(pm / "server.json") == 0o600
        logs = list(pm.rglob("server.log"))
        assert logs, sorted(p.name for p in pm.rglob("*"))
        assert mode(logs[0]) == 0o600
        assert mode(logs[0].parent) == 0o700
        if not ON_POSTGRES:
            for name in ("data.db", "data.db-wal", "data.db-shm"):
                assert (pm / name).exists(), name  # WAL files exist while the server runs
                assert mode(pm / name) == 0o600, name
        # nothing else in <pm> is readable by others either
        for path in pm.rglob("*"):
            assert not mode(path) & 0o077, (path, oct(mode(path)))
    finally:
        srv.close()


def test_a_pm_directory_the_user_made_keeps_its_mode(tmp_path: Path) -> None:
    pm = tmp_path / ".pm"
    pm.mkdir(mode=0o755)
    srv = ServerProcess(tmp_path)
    try:
        srv.start()
        assert mode(pm) == 0o755
        assert mode(pm / "server.json") == 0o600
    finally:
        srv.close()


@pytest.mark.skipif(ON_POSTGRES, reason="the SQLite database file")
def test_a_database_left_at_the_default_mode_is_tightened(tmp_path: Path) -> None:
    # what the original and earlier versions left behind under umask 022
    first = ServerProcess(tmp_path)
    try:
        first.start()
        _write_something(first)
    finally:
        first.close(remove=False)
    db = tmp_path / ".pm" / "data.db"
    os.chmod(db, 0o644)
    srv = ServerProcess(tmp_path)
    try:
        srv.start()
        with srv.client() as c:
            assert [p["key"] for p in c.get("/api/v1/projects").json()["projects"]] == ["PRV"]
        assert mode(db) == 0o600
        assert mode(Path(f"{db}-wal")) == 0o600
    finally:
        srv.close()


@pytest.mark.skipif(ON_POSTGRES, reason="the SQLite database file")
def test_a_database_mode_the_user_chose_is_kept(tmp_path: Path) -> None:
    first = ServerProcess(tmp_path)
    try:
        first.start()
    finally:
        first.close(remove=False)
    db = tmp_path / ".pm" / "data.db"
    os.chmod(db, 0o640)  # shared with a group on purpose
    srv = ServerProcess(tmp_path)
    try:
        srv.start()
        assert mode(db) == 0o640
        assert "other users of this machine may read it" in srv.logs()
    finally:
        srv.close()
