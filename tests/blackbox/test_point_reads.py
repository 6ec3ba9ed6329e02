"""Point GETs (`GET /api/v1/{work-items,projects,sprints,time-entries}/{id}`) always show
the database as it is now: the SQLite store answers a repeated one from memory only
while nothing has been committed since (docs/performance.md "REST point reads"), so
every way of changing the database must show in the very next GET: REST, WebSocket,
another connection writing the file directly, membership changes with auth enabled."""

from __future__ import annotations

import asyncio
import fcntl
import os
import sqlite3
import struct
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest
from harness import sqlite_only

from .helpers import (
    assert_error,
    create_item,
    create_project,
    create_sprint,
    get_item,
    get_project,
    update_item,
)
from .wsclient import ServerProcess, WsClient, add_member, module_server

SECRET = "point-reads-secret-of-at-least-32-bytes-length"


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    yield from module_server(tmp_path_factory, "point-reads")


@pytest.fixture(scope="module")
def c(srv: ServerProcess) -> Iterator[httpx.Client]:
    with srv.client() as client:
        yield client


def twice(c: httpx.Client, path: str) -> httpx.Response:
    """GET `path` twice (the second may come from memory); both answers are identical."""
    first = c.get(path)
    second = c.get(path)
    assert (second.status_code, second.content) == (first.status_code, first.content)
    assert second.headers.get("content-type") == first.headers.get("content-type")
    assert second.headers.get("content-length") == str(len(second.content))
    return second


def test_a_rest_update_shows_in_the_next_get(srv: ServerProcess, c: httpx.Client) -> None:
    p = create_project(c)
    w = create_item(c, p["id"], "task", title="before")
    by_key = f"/api/v1/work-items/{w['display_key']}"
    by_id = f"/api/v1/work-items/{w['id']}"
    assert twice(c, by_id).json()["work_item"]["title"] == "before"
    assert twice(c, by_key).json()["work_item"]["title"] == "before"
    r = update_item(c, w["id"], w["version"], title="after")
    assert r.status_code == 200, r.text
    assert get_item(c, w["id"])["title"] == "after"
    assert get_item(c, w["display_key"])["title"] == "after"
    assert twice(c, by_id).json()["work_item"]["version"] == w["version"] + 1


def test_head_answers_no_body_and_leaves_the_get_whole(c: httpx.Client) -> None:
    p = create_project(c)
    w = create_item(c, p["id"], "task")
    path = f"/api/v1/work-items/{w['id']}"
    full = twice(c, path)
    head = c.head(path)
    assert head.status_code == 200
    assert head.content == b""
    again = c.get(path)
    assert again.content == full.content and again.content


def test_a_websocket_update_shows_in_the_next_get(srv: ServerProcess, c: httpx.Client) -> None:
    p = create_project(c)
    w = create_item(c, p["id"], "task", title="rest title")
    path = f"/api/v1/work-items/{w['id']}"
    assert twice(c, path).json()["work_item"]["title"] == "rest title"

    async def update() -> None:
        async with await WsClient.connect(srv.port) as ws:
            await ws.call(
                "update_work_item_request",
                work_item_id=w["id"],
                expected_version=w["version"],
                title="ws title",
            )

    asyncio.run(update())
    assert c.get(path).json()["work_item"]["title"] == "ws title"


def test_a_write_by_another_connection_shows_in_the_next_get(
    srv: ServerProcess, c: httpx.Client
) -> None:
    """Another process writes the database itself (SQLite: this test's own connection
    to the file, as the CLI or a second server would)."""
    p = create_project(c)
    w = create_item(c, p["id"], "task", title="served")
    path = f"/api/v1/work-items/{w['id']}"
    assert twice(c, path).json()["work_item"]["title"] == "served"
    srv.sql("UPDATE pm_work_items SET title = ? WHERE id = ?", ("written outside", w["id"]))
    assert c.get(path).json()["work_item"]["title"] == "written outside"
    # gone and back: a 404 is never served once the row is live again
    srv.sql("UPDATE pm_work_items SET deleted_at = ? WHERE id = ?", (int(time.time()), w["id"]))
    assert_error(twice(c, path), 404, "NOT_FOUND")
    srv.sql("UPDATE pm_work_items SET deleted_at = NULL WHERE id = ?", (w["id"],))
    assert twice(c, path).json()["work_item"]["title"] == "written outside"


def _lock_holder(path: str, offset: int) -> int:
    """The pid holding a POSIX lock that conflicts with a write lock on byte `offset`
    of `path` (0: none). Locks held by this process never conflict with its own."""
    fd = os.open(path, os.O_RDONLY)
    try:
        probe = struct.pack("hhqqi4x", fcntl.F_WRLCK, os.SEEK_SET, offset, 1, 0)
        kind, _, _, _, pid = struct.unpack("hhqqi4x", fcntl.fcntl(fd, fcntl.F_GETLK, probe))
        return 0 if kind == fcntl.F_UNLCK else pid
    finally:
        os.close(fd)


@sqlite_only("SQLite's locks on its WAL index")
@pytest.mark.skipif(sys.platform != "linux", reason="struct flock layout of Linux")
def test_the_server_keeps_sqlites_shared_lock_on_the_wal_index(
    srv: ServerProcess, c: httpx.Client
) -> None:
    """Every connection of the server holds a shared lock on byte 128 of `-shm` (the
    "DMS" slot, sqlite.org walformat.html §2.3.2): it tells a connection opened by
    another process that the WAL index is in use. Closing any descriptor of that file
    in the server's process (the point-read cache maps it) drops all of the process's
    locks on it; another process then truncates and rebuilds the index under the
    server's connections, and the server died of SIGBUS reading its mapping."""
    p = create_project(c)
    twice(c, f"/api/v1/projects/{p['id']}")
    assert srv.proc is not None
    assert _lock_holder(f"{srv.db_path}-shm", 128) == srv.proc.pid


@sqlite_only("another process opening the SQLite file")
def test_other_processes_opening_the_database_while_reads_are_served(
    srv: ServerProcess, c: httpx.Client
) -> None:
    """What the CLI, a backup or a second server does: open the file, read, close,
    again and again, while repeated point GETs and writes are served."""
    p = create_project(c)
    w = create_item(c, p["id"], "task", title="kept")
    path = f"/api/v1/work-items/{w['id']}"
    stop = threading.Event()
    opened = [0]

    def open_read_close() -> None:
        while not stop.is_set() and opened[0] < 400:
            con = sqlite3.connect(str(srv.db_path), timeout=10)
            try:
                con.execute("SELECT count(*) FROM pm_work_items").fetchone()
            finally:
                con.close()
            opened[0] += 1

    other = threading.Thread(target=open_read_close)
    other.start()
    try:
        for i in range(400):
            assert c.get(path).json()["work_item"]["title"] == "kept", i
            if i % 20 == 0:
                create_item(c, p["id"], "task")
    finally:
        stop.set()
        other.join()
    assert opened[0] > 0
    srv.sql("UPDATE pm_work_items SET title = ? WHERE id = ?", ("changed", w["id"]))
    assert twice(c, path).json()["work_item"]["title"] == "changed"
    assert srv.is_alive()


def test_every_point_route_shows_changes(srv: ServerProcess, c: httpx.Client) -> None:
    p = create_project(c, title="old project")
    s = create_sprint(c, p["id"], name="old sprint")
    w = create_item(c, p["id"], "task")
    entry = c.post("/api/v1/time-entries", json={"work_item_id": w["id"]})
    assert entry.status_code == 200, entry.text
    e = entry.json()["time_entry"]
    paths = {
        "project": f"/api/v1/projects/{p['id']}",
        "sprint": f"/api/v1/sprints/{s['id']}",
        "time_entry": f"/api/v1/time-entries/{e['id']}",
    }
    for path in paths.values():
        assert twice(c, path).status_code == 200
    srv.sql("UPDATE pm_projects SET title = 'new project' WHERE id = ?", (p["id"],))
    srv.sql("UPDATE pm_sprints SET name = 'new sprint' WHERE id = ?", (s["id"],))
    srv.sql("UPDATE pm_time_entries SET description = 'new entry' WHERE id = ?", (e["id"],))
    assert get_project(c, p["id"])["title"] == "new project"
    assert c.get(paths["sprint"]).json()["sprint"]["name"] == "new sprint"
    assert c.get(paths["time_entry"]).json()["time_entry"]["description"] == "new entry"


def test_many_items_each_answer_their_own(c: httpx.Client) -> None:
    """More items than an answer cache would hold, read twice round-robin: each answer
    is its own item's."""
    p = create_project(c)
    items = [create_item(c, p["id"], "task", title=f"item {i}") for i in range(40)]
    for _ in range(2):
        for w in items:
            assert get_item(c, w["id"])["title"] == w["title"]


# -- auth enabled -------------------------------------------------------------------
@pytest.fixture(scope="module")
def auth_srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    yield from module_server(
        tmp_path_factory,
        "point-reads-auth",
        env={"PM_AUTH_ENABLED": "true", "PM_AUTH_JWT_SECRET": SECRET},
    )


def _client(srv: ServerProcess, user: str) -> httpx.Client:
    t = int(time.time())
    claims: dict[str, Any] = {"sub": user, "iat": t, "exp": t + 3600}
    return srv.client(
        headers={"Authorization": f"Bearer {jwt.encode(claims, SECRET, algorithm='HS256')}"}
    )


def test_with_auth_each_caller_gets_its_own_answer_and_removal_shows_at_once(
    auth_srv: ServerProcess,
) -> None:
    owner, viewer, stranger = (str(uuid.uuid4()) for _ in range(3))
    with (
        _client(auth_srv, owner) as oc,
        _client(auth_srv, viewer) as vc,
        _client(auth_srv, stranger) as sc,
    ):
        p = create_project(oc)
        w = create_item(oc, p["id"], "task")
        path = f"/api/v1/work-items/{w['id']}"
        project_path = f"/api/v1/projects/{p['id']}"
        assert twice(oc, path).status_code == 200
        # the owner's answer is not the stranger's
        assert_error(twice(sc, path), 403, "UNAUTHORIZED")
        assert_error(twice(sc, project_path), 403, "UNAUTHORIZED")
        add_member(auth_srv, p["id"], viewer, "viewer")
        assert twice(vc, path).json()["work_item"]["id"] == w["id"]
        assert twice(vc, project_path).status_code == 200
        auth_srv.sql(
            "DELETE FROM pm_project_members WHERE project_id = ? AND user_id = ?",
            (p["id"], viewer),
        )
        assert_error(vc.get(path), 403, "UNAUTHORIZED")
        assert_error(vc.get(project_path), 403, "UNAUTHORIZED")
        assert twice(oc, path).status_code == 200
        # without a token nothing is answered, whatever was read before
        with auth_srv.client() as anonymous:
            assert anonymous.get(path).status_code == 401
