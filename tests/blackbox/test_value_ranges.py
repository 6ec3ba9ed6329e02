# mypy: disable-error-code="no-any-return"
"""Values at and beyond what the wire and the database can hold (docs/compat.md).

Every integer that reaches a protobuf field must fit it on every path in (REST,
WebSocket, import), and so must what the server derives (next position, next number,
durations); every timestamp stays in the years 1 to 9999. A refused request writes
nothing; a database that already holds such values (written by an older server) still
loads, with the values brought into range.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from pm_fast.api import pm_pb2 as pb

from .helpers import (
    create_item,
    create_project,
    create_sprint,
    get_item,
    ok,
    start_timer,
    update_item,
)
from .test_sync import do_import, fresh_dataset
from .wsclient import (
    ServerProcess,
    add_member,
    assert_error,
    clients,
    module_server,
    now,
)

I32_MAX = 2**31 - 1
YEAR = 365 * 86400
# 10000-01-01T00:00:00Z and one second before 0001-01-01T00:00:00Z
AFTER_9999 = 253_402_300_800
BEFORE_YEAR_1 = -62_135_596_801
LAST_SECOND_9999 = 253_402_300_799


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    yield from module_server(tmp_path_factory, "ranges")


@pytest.fixture
def api(srv: ServerProcess) -> Iterator[httpx.Client]:
    with srv.client() as c:
        yield c


def error_of(resp: httpx.Response, status: int, field: str) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    err = resp.json()["error"]
    assert err["code"] == "VALIDATION_ERROR", err
    assert err.get("field") == field, err
    return err


async def ws_items(c: Any, project_id: str) -> list[pb.WorkItem]:
    reply = await c.call("get_work_items_request", project_id=project_id)
    return list(reply.work_items)


# --------------------------------------------------------------------------- positions
async def test_ws_position_at_int32_max_keeps_the_project_loadable(srv: ServerProcess) -> None:
    async with clients(srv.port, "new") as (c,):
        p = await c.project()
        first = await c.item(p.id)
        moved = await c.call(
            "update_work_item_request",
            work_item_id=first.id,
            expected_version=first.version,
            position=I32_MAX,
        )
        assert moved.work_item.position == I32_MAX
        # The next sibling would be I32_MAX + 1: it takes the last position and still
        # sorts last (ties go by item number).
        second = await c.item(p.id)
        third = await c.item(p.id)
        assert second.position == third.position == I32_MAX
        listed = await ws_items(c, p.id)
        assert [w.id for w in listed] == [first.id, second.id, third.id]
        assert all(w.position == I32_MAX for w in listed)
        # A child group has its own positions, unaffected.
        epic = await c.item(p.id, pb.EPIC)
        story = await c.item(p.id, pb.STORY, parent_id=epic.id)
        assert story.position == 1


def test_rest_position_and_story_points_beyond_int32_are_422(api: httpx.Client) -> None:
    p = create_project(api)
    w = create_item(api, p["id"], "task")
    for body in (
        {"position": 3_000_000_000},
        {"position": 2**63 - 1},
        {"story_points": 3_000_000_000},
        {"story_points": -(2**31) - 1},
    ):
        field = next(iter(body))
        error_of(update_item(api, w["id"], 1, None, **body), 422, field)
    error_of(update_item(api, w["id"], 3_000_000_000, title="x"), 422, "expected_version")
    assert get_item(api, w["id"]) == w


def test_rest_position_at_int32_max_then_create_stays_within_int32(api: httpx.Client) -> None:
    p = create_project(api)
    w = create_item(api, p["id"], "task")
    assert ok(update_item(api, w["id"], 1, position=I32_MAX))["work_item"]["position"] == I32_MAX
    assert create_item(api, p["id"], "task")["position"] == I32_MAX
    listed = ok(api.get(f"/api/v1/projects/{p['id']}/work-items"))["work_items"]
    assert [x["position"] for x in listed] == [I32_MAX, I32_MAX]


# --------------------------------------------------------------------------- import
def test_import_item_number_beyond_int32_is_refused_and_writes_nothing(
    api: httpx.Client,
) -> None:
    data = fresh_dataset()
    data["work_items"][0]["item_number"] = 2**31 + 5
    error_of(api.post("/api/v1/sync/import", json=data), 422, "work_items")
    # int32 max itself leaves no room for the project's counter
    data["work_items"][0]["item_number"] = I32_MAX
    err = error_of(api.post("/api/v1/sync/import", json=data), 400, "item_number")
    assert str(I32_MAX - 1) in err["message"]
    data["work_items"][0]["item_number"] = 7
    data["projects"][0]["next_work_item_number"] = 0
    error_of(api.post("/api/v1/sync/import", json=data), 400, "next_work_item_number")
    project = data["projects"][0]
    assert api.get(f"/api/v1/projects/{project['id']}").status_code == 404


def test_import_position_version_and_duration_beyond_int32_are_422(api: httpx.Client) -> None:
    for kind, field, value in (
        ("work_items", "position", 2**31),
        ("work_items", "version", 2**40),
        ("work_items", "story_points", 2**31),
        ("projects", "version", 2**31),
        ("projects", "next_work_item_number", 2**31),
        ("sprints", "version", 2**31),
        ("time_entries", "duration_seconds", 2**31),
    ):
        data = fresh_dataset()
        data[kind][0][field] = value
        error_of(api.post("/api/v1/sync/import", json=data), 422, kind)
        assert api.get(f"/api/v1/projects/{data['projects'][0]['id']}").status_code == 404


async def test_import_last_item_number_then_create_is_refused_cleanly(
    srv: ServerProcess, api: httpx.Client
) -> None:
    data = fresh_dataset()
    data["work_items"][0]["item_number"] = I32_MAX - 1
    do_import(api, data)
    project = data["projects"][0]
    before = ok(api.get(f"/api/v1/projects/{project['id']}"))["project"]
    assert before["next_work_item_number"] == I32_MAX
    body = {"project_id": project["id"], "item_type": "task", "title": "one more"}
    err = error_of(api.post("/api/v1/work-items", json=body), 400, "item_number")
    assert "no item numbers left" in err["message"]
    assert ok(api.get(f"/api/v1/projects/{project['id']}"))["project"] == before
    async with clients(srv.port, "new") as (c,):
        add_member(srv, project["id"], c.user_id, "editor")
        failed = await c.error(
            "create_work_item_request", project_id=project["id"], item_type=pb.TASK, title="t"
        )
        assert_error(failed, "VALIDATION_ERROR", "no item numbers left", field="item_number")
        # the project still loads, every item included
        listed = await ws_items(c, project["id"])
        assert sorted(w.item_number for w in listed) == [3, 5, I32_MAX - 1]
        projects = (await c.call("list_projects_request")).projects
        mine = [x for x in projects if x.id == project["id"]]
        assert mine and mine[0].next_work_item_number == I32_MAX


def test_import_version_at_int32_max_is_frozen_not_wrapped(api: httpx.Client) -> None:
    data = fresh_dataset()
    task = data["work_items"][0]
    task["version"] = I32_MAX
    do_import(api, data)
    err = error_of(update_item(api, task["id"], I32_MAX, title="next"), 400, "expected_version")
    assert "highest" in err["message"]
    assert get_item(api, task["id"])["version"] == I32_MAX


# --------------------------------------------------------------------------- sprint dates
async def test_ws_sprint_date_outside_years_1_to_9999_is_refused_before_writing(
    srv: ServerProcess,
) -> None:
    async with clients(srv.port, "new", "new") as (c, watcher):
        p = await c.project()
        start = now() + 86400
        sprint = (
            await c.call(
                "create_sprint_request",
                project_id=p.id,
                name="S",
                start_date=start,
                end_date=start + 14 * 86400,
            )
        ).sprint
        add_member(srv, p.id, watcher.user_id, "viewer")
        await watcher.subscribe([p.id])
        for field, value in (("end_date", AFTER_9999), ("start_date", BEFORE_YEAR_1)):
            err = await c.error(
                "update_sprint_request",
                None,
                sprint_id=sprint.id,
                expected_version=sprint.version,
                **{field: value},
            )
            assert_error(err, "VALIDATION_ERROR", "years 1 to 9999", field=field)
        assert await watcher.sync_cases() == []
        listed = (await c.call("get_sprints_request", project_id=p.id)).sprints
        assert [(s.version, s.end_date) for s in listed] == [(1, sprint.end_date)]
        # The client's retry with a date that fits succeeds (no CONFLICT), and is broadcast.
        updated = await c.call(
            "update_sprint_request",
            sprint_id=sprint.id,
            expected_version=sprint.version,
            end_date=LAST_SECOND_9999,
        )
        assert updated.sprint.version == 2 and updated.sprint.end_date == LAST_SECOND_9999
        assert [ch.new_value for ch in updated.changes] == ["9999-12-31T23:59:59+00:00"]
        assert "sprint_updated" in await watcher.sync_cases()


def test_rest_and_import_sprint_dates_outside_years_1_to_9999_are_refused(
    api: httpx.Client,
) -> None:
    p = create_project(api)
    s = create_sprint(api, p["id"])
    for field, value in (("end_date", AFTER_9999), ("start_date", BEFORE_YEAR_1)):
        body = {"expected_version": 1, field: value}
        error_of(api.put(f"/api/v1/sprints/{s['id']}", json=body), 400, field)
        create = {"project_id": p["id"], "name": "x", "start_date": 0, "end_date": 86400}
        create[field] = value
        error_of(api.post("/api/v1/sprints", json=create), 400, field)
    assert ok(api.get(f"/api/v1/sprints/{s['id']}"))["sprint"] == s
    data = fresh_dataset()
    data["sprints"][0]["end_date"] = AFTER_9999
    error_of(api.post("/api/v1/sync/import", json=data), 400, "end_date")
    data = fresh_dataset()
    data["comments"][0]["created_at"] = BEFORE_YEAR_1
    error_of(api.post("/api/v1/sync/import", json=data), 400, "created_at")


# --------------------------------------------------------------------------- timers
async def test_running_timer_moved_back_beyond_int32_seconds_is_refused(
    srv: ServerProcess,
) -> None:
    async with clients(srv.port, "new") as (c,):
        p = await c.project()
        w = await c.item(p.id)
        te = (await c.call("start_timer_request", work_item_id=w.id)).time_entry
        err = await c.error(
            "update_time_entry_request", time_entry_id=te.id, started_at=now() - 70 * YEAR
        )
        assert_error(err, "VALIDATION_ERROR", str(I32_MAX), field="started_at")
        err = await c.error(
            "update_time_entry_request", time_entry_id=te.id, started_at=BEFORE_YEAR_1
        )
        assert_error(err, "VALIDATION_ERROR", "years 1 to 9999", field="started_at")
        # 60 years still fit a duration: the stop derives one that the wire can carry
        back = now() - 60 * YEAR
        moved = await c.call("update_time_entry_request", time_entry_id=te.id, started_at=back)
        assert moved.time_entry.started_at == back
        stopped = (await c.call("stop_timer_request", time_entry_id=te.id)).time_entry
        assert 60 * YEAR <= stopped.duration_seconds <= 60 * YEAR + 60
        listed = await c.call("get_time_entries_request", work_item_id=w.id)
        assert [t.id for t in listed.time_entries] == [te.id]
        # and the user's next timers work
        again = await c.call("start_timer_request", work_item_id=w.id)
        await c.call("stop_timer_request", time_entry_id=again.time_entry.id)


async def test_ws_manual_entry_outside_years_1_to_9999_is_refused(srv: ServerProcess) -> None:
    async with clients(srv.port, "new") as (c,):
        p = await c.project()
        w = await c.item(p.id)
        err = await c.error(
            "create_time_entry_request",
            work_item_id=w.id,
            started_at=BEFORE_YEAR_1 - 60,
            ended_at=BEFORE_YEAR_1,
        )
        assert_error(err, "VALIDATION_ERROR", "years 1 to 9999", field="started_at")
        listed = await c.call("get_time_entries_request", work_item_id=w.id)
        assert list(listed.time_entries) == []


# --------------------------------------------------------------------------- old data
async def test_stored_values_beyond_the_wire_still_load(
    srv: ServerProcess, api: httpx.Client
) -> None:
    """Rows written before these checks (an older pm-fast, a hand edit) are read in
    range: the project loads, lists and accepts new items."""
    p = create_project(api)
    a = create_item(api, p["id"], "task")
    b = create_item(api, p["id"], "task")
    s = create_sprint(api, p["id"])
    srv.sql(
        "UPDATE pm_work_items SET position = ?, story_points = ? WHERE id = ?",
        (2**40, 2**33, a["id"]),
    )
    srv.sql("UPDATE pm_work_items SET version = ? WHERE id = ?", (2**35, b["id"]))
    srv.sql("UPDATE pm_projects SET version = ? WHERE id = ?", (2**32, p["id"]))
    srv.sql("UPDATE pm_sprints SET end_date = ? WHERE id = ?", (10**13, s["id"]))
    async with clients(srv.port, "new") as (c,):
        listed = {w.id: w for w in await ws_items(c, p["id"])}
        assert listed[a["id"]].position == I32_MAX and listed[a["id"]].story_points == I32_MAX
        assert listed[b["id"]].version == I32_MAX
        new = await c.item(p["id"])
        assert new.position == I32_MAX
        projects = {x.id: x for x in (await c.call("list_projects_request")).projects}
        assert projects[p["id"]].version == I32_MAX
        sprints = (await c.call("get_sprints_request", project_id=p["id"])).sprints
        assert [x.end_date for x in sprints] == [LAST_SECOND_9999]
        # the sprint can be repaired; the change shows the date it was read as
        fixed = await c.call(
            "update_sprint_request",
            sprint_id=s["id"],
            expected_version=1,
            end_date=s["end_date"],
        )
        assert [ch.old_value for ch in fixed.changes] == ["9999-12-31T23:59:59+00:00"]
        assert fixed.sprint.end_date == s["end_date"]
    # an export carries the values as read, so that it imports again
    exported = ok(api.get("/api/v1/sync/export", params={"work_item": a["id"]}))
    assert [(w["position"], w["story_points"]) for w in exported["work_items"]] == [
        (I32_MAX, I32_MAX)
    ]
    listed_rest = ok(api.get(f"/api/v1/projects/{p['id']}/work-items"))["work_items"]
    assert {w["id"]: w["version"] for w in listed_rest}[b["id"]] == I32_MAX


async def test_stored_running_timer_decades_old_still_stops(
    srv: ServerProcess, api: httpx.Client
) -> None:
    async with clients(srv.port, "new") as (c,):
        p = await c.project()
        w = await c.item(p.id)
        first = (await c.call("start_timer_request", work_item_id=w.id)).time_entry
        srv.sql(
            "UPDATE pm_time_entries SET started_at = ? WHERE id = ?", (now() - 70 * YEAR, first.id)
        )
        # Starting another timer stops the old one with a duration bounded to int32.
        started = await c.call("start_timer_request", work_item_id=w.id)
        assert started.stopped_entry.id == first.id
        assert started.stopped_entry.duration_seconds == I32_MAX
        # REST stop of a second such timer
        second = started.time_entry
        srv.sql(
            "UPDATE pm_time_entries SET started_at = ? WHERE id = ?", (now() - 70 * YEAR, second.id)
        )
        headers = {"X-User-Id": c.user_id}
        stopped = ok(
            api.put(f"/api/v1/time-entries/{second.id}", json={"stop": True}, headers=headers)
        )["time_entry"]
        assert stopped["duration_seconds"] == I32_MAX
        # a duration stored beyond int32 is read as int32 max
        srv.sql("UPDATE pm_time_entries SET duration_seconds = ? WHERE id = ?", (2**40, first.id))
        listed = await c.call("get_time_entries_request", work_item_id=w.id)
        assert sorted(t.duration_seconds for t in listed.time_entries) == [I32_MAX, I32_MAX]
        third = await c.call("start_timer_request", work_item_id=w.id)
        await c.call("stop_timer_request", time_entry_id=third.time_entry.id)


def test_rest_timer_after_old_timer_works(api: httpx.Client, srv: ServerProcess) -> None:
    p = create_project(api)
    w = create_item(api, p["id"], "task")
    te = start_timer(api, w["id"])
    srv.sql("UPDATE pm_time_entries SET started_at = ? WHERE id = ?", (now() - 70 * YEAR, te["id"]))
    # starting the next timer auto-stops the old one
    start_timer(api, w["id"])
    entries = ok(api.get(f"/api/v1/work-items/{w['id']}/time-entries"))["time_entries"]
    old = [t for t in entries if t["id"] == te["id"]]
    assert old and old[0]["duration_seconds"] == I32_MAX
