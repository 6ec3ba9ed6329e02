# Hand-written stub for the compiled module (src/lib.rs). Checked against it with
# `python -m mypy.stubtest pm_fast_ext._native`. Semantics: the pure-Python twins
# document each function (pm_fast/core/graph.py for the graph walks,
# pm_fast/api/codec_twin.py for the protobuf codec); both must behave the same.

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = [
    "ancestors",
    "decode_envelope",
    "decode_work_items_list",
    "descendants",
    "encode_event",
    "encode_work_items_list",
    "is_reachable_parent_cycle",
    "would_cycle",
]

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
def encode_event(
    kind: str,
    entity: Any,
    actor: str,
    extra: dict[str, Any],
    message_id: str,
    timestamp: int,
) -> bytes | None: ...
def encode_work_items_list(
    message_id: str,
    timestamp: int,
    items: Iterable[Any],
    ancestors: Mapping[str, Iterable[str]],
    descendants: Mapping[str, Iterable[str]],
    as_of: int,
) -> bytes: ...
def decode_envelope(data: bytes) -> tuple[str, int, str | None, dict[str, Any]]: ...
def decode_work_items_list(data: bytes) -> tuple[str, int, list[dict[str, Any]]]: ...
