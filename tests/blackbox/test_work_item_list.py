"""§1.4 GET /projects/{id}/work-items filters and ordering (+ compat.md include_done fix)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from .helpers import (
    assert_error,
    build_tree,
    check_work_item,
    create_item,
    create_project,
    create_sprint,
    get_item,
    list_items,
    new_uuid,
    ok,
    update_item,
)


def ids(items: list[dict[str, Any]]) -> list[str]:
    return [w["id"] for w in items]


def idset(items: list[dict[str, Any]]) -> set[str]:
    return {w["id"] for w in items}


@pytest.fixture
def tree(api: httpx.Client) -> dict[str, Any]:
    p = create_project(api)
    t = build_tree(api, p["id"])
    return {"project": p, **t}


def test_list_envelope_and_shape(api: httpx.Client, tree: dict[str, Any]) -> None:
    p = tree["project"]
    body = ok(api.get(f"/api/v1/projects/{p['id']}/work-items"))
    assert list(body.keys()) == ["work_items"]
    for w in body["work_items"]:
        check_work_item(w)
    assert idset(body["work_items"]) == {
        tree[k]["id"] for k in ("E", "S1", "S2", "T11", "T12", "T21", "O")
    }
    listed = {w["id"]: w for w in body["work_items"]}
    assert listed[tree["T11"]["id"]] == tree["T11"]
    assert ok(api.get(f"/api/v1/projects/{p['key']}/work-items")) == body


def test_list_ordered_by_position(api: httpx.Client) -> None:
    p = create_project(api)
    a = create_item(api, p["id"], "task", "a")
    b = create_item(api, p["id"], "task", "b")
    c = create_item(api, p["id"], "task", "c")
    ok(update_item(api, a["id"], 1, position=50))
    ok(update_item(api, c["id"], 1, position=0))
    assert ids(list_items(api, p["id"])) == [c["id"], b["id"], a["id"]]
    items = list_items(api, p["id"])
    positions = [w["position"] for w in items]
    assert positions == sorted(positions)


def test_list_empty_and_unknown_project(api: httpx.Client) -> None:
    p = create_project(api)
    assert ok(api.get(f"/api/v1/projects/{p['id']}/work-items")) == {"work_items": []}
    u = new_uuid()
    assert_error(
        api.get(f"/api/v1/projects/{u}/work-items"),
        404,
        "NOT_FOUND",
        f"Project with ID {u} not found",
    )
    assert_error(
        api.get("/api/v1/projects/not-a-uuid/work-items"),
        404,
        "NOT_FOUND",
        "Project with key 'not-a-uuid' not found",
    )


def test_list_excludes_other_projects_and_deleted(api: httpx.Client, tree: dict[str, Any]) -> None:
    p = tree["project"]
    other = create_project(api)
    create_item(api, other["id"], "task")
    ok(api.delete(f"/api/v1/work-items/{tree['O']['id']}"))
    got = idset(list_items(api, p["id"]))
    assert tree["O"]["id"] not in got
    assert len(got) == 6


def test_filter_type(api: httpx.Client, tree: dict[str, Any]) -> None:
    p = tree["project"]
    assert idset(list_items(api, p["id"], type="epic")) == {tree["E"]["id"]}
    assert idset(list_items(api, p["id"], type="story")) == {tree["S1"]["id"], tree["S2"]["id"]}
    assert idset(list_items(api, p["id"], type="task")) == {
        tree[k]["id"] for k in ("T11", "T12", "T21", "O")
    }
    assert list_items(api, p["id"], type="bug") == []


def test_filter_status(api: httpx.Client, tree: dict[str, Any]) -> None:
    p = tree["project"]
    ok(update_item(api, tree["T11"]["id"], 1, status="in_progress"))
    ok(update_item(api, tree["T12"]["id"], 1, status="in_progress"))
    assert idset(list_items(api, p["id"], status="in_progress")) == {
        tree["T11"]["id"],
        tree["T12"]["id"],
    }
    assert len(list_items(api, p["id"], status="backlog")) == 5
    assert list_items(api, p["id"], status="review") == []


def test_filter_type_and_status_combined(api: httpx.Client, tree: dict[str, Any]) -> None:
    p = tree["project"]
    ok(update_item(api, tree["S1"]["id"], 1, status="todo"))
    ok(update_item(api, tree["T11"]["id"], 1, status="todo"))
    assert idset(list_items(api, p["id"], type="task", status="todo")) == {tree["T11"]["id"]}


def test_filter_sprint(api: httpx.Client, tree: dict[str, Any]) -> None:
    p = tree["project"]
    s = create_sprint(api, p["id"])
    s2 = create_sprint(api, p["id"])
    ok(update_item(api, tree["T11"]["id"], 1, sprint_id=s["id"]))
    ok(update_item(api, tree["S2"]["id"], 1, sprint_id=s["id"]))
    ok(update_item(api, tree["T21"]["id"], 1, sprint_id=s2["id"]))
    assert idset(list_items(api, p["id"], sprint_id=s["id"])) == {
        tree["T11"]["id"],
        tree["S2"]["id"],
    }
    assert idset(list_items(api, p["id"], sprint_id=s2["id"])) == {tree["T21"]["id"]}
    assert list_items(api, p["id"], sprint_id=new_uuid()) == []


def test_filter_parent_id(api: httpx.Client, tree: dict[str, Any]) -> None:
    p = tree["project"]
    assert idset(list_items(api, p["id"], parent_id=tree["S1"]["id"])) == {
        tree["T11"]["id"],
        tree["T12"]["id"],
    }
    assert idset(list_items(api, p["id"], parent_id=tree["E"]["id"])) == {
        tree["S1"]["id"],
        tree["S2"]["id"],
    }
    # display keys are not resolved in this filter: no match, not an error
    assert list_items(api, p["id"], parent_id=tree["S1"]["display_key"]) == []


def test_filter_orphaned(api: httpx.Client, tree: dict[str, Any]) -> None:
    p = tree["project"]
    assert idset(list_items(api, p["id"], orphaned="true")) == {tree["E"]["id"], tree["O"]["id"]}
    # orphaned=true ignores parent_id
    assert idset(list_items(api, p["id"], orphaned="true", parent_id=tree["S1"]["id"])) == {
        tree["E"]["id"],
        tree["O"]["id"],
    }
    assert len(list_items(api, p["id"], orphaned="false")) == 7
    assert idset(list_items(api, p["id"], orphaned="false", parent_id=tree["S2"]["id"])) == {
        tree["T21"]["id"]
    }
    assert idset(list_items(api, p["id"], orphaned="true", type="task")) == {tree["O"]["id"]}


def test_filter_descendants_of(api: httpx.Client, tree: dict[str, Any]) -> None:
    p = tree["project"]
    everything_below_e = {tree[k]["id"] for k in ("S1", "S2", "T11", "T12", "T21")}
    assert idset(list_items(api, p["id"], descendants_of=tree["E"]["id"])) == everything_below_e
    assert (
        idset(list_items(api, p["id"], descendants_of=tree["E"]["display_key"]))
        == everything_below_e
    )
    assert idset(list_items(api, p["id"], descendants_of=tree["S1"]["id"])) == {
        tree["T11"]["id"],
        tree["T12"]["id"],
    }
    assert list_items(api, p["id"], descendants_of=tree["T11"]["id"]) == []
    assert list_items(api, p["id"], descendants_of=tree["O"]["display_key"]) == []
    # combined with other filters
    assert idset(list_items(api, p["id"], descendants_of=tree["E"]["id"], type="task")) == {
        tree[k]["id"] for k in ("T11", "T12", "T21")
    }
    # ordered by position
    got = list_items(api, p["id"], descendants_of=tree["E"]["id"])
    assert [w["position"] for w in got] == sorted(w["position"] for w in got)


def test_filter_ancestors_of(api: httpx.Client, tree: dict[str, Any]) -> None:
    p = tree["project"]
    assert idset(list_items(api, p["id"], ancestors_of=tree["T21"]["id"])) == {
        tree["S2"]["id"],
        tree["E"]["id"],
    }
    assert idset(list_items(api, p["id"], ancestors_of=tree["T21"]["display_key"])) == {
        tree["S2"]["id"],
        tree["E"]["id"],
    }
    assert idset(list_items(api, p["id"], ancestors_of=tree["S1"]["id"])) == {tree["E"]["id"]}
    assert list_items(api, p["id"], ancestors_of=tree["E"]["id"]) == []
    assert list_items(api, p["id"], ancestors_of=tree["O"]["id"]) == []


def test_filter_descendants_unresolvable(api: httpx.Client, tree: dict[str, Any]) -> None:
    p = tree["project"]
    u = new_uuid()
    r = api.get(f"/api/v1/projects/{p['id']}/work-items", params={"descendants_of": u})
    assert_error(r, 404, "NOT_FOUND", f"Work item with ID {u} not found")
    r = api.get(f"/api/v1/projects/{p['id']}/work-items", params={"ancestors_of": "bad-key"})
    assert_error(r, 400, "BAD_REQUEST")
    r = api.get(
        f"/api/v1/projects/{p['id']}/work-items", params={"descendants_of": f"{p['key']}-999"}
    )
    assert_error(r, 404, "NOT_FOUND", f"Work item {p['key']}-999 not found in project {p['key']}")


def test_include_done(api: httpx.Client, tree: dict[str, Any]) -> None:
    p = tree["project"]
    ok(update_item(api, tree["T12"]["id"], 1, status="done"))
    ok(update_item(api, tree["O"]["id"], 1, status="done"))
    default = idset(list_items(api, p["id"]))
    assert tree["T12"]["id"] not in default and tree["O"]["id"] not in default
    assert len(default) == 5
    assert idset(list_items(api, p["id"], include_done="false")) == default
    everything = idset(list_items(api, p["id"], include_done="true"))
    assert len(everything) == 7
    assert idset(list_items(api, p["id"], status="done")) == set()
    assert idset(list_items(api, p["id"], status="done", include_done="true")) == {
        tree["T12"]["id"],
        tree["O"]["id"],
    }
    # done items stay directly readable
    assert get_item(api, tree["O"]["id"])["status"] == "done"


def test_include_done_false_traverses_through_done_items(
    api: httpx.Client, tree: dict[str, Any]
) -> None:
    # compat.md: traversal runs over all live items, then done items are left out
    p = tree["project"]
    ok(update_item(api, tree["S1"]["id"], 1, status="done"))
    got = idset(list_items(api, p["id"], descendants_of=tree["E"]["id"]))
    assert got == {tree[k]["id"] for k in ("S2", "T11", "T12", "T21")}
    got = idset(list_items(api, p["id"], descendants_of=tree["E"]["id"], include_done="true"))
    assert got == {tree[k]["id"] for k in ("S1", "S2", "T11", "T12", "T21")}
    got = idset(list_items(api, p["id"], ancestors_of=tree["T11"]["id"]))
    assert got == {tree["E"]["id"]}
    got = idset(list_items(api, p["id"], ancestors_of=tree["T11"]["id"], include_done="true"))
    assert got == {tree["E"]["id"], tree["S1"]["id"]}
    # a done start item can still be traversed from
    got = idset(list_items(api, p["id"], descendants_of=tree["S1"]["id"]))
    assert got == {tree["T11"]["id"], tree["T12"]["id"]}


def test_descendants_skip_deleted(api: httpx.Client, tree: dict[str, Any]) -> None:
    p = tree["project"]
    ok(api.delete(f"/api/v1/work-items/{tree['T21']['id']}"))
    got = idset(list_items(api, p["id"], descendants_of=tree["E"]["id"]))
    assert got == {tree[k]["id"] for k in ("S1", "S2", "T11", "T12")}


@pytest.mark.parametrize(
    "params",
    [
        {"include_done": "yes"},
        {"orphaned": "maybe"},
        {"include_done": "1x"},
    ],
)
def test_bad_query_values(api: httpx.Client, tree: dict[str, Any], params: dict[str, str]) -> None:
    p = tree["project"]
    r = api.get(f"/api/v1/projects/{p['id']}/work-items", params=params)
    assert_error(r, 400, "BAD_REQUEST", field=(None, *params.keys()))
