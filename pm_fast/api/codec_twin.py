"""Pure-Python twins of the protobuf codec in ``pm_fast_ext`` (``src/codec.rs``).

Built on upb (``pm_pb2``) and the entity mapping of ``ws_codec``: what these return is
the reference the Rust functions must match byte for byte and value for value
(``tests/unit/test_codec_twins.py``). Import them through ``pm_fast.accel``, which picks
the Rust versions when the extension is built.

Decoded payloads are dicts: a plain proto3 scalar is always there (its default when the
frame leaves it out), an ``optional`` one only when the frame carries it, a repeated
field is a list, an enum an int.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import DecodeError, Message

from ..core.model import Event
from . import pm_pb2 as pb
from . import ws_codec
from .proto_names import REQUEST_CASES

__all__ = [
    "decode_envelope",
    "decode_work_items_list",
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
    found = ws_codec.event_payload(Event(kind, None, entity, actor, extra))
    if found is None:
        return None
    return _envelope(message_id, timestamp, *found)


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


# -- decoding -------------------------------------------------------------------------
_PLAIN, _OPTIONAL, _REPEATED = 0, 1, 2

# Per message type: (field name, how it reads), in field-number order.
_Layout = tuple[tuple[str, int], ...]


def _layout(descriptor: Descriptor) -> _Layout:
    out = []
    for f in sorted(descriptor.fields, key=lambda f: f.number):
        if f.type == FieldDescriptor.TYPE_MESSAGE:
            # only pm-fast's own extension has one (`Subscribe.resume`, docs/events.md):
            # like the Rust decoder, this one reads the original's fields only
            assert f.full_name == "pm.Subscribe.resume", f.full_name
            continue
        how = _REPEATED if f.is_repeated else _OPTIONAL if f.has_presence else _PLAIN
        out.append((f.name, how))
    return tuple(out)


_REQUEST_LAYOUTS: dict[str, _Layout] = {
    case: _layout(pb.WebSocketMessage.DESCRIPTOR.fields_by_name[case].message_type)
    for case in REQUEST_CASES
}
_WORK_ITEM_LAYOUT = _layout(pb.WorkItem.DESCRIPTOR)


def _fields(msg: Message, layout: _Layout) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, how in layout:
        if how == _PLAIN:
            out[name] = getattr(msg, name)
        elif how == _REPEATED:
            out[name] = list(getattr(msg, name))
        elif msg.HasField(name):
            out[name] = getattr(msg, name)
    return out


def _parse(data: bytes) -> pb.WebSocketMessage:
    try:
        env: pb.WebSocketMessage = pb.WebSocketMessage.FromString(data)
    except (DecodeError, RuntimeError) as err:
        raise ValueError(str(err)) from err
    return env


def decode_envelope(data: bytes) -> tuple[str, int, str | None, dict[str, Any]]:
    """``(message_id, timestamp, payload case or None, payload fields)``.

    The fields only for the client→server requests; an empty dict for any other case.
    Malformed bytes raise ValueError.
    """
    env = _parse(data)
    case = env.WhichOneof("payload")
    if case is None:
        return env.message_id, env.timestamp, None, {}
    layout = _REQUEST_LAYOUTS.get(case)
    fields = _fields(getattr(env, case), layout) if layout is not None else {}
    return env.message_id, env.timestamp, case, fields


def decode_work_items_list(data: bytes) -> tuple[str, int, list[dict[str, Any]]]:
    """``(message_id, timestamp, work items as dicts)``; no items unless the payload is a
    ``work_items_list``. Malformed bytes raise ValueError."""
    env = _parse(data)
    items = env.work_items_list.work_items if env.WhichOneof("payload") == "work_items_list" else ()
    return env.message_id, env.timestamp, [_fields(w, _WORK_ITEM_LAYOUT) for w in items]
