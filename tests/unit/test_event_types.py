"""Events are a typed union (pm_fast/core/model.py): one class per kind.

The union holds exactly the kinds pm.proto announces, each class encodes to its payload
case, the stored form maps back to the same classes (an unknown kind is an error), and
mypy --strict refuses an event built with the wrong entity or from a kind string, and
an encoder that misses a kind.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, get_args

import pytest

from pm_fast.api import ws_codec
from pm_fast.api.proto_names import EVENT_CASES
from pm_fast.core.model import (
    EVENT_TYPES,
    ActivityEntry,
    BaseEvent,
    Comment,
    Dependency,
    Event,
    Project,
    Sprint,
    TimeEntry,
    WorkItem,
    event_type,
)
from pm_fast.realtime.bus import decode_events, encode_events

from .typecheck import mypy_errors

U = "0b6c3f43-6a53-4c38-9f7e-1d2a3b4c5d6e"
ENTITIES: dict[str, Any] = {
    "work_item": WorkItem(
        U,
        "K-1",
        "task",
        "title",
        None,
        "todo",
        "medium",
        None,
        U,
        None,
        None,
        None,
        1,
        1000,
        1,
        1,
        1,
        U,
        U,
    ),
    "sprint": Sprint(U, U, "sprint", None, 1, 2, "planned", 1, 1, 1, U, U),
    "comment": Comment(U, U, "hi", 1, 1, U, U),
    "project": Project(U, "KEY", "title", None, "active", 1, 1, 1, U, U, 1),
    "time_entry": TimeEntry(U, U, U, 1, None, None, None, True, 1, 1),
    "dependency": Dependency(U, U, U, "blocks", 1, U),
    "activity": ActivityEntry(U, "work_item", U, "created", None, None, None, U, 1, None),
}


def _example(cls: type[Event]) -> Event:
    return cls(U, ENTITIES[cls.kind.split(".")[0]], U, {})


def test_the_union_holds_exactly_the_kinds_pm_proto_announces() -> None:
    classes = get_args(Event)
    assert sorted(cls.kind for cls in classes) == sorted(EVENT_CASES)
    assert len({cls.kind for cls in classes}) == len(classes) == len(EVENT_TYPES)
    assert all(issubclass(cls, BaseEvent) for cls in classes)
    assert all(EVENT_TYPES[cls.kind] is cls for cls in classes)


@pytest.mark.parametrize("cls", get_args(Event), ids=lambda cls: cls.kind)
def test_each_class_encodes_to_its_payload_case(cls: type[Event]) -> None:
    event = _example(cls)
    assert event.kind == cls.kind  # an attribute of the instance, as the Rust side reads it
    case, _ = ws_codec.event_payload(event)
    assert case == EVENT_CASES[cls.kind]


def test_the_stored_form_gives_back_the_same_classes() -> None:
    events = [_example(cls) for cls in get_args(Event)]
    back = decode_events(encode_events(events))
    assert back == events
    assert [type(e) for e in back] == [type(e) for e in events]


def test_an_unknown_kind_is_an_error() -> None:
    assert event_type("work_item.created") is EVENT_TYPES["work_item.created"]
    with pytest.raises(ValueError, match="unknown event kind 'work_item.moved'"):
        event_type("work_item.moved")


# What mypy --strict says about building and encoding events.
_CHECKED = """
from typing import assert_never

from pm_fast.core.model import Event, Sprint, WorkItem, WorkItemCreated, WorkItemDeleted
from pm_fast.service.common import Ctx, Outcome, committed
from pm_fast.store.base import Program


def good(ctx: Ctx, item: WorkItem) -> Program[Outcome[WorkItem]]:
    return (yield from committed(ctx, WorkItemCreated, item, item.project_id))


def wrong_entity(ctx: Ctx, sprint: Sprint) -> Program[Outcome[Sprint]]:
    return (yield from committed(ctx, WorkItemCreated, sprint, sprint.project_id))


def kind_string(ctx: Ctx, item: WorkItem) -> Program[Outcome[WorkItem]]:
    return (yield from committed(ctx, "work_item.created", item, item.project_id))


def incomplete(event: Event) -> str:
    match event.kind:
        case "work_item.created" | "work_item.deleted":
            return event.entity.title
        case _:
            assert_never(event)
"""


def test_mypy_rejects_a_wrong_entity_a_kind_string_and_a_missing_kind(tmp_path: Path) -> None:
    status, errors, out = mypy_errors(tmp_path, "events.py", _CHECKED)
    assert status == 1
    assert [line for line, _ in errors] == [14, 18, 26], out
    # WorkItemCreated takes a WorkItem: no entity type fits both it and a Sprint
    assert 'Cannot infer value of type parameter "E" of "committed"' in errors[0][1]
    assert 'has incompatible type "str"; expected "EventClass[WorkItem]"' in errors[1][1]
    assert 'Argument 1 to "assert_never" has incompatible type "WorkItemUpdated |' in errors[2][1]
