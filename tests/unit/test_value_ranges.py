"""Unit tests of the range rules (pm_fast.core.rules) and of sealing a mutation's events
before its commit (pm_fast.app.sealed)."""

from __future__ import annotations

from typing import cast

import msgspec
import pytest

from pm_fast.app import sealed
from pm_fast.core import rules
from pm_fast.core.commands import UpdateWorkItem
from pm_fast.core.errors import DomainError
from pm_fast.core.model import Event, Sprint, SprintUpdated, WorkItem, WorkItemCreated
from pm_fast.service.common import Outcome
from pm_fast.store.base import Program, Tx, drive

I32_MAX = 2**31 - 1


def refused(fn: object, *args: object) -> DomainError:
    with pytest.raises(DomainError) as info:
        fn(*args)  # type: ignore[operator]
    assert info.value.code == "VALIDATION_ERROR"
    return info.value


@pytest.mark.parametrize(
    ("highest", "expected"),
    [(0, 1), (41, 42), (I32_MAX - 1, I32_MAX), (I32_MAX, I32_MAX), (2**40, I32_MAX)],
)
def test_next_position_stays_within_int32(highest: int, expected: int) -> None:
    assert rules.next_position(highest) == expected


def test_position_must_fit_int32() -> None:
    assert rules.check_position(I32_MAX) == I32_MAX
    assert refused(rules.check_position, I32_MAX + 1).field == "position"
    assert refused(rules.check_position, -1).field == "position"


def test_next_version_refuses_past_int32() -> None:
    assert rules.next_version(1) == 2
    assert rules.next_version(I32_MAX - 1) == I32_MAX
    assert refused(rules.next_version, I32_MAX).field == "expected_version"


@pytest.mark.parametrize("value", [0, -1, I32_MAX, 2**31 + 5])
def test_item_numbers_leave_room_for_the_counter(value: int) -> None:
    assert refused(rules.check_item_number, value).field == "item_number"


def test_item_number_bounds() -> None:
    assert rules.check_item_number(1) == 1
    assert rules.check_item_number(I32_MAX - 1) == I32_MAX - 1


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        (-62_135_596_800, True),  # 0001-01-01T00:00:00Z
        (-62_135_596_801, False),
        (253_402_300_799, True),  # 9999-12-31T23:59:59Z
        (253_402_300_800, False),
        (0, True),
    ],
)
def test_timestamps_stay_within_years_1_to_9999(value: int, ok: bool) -> None:
    if ok:
        assert rules.check_timestamp(value, "end_date") == value
    else:
        err = refused(rules.check_timestamp, value, "end_date")
        assert err.field == "end_date" and "years 1 to 9999" in err.message


def test_durations() -> None:
    assert rules.check_duration(I32_MAX, "started_at") == I32_MAX
    assert refused(rules.check_duration, I32_MAX + 1, "started_at").field == "started_at"
    assert rules.bounded_duration(70 * 365 * 86400) == I32_MAX
    assert rules.bounded_duration(-5) == 0
    assert rules.bounded_duration(60) == 60


def test_check_i32() -> None:
    assert rules.check_i32(-(2**31), "x") == -(2**31)
    assert refused(rules.check_i32, 2**31, "x").field == "x"
    assert refused(rules.check_i32, -(2**31) - 1, "x").field == "x"


def test_json_commands_refuse_values_beyond_int32() -> None:
    decode = msgspec.json.Decoder(UpdateWorkItem).decode
    assert decode(b'{"expected_version": 1, "position": 2147483647}').position == I32_MAX
    for body in (
        b'{"expected_version": 1, "position": 3000000000}',
        b'{"expected_version": 1, "story_points": -2147483649}',
        b'{"expected_version": 3000000000}',
    ):
        with pytest.raises(msgspec.ValidationError):
            decode(body)


# -- sealing --------------------------------------------------------------------------
def _item(**kw: object) -> WorkItem:
    fields: dict[str, object] = dict(
        id="i",
        display_key="K-1",
        item_type="task",
        title="t",
        description=None,
        status="todo",
        priority="low",
        parent_id=None,
        project_id="p",
        assignee_id=None,
        sprint_id=None,
        story_points=None,
        item_number=1,
        position=1,
        version=1,
        created_at=0,
        updated_at=0,
        created_by="u",
        updated_by="u",
    )
    fields.update(kw)
    return WorkItem(**fields)  # type: ignore[arg-type]


def _program(events: list[Event]) -> Program[Outcome[str]]:
    return Outcome("done", events)
    yield  # pragma: no cover - makes this a generator


class _NoStore:
    """A program that yields no operation needs no store."""


NO_STORE = cast(Tx, _NoStore())


def test_sealed_passes_encodable_events_through() -> None:
    events: list[Event] = [WorkItemCreated("p", _item(position=I32_MAX), "u", {})]
    outcome = drive(sealed(_program(events)), NO_STORE)
    assert outcome.value == "done" and outcome.events == events


@pytest.mark.parametrize(
    "event",
    [
        WorkItemCreated("p", _item(position=I32_MAX + 1), "u", {}),
        WorkItemCreated("p", _item(item_number=2**40), "u", {}),
        # a change shown as an ISO date that does not exist
        SprintUpdated(
            "p",
            Sprint("s", "p", "n", None, 0, 253_402_300_800, "planned", 2, 0, 0, "u", "u"),
            "u",
            {
                "changed": ["end_date"],
                "previous": Sprint("s", "p", "n", None, 0, 10, "planned", 1, 0, 0, "u", "u"),
            },
        ),
    ],
)
def test_sealed_fails_the_program_before_commit(event: Event) -> None:
    with pytest.raises(DomainError) as info:
        drive(sealed(_program([event])), NO_STORE)
    assert info.value.code == "INTERNAL_ERROR"
