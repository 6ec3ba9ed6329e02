"""Unit tests of the pure rules in pm_fast.core.rules."""

from __future__ import annotations

import pytest

from pm_fast.core import rules
from pm_fast.core.errors import DomainError


@pytest.mark.parametrize(
    "text",
    [
        "8d116ece-1738-47d9-bd9c-172411e20b8f",
        "8D116ECE-1738-47D9-BD9C-172411E20B8F",
        "{8d116ece-1738-47d9-bd9c-172411e20b8f}",
        "urn:uuid:8d116ece-1738-47d9-bd9c-172411e20b8f",
        "8d116ece173847d9bd9c172411e20b8f",
    ],
)
def test_uuid_spellings_accepted_and_canonicalised(text: str) -> None:
    assert rules.try_uuid(text) == "8d116ece-1738-47d9-bd9c-172411e20b8f"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "x",
        "not-a-uuid",
        "8d116ece-1738-47d9-bd9c-172411e20b8",
        " 8d116ece173847d9bd9c172411e20b8f",
        "8d116ece-173847d9-bd9c-172411e20b8f",
        "8d116ece-1738-47d9-bd9c-172411e20b8g",
    ],
)
def test_uuid_rejections(text: str) -> None:
    assert rules.try_uuid(text) is None
    with pytest.raises(DomainError) as err:
        rules.parse_uuid(text, "project_id")
    assert err.value.code == "VALIDATION_ERROR"
    assert err.value.message.startswith("Invalid UUID format: ")
    assert err.value.field == "project_id"


@pytest.mark.parametrize(
    ("text", "key", "number"),
    [
        ("PONE-126", "PONE", 126),
        ("A-1", "A", 1),
        ("ABCDEFGHIJ-1234567890", "ABCDEFGHIJ", 1234567890),
        ("KEY-4294967297", "KEY", 4294967297),
        ("PONE-+7", "PONE", 7),
    ],
)
def test_display_keys_parse(text: str, key: str, number: int) -> None:
    assert rules.parse_display_key(text) == (key, number)


@pytest.mark.parametrize(
    "text",
    [
        "ABCDEFGHIJK-126",
        "pone-126",
        "PONE1-126",
        "PONE_-126",
        "PONE-0",
        "PONE--1",
        "PONE-abc",
        "PONE-",
        "PONE-12.5",
        "PONE126",
        "PONE-126-1",
        "",
        "-1",
        "PONE- 1",
        "PONE-+-1",
        "PONE-99999999999999999999",
    ],
)
def test_display_keys_refused_with_bad_request(text: str) -> None:
    with pytest.raises(DomainError) as err:
        rules.parse_display_key(text)
    assert err.value.code == "BAD_REQUEST"
    assert text in err.value.message or text == ""


def test_format_error_names_the_expected_shape() -> None:
    with pytest.raises(DomainError) as err:
        rules.parse_display_key("TEST126")
    assert "expected PROJECT-NUMBER" in err.value.message and "TEST126" in err.value.message


@pytest.mark.parametrize(("parent", "child"), [("epic", "story"), ("story", "task")])
def test_allowed_hierarchy(parent: str, child: str) -> None:
    rules.check_hierarchy(parent, child)


@pytest.mark.parametrize(
    ("parent", "child"),
    [
        ("epic", "task"),
        ("epic", "epic"),
        ("story", "story"),
        ("story", "epic"),
        ("task", "task"),
        ("task", "story"),
        ("task", "epic"),
    ],
)
def test_refused_hierarchy(parent: str, child: str) -> None:
    with pytest.raises(DomainError) as err:
        rules.check_hierarchy(parent, child)
    assert err.value.field == "parent_id"
    assert f"{child.capitalize()} cannot be a child of {parent.capitalize()}" in err.value.message


ALLOWED = {
    ("planned", "active"),
    ("planned", "cancelled"),
    ("active", "completed"),
    ("active", "cancelled"),
}


@pytest.mark.parametrize("current", rules.SPRINT_STATUSES)
@pytest.mark.parametrize("new", rules.SPRINT_STATUSES)
def test_sprint_state_machine(current: str, new: str) -> None:
    if current == new or (current, new) in ALLOWED:
        rules.check_sprint_transition(current, new)
    else:
        with pytest.raises(DomainError) as err:
            rules.check_sprint_transition(current, new)
        assert "Invalid status transition" in err.value.message
        assert err.value.field == "status"


def test_titles_are_trimmed_and_bounded() -> None:
    assert rules.require_title("  hello  ", 10) == "hello"
    assert rules.require_title("x" * 10, 10) == "x" * 10
    with pytest.raises(DomainError):
        rules.require_title("x" * 11, 10)
    with pytest.raises(DomainError) as err:
        rules.require_title("   ", 10)
    assert err.value.field == "title"


def test_story_points_and_positions() -> None:
    assert rules.check_story_points(0) == 0 and rules.check_story_points(100) == 100
    for bad in (-1, 101):
        with pytest.raises(DomainError):
            rules.check_story_points(bad)
    assert rules.check_position(0) == 0
    with pytest.raises(DomainError):
        rules.check_position(-1)


def test_blocked_status_is_refused_up_front() -> None:
    # The schema's CHECK has no `blocked`; refusing it avoids the original's 500.
    with pytest.raises(DomainError) as err:
        rules.check_choice("blocked", rules.ITEM_STATUSES, "status", "status")
    assert err.value.code == "VALIDATION_ERROR" and err.value.field == "status"


def test_optional_text() -> None:
    assert rules.optional_text(None) is None
    assert rules.optional_text("  ") is None
    assert rules.optional_text(" a ") == "a"


def test_timestamps_bounded_like_chrono() -> None:
    assert rules.check_timestamp(0, "start_date") == 0
    with pytest.raises(DomainError) as err:
        rules.check_timestamp(10**15, "end_date")
    assert err.value.field == "end_date"
