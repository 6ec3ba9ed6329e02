"""§1.4 Swim lanes: read-only list; lanes are only ever present in the database."""

from __future__ import annotations

import sqlite3

import httpx

from .conftest import FULL_FIXTURE, ServerFactory
from .helpers import (
    SWIM_LANE_KEYS,
    assert_error,
    assert_keys,
    create_project,
    new_uuid,
    ok,
)

WEB = "9531985d-5d9d-49f8-9818-e811892f902b"
API = "cd02c5e1-1635-4d03-951f-d8f9a2c68e45"


def test_swim_lanes_empty_for_new_project(api: httpx.Client) -> None:
    p = create_project(api)
    assert ok(api.get(f"/api/v1/projects/{p['id']}/swim-lanes")) == {"swim_lanes": []}
    assert ok(api.get(f"/api/v1/projects/{p['key']}/swim-lanes")) == {"swim_lanes": []}


def test_swim_lanes_unknown_project(api: httpx.Client) -> None:
    u = new_uuid()
    assert_error(
        api.get(f"/api/v1/projects/{u}/swim-lanes"),
        404,
        "NOT_FOUND",
        f"Project with ID {u} not found",
    )
    assert_error(
        api.get("/api/v1/projects/NOLANESKEY/swim-lanes"),
        404,
        "NOT_FOUND",
        "Project with key 'NOLANESKEY' not found",
    )


def test_swim_lanes_no_write_routes(api: httpx.Client) -> None:
    p = create_project(api)
    r = api.post(f"/api/v1/projects/{p['id']}/swim-lanes", json={"name": "x"})
    assert_error(r, 405, "METHOD_NOT_ALLOWED")


def test_swim_lanes_from_database(server_factory: ServerFactory) -> None:
    srv = server_factory(start=False, fixture=FULL_FIXTURE)
    srv.prepare()
    lanes = [
        # id, project, name, status_value, position, is_default, created, updated, deleted
        (
            "aaaaaaaa-0000-4000-8000-000000000003",
            WEB,
            "Done",
            "done",
            3,
            0,
            1764000003,
            1764000013,
            None,
        ),
        (
            "aaaaaaaa-0000-4000-8000-000000000001",
            WEB,
            "Backlog",
            "backlog",
            1,
            1,
            1764000001,
            1764000011,
            None,
        ),
        (
            "aaaaaaaa-0000-4000-8000-000000000002",
            WEB,
            "Doing",
            "in_progress",
            2,
            0,
            1764000002,
            1764000012,
            None,
        ),
        (
            "aaaaaaaa-0000-4000-8000-000000000004",
            WEB,
            "Gone",
            "review",
            4,
            0,
            1764000004,
            1764000014,
            1764000100,
        ),
        (
            "aaaaaaaa-0000-4000-8000-000000000005",
            API,
            "Other",
            "todo",
            1,
            1,
            1764000005,
            1764000015,
            None,
        ),
    ]
    con = sqlite3.connect(srv.db_path)
    con.executemany(
        "INSERT INTO pm_swim_lanes (id, project_id, name, status_value, position, is_default, "
        "created_at, updated_at, deleted_at) VALUES (?,?,?,?,?,?,?,?,?)",
        lanes,
    )
    con.commit()
    con.close()
    srv.start()
    with srv.client() as c:
        body = ok(c.get("/api/v1/projects/WEB/swim-lanes"))
        assert list(body.keys()) == ["swim_lanes"]
        got = body["swim_lanes"]
        for lane in got:
            assert_keys(lane, SWIM_LANE_KEYS)
        assert got == [
            {
                "id": "aaaaaaaa-0000-4000-8000-000000000001",
                "project_id": WEB,
                "name": "Backlog",
                "status_value": "backlog",
                "position": 1,
                "is_default": True,
                "created_at": 1764000001,
                "updated_at": 1764000011,
            },
            {
                "id": "aaaaaaaa-0000-4000-8000-000000000002",
                "project_id": WEB,
                "name": "Doing",
                "status_value": "in_progress",
                "position": 2,
                "is_default": False,
                "created_at": 1764000002,
                "updated_at": 1764000012,
            },
            {
                "id": "aaaaaaaa-0000-4000-8000-000000000003",
                "project_id": WEB,
                "name": "Done",
                "status_value": "done",
                "position": 3,
                "is_default": False,
                "created_at": 1764000003,
                "updated_at": 1764000013,
            },
        ]
        assert ok(c.get(f"/api/v1/projects/{WEB}/swim-lanes")) == body
        api_lanes = ok(c.get("/api/v1/projects/API/swim-lanes"))["swim_lanes"]
        assert [lane["name"] for lane in api_lanes] == ["Other"]
        assert api_lanes[0]["is_default"] is True
        # full export carries live lanes ordered by position
        exported = ok(c.get("/api/v1/sync/export"))["swim_lanes"]
        assert {lane["id"] for lane in exported} == {
            "aaaaaaaa-0000-4000-8000-00000000000" + n for n in "1235"
        }
        assert [lane["position"] for lane in exported] == sorted(
            lane["position"] for lane in exported
        )
    srv.stop()
