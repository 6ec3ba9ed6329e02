"""Rust (pm_fast_ext) vs pure-Python twin (pm_fast.api.codec_twin): the protobuf encoder.

Run: ``pytest benches/test_bench_codec.py --benchmark-only``. Each group holds the two
implementations side by side (parametrized by implementation only, as
``benches/report.py`` expects):

* ``codec: work_items_list x100 (encode)`` — the headline: a ``get_work_items`` reply
  of 100 work items encoded from the entities;
* ``codec: encode <kind>`` — one broadcast frame per event kind.

Client frames are parsed by upb in the server (``pm_pb2``), so there is no decoder to
measure here.

Inputs are what the server handles: UUID ids, short titles, some descriptions, a
three-level hierarchy (so items carry ancestor and descendant ids).
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from types import ModuleType
from typing import Any

import msgspec
import pytest

import pm_fast_ext
from pm_fast.api import codec_twin as twin
from pm_fast.core.model import (
    ActivityEntry,
    Comment,
    Dependency,
    Project,
    Sprint,
    TimeEntry,
    WorkItem,
)

IMPLS = pytest.mark.parametrize("impl", [pm_fast_ext, twin], ids=["rust", "python"])
# the single-message benchmarks take well under 10 µs; a short run is plenty
SHORT = pytest.mark.benchmark(max_time=0.25)

NOW = 1_767_225_600
rng = random.Random(20_261_130)


def new_id() -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


WORDS = ["fix", "add", "move", "sprint", "board", "login", "cache", "index", "report", "page"]


def title() -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 8))).capitalize()


USER, PROJECT_ID = new_id(), new_id()


def work_item(number: int, parent: str | None, item_type: str) -> WorkItem:
    return WorkItem(
        id=new_id(),
        display_key=f"PM-{number}",
        item_type=item_type,
        title=title(),
        description=title() * 4 if rng.random() < 0.5 else None,
        status=rng.choice(["backlog", "todo", "in_progress", "done"]),
        priority=rng.choice(["low", "medium", "high"]),
        parent_id=parent,
        project_id=PROJECT_ID,
        assignee_id=USER if rng.random() < 0.6 else None,
        sprint_id=None,
        story_points=rng.choice([None, 1, 2, 3, 5, 8]),
        item_number=number,
        position=number * 1000,
        version=rng.randint(1, 9),
        created_at=NOW - 86_400 * rng.randint(1, 90),
        updated_at=NOW - rng.randint(0, 86_400),
        created_by=USER,
        updated_by=USER,
    )


def hierarchy(count: int) -> tuple[list[WorkItem], dict[str, list[str]], dict[str, list[str]]]:
    """`count` items: epics, stories under them, tasks under those (as a project has)."""
    items: list[WorkItem] = []
    parent_of: dict[str, str | None] = {}
    depth: dict[str, int] = {}
    for n in range(count):
        level = 0 if n % 20 == 0 else 1 if n % 4 == 0 else 2
        candidates = [i.id for i in items if depth[i.id] == level - 1]
        parent = rng.choice(candidates) if candidates else None
        level = depth[parent] + 1 if parent is not None else 0
        item = work_item(n + 1, parent, ("epic", "story", "task")[level])
        items.append(item)
        parent_of[item.id], depth[item.id] = parent, level
    above = {i.id: _chain(i.id, parent_of) for i in items}
    below: dict[str, list[str]] = {i.id: [] for i in items}
    for i in items:
        for ancestor in above[i.id]:
            below[ancestor].append(i.id)
    return items, above, below


def _chain(item: str, parent_of: dict[str, str | None]) -> list[str]:
    out = []
    parent = parent_of[item]
    while parent is not None:
        out.append(parent)
        parent = parent_of[parent]
    return out


ITEMS, ABOVE, BELOW = hierarchy(100)
TASK = next(i for i in ITEMS if ABOVE[i.id] and len(ABOVE[i.id]) == 2)
PROJECT = Project(
    PROJECT_ID, "PM", "Project management", title(), "active", 3, NOW - 10**6, NOW, USER, USER, 101
)
SPRINT = Sprint(
    new_id(), PROJECT_ID, "Sprint 12", title(), NOW, NOW + 14 * 86_400, "active", 2,
    NOW - 5000, NOW, USER, USER,
)  # fmt: skip
COMMENT = Comment(new_id(), TASK.id, title() * 3, NOW - 60, NOW, USER, USER)
TIME_ENTRY = TimeEntry(new_id(), TASK.id, USER, NOW - 3600, NOW, 3600, title(), False, NOW, NOW)
DEPENDENCY = Dependency(new_id(), ITEMS[1].id, TASK.id, "blocks", NOW, USER)
ACTIVITY = ActivityEntry(
    new_id(), "work_item", TASK.id, "updated", "status", "todo", "in_progress", USER, NOW, None
)


def _updated(entity: Any, **changes: Any) -> tuple[Any, dict[str, Any]]:
    previous = entity
    current = msgspec.structs.replace(entity, **changes)
    return current, {"changed": list(changes), "previous": previous}


_item_now, _item_extra = _updated(TASK, status="done", version=TASK.version + 1)
_sprint_now, _sprint_extra = _updated(SPRINT, end_date=SPRINT.end_date + 86_400, goal="Ship it")
_project_now, _project_extra = _updated(PROJECT, title="Renamed project")
_ancestry = {"ancestor_ids": ABOVE[TASK.id], "descendant_ids": BELOW[TASK.id]}

EVENTS: dict[str, tuple[Any, dict[str, Any]]] = {
    "activity.created": (ACTIVITY, {}),
    "work_item.created": (TASK, _ancestry),
    "work_item.updated": (_item_now, {**_item_extra, **_ancestry}),
    "work_item.deleted": (TASK, {}),
    "sprint.created": (SPRINT, {}),
    "sprint.updated": (_sprint_now, _sprint_extra),
    "sprint.deleted": (SPRINT, {}),
    "comment.created": (COMMENT, {}),
    "comment.updated": (COMMENT, {"changed": ["content"], "previous": COMMENT}),
    "comment.deleted": (COMMENT, {}),
    "project.created": (PROJECT, {}),
    "project.updated": (_project_now, _project_extra),
    "project.deleted": (PROJECT, {}),
    "time_entry.created": (TIME_ENTRY, {}),
    "time_entry.updated": (TIME_ENTRY, {}),
    "time_entry.deleted": (TIME_ENTRY, {}),
    "dependency.created": (DEPENDENCY, {}),
    "dependency.deleted": (DEPENDENCY, {}),
}
MESSAGE_ID = new_id()


def _run(benchmark: Any, group: str, call: Callable[[], object]) -> object:
    benchmark.group = group
    return benchmark(call)


# --- the headline ----------------------------------------------------------------------

LIST_ARGS = (MESSAGE_ID, NOW, ITEMS, ABOVE, BELOW, NOW)
LIST_FRAME = twin.encode_work_items_list(*LIST_ARGS)


@IMPLS
def test_work_items_list_encode(benchmark: Any, impl: ModuleType) -> None:
    data = _run(
        benchmark,
        "codec: work_items_list x100 (encode)",
        lambda: impl.encode_work_items_list(*LIST_ARGS),
    )
    assert data == LIST_FRAME


# --- one benchmark group per event kind ----------------------------------------------
# (generated: report.py reads the implementation from the parameter, so the kind cannot
# be a second parameter)


def _encode_bench(kind: str) -> Any:
    entity, extra = EVENTS[kind]
    expected = twin.encode_event(kind, entity, USER, extra, MESSAGE_ID, NOW)

    @SHORT
    @IMPLS
    def bench(benchmark: Any, impl: ModuleType) -> None:
        frame = _run(
            benchmark,
            f"codec: encode {kind}",
            lambda: impl.encode_event(kind, entity, USER, extra, MESSAGE_ID, NOW),
        )
        assert frame == expected

    return bench


for _kind in EVENTS:
    globals()[f"test_encode_{_kind.replace('.', '_')}"] = _encode_bench(_kind)
