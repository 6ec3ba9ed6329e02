"""`pm-fast serve --workers N`: Granian's multi-process mode on PostgreSQL.

The refusal on SQLite always runs; the rest needs PostgreSQL (PM_FAST_PG_URL, see
build/pg.sh). Which worker holds a connection is read from /proc (the socket inodes
each worker owns), so the cross-worker tests know they really cross. Loopback only;
every wait is bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from harness import ServerProcess, not_on_robyn, run_to_exit

from .test_pg_multiprocess import collect, rest_project
from .wsclient import WsClient

WAIT = 30.0
needs_pg = pytest.mark.skipif(
    not os.environ.get("PM_FAST_PG_URL"),
    reason='needs PostgreSQL: eval "$(build/pg.sh)" sets PM_FAST_PG_URL',
)


@not_on_robyn("several processes on one port")
def test_workers_on_sqlite_are_refused_with_a_clear_error(tmp_path: Path) -> None:
    rc, _, err = run_to_exit(
        tmp_path, env={"PM_DATABASE_URL": None}, args=("serve", "--workers", "2")
    )
    assert rc == 2
    assert "--workers 2 needs PostgreSQL" in err
    assert not (tmp_path / ".pm" / "server.json").exists()


@pytest.mark.parametrize("value", ["0", "x", "65"])
def test_malformed_worker_counts_are_refused(tmp_path: Path, value: str) -> None:
    rc, _, err = run_to_exit(tmp_path, args=("serve", "--workers", value))
    assert rc == 2
    assert "--workers must be a whole number from 1 to 64" in err


def children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(entry.name))
    return sorted(out)


def workers_of(srv: ServerProcess, count: int) -> list[int]:
    """The worker pids (Granian's children of the server process), once all are up."""
    deadline = time.monotonic() + WAIT
    while True:
        pids = [p for p in children(srv.pid) if _is_worker(p)]
        if len(pids) == count:
            return pids
        if time.monotonic() > deadline:
            raise AssertionError(f"workers: {pids}")
        time.sleep(0.05)


def _is_worker(pid: int) -> bool:
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    # multiprocessing's fork children keep the parent's command line; its resource
    # tracker (if any) runs another one
    return b"pm_fast" in cmd and b"resource_tracker" not in cmd


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    fd_dir = Path(f"/proc/{pid}/fd")
    with contextlib.suppress(OSError):
        for fd in fd_dir.iterdir():
            with contextlib.suppress(OSError):
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
    return inodes


def worker_holding(client: WsClient, workers: list[int]) -> int:
    """Which worker process holds the server side of this client's TCP connection."""
    client_port = client.ws.transport.get_extra_info("sockname")[1]
    server_port = client.ws.transport.get_extra_info("peername")[1]
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        parts = line.split()
        local_port = int(parts[1].split(":")[1], 16)
        remote_port = int(parts[2].split(":")[1], 16)
        if (local_port, remote_port) == (server_port, client_port) and parts[9] != "0":
            inode = parts[9]
    assert inode is not None, "server side of the connection not found"
    for pid in workers:
        if inode in _socket_inodes(pid):
            return pid
    raise AssertionError("no worker holds the connection")


async def spread(port: int, workers: list[int], per_worker: int) -> dict[int, list[WsClient]]:
    """Open connections until every worker holds `per_worker` of them (bounded)."""
    held: dict[int, list[WsClient]] = {w: [] for w in workers}
    extra: list[WsClient] = []
    for _ in range(40 * len(workers)):
        if all(len(v) >= per_worker for v in held.values()):
            break
        c = await WsClient.connect(port)
        w = worker_holding(c, workers)
        (held[w] if len(held[w]) < per_worker else extra).append(c)
    for c in extra:
        await c.close()
    missing = [w for w, v in held.items() if len(v) < per_worker]
    assert not missing, f"no connection landed on workers {missing}"
    return held


@contextlib.contextmanager
def multi(tmp_path: Path, url: str, workers: int) -> Iterator[ServerProcess]:
    srv = ServerProcess(
        tmp_path,
        env={"PM_DATABASE_URL": url, "PM_RATE_LIMIT_MAX_REQUESTS": "10000"},
        args=("serve", "--workers", str(workers)),
    )
    try:
        srv.start()
        yield srv
    except BaseException:
        print(srv.logs()[-8000:])
        raise
    finally:
        srv.close(remove=False)


@needs_pg
@not_on_robyn("several processes on one port")
async def test_changes_cross_workers_once_in_order(tmp_path: Path, pg_url: str) -> None:
    with multi(tmp_path, pg_url, 2) as srv:
        info = json.loads((tmp_path / ".pm" / "server.json").read_text())
        assert info["pid"] == srv.pid  # the supervisor: the process to signal
        workers = workers_of(srv, 2)
        held = await spread(srv.port, workers, 2)
        try:
            a, b = workers
            writer = held[a][0]
            project = rest_project(srv, "WRK")  # shared: every user may subscribe
            subs = [held[a][1], *held[b]]
            for s in subs:
                await s.subscribe([project])
            n = 20
            for i in range(n):
                await writer.call(
                    "create_work_item_request",
                    item_type=4,
                    title=f"t{i}",
                    project_id=project,
                )
            for s in subs:
                items = [e.work_item for e in await collect(s, n)]
                assert [w.title for w in items] == [f"t{i}" for i in range(n)]
                assert [w.item_number for w in items] == list(range(1, n + 1))
                # and nothing twice: a Ping's Pong comes after any pending event
                assert "work_item_created" not in await s.sync_cases()
        finally:
            for conns in held.values():
                for c in conns:
                    await c.close()


@needs_pg
@not_on_robyn("several processes on one port")
async def test_a_killed_worker_is_replaced_and_the_others_carry_on(
    tmp_path: Path, pg_url: str
) -> None:
    with multi(tmp_path, pg_url, 2) as srv:
        workers = workers_of(srv, 2)
        held = await spread(srv.port, workers, 1)
        victim, survivor = workers
        client = held[survivor][0]
        project = await client.project(key="KIL")
        os.kill(victim, signal.SIGKILL)
        await held[victim][0].wait_closed(WAIT)
        item = await client.call(
            "create_work_item_request", item_type=4, title="after", project_id=project.id
        )
        assert item.work_item.title == "after"
        replaced = workers_of(srv, 2)
        assert survivor in replaced and victim not in replaced
        with srv.client() as c:
            assert c.get("/ready").status_code == 200
        await client.close()


@needs_pg
@not_on_robyn("several processes on one port")
async def test_sigterm_stops_every_worker_and_removes_the_port_file(
    tmp_path: Path, pg_url: str
) -> None:
    with multi(tmp_path, pg_url, 2) as srv:
        workers = workers_of(srv, 2)
        held = await spread(srv.port, workers, 1)
        os.kill(srv.pid, signal.SIGTERM)
        for conns in held.values():
            await asyncio.wait_for(conns[0].wait_closed(WAIT), WAIT)
        # every worker closes its WebSockets with 1001 (going away)
        assert [c[0].ws.close_code for c in held.values()] == [1001] * len(held)
        assert srv.proc is not None
        try:
            rc = srv.proc.wait(WAIT)
        except subprocess.TimeoutExpired:
            # what is everybody doing? (SIGUSR1: each process prints its threads' stacks)
            for pid in [srv.pid, *children(srv.pid)]:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGUSR1)
            time.sleep(1.0)
            states = {p: _state(p) for p in [srv.pid, *children(srv.pid)]}
            raise AssertionError(f"still running: {states}\n{srv.logs()[-20000:]}") from None
        assert rc == 0
        for w in workers:
            assert not Path(f"/proc/{w}").exists() or "Z" in _state(w)
        assert not (tmp_path / ".pm" / "server.json").exists()


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"
