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


_FORMAT = "Invalid display key format '{}': expected PROJECT-NUMBER (e.g., PONE-126)"


# The messages are the original's, word for word (checked against pm-server 0.1.4).
@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ABCDEFGHIJK-126", "Invalid project key 'ABCDEFGHIJK': must be 1-10 uppercase letters"),
        ("ÄÄÄÄÄÄ-1", "Invalid project key 'ÄÄÄÄÄÄ': must be 1-10 uppercase letters"),
        (
            "pone-126",
            "Invalid project key 'pone': must contain only uppercase ASCII letters (A-Z)",
        ),
        (
            "PONE1-126",
            "Invalid project key 'PONE1': must contain only uppercase ASCII letters (A-Z)",
        ),
        (
            "PONE_-126",
            "Invalid project key 'PONE_': must contain only uppercase ASCII letters (A-Z)",
        ),
        ("PONE-0", "Invalid item number 0: must be greater than 0"),
        ("PONE-00", "Invalid item number 0: must be greater than 0"),
        ("PONE-+0", "Invalid item number 0: must be greater than 0"),
        ("PONE--1", _FORMAT.format("PONE--1")),
        ("PONE-abc", "Invalid item number 'abc': must be a positive integer"),
        ("PONE-", "Invalid item number '': must be a positive integer"),
        ("PONE-12.5", "Invalid item number '12.5': must be a positive integer"),
        ("PONE-1_0", "Invalid item number '1_0': must be a positive integer"),
        ("PONE-\uff15", "Invalid item number '\uff15': must be a positive integer"),
        ("PONE126", _FORMAT.format("PONE126")),
        ("PONE-126-1", _FORMAT.format("PONE-126-1")),
        ("", _FORMAT.format("")),
        ("-1", "Invalid project key '': must be 1-10 uppercase letters"),
        ("PONE- 1", "Invalid item number ' 1': must be a positive integer"),
        ("PONE-+-1", _FORMAT.format("PONE-+-1")),
        (
            "PONE-99999999999999999999",
            "Invalid item number '99999999999999999999': must be a positive integer",
        ),
        (
            "PONE-9223372036854775808",
            "Invalid item number '9223372036854775808': must be a positive integer",
        ),
    ],
)
def test_display_keys_refused_with_bad_request(text: str, message: str) -> None:
    with pytest.raises(DomainError) as err:
        rules.parse_display_key(text)
    assert err.value.code == "BAD_REQUEST"
    assert err.value.message == message


def test_display_key_number_takes_a_sign_like_the_original() -> None:
    assert rules.parse_display_key("PONE-+5") == ("PONE", 5)
    assert rules.parse_display_key("PONE-9223372036854775807") == ("PONE", 2**63 - 1)


# What the Rust uuid crate says, as the original's REST errors show it.
@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            "nope",
            "invalid character: expected an optional prefix of `urn:uuid:` followed by "
            "[0-9a-fA-F-], found `n` at 1",
        ),
        (
            "12345678-1234-1234-1234-12345678901g",
            "invalid character: expected an optional "
            "prefix of `urn:uuid:` followed by [0-9a-fA-F-], found `g` at 36",
        ),
        (
            "urn:uuid:x",
            "invalid character: expected an optional prefix of `urn:uuid:` "
            "followed by [0-9a-fA-F-], found `x` at 10",
        ),
        (
            "{12345678-1234-1234-1234-123456789012",
            "invalid character: expected an optional "
            "prefix of `urn:uuid:` followed by [0-9a-fA-F-], found `{` at 1",
        ),
        (
            "\u00e91",
            "invalid character: expected an optional prefix of `urn:uuid:` followed by "
            "[0-9a-fA-F-], found `\u00e9` at 1",
        ),
        ("1234", "invalid length: expected length 32 for simple format, found 4"),
        ("", "invalid length: expected length 32 for simple format, found 0"),
        (
            "12345678-1234-1234-1234-1234567890",
            "invalid group length in group 4: expected 12, found 10",
        ),
        (
            "1234567-81234-1234-1234-123456789012",
            "invalid group length in group 0: expected 8, found 7",
        ),
        (
            "{12345678-1234-1234-1234-1234567890123}",
            "invalid group length in group 4: expected 12, found 15",
        ),
        ("12345678-1234-1234-1234-123456789012-", "invalid group count: expected 5, found 6"),
    ],
)
def test_uuid_errors_say_what_the_original_says(text: str, problem: str) -> None:
    with pytest.raises(DomainError) as err:
        rules.parse_uuid(text)
    assert err.value.message == f"Invalid UUID format: {problem}"


def test_trim_keeps_the_information_separators() -> None:
    # Rust's str::trim removes Unicode White_Space only; U+001C..U+001F are not.
    assert rules.trim("\x1c a\u3000\x1f") == "\x1c a\u3000\x1f"
    assert rules.trim("\u3000\x85 a \t\n") == "a"


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
