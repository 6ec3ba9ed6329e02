"""The circuit breaker: database faults open it, `/ready` tells the truth, it recovers.

The fault is real: another process holds SQLite's write lock, so the server's writes
fail with "database is locked" once its 5 s busy timeout runs out (as on a full disk,
every write fails while reads still work). Domain refusals never count. The open
duration is a few seconds so that "Open" is still the state when the test looks, even
on a loaded machine.
"""

from __future__ import annotations

import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from harness import skip_sqlite_only

from .conftest import ServerFactory
from .helpers import assert_error, create_project, new_uuid, ok
from .wsclient import WsClient

WAIT = 20.0


def _ready(c: httpx.Client) -> tuple[int, dict[str, Any]]:
    r = c.get("/ready")
    return r.status_code, r.json()


def _await_state(c: httpx.Client, state: str) -> tuple[int, dict[str, Any]]:
    deadline = time.monotonic() + WAIT
    while True:
        status, body = _ready(c)
        if body["circuit_breaker"]["state"] == state or time.monotonic() > deadline:
            return status, body
        time.sleep(0.05)


def _hold_write_lock(db: Path) -> sqlite3.Connection:
    holder = sqlite3.connect(db, isolation_level=None, timeout=0)
    holder.execute("BEGIN IMMEDIATE")
    return holder


async def test_faults_open_ready_says_so_and_it_recovers(server_factory: ServerFactory) -> None:
    srv = server_factory(
        env={
            "PM_CB_FAILURE_THRESHOLD": "2",
            "PM_CB_OPEN_DURATION_SECS": "4",
            "PM_CB_HALF_OPEN_SUCCESS_THRESHOLD": "2",
        }
    )
    with srv.client() as c:
        c.timeout = httpx.Timeout(30)
        p = create_project(c)
        status, body = _ready(c)
        assert (status, body["circuit_breaker"]["state"]) == (200, "Closed"), body

        # refusals are not faults: many in a row leave it closed
        for _ in range(5):
            assert_error(c.get(f"/api/v1/projects/{new_uuid()}"), 404, "NOT_FOUND")
            r = c.post("/api/v1/projects", json={"title": " ", "key": "X"})
            assert r.status_code == 400
        assert _ready(c)[1]["circuit_breaker"]["state"] == "Closed"

        holder = _hold_write_lock(srv.db_path)
        try:
            for title in ("a", "b"):  # each waits out the busy timeout, then fails
                r = c.post("/api/v1/projects", json={"title": title, "key": f"CB{title.upper()}"})
                assert r.status_code == 500, r.text
            status, body = _ready(c)
            assert status == 503, body
            assert body["status"] == "unhealthy"
            assert body["circuit_breaker"]["state"] == "Open"
            # while open, store calls are refused at once, reads included
            err = assert_error(c.get(f"/api/v1/projects/{p['id']}"), 503, "SERVICE_UNAVAILABLE")
            assert err["message"].startswith("Service temporarily unavailable. Retry after ")
            async with await WsClient.connect(srv.port) as ws:
                e = await ws.error("list_projects_request")
                assert e.code == "SERVICE_UNAVAILABLE", e
        finally:
            holder.execute("ROLLBACK")
            holder.close()

        # half-open by itself after the open duration; /ready is 200 again
        status, body = _await_state(c, "HalfOpen")
        assert (status, body["circuit_breaker"]["state"]) == (200, "HalfOpen"), body
        ok(c.get(f"/api/v1/projects/{p['id']}"))
        assert _ready(c)[1]["circuit_breaker"]["state"] == "HalfOpen"
        ok(c.post("/api/v1/projects", json={"title": "c", "key": "CBC"}))
        status, body = _ready(c)
        assert (status, body["circuit_breaker"]["state"]) == (200, "Closed"), body
        # nothing half-written: the two failed creates left no project behind
        keys = {x["key"] for x in ok(c.get("/api/v1/projects"))["projects"]}
        assert {"CBA", "CBB"}.isdisjoint(keys) and "CBC" in keys


def test_a_fault_in_half_open_opens_it_again(server_factory: ServerFactory) -> None:
    srv = server_factory(env={"PM_CB_FAILURE_THRESHOLD": "1", "PM_CB_OPEN_DURATION_SECS": "4"})
    with srv.client() as c:
        c.timeout = httpx.Timeout(30)
        holder = _hold_write_lock(srv.db_path)
        try:
            r = c.post("/api/v1/projects", json={"title": "a", "key": "HOA"})
            assert r.status_code == 500, r.text
            assert _ready(c)[1]["circuit_breaker"]["state"] == "Open"
            _, body = _await_state(c, "HalfOpen")
            assert body["circuit_breaker"]["state"] == "HalfOpen", body
            r = c.post("/api/v1/projects", json={"title": "b", "key": "HOB"})
            assert r.status_code == 500, r.text
            status, body = _ready(c)
            assert (status, body["circuit_breaker"]["state"]) == (503, "Open"), body
        finally:
            holder.execute("ROLLBACK")
            holder.close()


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A repository whose `.pm` is a 4 MiB file system of its own (tmpfs), so the test
    can fill the disk under the database. Yields the repository root."""
    skip_sqlite_only("fills the disk under the SQLite file")
    root = tmp_path / "repo"
    mnt = root / ".pm"
    mnt.mkdir(parents=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mnt)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {done.stderr.strip()}")
    try:
        yield root
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def _fill(disk: Path) -> Path:
    filler = disk / "filler"
    # unbuffered: a write the disk refuses leaves nothing behind for close() to flush
    with filler.open("wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 65536)
        except OSError:
            pass
    return filler


def test_a_full_disk_opens_it_and_freeing_space_closes_it(
    tiny_disk: Path, server_factory: ServerFactory
) -> None:
    srv = server_factory(
        root=tiny_disk,
        env={
            "PM_CB_OPEN_DURATION_SECS": "2",
            "PM_CB_HALF_OPEN_SUCCESS_THRESHOLD": "1",
        },
    )
    with srv.client() as c:
        p = create_project(c)
        filler = _fill(tiny_disk / ".pm")
        refused = 0
        for i in range(40):  # default threshold: five faults in a row
            body = {
                "project_id": p["id"],
                "item_type": "task",
                "title": f"t{i}",
                "description": "x" * 5000,
            }
            r = c.post("/api/v1/work-items", json=body)
            if r.status_code == 503:
                break
            assert r.status_code in (200, 500), r.text
            refused += r.status_code == 500
        status, body = _ready(c)
        assert (status, body["circuit_breaker"]["state"]) == (503, "Open"), body
        assert refused >= 5
        filler.unlink()
        _, body = _await_state(c, "HalfOpen")
        assert body["circuit_breaker"]["state"] == "HalfOpen", body
        w = ok(
            c.post(
                "/api/v1/work-items",
                json={"project_id": p["id"], "item_type": "task", "title": "after"},
            )
        )
        status, body = _ready(c)
        assert (status, body["circuit_breaker"]["state"]) == (200, "Closed"), body
        listed = ok(c.get(f"/api/v1/projects/{p['id']}/work-items"))["work_items"]
        # every listed item was acknowledged; the refused ones left nothing behind
        assert w["work_item"]["id"] in {x["id"] for x in listed}
        numbers = sorted(x["item_number"] for x in listed)
        assert numbers == list(range(1, len(listed) + 1)), numbers
