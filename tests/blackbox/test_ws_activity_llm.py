# mypy: disable-error-code="no-any-return"
"""WebSocket activity-log and LLM-context queries (spec §3.12, §4.6, §4.7.7, §6.6, §6.7)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from pm_fast.api import pm_pb2 as pb

from .wsclient import (
    ServerProcess,
    add_member,
    assert_error,
    case_of,
    clients,
    module_server,
    new_id,
    now,
)

GA, GL = "get_activity_log_request", "get_llm_context_request"
ENTITY_TYPES = ["work_item", "sprint", "comment", "time_entry", "dependency", "project"]


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    # the paging test sends ~110 frames on one connection (default limit: 100)
    yield from module_server(
        tmp_path_factory, "ws-activity", env={"PM_RATE_LIMIT_MAX_REQUESTS": "1000"}
    )


async def test_activity_log_of_a_new_task_for_a_viewer(srv: ServerProcess) -> None:
    # §6.6 (BB): a task created over WS has one `created` row
    async with clients(srv.port, "new", "new") as (c, viewer):
        p = await c.project()
        add_member(srv, p.id, viewer.user_id, "viewer")
        w = await c.item(p.id)
        reply, events = await viewer.request(
            GA, entity_type="work_item", entity_id=w.id, limit=10, offset=0
        )
        assert events == [] and case_of(reply) == "activity_log_list"
        lst = reply.activity_log_list
        assert lst.total_count == 1 and not lst.has_more
        (e,) = lst.entries
        assert (e.entity_type, e.entity_id, e.action, e.user_id) == (
            "work_item",
            w.id,
            "created",
            c.user_id,
        )
        assert not e.HasField("comment")
        for f in ("field_name", "old_value", "new_value"):
            assert not e.HasField(f)
        assert w.created_at <= e.timestamp <= now() + 1


async def test_activity_log_paging_and_clamping(srv: ServerProcess) -> None:
    async with clients(srv.port, "new") as (c,):
        p = await c.project()
        w = await c.item(p.id, title="t0")
        for i in range(1, 105):  # 104 updates + 1 create = 105 rows
            await c.call(
                "update_work_item_request", work_item_id=w.id, expected_version=i, title=f"t{i}"
            )

        async def page(limit: int, offset: int = 0) -> pb.ActivityLogList:
            return await c.call(
                GA, entity_type="work_item", entity_id=w.id, limit=limit, offset=offset
            )

        first = await page(10)
        assert len(first.entries) == 10 and first.total_count == 105 and first.has_more
        assert [e.action for e in first.entries] == ["updated"] * 10
        assert all(e.comment == "1 fields changed" for e in first.entries)
        stamps = [e.timestamp for e in first.entries]
        assert stamps == sorted(stamps, reverse=True)
        # limit 0 -> 1 (no default of 50); > 100 -> 100; negative offset -> 0
        zero = await page(0)
        assert len(zero.entries) == 1 and zero.has_more
        assert zero.entries[0].id == first.entries[0].id
        big = await page(1000)
        assert len(big.entries) == 100 and big.has_more
        neg = await page(3, -7)
        assert [e.id for e in neg.entries] == [e.id for e in first.entries[:3]]
        # has_more = offset + limit < total
        tail = await page(5, 100)
        assert len(tail.entries) == 5 and not tail.has_more
        assert tail.entries[-1].action == "created"
        edge = await page(4, 100)
        assert edge.has_more
        past = await page(10, 200)
        assert list(past.entries) == [] and past.total_count == 105 and not past.has_more
        # pages do not overlap and cover everything
        ids = [e.id for off in range(0, 105, 50) for e in (await page(50, off)).entries]
        assert len(ids) == len(set(ids)) == 105


async def test_activity_log_for_every_entity_type(srv: ServerProcess) -> None:
    async with clients(srv.port, "new") as (c,):
        p = await c.project()
        a = await c.item(p.id)
        b = await c.item(p.id)
        s = await c.sprint(p.id)
        cm = await c.comment(a.id, "hello")
        t = now()
        te = await c.manual_entry(a.id, t - 100, t - 50)
        d = await c.dependency(a.id, b.id)
        for etype, eid in (
            ("project", p.id),
            ("work_item", a.id),
            ("sprint", s.id),
            ("comment", cm.id),
            ("time_entry", te.id),
            ("dependency", d.id),
        ):
            lst = await c.call(GA, entity_type=etype, entity_id=eid, limit=5)
            assert lst.total_count == 1, etype
            assert [(e.entity_type, e.entity_id, e.action) for e in lst.entries] == [
                (etype, eid, "created")
            ]


async def test_activity_log_validation_in_order(srv: ServerProcess) -> None:
    async with clients(srv.port, "new", "new") as (c, stranger):
        p = await c.project()
        w = await c.item(p.id)
        err = await c.error(GA, entity_type="bogus", entity_id="nope", limit=5)
        assert_error(err, "VALIDATION_ERROR", "Invalid entity_id: nope")
        err = await c.error(GA, entity_type="bogus", entity_id=w.id, limit=5)
        assert_error(err, "VALIDATION_ERROR", "Invalid entity_type 'bogus'", "Must be one of")
        err = await c.error(GA, entity_type="Work_Item", entity_id=w.id, limit=5)
        assert_error(err, "VALIDATION_ERROR", "Invalid entity_type")
        for etype in ENTITY_TYPES:
            err = await c.error(GA, entity_type=etype, entity_id=new_id(), limit=5)
            assert_error(err, "NOT_FOUND")
        # the entity exists but belongs to another type
        err = await c.error(GA, entity_type="sprint", entity_id=w.id, limit=5)
        assert_error(err, "NOT_FOUND")
        err = await stranger.error(GA, entity_type="work_item", entity_id=w.id, limit=5)
        assert_error(err, "UNAUTHORIZED", "Not a member of this project")
        err = await stranger.error(GA, entity_type="project", entity_id=p.id, limit=5)
        assert_error(err, "UNAUTHORIZED")


async def test_activity_log_of_deleted_entities_is_not_found(srv: ServerProcess) -> None:
    async with clients(srv.port, "new") as (c,):
        p = await c.project()
        w = await c.item(p.id)
        keep = await c.item(p.id)
        cm = await c.comment(keep.id)
        s = await c.sprint(p.id)
        await c.call("delete_work_item_request", work_item_id=w.id)
        await c.call("delete_comment_request", comment_id=cm.id)
        await c.call("delete_sprint_request", sprint_id=s.id)
        for etype, eid in (("work_item", w.id), ("comment", cm.id), ("sprint", s.id)):
            err = await c.error(GA, entity_type=etype, entity_id=eid, limit=10)
            assert_error(err, "NOT_FOUND")
        # the live ones still answer
        lst = await c.call(GA, entity_type="work_item", entity_id=keep.id, limit=10)
        assert lst.total_count == 1


# --------------------------------------------------------------------------- LLM context
async def test_llm_context_all_rows(srv: ServerProcess) -> None:
    # §6.7: 28 seeded rows, priority desc then title asc; no authorization
    async with clients(srv.port, "new") as (c,):
        reply, events = await c.request(GL)
        assert events == [] and case_of(reply) == "llm_context_list"
        entries = list(reply.llm_context_list.entries)
        assert len(entries) == 28
        keys = [(-e.priority, e.title) for e in entries]
        assert keys == sorted(keys)
        by_type: dict[str, set[int]] = {}
        counts: dict[str, int] = {}
        for e in entries:
            by_type.setdefault(e.context_type, set()).add(e.priority)
            counts[e.context_type] = counts.get(e.context_type, 0) + 1
            assert e.id and e.category and e.title and e.content
        assert counts == {
            "schema_doc": 10,
            "query_pattern": 8,
            "business_rule": 5,
            "instruction": 5,
        }
        assert by_type == {
            "schema_doc": {100},
            "query_pattern": {90},
            "business_rule": {80},
            "instruction": {70},
        }
        assert len({e.id for e in entries}) == 28


async def test_llm_context_filters(srv: ServerProcess) -> None:
    async with clients(srv.port, "new") as (c,):
        everything = list((await c.call(GL)).entries)

        async def ids(**kw: Any) -> list[str]:
            return [e.id for e in (await c.call(GL, **kw)).entries]

        def expect(pred: object) -> list[str]:
            return [e.id for e in everything if pred(e)]  # type: ignore[operator]

        assert await ids(context_type="schema_doc") == expect(
            lambda e: e.context_type == "schema_doc"
        )
        assert len(await ids(context_type="query_pattern")) == 8
        assert await ids(context_type="Schema_Doc") == []
        assert await ids(context_type="") == []  # present (empty) = exact match on ""
        category = everything[0].category
        assert await ids(category=category) == expect(lambda e: e.category == category)
        assert await ids(min_priority=90) == expect(lambda e: e.priority >= 90)
        assert len(await ids(min_priority=90)) == 18
        assert len(await ids(min_priority=71)) == 23
        assert await ids(min_priority=101) == []
        assert len(await ids(min_priority=0)) == 28
        assert await ids(min_priority=80, context_type="business_rule") == expect(
            lambda e: e.context_type == "business_rule"
        )
        assert await ids(min_priority=81, context_type="business_rule") == []
        assert await ids(category=category, context_type="instruction", min_priority=0) == expect(
            lambda e: e.category == category and e.context_type == "instruction"
        )
        assert await ids(category="no-such-category") == []
