# Hand-written stub for the compiled module (src/lib.rs). Checked against it with
# `python -m mypy.stubtest pm_fast_ext._native`. Semantics: the pure-Python twins
# document each function (pm_fast/core/graph.py for the graph walks,
# pm_fast/api/codec_twin.py for the protobuf codec, pm_fast/realtime/hub.py and
# pm_fast/realtime/send_queue.py for the event fan-out); both must behave the same.

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, final

__all__ = [
    "Hub",
    "SendQueue",
    "ancestors",
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

@final
class SendQueue:
    def __new__(cls, limit: int) -> SendQueue: ...
    @property
    def limit(self) -> int: ...
    @property
    def closed(self) -> bool: ...
    def __len__(self) -> int: ...
    def offer(self, frame: object) -> bool: ...
    def pop(self) -> Any | None: ...
    def park(self, waiter: Any) -> None: ...
    def close(self) -> None: ...
    def clear(self) -> None: ...

@final
class Hub:
    encoder: Callable[[Any], Any] | None
    def __new__(cls) -> Hub: ...
    def subscribe(
        self, sub: Any, project_ids: Iterable[str], sprint_ids: Iterable[str] = ()
    ) -> None: ...
    def unsubscribe(
        self, sub: Any, project_ids: Iterable[str], sprint_ids: Iterable[str] = ()
    ) -> None: ...
    def remove(self, sub: Any) -> None: ...
    def subscriptions(self, sub: Any) -> tuple[set[str], set[str]]: ...
    def publish(self, events: Iterable[Any]) -> None: ...
    def sent(self) -> dict[str, tuple[int, int]]: ...
