"""The desktop shell's view of the server process (spec/server.md §3.1, §3.3).

The shell polls `/ready` every 5 s for as long as it runs, and quits the server with
`POST /admin/checkpoint`, `POST /admin/shutdown`, then `GET /health` until it fails, and
a SIGKILL the moment it does. Command-line help is checked here too.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from .conftest import ServerFactory
from .helpers import create_project, ok

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from harness import REPO_ROOT, ServerProcess, sqlite_only

IDLE_EXIT_TIMEOUT = 60.0  # idle_shutdown_secs=2: 2 s grace, then two 10 s samples


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO_ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run(
        [sys.executable, "-m", "pm_fast", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=REPO_ROOT,
    )


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["-h"],
        ["serve", "--help"],
        ["serve", "-h"],
        ["serve", "--workers", "2", "--help"],
    ],
    ids=lambda a: " ".join(a),
)
def test_help_prints_usage_and_exits_0(args: list[str]) -> None:
    res = run_cli(*args)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("usage: pm-fast"), res.stdout
    assert "serve" in res.stdout and "--workers" in res.stdout
    assert res.stderr == ""


def test_unknown_option_still_exits_2() -> None:
    res = run_cli("serve", "--bogus")
    assert res.returncode == 2
    assert "usage: pm-fast" in res.stderr


def poll_until_exit(srv: ServerProcess, timeout: float) -> int:
    """Poll like the shell's health monitor (plus the other probe and admin routes)
    until the server exits by itself; its exit code."""
    deadline = time.monotonic() + timeout
    with srv.client(timeout=2.0) as c:
        while srv.is_alive():
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"no idle shutdown within {timeout} s of /ready polling\n{srv.logs()}"
                )
            try:
                r = c.get("/ready")
                c.get("/health")
                c.get("/live")
                c.post("/admin/checkpoint")
            except httpx.TransportError:
                break  # the listener closed: the server is exiting
            assert r.status_code in (200, 503), r.text
            time.sleep(0.25)
    return srv.wait_exit(15)


def test_idle_shutdown_fires_while_ready_is_polled(server_factory: ServerFactory) -> None:
    srv = server_factory(env={"PM_IDLE_SHUTDOWN_SECS": "2"})
    assert poll_until_exit(srv, IDLE_EXIT_TIMEOUT) == 0, srv.logs()
    assert not srv.port_file.exists()
    assert "shutting down" in srv.logs()


def poll_health_until_it_fails(srv: ServerProcess, timeout: float = 10.0) -> None:
    """GET /health back to back on one kept-alive connection (a new one when the server
    closes it) until a request fails; returns at once then, like the shell."""
    deadline = time.monotonic() + timeout  # the shell's shutdown_timeout_secs
    sock: socket.socket | None = None
    try:
        while time.monotonic() < deadline:
            try:
                if sock is None:
                    sock = socket.create_connection(("127.0.0.1", srv.port), timeout=0.5)
                sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                if not read_response(sock):
                    return
            except OSError:
                return
    finally:
        if sock is not None:
            sock.close()
    raise AssertionError(f"/health still answers {timeout} s after shutdown\n{srv.logs()}")


def read_response(sock: socket.socket) -> bool:
    """Read one HTTP/1.1 response with a Content-Length body; False if the connection
    closed first."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            return False
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = sock.recv(4096)
        if not chunk:
            return False
        body += chunk
    return head.startswith(b"HTTP/1.1 200")


def side_files(srv: ServerProcess) -> list[str]:
    """Which of the port file and the WAL / shared-memory files exist."""
    names = ("server.json", "data.db-wal", "data.db-shm")
    return [name for name in names if (srv.pm_dir / name).exists()]


def shell_quit_then_kill(srv: ServerProcess, *, checkpoint: bool = True) -> list[str]:
    """The shell's stop sequence, with its SIGKILL as soon as /health stops answering
    (the process usually still runs then). The files left when /health failed."""
    with srv.client(timeout=5.0) as c:
        if checkpoint:  # the shell's database.checkpoint_on_shutdown (default true)
            assert ok(c.post("/admin/checkpoint"))["status"] == "ok"
        assert c.post("/admin/shutdown").status_code == 202
    assert srv.proc is not None
    poll_health_until_it_fails(srv)
    left = side_files(srv)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(srv.proc.pid, signal.SIGKILL)
    srv.proc.wait(timeout=10)
    return left


def check_database(srv: ServerProcess, keys: list[str]) -> None:
    con = sqlite3.connect(str(srv.db_path))
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        stored = {r[0] for r in con.execute("SELECT key FROM pm_projects")}
    finally:
        con.close()
    assert set(keys) <= stored


@sqlite_only("checks the SQLite port file, WAL and shared-memory files")
def test_quit_then_sigkill_leaves_no_port_file_and_no_wal(
    server_factory: ServerFactory,
) -> None:
    srv = server_factory()
    keys = []
    for round_no in range(3):
        with srv.client() as c:
            keys.append(create_project(c)["key"])
        assert side_files(srv) == ["server.json", "data.db-wal", "data.db-shm"]
        left = shell_quit_then_kill(srv)
        assert left == [], f"round {round_no + 1}: {left} left when /health failed"
        assert side_files(srv) == []
        check_database(srv, keys)
        srv.start()
    srv.stop()


@sqlite_only("checks the SQLite WAL and shared-memory files")
def test_quit_without_checkpoint_folds_a_large_wal_before_the_listener_closes(
    server_factory: ServerFactory,
) -> None:
    # Closing the last connection checkpoints the WAL into the database and deletes it.
    # With 30 MB in the WAL that takes a while: it must still finish before /health
    # stops answering, or the shell's SIGKILL interrupts it.
    srv = server_factory()
    with srv.client() as c:
        keys = [create_project(c)["key"]]
    con = sqlite3.connect(str(srv.db_path))
    try:
        con.execute("PRAGMA wal_autocheckpoint = 0")
        con.execute("CREATE TABLE scratch (x BLOB)")
        con.executemany("INSERT INTO scratch VALUES (randomblob(100000))", [()] * 300)
        con.commit()
    finally:
        con.close()
    assert Path(f"{srv.db_path}-wal").stat().st_size > 20_000_000
    left = shell_quit_then_kill(srv, checkpoint=False)
    assert left == [], f"{left} left when /health failed\n{srv.logs()}"
    check_database(srv, keys)


def test_requests_after_shutdown_began_are_refused_cleanly(
    server_factory: ServerFactory,
) -> None:
    # Between /admin/shutdown and the listener closing, /health still answers and
    # anything that needs the database gets 503 (never a hang or a 500).
    srv = server_factory()
    with srv.client(timeout=5.0) as c:
        create_project(c)
        assert c.post("/admin/shutdown").status_code == 202
        seen: set[int] = set()
        while True:
            try:
                r = c.get("/api/v1/projects")
                h = c.get("/health")
            except httpx.TransportError:
                break
            seen.add(r.status_code)
            assert r.status_code in (200, 503), r.text
            if r.status_code == 503:
                assert r.json()["error"]["code"] == "SERVICE_UNAVAILABLE"
            assert h.status_code == 200
    assert srv.wait_exit(15) == 0
    assert not srv.port_file.exists()


def test_port_file_names_the_started_process(server_factory: ServerFactory) -> None:
    srv = server_factory()
    info = json.loads(srv.port_file.read_text())
    assert info["pid"] == srv.pid
    srv.stop()
