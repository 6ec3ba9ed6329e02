# Hand-written stub for the compiled module (src/lib.rs). Checked against it with
# `python -m mypy.stubtest pm_fast_ext._native`. Semantics: pm_fast/core/graph.py, the
# pure-Python twin, documents each function; both must behave the same.

from collections.abc import Sequence

__all__ = ["ancestors", "descendants", "is_reachable_parent_cycle", "would_cycle"]

def descendants(
    rows: Sequence[tuple[str, str | None]], root: str, max_levels: int | None = None
) -> list[str]: ...
def ancestors(
    rows: Sequence[tuple[str, str | None]], start: str, max_depth: int = 100
) -> list[str]: ...
def would_cycle(
    edges: Sequence[tuple[str, str]], blocking: str, blocked: str
) -> list[str] | None: ...
def is_reachable_parent_cycle(
    rows: Sequence[tuple[str, str | None]], item: str, new_parent: str, max_depth: int = 100
) -> bool: ...
