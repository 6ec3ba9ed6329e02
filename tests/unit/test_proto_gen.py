"""build/gen_codec.py: what it reads from pm.proto's payload annotations, what it refuses.

That the committed outputs equal what pm.proto generates is build/gen_proto --check's
job (build/check); this checks the reading itself, without protoc: pm_pb2's descriptor,
with the trailing comments protoc would report put back from proto_names.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import descriptor_pb2

from pm_fast.api import pm_pb2, proto_names
from pm_fast.api.proto_names import Direction

_PATH = Path(__file__).resolve().parents[2] / "build" / "gen_codec.py"
_spec = importlib.util.spec_from_file_location("gen_codec", _PATH)
assert _spec is not None and _spec.loader is not None
gen: Any = importlib.util.module_from_spec(_spec)
sys.modules["gen_codec"] = gen  # its dataclass looks itself up there
_spec.loader.exec_module(gen)


def annotation(case: proto_names.PayloadCase) -> str:
    kind = {v: k for k, v in proto_names.EVENT_CASES.items()}.get(case.name)
    if case.direction is Direction.REQUEST:
        return f"request -> {case.reply or 'empty envelope'}"
    if case.direction is Direction.REPLY:
        return "reply"
    if case.direction is Direction.REPLY_AND_EVENT:
        return f"reply, event {kind}"
    return f"event {kind}"


def descriptor(**changed: str) -> descriptor_pb2.FileDescriptorProto:
    """pm.proto's descriptor with each payload case annotated as proto_names says, or
    as `changed` says for the cases it names."""
    proto = descriptor_pb2.FileDescriptorProto()
    pm_pb2.DESCRIPTOR.CopyToProto(proto)
    (index,) = [i for i, m in enumerate(proto.message_type) if m.name == "WebSocketMessage"]
    for i, f in enumerate(proto.message_type[index].field):
        if f.name in proto_names.PAYLOAD_CASES:
            text = changed.get(f.name, annotation(proto_names.PAYLOAD_CASES[f.name]))
            location = proto.source_code_info.location.add()
            location.path.extend([4, index, 2, i])
            location.trailing_comments = f" {text}\n"
    return proto


def test_reads_what_proto_names_holds() -> None:
    cases = gen.payload_cases(descriptor())
    assert [(c.name, c.number) for c in cases] == [
        (c.name, c.number) for c in proto_names.PAYLOAD_CASES.values()
    ]
    for c in cases:
        ours = proto_names.PAYLOAD_CASES[c.name]
        assert (c.message, c.direction, c.reply) == (
            ours.message.DESCRIPTOR.name,
            ours.direction.name,
            ours.reply,
        )
    assert {c.event: c.name for c in cases if c.event} == dict(proto_names.EVENT_CASES)


@pytest.mark.parametrize(
    ("changed", "complaint"),
    [
        ({"pong": ""}, "the comment after the case must be"),
        ({"pong": "replies"}, "the comment after the case must be"),
        ({"ping": "request -> pong, quickly"}, "the comment after the case must be"),
        ({"ping": "request -> subscribe"}, "is not a reply case"),
        ({"ping": "request -> no_such_case"}, "is not a reply case"),
        ({"sprints_list": "reply, event sprint.created"}, "announced by two cases"),
    ],
)
def test_refuses_bad_annotations(changed: dict[str, str], complaint: str) -> None:
    with pytest.raises(gen.SchemaError, match=complaint):
        gen.payload_cases(descriptor(**changed))


def _body(case: str, kind: str) -> str:
    proto = descriptor(**{case: f"reply, event {kind}"})
    messages = {m.name: m for m in proto.message_type}
    (found,) = [c for c in gen.payload_cases(proto) if c.name == case]
    body: str = gen.event_body(found, messages, case)
    return body


def test_event_bodies_follow_the_payload_message() -> None:
    assert _body("work_item_updated", "work_item.updated") == (
        "Body::Entity { message: &WORK_ITEM, changes: true, actor: true, ancestry: true }"
    )
    assert _body("activity_log_created", "activity.created") == (
        "Body::Entity { message: &ACTIVITY_LOG_ENTRY, changes: false, actor: false,"
        " ancestry: false }"
    )
    assert _body("dependency_deleted", "dependency.deleted") == (
        'Body::Ids(&["id", "blocking_item_id", "blocked_item_id"])'
    )


@pytest.mark.parametrize(
    "case",
    [
        "pong",  # an int64, not strings ending with user_id
        "error",  # strings, but no user_id and an optional one
        "timer_started",  # an entity, then user_id in 2, then another entity
        "dependencies_list",  # repeated entities
    ],
)
def test_refuses_event_payloads_the_encoder_cannot_write(case: str) -> None:
    with pytest.raises(gen.SchemaError, match="an event payload"):
        _body(case, "x.y")


def test_enum_values_by_domain_name() -> None:
    proto = descriptor()
    enums = {e.name: e for e in proto.enum_type}
    assert gen.domain_name(enums["ProjectStatus"], "PROJECT_STATUS_ARCHIVED") == "archived"
    assert gen.domain_name(enums["DependencyType"], "RELATES_TO") == "relates_to"


def test_the_python_enum_tables_are_pm_protos() -> None:
    """proto_names.ENUM_VALUES (what ws_codec maps entity fields with) is every enum of
    pm.proto, its values but 0 by their domain names, and the generated block says so."""
    proto = descriptor()
    expected = {
        e.name: {gen.domain_name(e, v.name): v.number for v in e.value if v.number}
        for e in proto.enum_type
    }
    assert {k: dict(v) for k, v in proto_names.ENUM_VALUES.items()} == expected
    assert expected["SprintStatus"] == {"planned": 1, "active": 2, "completed": 3, "cancelled": 4}
    block = gen.python_block(proto, gen.payload_cases(proto))
    assert '"WorkItemType": MappingProxyType({"epic": 2, "story": 3, "task": 4})' in block
