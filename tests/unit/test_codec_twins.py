"""The protobuf encoder: Rust (pm_fast_ext) ≡ its twin (pm_fast.api.codec_twin) ≡ upb.

Encoders must produce the very bytes upb serializes. Hypothesis generates entities and
events and compares the two implementations; the Rust frames are also parsed back with
upb (the parser the server itself uses for client frames) and checked field by field
against the entities they came from, without going through ws_codec.

The extension must be built for this suite (``pip install -e .``); a missing extension
is a failure here, not a skip.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest
from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pm_fast_ext as rust
from pm_fast.api import codec_twin as twin
from pm_fast.api import pm_pb2 as pb
from pm_fast.api import ws_codec
from pm_fast.api.proto_names import EVENT_CASES
from pm_fast.core.model import (
    ActivityEntry,
    Comment,
    Dependency,
    Project,
    Sprint,
    TimeEntry,
    WorkItem,
)

from .accel_probe import probe_accel

PROPS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)


def outcome(call: Callable[[], Any]) -> tuple[str, Any]:
    """What a call did, comparable across implementations: its value (as repr, so that
    types and dict key order count) or the type of its exception."""
    try:
        return "ok", repr(call())
    except Exception as err:  # noqa: BLE001  (which exception is what gets compared)
        return "raised", type(err)


def decode_outcome(call: Callable[[], Any]) -> tuple[str, Any]:
    """Like `outcome`, but a decoder's only admissible exception is ValueError."""
    try:
        return "ok", repr(call())
    except ValueError:
        return "raised", ValueError


# ------------------------------------------------------------------ entity strategies

ids = st.one_of(st.uuids().map(str), st.sampled_from(["", "x", "é", "id-1"]))
texts = st.text(max_size=40)
int32s = st.one_of(st.integers(-3, 300), st.integers(*INT32))
int64s = st.one_of(st.integers(-3, 300), st.integers(*INT64))
# Unix times Python's datetime can show (years 1 to 9999), and beyond
dates = st.one_of(st.integers(-62_135_596_800, 253_402_300_799), st.integers(*INT64))


def maybe(values: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | values


def plain(values: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A field the model types as non-optional: rarely None (which protobuf reads as
    "leave unset"), to cover that rule too."""
    return st.one_of(values, values, values, values, values, values, values, st.none())


def names(*valid: str) -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(valid), st.text(max_size=6))


projects = st.builds(
    Project,
    id=plain(ids),
    key=plain(texts),
    title=plain(texts),
    description=maybe(texts),
    status=plain(names("active", "archived")),
    version=plain(int32s),
    created_at=plain(int64s),
    updated_at=plain(int64s),
    created_by=plain(ids),
    updated_by=plain(ids),
    next_work_item_number=plain(int32s),
)
work_items = st.builds(
    WorkItem,
    id=plain(ids),
    display_key=texts,
    item_type=plain(names("epic", "story", "task")),
    title=plain(texts),
    description=maybe(texts),
    status=plain(texts),
    priority=plain(texts),
    parent_id=maybe(ids),
    project_id=plain(ids),
    assignee_id=maybe(ids),
    sprint_id=maybe(ids),
    story_points=maybe(int32s),
    item_number=plain(int32s),
    position=plain(int32s),
    version=plain(int32s),
    created_at=plain(int64s),
    updated_at=plain(int64s),
    created_by=plain(ids),
    updated_by=plain(ids),
)
sprints = st.builds(
    Sprint,
    id=plain(ids),
    project_id=plain(ids),
    name=plain(texts),
    goal=maybe(texts),
    start_date=plain(dates),
    end_date=plain(dates),
    status=plain(names("planned", "active", "completed", "cancelled")),
    version=plain(int32s),
    created_at=plain(int64s),
    updated_at=plain(int64s),
    created_by=plain(ids),
    updated_by=plain(ids),
)
comments = st.builds(
    Comment,
    id=plain(ids),
    work_item_id=plain(ids),
    content=plain(texts),
    created_at=plain(int64s),
    updated_at=plain(int64s),
    created_by=plain(ids),
    updated_by=plain(ids),
)
time_entries = st.builds(
    TimeEntry,
    id=plain(ids),
    work_item_id=plain(ids),
    user_id=plain(ids),
    started_at=plain(int64s),
    ended_at=maybe(int64s),
    duration_seconds=maybe(int32s),
    description=maybe(texts),
    is_running=st.booleans(),
    created_at=plain(int64s),
    updated_at=plain(int64s),
)
dependencies = st.builds(
    Dependency,
    id=plain(ids),
    blocking_item_id=plain(ids),
    blocked_item_id=plain(ids),
    dependency_type=plain(names("blocks", "relates_to")),
    created_at=plain(int64s),
    created_by=plain(ids),
)
activities = st.builds(
    ActivityEntry,
    id=plain(ids),
    entity_type=plain(texts),
    entity_id=plain(ids),
    action=plain(names("created", "updated", "deleted")),
    field_name=maybe(texts),
    old_value=maybe(texts),
    new_value=maybe(texts),
    user_id=plain(ids),
    timestamp=plain(int64s),
    comment=maybe(texts),
)

ENTITIES: dict[str, st.SearchStrategy[Any]] = {
    "project": projects,
    "work_item": work_items,
    "sprint": sprints,
    "comment": comments,
    "time_entry": time_entries,
    "dependency": dependencies,
    "activity": activities,
}
KINDS: dict[str, str] = {
    **{f"{e}.{verb}": e for e in ENTITIES if e != "activity" for verb in ("created", "deleted")},
    **{f"{e}.updated": e for e in ("project", "work_item", "sprint", "comment", "time_entry")},
    "activity.created": "activity",
}
# kinds that are not broadcast (ws_codec returns None)
OTHER_KINDS = ["dependency.updated", "work_item.moved", "", "project.created "]
assert len(KINDS) == 18


def test_broadcast_kinds_are_pm_proto_s() -> None:
    # the kinds annotated in pm.proto (proto_names.EVENT_CASES and the Rust table are
    # generated from them) are the ones ws_codec broadcasts
    assert sorted(EVENT_CASES) == sorted(KINDS)


def change_names(entity: Any) -> st.SearchStrategy[list[str]]:
    fields = list(type(entity).__struct_fields__)
    odd = ["start_date", "end_date", "nope", "", "__class__", "é"]
    return st.lists(st.sampled_from(fields + odd) | st.text(max_size=4), max_size=6)


@st.composite
def events(draw: st.DrawFn) -> tuple[str, Any, str, dict[str, Any]]:
    kind = draw(st.sampled_from([*KINDS, *OTHER_KINDS]))
    entity = draw(ENTITIES[KINDS.get(kind, "sprint")])
    extra: dict[str, Any] = {}
    if draw(st.booleans()):
        extra["changed"] = draw(change_names(entity))
    if draw(st.booleans()):
        strategy = ENTITIES[KINDS.get(kind, "sprint")]
        extra["previous"] = draw(st.one_of(strategy, st.none(), sprints, projects))
    for key in ("ancestor_ids", "descendant_ids"):
        if draw(st.booleans()):
            extra[key] = draw(st.lists(ids, max_size=4).map(draw(st.sampled_from([list, tuple]))))
    if draw(st.booleans()):
        extra["unrelated"] = draw(texts)
    actor = draw(ids)
    return kind, entity, actor, extra


# ------------------------------------------------------------------------- encoding


@PROPS
@given(event=events(), message_id=ids, timestamp=int64s)
def test_encode_event_rust_matches_twin(
    event: tuple[str, Any, str, dict[str, Any]], message_id: str, timestamp: int
) -> None:
    kind, entity, actor, extra = event
    ours = outcome(lambda: rust.encode_event(kind, entity, actor, extra, message_id, timestamp))
    theirs = outcome(lambda: twin.encode_event(kind, entity, actor, extra, message_id, timestamp))
    assert ours == theirs
    if kind not in KINDS:
        assert ours == ("ok", "None")
    if ours[0] == "ok" and kind in KINDS:
        data = rust.encode_event(kind, entity, actor, extra, message_id, timestamp)
        assert data is not None
        check_event_frame(data, kind, entity, actor, extra, message_id, timestamp)


ENUMS: dict[str, Mapping[str, int]] = {
    "status@Project": ws_codec.PROJECT_STATUS,
    "item_type@WorkItem": ws_codec.ITEM_TYPE,
    "status@Sprint": ws_codec.SPRINT_STATUS,
    "dependency_type@Dependency": ws_codec.DEPENDENCY_TYPE,
}


def check_entity(msg: Message, entity: Any) -> None:
    """Every field of `msg` against the entity attribute of the same name, read with upb."""
    for f in msg.DESCRIPTOR.fields:
        if f.name == "deleted_at":
            assert not msg.HasField(f.name)
            continue
        if f.is_repeated:
            continue
        expected = getattr(entity, f.name)
        enum = ENUMS.get(f"{f.name}@{msg.DESCRIPTOR.name}")
        if enum is not None and expected is not None:
            expected = enum.get(expected, 0)
        if f.has_presence:
            assert msg.HasField(f.name) == (expected is not None), f.name
        if expected is not None:
            assert getattr(msg, f.name) == expected, f.name


def date_text(value: Any) -> str:
    return datetime.fromtimestamp(value, UTC).isoformat()


def check_event_frame(
    data: bytes,
    kind: str,
    entity: Any,
    actor: str,
    extra: dict[str, Any],
    message_id: str,
    timestamp: int,
) -> None:
    env = pb.WebSocketMessage.FromString(data)
    assert (env.message_id, env.timestamp) == (message_id, timestamp)
    case = env.WhichOneof("payload")
    assert case == kind.replace(".", "_").replace("activity_", "activity_log_")
    assert case == EVENT_CASES[kind]
    payload = getattr(env, case)
    fields = [f.name for f in payload.DESCRIPTOR.fields]
    if "user_id" in fields:
        assert payload.user_id == actor
    if kind.endswith(".deleted"):
        assert getattr(payload, fields[0]) == (entity.id or "")
        for name in fields[1:-1]:
            assert getattr(payload, name) == (getattr(entity, name) or "")
        return
    inner = getattr(payload, fields[0])
    check_entity(inner, entity)
    if kind.startswith("work_item."):
        assert list(inner.ancestor_ids) == list(extra.get("ancestor_ids", ()))
        assert list(inner.descendant_ids) == list(extra.get("descendant_ids", ()))
    if "changes" in fields:
        changed = extra.get("changed", ())
        assert [c.field_name for c in payload.changes] == list(changed)
        for change in payload.changes:
            for side, holder in (("old_value", extra.get("previous")), ("new_value", entity)):
                value = getattr(holder, change.field_name, None)
                assert change.HasField(side) == (value is not None)
                if value is None:
                    continue
                if change.field_name in ("start_date", "end_date") and isinstance(value, int):
                    assert getattr(change, side) == date_text(value)
                else:
                    assert getattr(change, side) == str(value)


@st.composite
def work_item_lists(
    draw: st.DrawFn,
) -> tuple[list[WorkItem], dict[str, list[str]], dict[str, list[str]]]:
    items = draw(st.lists(work_items, max_size=6))
    keys = [i.id for i in items] + draw(st.lists(ids, max_size=2))
    lists = st.lists(ids, max_size=4)
    above = {k: draw(lists) for k in keys}
    below = {k: draw(lists) for k in keys}
    if items and draw(st.integers(0, 9)) == 0:
        below.pop(items[-1].id, None)  # KeyError in both
    return items, above, below


@PROPS
@given(case=work_item_lists(), message_id=ids, timestamp=int64s, as_of=int64s)
def test_encode_work_items_list_rust_matches_twin(
    case: tuple[list[WorkItem], dict[str, list[str]], dict[str, list[str]]],
    message_id: str,
    timestamp: int,
    as_of: int,
) -> None:
    items, above, below = case
    args = (message_id, timestamp, items, above, below, as_of)
    ours = outcome(lambda: rust.encode_work_items_list(*args))
    assert ours == outcome(lambda: twin.encode_work_items_list(*args))
    if ours[0] == "ok":
        data = rust.encode_work_items_list(*args)
        env = pb.WebSocketMessage.FromString(data)
        assert env.WhichOneof("payload") == "work_items_list"
        assert env.work_items_list.as_of_timestamp == as_of
        assert len(env.work_items_list.work_items) == len(items)
        for msg, item in zip(env.work_items_list.work_items, items, strict=True):
            check_entity(msg, item)
            assert list(msg.ancestor_ids) == above[item.id]
            assert list(msg.descendant_ids) == below[item.id]
        assert [w.id for w in env.work_items_list.work_items] == [i.id or "" for i in items]


IMPLS = pytest.mark.parametrize("impl", [twin, rust], ids=["python", "rust"])


def sample_item(**changes: Any) -> WorkItem:
    item = WorkItem(
        "w1", "P-1", "task", "T", None, "todo", "high", None, "p1",
        None, None, None, 1, 0, 1, 10, 20, "u1", "u1",
    )  # fmt: skip
    return msgspec.structs.replace(item, **changes)


@IMPLS
@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"position": 2**31}, ValueError),
        ({"created_at": -(2**63) - 1}, ValueError),
        ({"position": True}, TypeError),
        ({"position": 1.5}, TypeError),
        ({"title": 5}, TypeError),
        ({"title": "\ud800"}, UnicodeEncodeError),
        ({"item_type": ["task"]}, TypeError),  # unhashable: `ITEM_TYPE.get` raises
    ],
)
def test_bad_attributes_are_refused_alike(
    impl: Any, changes: dict[str, Any], error: type[Exception]
) -> None:
    with pytest.raises(error):
        impl.encode_event("work_item.created", sample_item(**changes), "u", {}, "m", 1)


@IMPLS
def test_odd_but_valid_attributes(impl: Any) -> None:
    # a non-string enum value maps to 0, a lone surrogate in it too
    for item_type in (7, None, "\ud800", "TASK"):
        frame = impl.encode_event(
            "work_item.created", sample_item(item_type=item_type), "", {}, "", 0
        )
        assert pb.WebSocketMessage.FromString(frame).work_item_created.work_item.item_type == 0


@IMPLS
def test_timestamps_out_of_range(impl: Any) -> None:
    for bad in (2**63, -(2**63) - 1):
        with pytest.raises(ValueError):
            impl.encode_event("comment.deleted", sample_item(), "u", {}, "m", bad)
        with pytest.raises(ValueError):
            impl.encode_work_items_list("m", 0, [], {}, {}, bad)


def test_change_values_of_dates() -> None:
    # a bool is an int to `isinstance`, so it shows as a date too (only in `previous`:
    # protobuf refuses it as the entity's field)
    old = Sprint("s", "p", "n", None, True, 951_782_400, "planned", 1, 0, 0, "u", "u")
    new = msgspec.structs.replace(old, start_date=0, end_date=-62_135_596_800, goal="g")
    extra = {"changed": ["start_date", "end_date", "goal", "status"], "previous": old}
    frame = rust.encode_event("sprint.updated", new, "u", extra, "m", 5)
    assert frame == twin.encode_event("sprint.updated", new, "u", extra, "m", 5)
    assert frame is not None
    changes = pb.WebSocketMessage.FromString(frame).sprint_updated.changes
    assert [(c.field_name, c.old_value, c.new_value) for c in changes] == [
        ("start_date", "1970-01-01T00:00:01+00:00", "1970-01-01T00:00:00+00:00"),
        ("end_date", "2000-02-29T00:00:00+00:00", "0001-01-01T00:00:00+00:00"),
        ("goal", "", "g"),
        ("status", "planned", "planned"),
    ]
    assert not changes[2].HasField("old_value")
    # beyond what datetime can show, both raise what Python raises
    for bad in (253_402_300_800, 2**62, 2**70):
        far = msgspec.structs.replace(new, end_date=bad)
        calls = [
            functools.partial(impl.encode_event, "sprint.updated", far, "u", extra, "", 0)
            for impl in (rust, twin)
        ]
        assert outcome(calls[0]) == outcome(calls[1])
        assert outcome(calls[0])[0] == "raised"


def test_large_frames_are_handled_unattached() -> None:
    # above pm_fast_ext's 32 KiB threshold the write releases the GIL;
    # other threads run meanwhile, replacing (by equal values) the objects being encoded
    # and churning memory
    item = sample_item(title="t" * 100_000, description="é" * 1000)
    items = [item, item]
    above: dict[str, list[str]] = {"w1": ["a"]}
    below: dict[str, list[str]] = {"w1": []}
    args = ("m", 1, items, above, below, 2)
    expected = twin.encode_work_items_list(*args)
    assert len(expected) > 200_000
    failures: list[str] = []

    def work() -> None:
        for _ in range(30):
            data = rust.encode_work_items_list(*args)
            if data != expected:
                failures.append("mismatch")

    def meddle() -> None:
        for n in range(3000):
            items[1] = msgspec.structs.replace(item, title="t" * 100_000)
            above["w1"] = [str(n)[:0] + "a"]

    threads = [threading.Thread(target=work) for _ in range(3)] + [threading.Thread(target=meddle)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures


def test_rust_reads_any_iterable_and_mapping() -> None:
    item = sample_item()
    args = ("m", 1, iter([item]), {"w1": iter(["a"])}, {"w1": ("b",)}, 2)
    expected = twin.encode_work_items_list("m", 1, [item], {"w1": ["a"]}, {"w1": ["b"]}, 2)
    assert rust.encode_work_items_list(*args) == expected


# -------------------------------------------------------------- read back with upb


def test_work_items_list_round_trip() -> None:
    items = [
        sample_item(id=f"w{i}", story_points=i, parent_id="w0" if i else None) for i in range(3)
    ]
    above = {i.id: ["w0"] if i.parent_id else [] for i in items}
    below = {i.id: ["w1", "w2"] if i.id == "w0" else [] for i in items}
    data = rust.encode_work_items_list("m", 7, items, above, below, 8)
    env = pb.WebSocketMessage.FromString(data)
    assert (env.message_id, env.timestamp, env.WhichOneof("payload")) == ("m", 7, "work_items_list")
    assert env.work_items_list.as_of_timestamp == 8
    first, second, _ = env.work_items_list.work_items
    assert MessageToDict(first, preserving_proto_field_name=True) == {
        "id": "w0", "item_type": "TASK", "project_id": "p1", "title": "T",
        "status": "todo", "created_at": "10", "updated_at": "20", "created_by": "u1",
        "updated_by": "u1", "priority": "high", "story_points": 0, "version": 1,
        "item_number": 1, "descendant_ids": ["w1", "w2"],
    }  # fmt: skip
    assert first.HasField("story_points") and not first.HasField("parent_id")
    assert second.parent_id == "w0" and not second.HasField("description")
    assert list(second.ancestor_ids) == ["w0"]


# --------------------------------------------------------- pm_fast.accel picks them

_CODEC_PROBE = """
names = ("encode_event", "encode_work_items_list")
print(" ".join(sorted({getattr(accel, n).__module__ for n in names})))
print(accel.encode_work_items_list("m", 0, [], {}, {}, 0).hex())
"""


@pytest.mark.parametrize(
    ("mode", "pure", "module"),
    [
        ("normal", None, "pm_fast_ext._native"),
        ("normal", "1", "pm_fast.api.codec_twin"),
        ("hide-extension", None, "pm_fast.api.codec_twin"),
    ],
)
def test_accel_exports_the_codec(mode: str, pure: str | None, module: str) -> None:
    out, _ = probe_accel(_CODEC_PROBE, mode, pure)
    # message_id "m", no timestamp (0), an empty work_items_list (field 43)
    assert out.split("\n")[:2] == [module, "0a016dda0200"]
