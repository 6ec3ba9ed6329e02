"""Work-item hierarchy and dependency-cycle walks, in pure Python.

These are the twins of the Rust functions in ``pm_fast_ext`` (``src/graph.rs``): same
names, same arguments, same results, including on malformed data. Callers import them
through ``pm_fast.accel``, which picks the Rust versions when the extension is built.
``tests/unit/test_graph.py`` checks that the two agree.

Rows come straight from the database, so the walks tolerate bad data: parent ids with
no row, parent cycles, and several rows for one id. For the latter, the last row decides
the id's parent in :func:`ancestors` and :func:`is_reachable_parent_cycle` (as in
``dict(rows)``), while :func:`descendants` follows every row.
"""

from collections import deque
from collections.abc import Sequence

Row = tuple[str, str | None]
"""One work item: ``(id, parent_id)``."""

Edge = tuple[str, str]
"""One ``blocks`` link: ``(blocking_item_id, blocked_item_id)``."""

__all__ = [
    "Edge",
    "Row",
    "ancestors",
    "descendants",
    "is_reachable_parent_cycle",
    "would_cycle",
]


def _check_steps(name: str, value: int) -> None:
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")


def descendants(rows: Sequence[Row], root: str, max_levels: int | None = None) -> list[str]:
    """Ids of all transitive children of ``root`` (not ``root`` itself).

    Breadth-first, one generation at a time; within a generation, children come in row
    order, grouped by the order of their parents in the previous generation. Each id is
    reported once (at its first sighting), so cycles in the data terminate.
    ``max_levels``: None = unlimited, 0 = nothing, 1 = direct children, and so on.
    """
    if max_levels is not None:
        _check_steps("max_levels", max_levels)
        if max_levels == 0:
            return []
    children: dict[str, list[str]] = {}
    for item_id, parent_id in rows:
        if parent_id is not None:
            siblings = children.get(parent_id)
            if siblings is None:
                children[parent_id] = [item_id]
            else:
                siblings.append(item_id)
    seen = {root}
    found: list[str] = []
    generation = [root]
    level = 0
    while generation and (max_levels is None or level < max_levels):
        next_generation: list[str] = []
        for parent_id in generation:
            for child in children.get(parent_id, ()):
                if child not in seen:
                    seen.add(child)
                    next_generation.append(child)
        found += next_generation
        generation = next_generation
        level += 1
    return found


def ancestors(rows: Sequence[Row], start: str, max_depth: int = 100) -> list[str]:
    """The parent chain of ``start``, nearest first, not including ``start``.

    Stops at an item with no parent, at a parent id that has no row, at an id already in
    the chain (a cycle), or after ``max_depth`` steps.
    """
    _check_steps("max_depth", max_depth)
    if max_depth == 0:
        return []
    parent_of = dict(rows)
    chain: list[str] = []
    seen = {start}
    current = start
    for _ in range(max_depth):
        parent = parent_of.get(current)
        if parent is None or parent not in parent_of or parent in seen:
            break
        chain.append(parent)
        seen.add(parent)
        current = parent
    return chain


def would_cycle(edges: Sequence[Edge], blocking: str, blocked: str) -> list[str] | None:
    """The path ``blocked`` → … → ``blocking`` that the link blocking→blocked would close.

    Searches breadth-first from ``blocked`` along the existing ``edges`` (blocking →
    blocked direction, successors in edge order); returns the shortest path found (ties
    broken by edge order), or None when ``blocking`` is not reachable, i.e. the new link
    is safe. ``blocking == blocked`` is a cycle of its own: ``[blocked]``.
    """
    if blocking == blocked:
        return [blocked]
    successors: dict[str, list[str]] = {}
    for source, target in edges:
        targets = successors.get(source)
        if targets is None:
            successors[source] = [target]
        else:
            targets.append(target)
    previous: dict[str, str] = {}
    queue = deque([blocked])
    while queue:
        node = queue.popleft()
        for target in successors.get(node, ()):
            if target == blocking:
                path = [blocking, node]
                while node != blocked:
                    node = previous[node]
                    path.append(node)
                path.reverse()
                return path
            if target != blocked and target not in previous:
                previous[target] = node
                queue.append(target)
    return None


def is_reachable_parent_cycle(
    rows: Sequence[Row], item: str, new_parent: str, max_depth: int = 100
) -> bool:
    """Would making ``new_parent`` the parent of ``item`` create a parent cycle?

    True if ``new_parent == item``, or if walking up from ``new_parent`` reaches ``item``
    within ``max_depth`` parent steps (reaching it by reference counts even if ``item``
    has no row). The walk stops, answering False, at an item with no parent or no row,
    or when it returns to an id it has already visited (a cycle not involving ``item``).
    """
    _check_steps("max_depth", max_depth)
    if new_parent == item:
        return True
    parent_of = dict(rows)
    seen = {new_parent}
    current = new_parent
    for _ in range(max_depth):
        parent = parent_of.get(current)
        if parent is None:
            return False
        if parent == item:
            return True
        if parent in seen:
            return False
        seen.add(parent)
        current = parent
    return False
