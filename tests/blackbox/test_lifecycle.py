# mypy: disable-error-code="no-any-return"
"""§3.1 process contract: .pm discovery, port file, shutdown triggers, idle shutdown."""

from __future__ import annotations

import datetime as dt
import json
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from .conftest import ServerFactory
from .helpers import create_project, get_project, ok

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from harness import ServerProcess, free_port, pid_alive


def integrity(db: Path) -> str:
    import sqlite3

    con = sqlite3.connect(str(db))
    try:
        return con.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        con.close()


def wait_until(pred, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def test_port_file_contents(server_factory: ServerFactory) -> None:
    t0 = dt.datetime.now(dt.UTC)
    srv = server_factory()
    t1 = dt.datetime.now(dt.UTC)
    raw = srv.port_file.read_text(encoding="utf-8")
    info = json.loads(raw)
    assert list(info.keys()) == ["pid", "port", "host", "started_at", "version"]
    assert info["pid"] == srv.pid
    assert isinstance(info["port"], int) and 1024 <= info["port"] <= 65535
    assert info["host"] == "127.0.0.1"
    assert "\n" in raw.strip()  # pretty-printed
    started = dt.datetime.fromisoformat(info["started_at"].replace("Z", "+00:00"))
    assert started.utcoffset() == dt.timedelta(0)
    assert t0 - dt.timedelta(seconds=2) <= started <= t1 + dt.timedelta(seconds=2)
    with srv.client() as c:
        assert info["version"] == ok(c.get("/health"))["version"]
    # the advertised port is the one that serves
    with httpx.Client(trust_env=False) as c:
        assert c.get(f"http://127.0.0.1:{info['port']}/live").status_code == 200
    srv.stop()
    assert not srv.port_file.exists()
    assert integrity(srv.db_path) == "ok"


def test_plain_module_invocation_serves(server_factory: ServerFactory) -> None:
    srv = server_factory(args=())
    with srv.client() as c:
        assert ok(c.get("/health"))["status"] == "ok"
    srv.stop()


def test_fixed_port(server_factory: ServerFactory) -> None:
    port = free_port()
    srv = server_factory(port=port)
    assert srv.port == port
    assert json.loads(srv.port_file.read_text())["port"] == port
    srv.stop()


def test_pm_dir_is_git_toplevel(server_factory: ServerFactory, tmp_path: Path) -> None:
    root = tmp_path / "repo"
    sub = root / "deep" / "sub"
    sub.mkdir(parents=True)
    srv = server_factory(root=root, cwd=sub)
    assert (root / ".pm" / "server.json").exists()
    assert (root / ".pm" / "data.db").exists()
    assert not (sub / ".pm").exists()
    srv.stop()


def test_pm_dir_falls_back_to_home(server_factory: ServerFactory, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    work = tmp_path / "not-a-repo"
    work.mkdir()
    # HOME/.pm becomes the config dir when cwd is not in a git repository
    srv = ServerProcess(
        work, git=False, env={"HOME": str(home), "GIT_CEILING_DIRECTORIES": str(tmp_path)}
    )
    try:
        srv.spawn()
        port_file = home / ".pm" / "server.json"
        wait_until(lambda: port_file.exists() or not srv.is_alive(), 20, "~/.pm/server.json")
        assert srv.is_alive(), srv.logs()
        info = json.loads(port_file.read_text())
        assert info["pid"] == srv.pid
        assert (home / ".pm" / "data.db").exists()
        assert not (work / ".pm").exists()
        srv._port = info["port"]
        srv.wait_ready(time.monotonic() + 20)
        assert srv.stop() == 0
        assert not port_file.exists()
    finally:
        srv.close(remove=False)


def test_live_port_file_not_overwritten(server_factory: ServerFactory) -> None:
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        port = free_port()
        srv = server_factory(start=False, port=port)
        srv.prepare()
        srv.pm_dir.mkdir(parents=True, exist_ok=True)
        foreign = json.dumps(
            {
                "pid": sleeper.pid,
                "port": 1,
                "host": "127.0.0.1",
                "started_at": "2026-01-01T00:00:00Z",
                "version": "0.1.4",
            },
            indent=2,
        )
        srv.port_file.write_text(foreign)
        srv.start(expect_port_file=False)
        # the server serves anyway, and the other server's file is untouched
        with srv.client() as c:
            assert ok(c.get("/health"))["status"] == "ok"
            create_project(c)
        assert srv.port_file.read_text() == foreign
        assert srv.stop() == 0
    finally:
        sleeper.kill()
        sleeper.wait()


def test_stale_port_file_replaced(server_factory: ServerFactory) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    assert not pid_alive(dead.pid)
    srv = server_factory(start=False)
    srv.prepare()
    srv.pm_dir.mkdir(parents=True, exist_ok=True)
    srv.port_file.write_text(
        json.dumps(
            {
                "pid": dead.pid,
                "port": 1,
                "host": "127.0.0.1",
                "started_at": "2026-01-01T00:00:00Z",
                "version": "0.1.4",
            }
        )
    )
    srv.start()
    info = json.loads(srv.port_file.read_text())
    assert info["pid"] == srv.pid and info["port"] == srv.port
    srv.stop()
    assert not srv.port_file.exists()


def test_shutdown_endpoint(server_factory: ServerFactory) -> None:
    srv = server_factory()
    with srv.client() as c:
        p = create_project(c)
    r = srv.request_shutdown()
    assert r.status_code == 202
    assert r.content == b""
    assert srv.wait_exit(15) == 0
    assert not srv.port_file.exists()
    assert integrity(srv.db_path) == "ok"
    # data persisted across a restart
    srv.start()
    with srv.client() as c:
        assert get_project(c, p["key"])["id"] == p["id"]
    srv.stop()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_shutdown(server_factory: ServerFactory, sig: int) -> None:
    # compat.md: SIGTERM is graceful, exactly like SIGINT
    srv = server_factory()
    with srv.client() as c:
        p = create_project(c)
    assert srv.port_file.exists()
    srv.send_signal(sig)
    assert srv.wait_exit(15) == 0, srv.logs()
    assert not srv.port_file.exists()
    assert integrity(srv.db_path) == "ok"
    srv.start()
    with srv.client() as c:
        assert get_project(c, p["id"])["key"] == p["key"]
    srv.stop()


def test_bind_failure_exits_nonzero(server_factory: ServerFactory) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        srv = server_factory(start=False, port=port)
        srv.spawn()
        assert srv.wait_exit(20) != 0
    if srv.port_file.exists():
        assert json.loads(srv.port_file.read_text())["pid"] != srv.pid


def test_database_path_setting(server_factory: ServerFactory) -> None:
    srv = server_factory(env={"PM_DATABASE_PATH": "sub.db"})
    with srv.client() as c:
        create_project(c)
    srv.stop()
    assert (srv.pm_dir / "sub.db").exists()
    assert not srv.db_path.exists()
    assert integrity(srv.pm_dir / "sub.db") == "ok"


def test_log_file_setting(server_factory: ServerFactory) -> None:
    srv = server_factory(env={"PM_LOG_FILE": "server.log", "PM_LOG_LEVEL": "info"})
    with srv.client() as c:
        c.get("/health")
    srv.stop()
    log = srv.pm_dir / "log" / "server.log"
    assert log.exists(), srv.logs()
    lines = [ln for ln in log.read_text(encoding="utf-8").splitlines() if ln.strip()]
    assert lines
    assert re.match(r"^\[\S+ - (INFO|WARN|ERROR|DEBUG|TRACE)\] ", lines[0]), lines[0]
    assert "\x1b[" not in log.read_text(encoding="utf-8")


def test_idle_shutdown_counts_rest_activity(server_factory: ServerFactory) -> None:
    # With idle_shutdown_secs=2 the original would exit after ~22 s without WebSocket
    # clients. compat.md: REST requests count as activity too.
    # A list and a point read: the same point read again is answered without the
    # router (engines/front.py, `Replays`), and still counts.
    srv = server_factory(env={"PM_IDLE_SHUTDOWN_SECS": "2"})
    busy_until = time.monotonic() + 25
    with srv.client() as c:
        created = c.post("/api/v1/projects", json={"title": "Idle", "key": "IDLE"})
        point = f"/api/v1/projects/{created.json()['project']['id']}"
        while time.monotonic() < busy_until:
            assert srv.is_alive(), f"idle shutdown despite REST activity\n{srv.logs()}"
            path = "/api/v1/projects" if time.monotonic() < busy_until - 15 else point
            assert c.get(path).status_code == 200
            time.sleep(0.25)
    assert srv.is_alive()
    t_idle = time.monotonic()
    assert srv.wait_exit(45) == 0
    assert time.monotonic() - t_idle >= 1.5
    assert not srv.port_file.exists()
    assert integrity(srv.db_path) == "ok"


def test_port_file_removed_even_with_open_keepalive_connection(
    server_factory: ServerFactory,
) -> None:
    srv = server_factory()
    with srv.client() as c:
        assert c.get("/health").status_code == 200  # keep-alive connection stays open
        r = c.post("/admin/shutdown")
        assert r.status_code == 202
        assert srv.wait_exit(15) == 0
    assert not srv.port_file.exists()
