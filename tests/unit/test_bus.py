"""The cross-process bus's bookkeeping (no database): which outbox rows are published,
in which order, and which wait for an unpublished local write of their project."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from pm_fast.core.model import Event, WorkItemCreated
from pm_fast.realtime.bus import Bus, Row, encode_events


def _bus() -> tuple[Bus, list[str]]:
    published: list[str] = []

    def publish(events: list[Event]) -> None:
        published.extend(f"{e.project_id}:{e.entity}" for e in events)

    return Bus(lambda: None, publish, origin="me"), published


def _row(seq: int, project: str, origin: str = "other") -> Row:
    # the entity is a label here: the bus carries it without looking at it
    event = WorkItemCreated(project, cast(Any, f"e{seq}"), "u")
    return seq, origin, None if origin == "me" else encode_events([event]), seq


async def test_rows_publish_in_seq_order_and_once() -> None:
    bus, published = _bus()
    rows = [_row(1, "A"), _row(2, "B"), _row(3, "A", origin="me")]
    assert bus.absorb(rows)
    assert bus.absorb(rows)  # a second sight changes nothing
    assert published == ["A:e1", "B:e2"]  # own rows are only marked
    assert bus.high == 3 and not bus.gaps


async def test_a_held_project_waits_while_other_projects_go_on() -> None:
    bus, published = _bus()
    bus.hold(["A"], 5, own=[5])  # a local write of A committed as seq 5, not yet published
    assert not bus.absorb([_row(6, "A"), _row(7, "B"), _row(8, "A"), _row(9, "C")])
    assert published == ["B:e7", "C:e9"]
    assert not bus.handled(6) and not bus.handled(8)  # left as gaps, fetched again
    bus.release(["A"], 5, own=[5])
    assert bus.absorb([_row(6, "A"), _row(8, "A")])
    assert published == ["B:e7", "C:e9", "A:e6", "A:e8"]  # A still in its own order
    assert bus.handled(6) and bus.handled(8) and not {6, 8} & set(bus.gaps)


async def test_a_held_row_at_the_end_is_fetched_again_after_release() -> None:
    bus, published = _bus()
    bus.hold(["A"], 1)
    assert not bus.absorb([_row(2, "A")])
    assert bus.high < 2  # the next fetch (seq > high) brings it again
    bus.release(["A"], 1)
    assert bus.absorb([_row(2, "A")])
    assert published == ["A:e2"]


async def test_release_wakes_the_listener_after_a_skip() -> None:
    bus, _ = _bus()
    bus.hold(["A"], 1)
    bus.absorb([_row(2, "A")])
    assert not bus._wake.is_set()
    bus.release(["A"], 1)
    assert bus._wake.is_set()
    await asyncio.sleep(0)


def test_entity_types_are_flat() -> None:
    """`_pack` sends these types' field values untagged: none may hold a Struct."""
    import typing

    import msgspec

    from pm_fast.realtime import bus

    for name, kind in bus._TYPES.items():
        for field, hint in typing.get_type_hints(kind).items():
            for arg in (hint, *typing.get_args(hint)):
                is_struct = isinstance(arg, type) and issubclass(arg, msgspec.Struct)
                assert not is_struct, f"{name}.{field} holds a {arg}"
            assert hint is not typing.Any, f"{name}.{field} may hold anything"
