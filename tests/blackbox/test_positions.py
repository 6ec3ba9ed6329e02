"""Sibling positions stay right when the server remembers them between creates.

pm-fast keeps the highest live sibling position per (project, parent) on its writer
instead of scanning the project on every create; these tests change positions behind
its back and through every path that moves an item.
"""

from __future__ import annotations

import sqlite3

import httpx

from .conftest import ServerFactory
from .helpers import create_item, create_project, ok, update_item


def test_positions_follow_updates_deletes_and_reparenting(api: httpx.Client) -> None:
    p = create_project(api)
    a = create_item(api, p["id"], "task", "a")
    b = create_item(api, p["id"], "task", "b")
    assert (a["position"], b["position"]) == (1, 2)
    ok(update_item(api, b["id"], 1, position=40))
    assert create_item(api, p["id"], "task", "c")["position"] == 41
    epic = create_item(api, p["id"], "epic", "e")
    assert epic["position"] == 42
    story = create_item(api, p["id"], "story", "s")
    assert story["position"] == 43
    # Reparenting keeps the position (43), which now counts among the epic's children.
    ok(update_item(api, story["id"], 1, parent_id=epic["id"], update_parent=True))
    assert create_item(api, p["id"], "story", "s2", parent_id=epic["id"])["position"] == 44
    last = create_item(api, p["id"], "task", "last")
    assert last["position"] == 43
    ok(api.delete(f"/api/v1/work-items/{last['id']}"))
    assert create_item(api, p["id"], "task", "again")["position"] == 43


def test_writes_by_another_connection_are_seen(server_factory: ServerFactory) -> None:
    srv = server_factory()
    with srv.client() as c:
        p = create_project(c)
        first = create_item(c, p["id"], "task", "first")
        assert first["position"] == 1
        # Another program (the original server, a script) moves the item meanwhile.
        conn = sqlite3.connect(srv.db_path, timeout=5)
        try:
            conn.execute("UPDATE pm_work_items SET position = 90 WHERE id = ?", (first["id"],))
            conn.commit()
        finally:
            conn.close()
        assert create_item(c, p["id"], "task", "second")["position"] == 91


def test_a_failed_create_leaves_positions_intact(api: httpx.Client) -> None:
    p = create_project(api)
    create_item(api, p["id"], "task", "one")
    bad = api.post(
        "/api/v1/work-items",
        json={"project_id": p["id"], "item_type": "task", "title": "x", "status": "nope"},
    )
    assert bad.status_code == 400
    assert create_item(api, p["id"], "task", "two")["position"] == 2
