"""Pure-Python twins of the protobuf encoder in ``pm_fast_ext`` (``src/codec.rs``).

Built on upb (``pm_pb2``) and the entity mapping of ``ws_codec``: what these return is
the reference the Rust functions must match byte for byte
(``tests/unit/test_codec_twins.py``). Import them through ``pm_fast.accel``, which picks
the Rust versions when the extension is built. (Client frames are parsed with upb by
the server itself; there is no decoder here.)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from google.protobuf.message import Message

from ..core.model import EVENT_TYPES
from . import pm_pb2 as pb
from . import ws_codec

__all__ = [
    "encode_event",
    "encode_work_items_list",
]


# -- encoding -------------------------------------------------------------------------
def _envelope(message_id: str, timestamp: int, case: str, payload: Message) -> bytes:
    """``ws_codec.envelope`` with the timestamp given."""
    env = pb.WebSocketMessage(message_id=message_id, timestamp=timestamp)
    getattr(env, case).CopyFrom(payload)
    data: bytes = env.SerializeToString()
    return data


def encode_event(
    kind: str,
    entity: Any,
    actor: str,
    extra: dict[str, Any],
    message_id: str,
    timestamp: int,
) -> bytes | None:
    """The broadcast frame announcing an event, or None for kinds that are not broadcast."""
    cls = EVENT_TYPES.get(kind)
    if cls is None:
        return None
    return _envelope(
        message_id, timestamp, *ws_codec.event_payload(cls(None, entity, actor, extra))
    )


def encode_work_items_list(
    message_id: str,
    timestamp: int,
    items: Iterable[Any],
    ancestors: Mapping[str, Iterable[str]],
    descendants: Mapping[str, Iterable[str]],
    as_of: int,
) -> bytes:
    """The ``work_items_list`` reply frame: ``items`` with their ancestor and descendant ids."""
    payload = pb.WorkItemsList(
        work_items=[ws_codec.work_item_pb(i, ancestors[i.id], descendants[i.id]) for i in items],
        as_of_timestamp=as_of,
    )
    return _envelope(message_id, timestamp, "work_items_list", payload)
