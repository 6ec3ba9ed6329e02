# mypy: disable-error-code="no-any-return"
"""§1.6 sync export / import (+ compat.md: 64 MiB import, atomic import, 400 conversion errors,
soft-deleted rows skipped, counters advanced, stub users)."""

from __future__ import annotations

import copy
import datetime as dt
import re
from typing import Any

import httpx
import pytest

from .conftest import ServerFactory
from .helpers import (
    ANY_FIELD,
    EXPORT_DTO_KEYS,
    EXPORT_KEYS,
    IMPORT_RESULT_KEYS,
    LLM_USER,
    assert_error,
    assert_keys,
    build_tree,
    create_comment,
    create_dependency,
    create_item,
    create_project,
    create_sprint,
    export_all,
    get_item,
    get_project,
    list_items,
    new_uuid,
    now,
    ok,
    snapshot,
    start_timer,
    uniq_key,
    update_item,
)

EXPORTED_AT_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{1,9}\+00:00$")


def empty_payload(**entities: list[dict[str, Any]]) -> dict[str, Any]:
    data: dict[str, Any] = {
        "schema_version": 1,
        "exported_at": "2026-03-01T18:53:59.426700+00:00",
        "exported_by": "pm-server",
        "projects": [],
        "work_items": [],
        "sprints": [],
        "comments": [],
        "swim_lanes": [],
        "dependencies": [],
        "time_entries": [],
    }
    data.update(entities)
    return data


def do_import(c: httpx.Client, payload: dict[str, Any]) -> dict[str, Any]:
    r = c.post("/api/v1/sync/import", json=payload)
    assert r.status_code == 200, r.text[:2000]
    res = ok(r)
    assert_keys(res, IMPORT_RESULT_KEYS)
    for v in res.values():
        assert_keys(v, ["created", "updated", "skipped"])
    return res


def counts(res: dict[str, Any]) -> dict[str, tuple[int, int, int]]:
    return {k: (v["created"], v["updated"], v["skipped"]) for k, v in res.items()}


def zero() -> dict[str, tuple[int, int, int]]:
    return {k: (0, 0, 0) for k in IMPORT_RESULT_KEYS}


# --------------------------------------------------------------------------- export
def test_full_export_shape(api: httpx.Client) -> None:
    p = create_project(api)
    t = build_tree(api, p["id"])
    ok(update_item(api, t["T11"]["id"], 1, status="done"))
    sp = create_sprint(api, p["id"])
    cm = create_comment(api, t["S1"]["id"], "exported comment")
    dep = create_dependency(api, t["T12"]["id"], t["T21"]["id"])
    te = start_timer(api, t["O"]["id"], "timer", user=new_uuid())
    t0 = dt.datetime.now(dt.UTC)
    data = export_all(api)
    t1 = dt.datetime.now(dt.UTC)
    assert_keys(data, EXPORT_KEYS)
    assert data["schema_version"] == 1
    assert data["exported_by"] == "pm-server"
    assert EXPORTED_AT_RE.match(data["exported_at"]), data["exported_at"]
    when = dt.datetime.fromisoformat(data["exported_at"])
    assert t0 - dt.timedelta(seconds=2) <= when <= t1 + dt.timedelta(seconds=2)
    for kind, keys in EXPORT_DTO_KEYS.items():
        assert isinstance(data[kind], list)
        for obj in data[kind]:
            assert_keys(obj, keys)
    by = {k: {o["id"]: o for o in data[k]} for k in EXPORT_DTO_KEYS}
    assert by["projects"][p["id"]] == get_project(api, p["id"])
    for w in t.values():
        assert by["work_items"][w["id"]] == get_item(api, w["id"])
    assert by["work_items"][t["T11"]["id"]]["status"] == "done"  # done items included
    assert by["sprints"][sp["id"]] == sp
    assert by["comments"][cm["id"]] == cm
    assert by["dependencies"][dep["id"]] == dep
    assert by["time_entries"][te["id"]] == te


def test_full_export_orderings_and_deleted_rows(api: httpx.Client) -> None:
    p = create_project(api)
    w = create_item(api, p["id"], "task")
    gone = create_item(api, p["id"], "task")
    ok(api.delete(f"/api/v1/work-items/{gone['id']}"))
    base = now()
    s_old = create_sprint(api, p["id"], "old", start=base - 20 * 86400, end=base - 10 * 86400)
    s_new = create_sprint(api, p["id"], "new", start=base + 10 * 86400, end=base + 20 * 86400)
    c1 = create_comment(api, w["id"], "first")
    c2 = create_comment(api, w["id"], "second")
    ok(api.delete(f"/api/v1/comments/{c2['id']}"))
    data = export_all(api)
    titles = [x["title"] for x in data["projects"]]
    assert titles == sorted(titles)
    positions = [x["position"] for x in data["work_items"]]
    assert positions == sorted(positions)
    starts = [x["start_date"] for x in data["sprints"]]
    assert starts == sorted(starts, reverse=True)
    sids = [x["id"] for x in data["sprints"]]
    assert sids.index(s_new["id"]) < sids.index(s_old["id"])
    created = [x["created_at"] for x in data["comments"]]
    assert created == sorted(created)
    started = [x["started_at"] for x in data["time_entries"]]
    assert started == sorted(started, reverse=True)
    positions = [x["position"] for x in data["swim_lanes"]]
    assert positions == sorted(positions)
    ids = {x["id"] for x in data["work_items"]}
    assert w["id"] in ids and gone["id"] not in ids
    cids = {x["id"] for x in data["comments"]}
    assert c1["id"] in cids and c2["id"] not in cids


def test_full_export_ignores_flags(api: httpx.Client) -> None:
    p = create_project(api)
    w = create_item(api, p["id"], "task")
    create_comment(api, w["id"], "c")
    a = snapshot(api)
    data = export_all(
        api,
        comments=False,
        sprints=False,
        dependencies=False,
        time_entries=False,
        descendant_levels=0,
    )
    data.pop("exported_at")
    assert data == a


@pytest.fixture
def scoped(api: httpx.Client) -> dict[str, Any]:
    p = create_project(api)
    t = build_tree(api, p["id"])
    sp = create_sprint(api, p["id"])
    sp_other = create_sprint(api, p["id"])
    ok(update_item(api, t["S1"]["id"], 1, sprint_id=sp["id"]))
    t["S1"] = get_item(api, t["S1"]["id"])
    ok(update_item(api, t["O"]["id"], 1, sprint_id=sp_other["id"]))
    t["O"] = get_item(api, t["O"]["id"])
    ok(update_item(api, t["T12"]["id"], 1, status="done"))
    t["T12"] = get_item(api, t["T12"]["id"])
    user = new_uuid()
    cms = {
        "E": create_comment(api, t["E"]["id"], "on epic"),
        "S1": create_comment(api, t["S1"]["id"], "on story"),
        "T11": create_comment(api, t["T11"]["id"], "on task"),
        "O": create_comment(api, t["O"]["id"], "on orphan"),
    }
    deps = {
        "S1>S2": create_dependency(api, t["S1"]["id"], t["S2"]["id"]),
        "O>T21": create_dependency(api, t["O"]["id"], t["T21"]["id"]),
        "T11~O": create_dependency(api, t["T11"]["id"], t["O"]["id"], "relates_to"),
    }
    tes = {
        "E": start_timer(api, t["E"]["id"], user=user),
        "T21": start_timer(api, t["T21"]["id"], user=new_uuid()),
    }
    return {"p": p, "t": t, "sp": sp, "cms": cms, "deps": deps, "tes": tes}


def ids(xs: list[dict[str, Any]]) -> set[str]:
    return {x["id"] for x in xs}


def test_scoped_export_levels(api: httpx.Client, scoped: dict[str, Any]) -> None:
    t = scoped["t"]
    d0 = export_all(api, work_item=t["E"]["id"])
    assert d0["schema_version"] == 1 and d0["exported_by"] == "pm-server"
    assert d0["projects"] == [] and d0["swim_lanes"] == []
    assert d0["work_items"] == [t["E"]]
    assert d0["sprints"] == [] and d0["comments"] == [] and d0["dependencies"] == []
    assert d0["time_entries"] == []
    d1 = export_all(api, work_item=t["E"]["display_key"], descendant_levels=1)
    assert ids(d1["work_items"]) == {t["E"]["id"], t["S1"]["id"], t["S2"]["id"]}
    d2 = export_all(api, work_item=t["E"]["id"], descendant_levels=2)
    assert ids(d2["work_items"]) == {t[k]["id"] for k in ("E", "S1", "S2", "T11", "T12", "T21")}
    # done items are exported; no upper bound on levels
    d9 = export_all(api, work_item=t["E"]["id"], descendant_levels=9)
    assert ids(d9["work_items"]) == ids(d2["work_items"])
    by = {w["id"]: w for w in d2["work_items"]}
    for k in ("E", "S1", "S2", "T11", "T12", "T21"):
        assert by[t[k]["id"]] == t[k]
    ds = export_all(api, work_item=t["S1"]["id"], descendant_levels=1)
    assert ids(ds["work_items"]) == {t["S1"]["id"], t["T11"]["id"], t["T12"]["id"]}


def test_scoped_export_flags(api: httpx.Client, scoped: dict[str, Any]) -> None:
    t, cms, deps, tes = scoped["t"], scoped["cms"], scoped["deps"], scoped["tes"]
    d = export_all(
        api,
        work_item=t["E"]["id"],
        descendant_levels=1,
        comments=True,
        sprints=True,
        dependencies=True,
        time_entries=True,
    )
    assert d["projects"] == [] and d["swim_lanes"] == []
    assert ids(d["comments"]) == {cms["E"]["id"], cms["S1"]["id"]}
    assert d["sprints"] == [scoped["sp"]]
    assert ids(d["dependencies"]) == {deps["S1>S2"]["id"]}
    assert ids(d["time_entries"]) == {tes["E"]["id"]}
    d = export_all(
        api,
        work_item=t["E"]["id"],
        descendant_levels=2,
        comments=True,
        dependencies=True,
        time_entries=True,
    )
    assert ids(d["comments"]) == {cms["E"]["id"], cms["S1"]["id"], cms["T11"]["id"]}
    assert ids(d["dependencies"]) == {deps["S1>S2"]["id"], deps["O>T21"]["id"], deps["T11~O"]["id"]}
    assert ids(d["time_entries"]) == {tes["E"]["id"], tes["T21"]["id"]}
    assert d["sprints"] == []  # not flagged
    only_deps = export_all(api, work_item=t["O"]["id"], dependencies=True)
    assert ids(only_deps["dependencies"]) == {deps["O>T21"]["id"], deps["T11~O"]["id"]}
    assert only_deps["comments"] == []


def test_scoped_export_errors(api: httpx.Client) -> None:
    r = api.get("/api/v1/sync/export", params={"work_item": "bad-key"})
    assert_error(r, 400, "BAD_REQUEST")
    u = new_uuid()
    r = api.get("/api/v1/sync/export", params={"work_item": u})
    assert_error(r, 404, "NOT_FOUND", f"Work item with ID {u} not found")
    r = api.get("/api/v1/sync/export", params={"descendant_levels": "-1"})
    assert_error(r, 400, "BAD_REQUEST", field=(None, "descendant_levels"))
    r = api.get("/api/v1/sync/export", params={"comments": "yes"})
    assert_error(r, 400, "BAD_REQUEST", field=(None, "comments"))


# --------------------------------------------------------------------------- import
def fresh_dataset() -> dict[str, Any]:
    """A self-consistent payload with new ids, users unknown to the server."""
    key = uniq_key()
    pid, sid, eid, stid, tid = (new_uuid() for _ in range(5))
    author, worker = new_uuid(), new_uuid()
    base = 1764100000
    project = {
        "id": pid,
        "key": key,
        "title": f"Imported {key}",
        "description": "from file",
        "status": "active",
        "version": 3,
        "created_at": base,
        "updated_at": base + 10,
        "created_by": author,
        "updated_by": author,
        "next_work_item_number": 10,
    }
    sprint = {
        "id": sid,
        "project_id": pid,
        "name": "Imp sprint",
        "goal": None,
        "start_date": base,
        "end_date": base + 86400,
        "status": "active",
        "version": 2,
        "created_at": base,
        "updated_at": base + 5,
        "created_by": author,
        "updated_by": author,
    }

    def item(
        iid: str, typ: str, num: int, parent: str | None, pos: int, **kw: Any
    ) -> dict[str, Any]:
        d = {
            "id": iid,
            "display_key": f"{key}-{num}",
            "item_type": typ,
            "title": f"{typ} {num}",
            "description": None,
            "status": "todo",
            "priority": "high",
            "parent_id": parent,
            "project_id": pid,
            "assignee_id": None,
            "sprint_id": None,
            "story_points": None,
            "item_number": num,
            "position": pos,
            "version": 4,
            "created_at": base + num,
            "updated_at": base + 100 + num,
            "created_by": author,
            "updated_by": author,
        }
        d.update(kw)
        return d

    epic = item(eid, "epic", 3, None, 1)
    story = item(
        stid, "story", 5, eid, 1, sprint_id=sid, story_points=8, assignee_id=worker, status="done"
    )
    task = item(tid, "task", 7, stid, 2, description="")
    comment = {
        "id": new_uuid(),
        "work_item_id": tid,
        "content": "imported comment",
        "created_at": base + 200,
        "updated_at": base + 201,
        "created_by": author,
        "updated_by": author,
    }
    dep = {
        "id": new_uuid(),
        "blocking_item_id": stid,
        "blocked_item_id": tid,
        "dependency_type": "blocks",
        "created_at": base + 300,
        "created_by": author,
    }
    te_done = {
        "id": new_uuid(),
        "work_item_id": tid,
        "user_id": worker,
        "started_at": base,
        "ended_at": base + 60,
        "duration_seconds": 60,
        "description": "d",
        "is_running": False,
        "created_at": base,
        "updated_at": base + 60,
    }
    te_run = {
        "id": new_uuid(),
        "work_item_id": eid,
        "user_id": author,
        "started_at": base + 5,
        "ended_at": None,
        "duration_seconds": None,
        "description": None,
        "is_running": True,
        "created_at": base + 5,
        "updated_at": base + 5,
    }
    # children listed before parents: the server must sort them
    return empty_payload(
        projects=[project],
        sprints=[sprint],
        work_items=[task, story, epic],
        comments=[comment],
        dependencies=[dep],
        time_entries=[te_done, te_run],
    )


def test_import_creates_everything(api: httpx.Client) -> None:
    data = fresh_dataset()
    res = do_import(api, data)
    expect = zero()
    expect.update(
        {
            "projects": (1, 0, 0),
            "sprints": (1, 0, 0),
            "work_items": (3, 0, 0),
            "comments": (1, 0, 0),
            "dependencies": (1, 0, 0),
            "time_entries": (2, 0, 0),
        }
    )
    assert counts(res) == expect
    p = data["projects"][0]
    assert get_project(api, p["id"]) == p
    assert get_project(api, p["key"]) == p
    for w in data["work_items"]:
        assert get_item(api, w["id"]) == w
        assert get_item(api, w["display_key"]) == w
    assert (
        ok(api.get(f"/api/v1/sprints/{data['sprints'][0]['id']}"))["sprint"] == data["sprints"][0]
    )
    tid = data["work_items"][0]["id"]
    assert ok(api.get(f"/api/v1/work-items/{tid}/comments"))["comments"] == data["comments"]
    assert (
        ok(api.get(f"/api/v1/work-items/{tid}/dependencies"))["dependencies"]
        == data["dependencies"]
    )
    for te in data["time_entries"]:
        assert ok(api.get(f"/api/v1/time-entries/{te['id']}"))["time_entry"] == te
    # re-import: everything skipped
    again = do_import(api, data)
    expect = zero()
    expect.update(
        {
            "projects": (0, 0, 1),
            "sprints": (0, 0, 1),
            "work_items": (0, 0, 3),
            "comments": (0, 0, 1),
            "dependencies": (0, 0, 1),
            "time_entries": (0, 0, 2),
        }
    )
    assert counts(again) == expect


def test_import_advances_item_counter(api: httpx.Client) -> None:
    # compat.md: the counter is raised to at least max(item_number)+1
    data = fresh_dataset()
    data["projects"][0]["next_work_item_number"] = 1
    do_import(api, data)
    p = data["projects"][0]
    assert get_project(api, p["id"])["next_work_item_number"] >= 8
    w = create_item(api, p["id"], "task", "after import")
    assert w["item_number"] == 8
    assert w["display_key"] == f"{p['key']}-8"


def test_import_project_counter_from_dto(api: httpx.Client) -> None:
    data = fresh_dataset()
    do_import(api, data)
    p = data["projects"][0]
    assert create_item(api, p["id"], "task")["item_number"] == 10


def test_import_merge_newer_overwrites_older_skipped(api: httpx.Client) -> None:
    data = fresh_dataset()
    do_import(api, data)
    p = copy.deepcopy(data["projects"][0])
    epic = copy.deepcopy(data["work_items"][2])
    sprint = copy.deepcopy(data["sprints"][0])
    comment = copy.deepcopy(data["comments"][0])
    te = copy.deepcopy(data["time_entries"][0])
    # newer -> updated
    p.update(
        title="Newer title", updated_at=p["updated_at"] + 1, next_work_item_number=99, version=7
    )
    epic.update(
        title="Newer epic",
        updated_at=epic["updated_at"] + 50,
        item_number=42,
        display_key=f"{p['key']}-42",
        version=9,
    )
    sprint.update(name="Newer sprint", updated_at=sprint["updated_at"] + 1)
    comment.update(content="newer content", updated_at=comment["updated_at"] + 1)
    te.update(description="newer", updated_at=te["updated_at"] + 1)
    dep = copy.deepcopy(data["dependencies"][0])
    dep["dependency_type"] = "relates_to"
    res = do_import(
        api,
        empty_payload(
            projects=[p],
            work_items=[epic],
            sprints=[sprint],
            comments=[comment],
            time_entries=[te],
            dependencies=[dep],
        ),
    )
    expect = zero()
    expect.update(
        {
            "projects": (0, 1, 0),
            "sprints": (0, 1, 0),
            "work_items": (0, 1, 0),
            "comments": (0, 1, 0),
            "time_entries": (0, 1, 0),
            "dependencies": (0, 0, 1),
        }
    )
    assert counts(res) == expect
    gp = get_project(api, p["id"])
    assert gp["title"] == "Newer title" and gp["version"] == 7
    assert gp["updated_at"] == p["updated_at"]
    assert gp["next_work_item_number"] == 10  # overwrite does not change the counter
    ge = get_item(api, epic["id"])
    assert ge["title"] == "Newer epic" and ge["version"] == 9
    assert ge["item_number"] == 3  # overwrite never changes item_number
    assert ge["display_key"] == f"{p['key']}-3"
    assert ok(api.get(f"/api/v1/sprints/{sprint['id']}"))["sprint"] == sprint
    tid = data["work_items"][0]["id"]
    assert ok(api.get(f"/api/v1/work-items/{tid}/comments"))["comments"] == [comment]
    assert ok(api.get(f"/api/v1/time-entries/{te['id']}"))["time_entry"] == te
    # dependencies are never updated
    assert (
        ok(api.get(f"/api/v1/work-items/{tid}/dependencies"))["dependencies"]
        == data["dependencies"]
    )
    # older or equal updated_at -> skipped, nothing changes
    older = copy.deepcopy(p)
    older.update(title="Older", updated_at=p["updated_at"] - 5)
    equal = copy.deepcopy(epic)
    equal.update(title="Equal")
    res = do_import(api, empty_payload(projects=[older], work_items=[equal]))
    expect = zero()
    expect.update({"projects": (0, 0, 1), "work_items": (0, 0, 1)})
    assert counts(res) == expect
    assert get_project(api, p["id"]) == gp
    assert get_item(api, epic["id"]) == ge


def test_import_swim_lanes_skipped(api: httpx.Client) -> None:
    data = fresh_dataset()
    pid = data["projects"][0]["id"]
    lane = {
        "id": new_uuid(),
        "project_id": pid,
        "name": "Todo",
        "status_value": "todo",
        "position": 1,
        "is_default": True,
        "created_at": 1,
        "updated_at": 1,
    }
    data["swim_lanes"] = [lane]
    res = do_import(api, data)
    assert counts(res)["swim_lanes"] == (0, 0, 1)
    assert ok(api.get(f"/api/v1/projects/{pid}/swim-lanes")) == {"swim_lanes": []}


def test_import_soft_deleted_row_is_skipped(api: httpx.Client) -> None:
    # compat.md: the local deletion wins
    p = create_project(api)
    w = create_item(api, p["id"], "task")
    ok(api.delete(f"/api/v1/work-items/{w['id']}"))
    newer = dict(w, title="resurrected", updated_at=w["updated_at"] + 1000)
    res = do_import(api, empty_payload(work_items=[newer]))
    assert counts(res)["work_items"] == (0, 0, 1)
    assert_error(api.get(f"/api/v1/work-items/{w['id']}"), 404, "NOT_FOUND")
    q = create_project(api)
    ok(api.delete(f"/api/v1/projects/{q['id']}"))
    res = do_import(api, empty_payload(projects=[dict(q, updated_at=q["updated_at"] + 1000)]))
    assert counts(res)["projects"] == (0, 0, 1)
    assert_error(api.get(f"/api/v1/projects/{q['id']}"), 404, "NOT_FOUND")


def test_import_unsupported_schema_version(api: httpx.Client) -> None:
    data = fresh_dataset()
    data["schema_version"] = 2
    before = snapshot(api)
    r = api.post("/api/v1/sync/import", json=data)
    assert_error(
        r, 400, "VALIDATION_ERROR", "Unsupported schema version: 2", field="schema_version"
    )
    assert snapshot(api) == before


def test_import_conversion_error_is_atomic(api: httpx.Client) -> None:
    # compat.md: 400 naming the entity and field; nothing imported
    before = snapshot(api)
    data = fresh_dataset()
    data["work_items"][1]["item_type"] = "bug"
    r = api.post("/api/v1/sync/import", json=data)
    assert_error(r, 400, "VALIDATION_ERROR", field=ANY_FIELD, contains="item_type")
    data = fresh_dataset()
    data["comments"][0]["id"] = "not-a-uuid"
    r = api.post("/api/v1/sync/import", json=data)
    assert_error(r, 400, "VALIDATION_ERROR", field=ANY_FIELD)
    data = fresh_dataset()
    data["projects"][0]["status"] = "frozen"
    r = api.post("/api/v1/sync/import", json=data)
    assert_error(r, 400, "VALIDATION_ERROR", field=ANY_FIELD, contains="status")
    data = fresh_dataset()
    data["time_entries"][1]["started_at"] = 10**15  # not a representable timestamp
    r = api.post("/api/v1/sync/import", json=data)
    assert_error(r, 400, "VALIDATION_ERROR", field=ANY_FIELD)
    assert snapshot(api) == before


def test_import_missing_keys_422(api: httpx.Client) -> None:
    before = snapshot(api)
    data = fresh_dataset()
    del data["time_entries"]
    r = api.post("/api/v1/sync/import", json=data)
    assert_error(r, 422, "VALIDATION_ERROR", field=ANY_FIELD)
    data = fresh_dataset()
    del data["work_items"][0]["display_key"]
    r = api.post("/api/v1/sync/import", json=data)
    assert_error(r, 422, "VALIDATION_ERROR", field=ANY_FIELD)
    data = fresh_dataset()
    del data["time_entries"][0]["is_running"]
    r = api.post("/api/v1/sync/import", json=data)
    assert_error(r, 422, "VALIDATION_ERROR", field=ANY_FIELD)
    assert snapshot(api) == before


def test_import_ignores_exported_at_and_user_header(api: httpx.Client) -> None:
    data = fresh_dataset()
    data["exported_at"] = "whenever"
    data["exported_by"] = "someone else"
    res = api.post("/api/v1/sync/import", json=data, headers={"X-User-Id": new_uuid()})
    assert counts(ok(res))["projects"] == (1, 0, 0)
    p = data["projects"][0]
    assert get_project(api, p["id"])["created_by"] == p["created_by"]


def test_import_larger_than_2_mib(server_factory: ServerFactory) -> None:
    # compat.md: 64 MiB limit for sync/import (2 MiB elsewhere)
    srv = server_factory()
    api = srv.client()
    data = fresh_dataset()
    p = data["projects"][0]
    data["work_items"] = []
    data["sprints"] = data["comments"] = data["dependencies"] = data["time_entries"] = []
    blob = "x" * 6000
    for n in range(1, 451):
        data["work_items"].append(
            {
                "id": new_uuid(),
                "display_key": f"{p['key']}-{n}",
                "item_type": "task",
                "title": f"bulk {n}",
                "description": blob,
                "status": "backlog",
                "priority": "low",
                "parent_id": None,
                "project_id": p["id"],
                "assignee_id": None,
                "sprint_id": None,
                "story_points": None,
                "item_number": n,
                "position": n,
                "version": 1,
                "created_at": 1764100000,
                "updated_at": 1764100000,
                "created_by": LLM_USER,
                "updated_by": LLM_USER,
            }
        )
    r = api.post("/api/v1/sync/import", json=data)
    assert len(r.request.content) > 2 * 1024 * 1024
    res = ok(r)
    assert counts(res)["work_items"] == (450, 0, 0)
    assert len(list_items(api, p["id"], include_done=True)) == 450
    assert get_item(api, f"{p['key']}-450")["description"] == blob
    api.close()
    srv.stop()


# --------------------------------------------------------------------------- round trip
def populate(c: httpx.Client) -> None:
    alice, bob = new_uuid(), new_uuid()
    p1 = create_project(c, title="Alpha ✓", description="first", user=alice)
    p2 = create_project(c, title="Beta", user=bob)
    t = build_tree(c, p1["id"])
    create_item(c, p2["id"], "story", "story of Beta", user=bob)
    sp = create_sprint(c, p1["id"], "S1", goal="g", user=alice)
    create_sprint(c, p2["id"], "S2", start=now() - 30 * 86400, end=now() - 16 * 86400)
    ok(
        update_item(
            c,
            t["T11"]["id"],
            1,
            status="done",
            assignee_id=alice,
            sprint_id=sp["id"],
            story_points=3,
            user=bob,
        )
    )
    ok(update_item(c, t["S2"]["id"], 1, description="émoji 🚀 and עברית", priority="critical"))
    create_comment(c, t["T11"]["id"], "comment by alice", user=alice)
    create_comment(c, t["E"]["id"], "comment by llm")
    create_dependency(c, t["T11"]["id"], t["T21"]["id"], user=bob)
    create_dependency(c, t["S1"]["id"], t["S2"]["id"], "relates_to")
    te = start_timer(c, t["T12"]["id"], "stopped", user=alice)
    ok(c.put(f"/api/v1/time-entries/{te['id']}", json={"stop": True}, headers={"X-User-Id": alice}))
    start_timer(c, t["T21"]["id"], "running", user=bob)
    gone = create_item(c, p2["id"], "task", "deleted later")
    ok(c.delete(f"/api/v1/work-items/{gone['id']}"))


def test_export_import_round_trip(server_factory: ServerFactory) -> None:
    a = server_factory()
    b = server_factory()
    with a.client() as ca, b.client() as cb:
        populate(ca)
        exported = export_all(ca)
        assert len(exported["projects"]) == 2
        assert len(exported["work_items"]) == 8
        assert snapshot(cb)["projects"] == []
        res = do_import(cb, exported)
        assert counts(res) == {
            "projects": (2, 0, 0),
            "sprints": (2, 0, 0),
            "swim_lanes": (0, 0, 0),
            "work_items": (8, 0, 0),
            "comments": (2, 0, 0),
            "dependencies": (2, 0, 0),
            "time_entries": (2, 0, 0),
        }
        again = export_all(cb)
        exported.pop("exported_at")
        again.pop("exported_at")
        assert again == exported
        # importing into the source changes nothing
        res = do_import(ca, dict(exported, exported_at="x"))
        assert all(v[0] == 0 and v[1] == 0 for v in counts(res).values())
        after = export_all(ca)
        after.pop("exported_at")
        assert after == exported
    a.stop()
    b.stop()


def test_export_lists_imported_data_per_project(server_factory: ServerFactory) -> None:
    b = server_factory()
    with b.client() as cb:
        data = fresh_dataset()
        do_import(cb, data)
        p = data["projects"][0]
        assert ok(cb.get("/api/v1/projects"))["projects"] == [p]
        items = list_items(cb, p["key"], include_done=True)
        assert {w["id"] for w in items} == {w["id"] for w in data["work_items"]}
        # the done story is hidden by default; epic (position 1) before task (position 2)
        assert [w["id"] for w in list_items(cb, p["key"])] == [
            data["work_items"][2]["id"],
            data["work_items"][0]["id"],
        ]
        exported = export_all(cb)
        assert exported["projects"] == [p]
        assert sorted(exported["work_items"], key=lambda w: w["id"]) == sorted(
            data["work_items"], key=lambda w: w["id"]
        )
    b.stop()


def test_scoped_export_of_deleted_item_404(api: httpx.Client) -> None:
    p = create_project(api)
    w = create_item(api, p["id"], "task")
    ok(api.delete(f"/api/v1/work-items/{w['id']}"))
    r = api.get("/api/v1/sync/export", params={"work_item": w["id"]})
    assert_error(r, 404, "NOT_FOUND", f"Work item with ID {w['id']} not found")
    r = api.get("/api/v1/sync/export", params={"work_item": w["display_key"]})
    assert_error(
        r, 404, "NOT_FOUND", f"Work item {w['display_key']} not found in project {p['key']}"
    )


def test_export_leaves_out_rows_of_deleted_project(server_factory: ServerFactory) -> None:
    # compat.md: the original exports the live items of a deleted project (display key
    # "UNKNOWN-n", §1.3), which no import can restore; pm-fast leaves them out, with their
    # sprints, comments, time entries and links
    import sqlite3

    from .conftest import FULL_FIXTURE

    srv = server_factory(start=False, fixture=FULL_FIXTURE)
    srv.prepare()
    con = sqlite3.connect(srv.db_path)
    con.execute("UPDATE pm_projects SET deleted_at = 1764000500 WHERE key = 'API'")
    con.commit()
    con.close()
    srv.start()
    api_id = "cd02c5e1-1635-4d03-951f-d8f9a2c68e45"
    with srv.client() as c:
        data = export_all(c)
        assert [p["key"] for p in data["projects"]] == ["WEB"]
        assert len(data["work_items"]) == 26
        assert all(w["display_key"].startswith("WEB-") for w in data["work_items"])
        assert all(s["project_id"] != api_id for s in data["sprints"])
        items = {w["id"] for w in data["work_items"]}
        assert all(x["work_item_id"] in items for x in data["comments"] + data["time_entries"])
        for d in data["dependencies"]:
            assert d["blocking_item_id"] in items and d["blocked_item_id"] in items
    fresh = server_factory()
    with fresh.client() as c:
        do_import(c, data)
        again = export_all(c)
    data.pop("exported_at")
    again.pop("exported_at")
    assert again == data


def test_import_over_64_mib_rejected(api: httpx.Client) -> None:
    before = snapshot(api)
    body = b'{"schema_version": 1, "pad": "' + b"a" * (64 * 1024 * 1024 + 16) + b'"}'
    r = api.post("/api/v1/sync/import", content=body, headers={"Content-Type": "application/json"})
    assert_error(r, 413, "PAYLOAD_TOO_LARGE", field=ANY_FIELD)
    assert snapshot(api) == before
