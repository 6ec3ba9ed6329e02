"""Rust (pm_fast_ext) vs pure-Python twin (pm_fast.core.graph) on project-sized inputs.

Run: ``pytest benches/test_bench_graph.py --benchmark-only``. Each function is one
benchmark group holding the two implementations, so the report shows them side by side.

Inputs mimic what the server passes: the rows of one project as SQLite returns them
(UUID strings, ordered by position, not by hierarchy), 5,000 work items in three levels,
and 5,000 ``blocks`` links among them.
"""

import random
import uuid
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest

import pm_fast_ext
from pm_fast.core import graph as twin
from pm_fast.core.graph import Edge, Row

IMPLS = pytest.mark.parametrize("impl", [pm_fast_ext, twin], ids=["rust", "python"])

EPICS, STORIES_PER_EPIC, TASKS = 100, 9, 4_000  # 100 + 900 + 4,000 = 5,000 items
LINKS = 5_000


class Project:
    """One project's hierarchy and its dependency graph, built from a fixed seed."""

    def __init__(self, seed: int = 20_261_129) -> None:
        rng = random.Random(seed)

        def new_id() -> str:
            return str(uuid.UUID(int=rng.getrandbits(128), version=4))

        self.epics = [new_id() for _ in range(EPICS)]
        self.stories = [new_id() for _ in range(EPICS * STORIES_PER_EPIC)]
        self.tasks = [new_id() for _ in range(TASKS)]
        rows: list[Row] = [(epic, None) for epic in self.epics]
        rows += [(s, self.epics[i // STORIES_PER_EPIC]) for i, s in enumerate(self.stories)]
        rows += [(t, rng.choice(self.stories)) for t in self.tasks]
        rng.shuffle(rows)  # ordered by position, which is unrelated to the hierarchy
        self.rows = rows

        # Links only go forward in one random order of the items, so the existing graph
        # is acyclic (as the server keeps it); a link backwards along a chain closes a
        # cycle.
        order = [item for item, _ in rows]
        rng.shuffle(order)
        edges: set[Edge] = set()
        while len(edges) < LINKS:
            a, b = sorted(rng.sample(range(len(order)), 2))
            edges.add((order[a], order[b]))
        self.edges = sorted(edges, key=lambda _: rng.random())
        successors: dict[str, list[str]] = {}
        for blocking, blocked in self.edges:
            successors.setdefault(blocking, []).append(blocked)
        # the item (among the first in link order, which reach the most) that reaches the
        # most others: the longest safe-link search
        self.widest = max(order[:200], key=lambda item: len(_reach(successors, item)))
        reached = _reach(successors, self.widest)
        self.reach = len(reached)
        # the item of that reach found last: the longest search that finds a cycle
        self.farthest = reached[-1]
        unreached = set(order) - set(reached) - {self.widest}
        self.safe_target = next(item for item in order if item in unreached)


def _reach(successors: dict[str, list[str]], start: str) -> list[str]:
    """Items reachable from ``start``, in breadth-first order (``start`` excluded)."""
    seen = {start}
    found: list[str] = []
    frontier = [start]
    while frontier:
        frontier = [n for f in frontier for n in successors.get(f, ()) if n not in seen]
        frontier = list(dict.fromkeys(frontier))
        seen.update(frontier)
        found += frontier
    return found


@pytest.fixture(scope="module")
def project() -> Project:
    return Project()


def _run(benchmark: Any, group: str, call: Callable[[], object]) -> object:
    benchmark.group = group
    return benchmark(call)


@IMPLS
def test_descendants_of_an_epic(benchmark: Any, impl: ModuleType, project: Project) -> None:
    epic = project.epics[0]
    found = _run(
        benchmark, "descendants (epic, all levels)", lambda: impl.descendants(project.rows, epic)
    )
    assert isinstance(found, list) and len(found) > STORIES_PER_EPIC


@IMPLS
def test_descendants_one_level(benchmark: Any, impl: ModuleType, project: Project) -> None:
    epic = project.epics[0]
    found = _run(
        benchmark, "descendants (epic, 1 level)", lambda: impl.descendants(project.rows, epic, 1)
    )
    assert found == twin.descendants(project.rows, epic, 1)


@IMPLS
def test_ancestors_of_a_task(benchmark: Any, impl: ModuleType, project: Project) -> None:
    task = project.tasks[0]
    chain = _run(benchmark, "ancestors (task)", lambda: impl.ancestors(project.rows, task))
    assert isinstance(chain, list) and len(chain) == 2


@IMPLS
def test_reparent_check(benchmark: Any, impl: ModuleType, project: Project) -> None:
    # move a story under another epic: walks up from the epic, finds no cycle
    story, other_epic = project.stories[0], project.epics[-1]
    cycle = _run(
        benchmark,
        "is_reachable_parent_cycle (story under epic)",
        lambda: impl.is_reachable_parent_cycle(project.rows, story, other_epic),
    )
    assert cycle is False


@IMPLS
def test_would_cycle_safe_link(benchmark: Any, impl: ModuleType, project: Project) -> None:
    # the search from the blocked item explores everything it reaches and finds no cycle
    path = _run(
        benchmark,
        "would_cycle (safe link, widest search)",
        lambda: impl.would_cycle(project.edges, project.safe_target, project.widest),
    )
    assert path is None


@IMPLS
def test_would_cycle_found(benchmark: Any, impl: ModuleType, project: Project) -> None:
    path = _run(
        benchmark,
        "would_cycle (cycle found, farthest item)",
        lambda: impl.would_cycle(project.edges, project.farthest, project.widest),
    )
    assert isinstance(path, list) and path[0] == project.widest and path[-1] == project.farthest
