"""Pure rules: parsing and validation with no I/O. Services call these; edges never do."""

from __future__ import annotations

import re
import uuid

from .errors import DomainError, bad_request, invalid

_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_HEX = r"[0-9a-fA-F]"
_HYPHENATED = rf"{_HEX}{{8}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{12}}"
# The four spellings Rust's Uuid::parse_str accepts (Python's UUID() accepts more).
_ANY_UUID = re.compile(rf"{_HYPHENATED}|\{{{_HYPHENATED}\}}|urn:uuid:{_HYPHENATED}|{_HEX}{{32}}")

ITEM_TYPES = ("epic", "story", "task")
# `blocked` is accepted by the original's validator but not by its schema's CHECK, so a
# stored item can never have it: pm-fast refuses it up front (docs/compat.md).
ITEM_STATUSES = ("backlog", "todo", "in_progress", "review", "done")
PRIORITIES = ("low", "medium", "high", "critical")
PROJECT_STATUSES = ("active", "archived")
SPRINT_STATUSES = ("planned", "active", "completed", "cancelled")
DEPENDENCY_TYPES = ("blocks", "relates_to")
MAX_LINKS_PER_ITEM = 50
STORY_POINTS_RANGE = (0, 100)
I32_MAX = 2**31 - 1
I32_MIN = -(2**31)
# Every timestamp stays within the years 1 to 9999 (UTC): 0001-01-01T00:00:00Z and
# 9999-12-31T23:59:59Z in Unix seconds. Change logs show sprint dates as ISO text, which
# exists only in that range, and so do the dates of the original's clients.
TIMESTAMP_RANGE = (-62_135_596_800, 253_402_300_799)
# An item number must leave room for the project's counter (the number after it) in
# its int32 field.
MAX_ITEM_NUMBER = I32_MAX - 1

# (parent type, child type) pairs that may be linked.
_ALLOWED_PARENT = {"story": "epic", "task": "story"}

# Unicode White_Space, what the original's `str::trim` removes. Python's `str.strip()`
# also removes U+001C..U+001F, which the original keeps.
WHITESPACE = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
    "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)

_SPRINT_TRANSITIONS = {
    ("planned", "active"),
    ("planned", "cancelled"),
    ("active", "completed"),
    ("active", "cancelled"),
}


def try_uuid(text: str) -> str | None:
    """The canonical (lower-case, hyphenated) form of `text`, or None if it is no UUID."""
    if _CANONICAL_UUID.fullmatch(text):
        return text
    if _ANY_UUID.fullmatch(text) is None:
        return None
    return str(uuid.UUID(text))


def parse_uuid(text: str, field: str | None = None) -> str:
    value = try_uuid(text)
    if value is None:
        raise invalid(f"Invalid UUID format: {_uuid_problem(text)}", field)
    return value


def _uuid_problem(text: str) -> str:
    """What the Rust `uuid` crate says about `text`, word for word (the original's REST
    errors carry it): the first bad character with its 1-based byte position, else the
    group count, else the first group of the wrong length."""
    raw = text.encode()
    body, offset, simple = raw, 0, True
    if len(raw) >= 2 and raw[:1] == b"{" and raw[-1:] == b"}":
        body, offset, simple = raw[1:-1], 1, False
    elif raw.startswith(b"urn:uuid:"):
        body, offset, simple = raw[9:], 9, False
    hyphens: list[int] = []
    index = 0
    for char in body.decode():
        if char == "-":
            hyphens.append(index)
        elif char not in "0123456789abcdefABCDEF":
            return (
                "invalid character: expected an optional prefix of `urn:uuid:` followed by "
                f"[0-9a-fA-F-], found `{char}` at {index + offset + 1}"
            )
        index += len(char.encode())
    if not hyphens and simple:
        return f"invalid length: expected length 32 for simple format, found {len(raw)}"
    if len(hyphens) != 4:
        return f"invalid group count: expected 5, found {len(hyphens) + 1}"
    starts = (0, 9, 14, 19, 24)
    for group in range(4):
        if hyphens[group] != starts[group + 1] - 1:
            return (
                f"invalid group length in group {group}: expected {_GROUP_LENGTHS[group]}, "
                f"found {hyphens[group] - starts[group]}"
            )
    # The crate measures the last group against the whole input, prefix included.
    return f"invalid group length in group 4: expected 12, found {len(raw) - starts[4]}"


_GROUP_LENGTHS = (8, 4, 4, 4, 12)


def parse_display_key(text: str) -> tuple[str, int]:
    """Split `KEY-N`. Errors are BAD_REQUEST with the original's wording."""
    parts = text.split("-")
    if len(parts) != 2:
        raise bad_request(
            f"Invalid display key format '{text}': expected PROJECT-NUMBER (e.g., PONE-126)"
        )
    key, number = parts
    # The original measures the key in bytes.
    if not 1 <= len(key.encode()) <= 10:
        raise bad_request(f"Invalid project key '{key}': must be 1-10 uppercase letters")
    if not all("A" <= c <= "Z" for c in key):
        raise bad_request(
            f"Invalid project key '{key}': must contain only uppercase ASCII letters (A-Z)"
        )
    value = _parse_i64(number)
    if value is None:
        raise bad_request(f"Invalid item number '{number}': must be a positive integer")
    if value <= 0:
        raise bad_request(f"Invalid item number {value}: must be greater than 0")
    return key, value


def _parse_i64(text: str) -> int | None:
    """Rust's `str::parse::<i64>`: an optional sign, then ASCII digits only."""
    digits = text[1:] if text[:1] in ("+", "-") else text
    if not digits or not digits.isascii() or not digits.isdigit():
        return None
    value = int(text, 10)
    return value if -(2**63) <= value <= 2**63 - 1 else None


def trim(value: str) -> str:
    """Leading and trailing Unicode white space removed, as the original trims."""
    return value.strip(WHITESPACE)


def clean_text(value: str) -> str:
    return trim(value)


def optional_text(value: str | None) -> str | None:
    """Trimmed text, with empty meaning 'none'."""
    if value is None:
        return None
    value = trim(value)
    return value or None


def malformed(message: str, field: str | None = None) -> DomainError:
    """A request that breaks a message-format limit (WebSocket INVALID_MESSAGE)."""
    return DomainError("INVALID_MESSAGE", message, field)


def require_title(value: str, max_len: int, field: str = "title") -> str:
    """Trimmed first (docs/compat.md), then 1..max_len characters."""
    value = trim(value)
    if not value:
        raise malformed(f"{field} must be at least 1 characters", field)
    if len(value) > max_len:
        raise malformed(f"{field} must not exceed {max_len} characters", field)
    return value


def check_description(value: str, max_len: int, *, on_create: bool) -> str:
    if len(value) > max_len:
        if on_create:
            raise malformed(
                f"description exceeds maximum length ({max_len} characters)", "description"
            )
        raise invalid(f"Description exceeds maximum length ({max_len} characters)", "description")
    return trim(value)


def check_choice(value: str, allowed: tuple[str, ...], field: str, label: str) -> str:
    if value not in allowed:
        raise invalid(f"Invalid {label}: '{value}'. Valid values: {', '.join(allowed)}", field)
    return value


def check_item_choice(value: str, allowed: tuple[str, ...], field: str) -> str:
    """A work item's status or priority, refused in the original's words."""
    if value not in allowed:
        raise invalid(
            f"Validation failed: Invalid {field}: {value}. Valid: {', '.join(allowed)}", field
        )
    return value


def check_dependency_type(value: str) -> str:
    if value not in DEPENDENCY_TYPES:
        raise invalid(
            f"Invalid dependency_type: {value}. Valid values: {', '.join(DEPENDENCY_TYPES)}",
            "dependency_type",
        )
    return value


def check_item_type(value: str) -> str:
    if value not in ITEM_TYPES:
        raise invalid(f"Invalid item_type: {value}. Valid values: epic, story, task", "item_type")
    return value


def check_hierarchy(parent_type: str, child_type: str) -> None:
    if _ALLOWED_PARENT.get(child_type) != parent_type:
        raise invalid(
            "Validation failed: Invalid hierarchy: "
            f"{child_type.capitalize()} cannot be a child of {parent_type.capitalize()}",
            "parent_id",
        )


def check_sprint_transition(current: str, new: str) -> None:
    if current != new and (current, new) not in _SPRINT_TRANSITIONS:
        raise invalid(f"Invalid status transition: {current} -> {new}", "status")


def check_story_points(value: int) -> int:
    low, high = STORY_POINTS_RANGE
    if not (low <= value <= high):
        raise invalid("Story points must be 0-100", "story_points")
    return value


def check_position(value: int) -> int:
    if value < 0:
        raise invalid("Position must be non-negative", "position")
    if value > I32_MAX:
        raise invalid(f"Position must be at most {I32_MAX}", "position")
    return value


def check_i32(value: int, field: str) -> int:
    """`value` if a protobuf int32 field can carry it."""
    if not (I32_MIN <= value <= I32_MAX):
        raise invalid(f"{field} must be between {I32_MIN} and {I32_MAX}, got {value}", field)
    return value


def check_item_number(value: int, field: str = "item_number") -> int:
    if not (1 <= value <= MAX_ITEM_NUMBER):
        raise invalid(f"{field} must be between 1 and {MAX_ITEM_NUMBER}, got {value}", field)
    return value


def next_position(highest: int) -> int:
    """The position after the last sibling's; the group's end once int32 runs out (a
    new item still sorts last: ties go by item number)."""
    return min(highest + 1, I32_MAX)


def next_version(current: int) -> int:
    """The version after `current`; refused once int32 runs out (never wraps, so a
    client comparing versions never sees one go back)."""
    if current >= I32_MAX:
        raise invalid(
            f"Version {current} is the highest one: this entity can no longer be changed",
            "expected_version",
        )
    return current + 1


def check_duration(seconds: int, field: str) -> int:
    """A duration derived from two timestamps must fit its int32 field."""
    if seconds > I32_MAX:
        raise invalid(f"The time entry would last longer than {I32_MAX} seconds", field)
    return seconds


def bounded_duration(seconds: int) -> int:
    """A duration the server derives on its own (stopping a timer): 0 to int32 max."""
    return min(max(seconds, 0), I32_MAX)


def check_content(value: str, max_len: int) -> str:
    stripped = trim(value)
    if not stripped:
        raise malformed("content must be at least 1 characters", "content")
    if len(stripped) > max_len:
        raise malformed(f"content must not exceed {max_len} characters", "content")
    return stripped


def check_timestamp(value: int, field: str) -> int:
    low, high = TIMESTAMP_RANGE
    if not (low <= value <= high):
        raise invalid(
            f"Invalid {field} timestamp: {value} (must be within the years 1 to 9999)", field
        )
    return value


def short_id(value: str) -> str:
    return value[:8]


__all__ = [
    "DomainError",
    "parse_display_key",
    "parse_uuid",
    "try_uuid",
]
