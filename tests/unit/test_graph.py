"""Graph walks: the pure-Python twins on hand-made cases, and Rust ≡ twin on generated ones.

The extension must be built for this suite (``pip install -e .``); a missing extension
is a failure here, not a skip.
"""

import subprocess
import sys
from collections.abc import Callable, Sequence
from itertools import pairwise
from types import ModuleType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pm_fast_ext
from pm_fast.core import graph as twin
from pm_fast.core.graph import Edge, Row

from .accel_probe import probe_accel

# a ─┬─ b ─┬─ d
#    │     └─ e ── g
#    └─ c ── f
# Rows deliberately out of tree order: output order must follow row order.
TREE: list[Row] = [
    ("e", "b"),
    ("c", "a"),
    ("g", "e"),
    ("a", None),
    ("b", "a"),
    ("f", "c"),
    ("d", "b"),
]


# --- descendants ---------------------------------------------------------------------


def test_descendants_breadth_first_in_row_order() -> None:
    assert twin.descendants(TREE, "a") == ["c", "b", "f", "e", "d", "g"]
    assert twin.descendants(TREE, "b") == ["e", "d", "g"]


def test_descendants_of_leaf_unknown_and_empty() -> None:
    assert twin.descendants(TREE, "g") == []
    assert twin.descendants(TREE, "nope") == []
    assert twin.descendants([], "a") == []


def test_descendants_chain() -> None:
    chain: list[Row] = [("d", "c"), ("c", "b"), ("b", "a"), ("a", None)]
    assert twin.descendants(chain, "a") == ["b", "c", "d"]


@pytest.mark.parametrize(
    ("max_levels", "expected"),
    [
        (0, []),
        (1, ["c", "b"]),
        (2, ["c", "b", "f", "e", "d"]),
        (3, ["c", "b", "f", "e", "d", "g"]),
        (10**30, ["c", "b", "f", "e", "d", "g"]),
        (None, ["c", "b", "f", "e", "d", "g"]),
    ],
)
def test_descendants_max_levels(max_levels: int | None, expected: list[str]) -> None:
    assert twin.descendants(TREE, "a", max_levels) == expected


def test_descendants_root_without_row() -> None:
    # children that point at an item missing from the rows are still its children
    assert twin.descendants([("x", "ghost"), ("y", "x")], "ghost") == ["x", "y"]


def test_descendants_terminate_on_cycles_and_never_include_root() -> None:
    rows: list[Row] = [("a", "b"), ("b", "a"), ("c", "b")]
    assert twin.descendants(rows, "a") == ["b", "c"]
    assert twin.descendants([("a", "a")], "a") == []


def test_descendants_report_an_id_once() -> None:
    rows: list[Row] = [("b", "a"), ("c", "a"), ("d", "c"), ("d", "b")]
    assert twin.descendants(rows, "a") == ["b", "c", "d"]


# --- ancestors -----------------------------------------------------------------------


def test_ancestors_nearest_first() -> None:
    assert twin.ancestors(TREE, "g") == ["e", "b", "a"]
    assert twin.ancestors(TREE, "a") == []
    assert twin.ancestors(TREE, "nope") == []


def test_ancestors_max_depth() -> None:
    assert twin.ancestors(TREE, "g", 2) == ["e", "b"]
    assert twin.ancestors(TREE, "g", 0) == []


def test_ancestors_stop_at_a_parent_without_row() -> None:
    assert twin.ancestors([("a", "ghost"), ("b", "a")], "b") == ["a"]


def test_ancestors_stop_at_cycles() -> None:
    assert twin.ancestors([("a", "b"), ("b", "c"), ("c", "a")], "a") == ["b", "c"]
    assert twin.ancestors([("a", "b"), ("b", "c"), ("c", "b")], "a") == ["b", "c"]
    assert twin.ancestors([("a", "a")], "a") == []


def test_ancestors_use_the_last_row_of_an_id() -> None:
    rows: list[Row] = [("c", "a"), ("c", "b"), ("a", None), ("b", None)]
    assert twin.ancestors(rows, "c") == ["b"]


# --- would_cycle ---------------------------------------------------------------------


def test_would_cycle_direct_and_indirect() -> None:
    assert twin.would_cycle([("a", "b")], "b", "a") == ["a", "b"]
    assert twin.would_cycle([("a", "b"), ("b", "c")], "c", "a") == ["a", "b", "c"]


def test_would_cycle_none_when_safe() -> None:
    edges: list[Edge] = [("a", "b"), ("b", "c")]
    assert twin.would_cycle(edges, "a", "c") is None
    assert twin.would_cycle(edges, "x", "y") is None
    assert twin.would_cycle([], "a", "b") is None


def test_would_cycle_self_link() -> None:
    assert twin.would_cycle([], "a", "a") == ["a"]


def test_would_cycle_shortest_path_ties_by_edge_order() -> None:
    edges: list[Edge] = [("a", "b"), ("b", "c"), ("c", "d"), ("b", "d")]
    assert twin.would_cycle(edges, "d", "a") == ["a", "b", "d"]
    assert twin.would_cycle([("s", "p"), ("s", "q"), ("q", "t"), ("p", "t")], "t", "s") == [
        "s",
        "p",
        "t",
    ]
    assert twin.would_cycle([("s", "q"), ("s", "p"), ("q", "t"), ("p", "t")], "t", "s") == [
        "s",
        "q",
        "t",
    ]


def test_would_cycle_terminates_on_existing_cycles() -> None:
    edges: list[Edge] = [("a", "b"), ("b", "a"), ("b", "b"), ("b", "c")]
    assert twin.would_cycle(edges, "z", "a") is None
    assert twin.would_cycle(edges, "c", "a") == ["a", "b", "c"]


# --- is_reachable_parent_cycle -------------------------------------------------------


def test_reparent_cycle() -> None:
    assert twin.is_reachable_parent_cycle(TREE, "a", "a")
    assert twin.is_reachable_parent_cycle(TREE, "a", "g")
    assert twin.is_reachable_parent_cycle(TREE, "b", "d")
    assert not twin.is_reachable_parent_cycle(TREE, "b", "f")
    assert not twin.is_reachable_parent_cycle(TREE, "g", "a")
    assert not twin.is_reachable_parent_cycle(TREE, "a", "nope")


def test_reparent_cycle_max_depth() -> None:
    # g → e → b → a: a is three parent steps above g
    assert twin.is_reachable_parent_cycle(TREE, "a", "g", 3)
    assert not twin.is_reachable_parent_cycle(TREE, "a", "g", 2)
    assert twin.is_reachable_parent_cycle(TREE, "g", "g", 0)
    assert not twin.is_reachable_parent_cycle(TREE, "e", "g", 0)


def test_reparent_cycle_on_bad_data() -> None:
    rows: list[Row] = [("a", "b"), ("b", "a"), ("c", None)]
    assert not twin.is_reachable_parent_cycle(rows, "c", "a")
    assert twin.is_reachable_parent_cycle([("a", "ghost")], "ghost", "a")


# --- both implementations: argument errors -------------------------------------------

IMPLS = pytest.mark.parametrize("impl", [twin, pm_fast_ext], ids=["python", "rust"])


@IMPLS
def test_negative_limits_are_refused(impl: ModuleType) -> None:
    huge = -(10**30)
    calls: list[tuple[Callable[[], object], str]] = [
        (lambda: impl.descendants(TREE, "a", -1), "max_levels must be >= 0, got -1"),
        (lambda: impl.ancestors(TREE, "g", -2), "max_depth must be >= 0, got -2"),
        (
            lambda: impl.is_reachable_parent_cycle(TREE, "a", "g", huge),
            f"max_depth must be >= 0, got {huge}",
        ),
    ]
    for call, message in calls:
        with pytest.raises(ValueError) as excinfo:
            call()
        assert str(excinfo.value) == message


def test_rust_rejects_malformed_rows() -> None:
    with pytest.raises(TypeError, match="parent_id must be str"):
        pm_fast_ext.descendants([("a", 1)], "a")  # type: ignore[list-item]
    with pytest.raises(ValueError, match="pair"):
        pm_fast_ext.ancestors([("a", "b", "c")], "a")  # type: ignore[list-item]
    with pytest.raises(TypeError, match="pair"):
        pm_fast_ext.would_cycle([7], "a", "b")  # type: ignore[list-item]


def test_rust_returns_the_callers_string_objects() -> None:
    # no copies: the ids in the answer are the very objects passed in
    rows: list[Row] = [("child", "root")]
    assert pm_fast_ext.descendants(rows, "root")[0] is rows[0][0]


def test_rust_accepts_rows_as_other_sequences() -> None:
    rows = [["b", "a"], ["c", "b"]]
    assert pm_fast_ext.descendants(rows, "a") == twin.descendants(rows, "a")  # type: ignore[arg-type]


# --- pm_fast.accel: the choice made at start-up ------------------------------------

_GRAPH_PROBE = """
print(accel.USING_RUST, accel.descendants.__module__, accel.would_cycle([("a", "b")], "b", "a"))
"""


def _probe_accel(mode: str, pure: str | None) -> tuple[str, list[str]]:
    return probe_accel(_GRAPH_PROBE, mode, pure)


def test_accel_uses_rust_when_built() -> None:
    out, log = _probe_accel("normal", None)
    assert out == "True pm_fast_ext._native ['a', 'b']"
    assert log == ["INFO pm_fast using the Rust extension pm_fast_ext"]


def test_accel_pure_mode_uses_the_twins() -> None:
    out, log = _probe_accel("normal", "1")
    assert out == "False pm_fast.core.graph ['a', 'b']"
    assert len(log) == 1 and log[0].startswith("INFO pm_fast PM_FAST_PURE=1")


def test_accel_falls_back_with_one_warning_when_the_extension_is_missing() -> None:
    out, log = _probe_accel("hide-extension", "0")
    assert out == "False pm_fast.core.graph ['a', 'b']"
    assert len(log) == 1 and log[0].startswith("WARNING pm_fast pm_fast_ext")


def test_accel_names_nothing_before_the_start_up_choice() -> None:
    """Importing pm_fast.accel chooses nothing: using a name first is a clear error."""
    code = (
        "import pm_fast.accel as accel\n"
        "try:\n    accel.descendants\nexcept RuntimeError as e:\n    print(e)\n"
        "accel.select(pure=True)\nprint(accel.descendants.__module__)\n"
        "try:\n    accel.nonexistent\nexcept AttributeError:\n    print('no such name')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.splitlines() == [
        "pm_fast.accel.descendants is not chosen yet: call pm_fast.accel.select() first"
        " (pm_fast.bootstrap.start does, from PM_FAST_PURE)",
        "pm_fast.core.graph",
        "no such name",
    ]


# --- properties ----------------------------------------------------------------------

# A small alphabet so that collisions, shared parents and cycles are common; "" and a
# non-ASCII id check string handling; ids outside KNOWN never get a row.
KNOWN = ["a", "b", "c", "d", "e", "f", "", "é"]
UNKNOWN = ["x", "y"]
ids = st.sampled_from(KNOWN)
any_id = st.sampled_from(KNOWN + UNKNOWN)
rows_st = st.lists(st.tuples(ids, st.none() | any_id), max_size=24)
edges_st = st.lists(st.tuples(any_id, any_id), max_size=24)
levels = st.integers(min_value=0, max_value=8)

PROPS = settings(max_examples=400, deadline=None)


@PROPS
@given(rows=rows_st, root=any_id, max_levels=st.none() | levels)
def test_descendants_rust_matches_twin(rows: list[Row], root: str, max_levels: int | None) -> None:
    assert pm_fast_ext.descendants(rows, root, max_levels) == twin.descendants(
        rows, root, max_levels
    )


@PROPS
@given(rows=rows_st, start=any_id, max_depth=levels)
def test_ancestors_rust_matches_twin(rows: list[Row], start: str, max_depth: int) -> None:
    assert pm_fast_ext.ancestors(rows, start, max_depth) == twin.ancestors(rows, start, max_depth)
    assert pm_fast_ext.ancestors(rows, start) == twin.ancestors(rows, start)


@PROPS
@given(edges=edges_st, blocking=any_id, blocked=any_id)
def test_would_cycle_rust_matches_twin(edges: list[Edge], blocking: str, blocked: str) -> None:
    assert pm_fast_ext.would_cycle(edges, blocking, blocked) == twin.would_cycle(
        edges, blocking, blocked
    )


@PROPS
@given(rows=rows_st, item=any_id, new_parent=any_id, max_depth=levels)
def test_reparent_cycle_rust_matches_twin(
    rows: list[Row], item: str, new_parent: str, max_depth: int
) -> None:
    assert pm_fast_ext.is_reachable_parent_cycle(
        rows, item, new_parent, max_depth
    ) == twin.is_reachable_parent_cycle(rows, item, new_parent, max_depth)


# Properties of the twin itself, stated without its algorithm.


def _reachable(edges: Sequence[Edge], start: str) -> dict[str, int]:
    """Breadth-first distance from ``start`` to every node it reaches (itself at 0)."""
    distance = {start: 0}
    frontier = {start}
    steps = 0
    while frontier:
        steps += 1
        frontier = {b for a, b in edges if a in frontier and b not in distance}
        distance.update(dict.fromkeys(frontier, steps))
    return distance


@PROPS
@given(rows=rows_st, root=any_id, max_levels=st.none() | levels)
def test_descendants_are_distinct_children_closure(
    rows: list[Row], root: str, max_levels: int | None
) -> None:
    found = twin.descendants(rows, root, max_levels)
    assert len(found) == len(set(found))
    assert root not in found
    parent_edges = [(p, i) for i, p in rows if p is not None]
    depth = _reachable(parent_edges, root)
    limit = max_levels if max_levels is not None else len(rows) + 1
    assert set(found) == {node for node, d in depth.items() if 0 < d <= limit}


@PROPS
@given(rows=st.dictionaries(ids, st.none() | any_id, max_size=8), root=any_id)
def test_descendants_and_ancestors_agree_on_unique_ids(
    rows: dict[str, str | None], root: str
) -> None:
    # With one row per id, x descends from r exactly when x's parent chain reaches r:
    # r is among x's ancestors, or (when r has no row) the chain ends by pointing at r.
    items = list(rows.items())
    found = set(twin.descendants(items, root))
    for item_id in rows:
        if item_id != root:
            reaches = root in twin.ancestors(items, item_id) or _last_parent(items, item_id) == root
            assert (item_id in found) == reaches


@PROPS
@given(edges=edges_st, blocking=any_id, blocked=any_id)
def test_would_cycle_path_is_a_shortest_real_path(
    edges: list[Edge], blocking: str, blocked: str
) -> None:
    path = twin.would_cycle(edges, blocking, blocked)
    distance = _reachable(edges, blocked)
    if blocking == blocked:
        assert path == [blocked]
    elif blocking not in distance:
        assert path is None
    else:
        assert path is not None
        assert path[0] == blocked and path[-1] == blocking
        assert all(step in edges for step in pairwise(path))
        assert len(path) - 1 == distance[blocking]


@PROPS
@given(rows=st.dictionaries(ids, st.none() | any_id, max_size=8), item=any_id, new=any_id)
def test_reparent_cycle_matches_the_ancestor_chain(
    rows: dict[str, str | None], item: str, new: str
) -> None:
    items = list(rows.items())
    expected = new == item or item in twin.ancestors(items, new) or item == _last_parent(items, new)
    assert twin.is_reachable_parent_cycle(items, item, new) == expected


def _last_parent(rows: Sequence[Row], start: str) -> str | None:
    """The parent id that ends ``start``'s chain, when it has no row (else None)."""
    parent_of = dict(rows)
    chain = [start, *twin.ancestors(rows, start)]
    last = parent_of.get(chain[-1])
    return last if last is not None and last not in parent_of else None
