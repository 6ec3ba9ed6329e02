"""Concurrent mutations share transactions (group commit) without sharing fates.

Each caller gets its own result or its own error, and nothing acknowledged is lost
when the process is killed with SIGKILL mid-load.
"""

from __future__ import annotations

import asyncio
import sqlite3

import httpx
import pytest

from .conftest import ServerFactory
from .helpers import LLM_USER


async def _project(c: httpx.AsyncClient, key: str) -> str:
    r = await c.post("/api/v1/projects", json={"title": key, "key": key})
    assert r.status_code == 200, r.text
    return str(r.json()["project"]["id"])


async def test_each_concurrent_caller_gets_its_own_answer(server_factory: ServerFactory) -> None:
    srv = server_factory()
    async with httpx.AsyncClient(base_url=srv.url, timeout=30, trust_env=False) as c:
        pid = await _project(c, "GCONE")

        async def create(i: int) -> httpx.Response:
            body = {"project_id": pid, "item_type": "task", "title": f"t{i}"}
            if i % 4 == 0:
                body["status"] = "nope"  # refused by validation inside the transaction
            if i % 4 == 1:
                body["parent_id"] = "00000000-0000-4000-8000-000000000000"  # unknown parent
            return await c.post("/api/v1/work-items", json=body)

        replies = await asyncio.gather(*(create(i) for i in range(64)))
        good = [r.json()["work_item"] for i, r in enumerate(replies) if i % 4 >= 2]
        for i, r in enumerate(replies):
            if i % 4 == 0:
                assert r.status_code == 400 and r.json()["error"]["field"] == "status", r.text
            elif i % 4 == 1:
                assert r.status_code == 400 and r.json()["error"]["field"] == "parent_id", r.text
            else:
                assert r.status_code == 200, r.text
        assert sorted(w["item_number"] for w in good) == list(range(1, 33))
        assert sorted(w["title"] for w in good) == sorted(f"t{i}" for i in range(64) if i % 4 >= 2)
        listed = (await c.get(f"/api/v1/projects/{pid}/work-items")).json()["work_items"]
        assert sorted(w["id"] for w in listed) == sorted(w["id"] for w in good)
        # one activity row per successful create, none for the refused ones
    conn = sqlite3.connect(srv.db_path)
    try:
        rows = conn.execute(
            "SELECT COUNT(*) FROM pm_activity_log WHERE entity_type = 'work_item' AND user_id = ?",
            (LLM_USER,),
        ).fetchone()[0]
    finally:
        conn.close()
    assert rows == 32


@pytest.mark.parametrize("synchronous", ["normal", "full"])
async def test_acknowledged_writes_survive_sigkill(
    server_factory: ServerFactory, synchronous: str
) -> None:
    env = {"PM_FAST_SQLITE_SYNCHRONOUS": synchronous}
    srv = server_factory(env=env)
    acked: list[str] = []
    async with httpx.AsyncClient(base_url=srv.url, timeout=10, trust_env=False) as c:
        pid = await _project(c, "GCKILL")
        enough = asyncio.Event()

        async def writer(w: int) -> None:
            for j in range(100):
                try:
                    r = await c.post(
                        "/api/v1/work-items",
                        json={"project_id": pid, "item_type": "task", "title": f"w{w}-{j}"},
                    )
                except httpx.HTTPError:
                    return  # the server is gone
                if r.status_code == 200:
                    acked.append(r.json()["work_item"]["id"])
                    if len(acked) >= 150:
                        enough.set()

        writers = [asyncio.create_task(writer(w)) for w in range(16)]
        await asyncio.wait_for(enough.wait(), 60)
        srv.kill()  # SIGKILL while the writers are still sending
        await asyncio.wait_for(asyncio.gather(*writers), 60)
    assert len(acked) >= 150
    again = server_factory(root=srv.root, env=env)
    with again.client() as rest:
        got = rest.get(f"/api/v1/projects/{pid}/work-items?include_done=true")
        items = got.json()["work_items"]
    stored = {w["id"] for w in items}
    missing = [i for i in acked if i not in stored]
    assert missing == [], f"{len(missing)} acknowledged writes lost"
    again.stop()
    conn = sqlite3.connect(again.db_path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        conn.close()


async def test_concurrent_reads_each_get_their_own_answer(server_factory: ServerFactory) -> None:
    """Reads queued together (one snapshot per batch) still answer one by one."""
    srv = server_factory()
    async with httpx.AsyncClient(base_url=srv.url, timeout=30, trust_env=False) as c:
        pid = await _project(c, "GCREAD")
        made = []
        for i in range(8):
            body = {"project_id": pid, "item_type": "task", "title": f"r{i}"}
            r = await c.post("/api/v1/work-items", json=body)
            assert r.status_code == 200, r.text
            made.append(r.json()["work_item"])

        async def get(i: int) -> tuple[int, httpx.Response]:
            if i % 3 == 0:
                return i, await c.get(f"/api/v1/work-items/GCREAD-{100 + i}")  # no such item
            if i % 3 == 1:
                return i, await c.get("/api/v1/work-items/not a key")  # malformed
            return i, await c.get(f"/api/v1/work-items/GCREAD-{1 + i % 8}")

        for i, r in await asyncio.gather(*(get(i) for i in range(96))):
            if i % 3 == 0:
                assert r.status_code == 404, r.text
            elif i % 3 == 1:
                assert r.status_code == 400, r.text
            else:
                assert r.status_code == 200, r.text
                assert r.json()["work_item"]["title"] == f"r{i % 8}"
