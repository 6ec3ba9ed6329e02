"""The circuit breaker: database faults open it, `/ready` tells the truth, it recovers.

The fault is real: another process holds SQLite's write lock, so the server's writes
fail with "database is locked" once its 5 s busy timeout runs out (as on a full disk,
every write fails while reads still work). Domain refusals never count. The open
duration is a few seconds so that "Open" is still the state when the test looks, even
on a loaded machine.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import httpx

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
