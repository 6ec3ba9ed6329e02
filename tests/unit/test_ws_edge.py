"""The WebSocket edge's shape: a request table that matches the protocol, rules in the
services (chosen by `Ctx.profile`, none at the edge), idempotency as a service."""

from __future__ import annotations

import ast
import base64
import time
from typing import Any

import pytest

from pm_fast.api import pm_pb2 as pb
from pm_fast.api import proto_names, ws, ws_transport
from pm_fast.core import commands as cmd
from pm_fast.core import errors
from pm_fast.core.errors import DomainError
from pm_fast.service import (
    comments,
    dependencies,
    idempotency,
    projects,
    sprints,
    time_entries,
    work_items,
)
from pm_fast.service.common import REST, WEBSOCKET, Ctx, Outcome, Profile
from pm_fast.store.base import Program, drive, op

UUID = "8d116ece-1738-47d9-bd9c-172411e20b8f"
OTHER = "5f0a1c4e-2b3d-4e5f-8a9b-0c1d2e3f4a5b"


def test_every_request_case_has_a_handler_and_nothing_else_has_one() -> None:
    assert set(ws.HANDLERS) == set(proto_names.REQUEST_CASES)
    for case in ws.HANDLERS:
        assert proto_names.PAYLOAD_CASES[case].direction is proto_names.Direction.REQUEST


def test_transport_imports_no_domain() -> None:
    """The transport module names neither services, the store, the codec nor the App."""
    source = ws_transport.__file__
    assert source is not None
    with open(source, encoding="utf-8") as f:
        text = f.read()
    for name in ("service", "store", "ws_codec", "pm_pb2", "..app", "core."):
        assert f"from ..{name.lstrip('.')}" not in text and f"import {name}" not in text, name


def test_the_edge_words_no_refusal_itself() -> None:
    """ws.py builds no DomainError: every refusal it sends is a service's (or the event
    log's, realtime/eventlog.py), so both edges word it the same way."""
    source = ws.__file__
    assert source is not None
    with open(source, encoding="utf-8") as f:
        tree = ast.parse(f.read())
    built = [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and (node.func.id == "DomainError" or node.func.id in vars(errors))
    ]
    assert built == []


def ctx(profile: Profile) -> Ctx:
    return Ctx(actor=UUID, now=int(time.time()), authenticated=True, profile=profile)


def first_error(program: Program[Any]) -> DomainError | None:
    """The error a program raises before its first store operation, if any."""
    try:
        next(program)
    except DomainError as err:
        return err
    finally:
        program.close()
    return None


def refused(program: Program[Any], code: str, message: str, field: str | None) -> None:
    err = first_error(program)
    assert err is not None, "not refused"
    assert (err.code, err.message, err.field) == (code, message, field)


def create_project(title: str = "T", key: str = "KEY", description: str | None = None) -> Any:
    return cmd.CreateProject(title, key, description)


@pytest.mark.parametrize(
    ("command", "message", "field"),
    [
        (create_project(title=""), "title must be at least 1 characters", "title"),
        (create_project(title="x" * 201), "title must not exceed 200 characters", "title"),
        (
            create_project(description="d" * 10001),
            "description exceeds maximum length (10000 characters)",
            "description",
        ),
        (create_project(key="K"), "key must be 2-20 characters", "key"),
        (create_project(key="ÄÄÄÄÄÄÄÄÄÄÄ"), "key must be 2-20 characters", "key"),
        (
            create_project(key="A-B"),
            "key must contain only letters, numbers, and underscores",
            "key",
        ),
    ],
)
def test_project_message_limits_are_the_services(command: Any, message: str, field: str) -> None:
    refused(projects.create_project(ctx(WEBSOCKET), command), "INVALID_MESSAGE", message, field)
    rest = first_error(projects.create_project(ctx(REST), command))
    assert rest is None or rest.code != "INVALID_MESSAGE"


def test_sprint_window_and_raw_name_are_the_services() -> None:
    now = int(time.time())
    day = 24 * 3600

    def sprint(name: str = "S", start: int = now, end: int = now + day, pid: str = UUID) -> Any:
        return sprints.create_sprint(ctx(WEBSOCKET), cmd.CreateSprint(pid, name, start, end))

    refused(sprint(name=""), "INVALID_MESSAGE", "name must be at least 1 characters", "name")
    refused(sprint(name="   "), "INVALID_MESSAGE", "name must be at least 1 characters", "name")
    refused(sprint(end=now), "INVALID_MESSAGE", "start_date must be before end_date", "start_date")
    refused(
        sprint(start=now - 2 * 365 * day),
        "INVALID_MESSAGE",
        "start_date is outside reasonable range",
        "start_date",
    )
    refused(
        sprint(end=now + 6 * 365 * day),
        "INVALID_MESSAGE",
        "end_date is outside reasonable range",
        "end_date",
    )
    err = first_error(sprint(pid="nope"))
    assert err is not None and err.field == "project_id"
    assert err.message.startswith("Invalid UUID format: ")
    # REST: no window, and its own wording for a project id that is no UUID
    far = cmd.CreateSprint("nope", "S", now - 2 * 365 * day, now + day)
    refused(
        sprints.create_sprint(ctx(REST), far),
        "VALIDATION_ERROR",
        "Invalid project_id: 'nope'",
        "project_id",
    )


def test_work_item_title_as_sent_and_type_number() -> None:
    padded = " " + "x" * 200

    def item(title: str, item_type: str = "task") -> cmd.CreateWorkItem:
        return cmd.CreateWorkItem(project_id=UUID, item_type=item_type, title=title)

    refused(
        work_items.create_work_item(ctx(WEBSOCKET), item(padded)),
        "INVALID_MESSAGE",
        "title must not exceed 200 characters",
        "title",
    )
    # REST trims first: 200 characters are fine (it goes on to the store)
    assert first_error(work_items.create_work_item(ctx(REST), item(padded))) is None
    refused(
        work_items.create_work_item(ctx(WEBSOCKET), item("t", "7")),
        "VALIDATION_ERROR",
        "Invalid item_type: 7",
        "item_type",
    )


def test_dependency_wording_and_order_per_profile() -> None:
    def dep(profile: Profile, kind: str) -> Program[Any]:
        return dependencies.create_dependency(ctx(profile), cmd.CreateDependency(UUID, UUID, kind))

    refused(
        dep(WEBSOCKET, "9"), "VALIDATION_ERROR", "Work item cannot block itself", "blocked_item_id"
    )
    refused(
        dependencies.create_dependency(ctx(WEBSOCKET), cmd.CreateDependency(UUID, OTHER, "9")),
        "VALIDATION_ERROR",
        "Invalid dependency_type. Must be BLOCKS or RELATES_TO",
        "dependency_type",
    )
    refused(
        dep(REST, "blocks"),
        "VALIDATION_ERROR",
        "A work item cannot depend on itself",
        "blocked_item_id",
    )


def test_ids_worded_per_profile() -> None:
    err = first_error(
        time_entries.start_timer(ctx(WEBSOCKET), cmd.CreateTimeEntry("nope", "x" * 1001))
    )
    assert err is not None and err.code == "INVALID_MESSAGE" and err.field == "description"
    err = first_error(time_entries.start_timer(ctx(WEBSOCKET), cmd.CreateTimeEntry("nope")))
    assert err is not None and err.message.startswith("Invalid UUID format: ")
    refused(
        time_entries.start_timer(ctx(REST), cmd.CreateTimeEntry("nope")),
        "VALIDATION_ERROR",
        "Invalid work_item_id: 'nope'",
        "work_item_id",
    )
    err = first_error(comments.create_comment(ctx(WEBSOCKET), "WI-1", cmd.CreateComment("c")))
    assert err is not None and err.field == "work_item_id"
    # content is checked first on both edges
    err = first_error(comments.update_comment(ctx(WEBSOCKET), "nope", cmd.UpdateComment(" ")))
    assert err is not None and err.field == "content"
    err = first_error(comments.update_comment(ctx(WEBSOCKET), "nope", cmd.UpdateComment("c")))
    assert err is not None and err.field == "comment_id"


def test_no_rule_in_the_edge() -> None:
    """The handlers module checks nothing itself: no rules, no error of its own."""
    assert not hasattr(ws, "rules") and not hasattr(ws, "invalid")


@pytest.mark.parametrize(
    ("program", "field"),
    [
        (lambda c: work_items.delete_work_item(c, "PK-1"), "work_item_id"),
        (lambda c: work_items.update_work_item(c, "PK-1", cmd.UpdateWorkItem(1)), "work_item_id"),
        (lambda c: sprints.delete_sprint(c, "x"), "sprint_id"),
        (lambda c: sprints.list_sprints_for(c, "x"), "project_id"),
        (lambda c: comments.delete_comment(c, "x"), "comment_id"),
        (lambda c: comments.list_comments_for(c, "x"), "work_item_id"),
        (lambda c: dependencies.delete_dependency(c, "x"), "dependency_id"),
        (lambda c: dependencies.dependencies_of(c, "x"), "work_item_id"),
    ],
)
def test_websocket_ids_are_uuids_named_by_their_field(program: Any, field: str) -> None:
    err = first_error(program(ctx(WEBSOCKET)))
    assert err is not None and err.code == "VALIDATION_ERROR" and err.field == field
    assert err.message.startswith("Invalid UUID format: ")


def test_websocket_project_ids_worded_as_the_edge_did() -> None:
    for program in (
        projects.delete_project(ctx(WEBSOCKET), "PK"),
        projects.update_project(ctx(WEBSOCKET), "PK", cmd.UpdateProject(1)),
    ):
        refused(program, "VALIDATION_ERROR", "Invalid project_id format", "project_id")
    # REST takes a project key there
    assert first_error(projects.delete_project(ctx(REST), "PK")) is None


class IdemTx:
    def __init__(self) -> None:
        self.stored: dict[str, tuple[str, str, int]] = {}

    def idem_get(self, key: str) -> str | None:
        found = self.stored.get(key)
        return found[1] if found else None

    def idem_put(self, key: str, operation: str, reply: str, now: int) -> None:
        self.stored[key] = (operation, reply, now)


def test_idempotency_stores_the_reply_and_replays_it_without_events() -> None:
    tx: Any = IdemTx()
    runs: list[str] = []

    def create(title: str) -> Program[Outcome[bytes]]:
        if not title:  # a rule, checked before the first store operation
            raise DomainError("INVALID_MESSAGE", "title must be at least 1 characters", "title")
        yield from op(lambda tx: tx.idem_get("unrelated"))
        runs.append(title)
        return Outcome(b"\x00reply", ["event"])  # type: ignore[list-item]

    key = idempotency.key("u", "create_project", "m1")
    assert key == "u:create_project:m1"
    first = drive(idempotency.once(key, "create_project", 5, create("a")), tx)
    assert (first.value, len(first.events)) == (b"\x00reply", 1)
    assert tx.stored[key] == ("create_project", base64.b64encode(b"\x00reply").decode(), 5)
    again = drive(idempotency.once(key, "create_project", 6, create("a")), tx)
    assert (again.value, again.events, again.sealed) == (b"\x00reply", [], True)
    assert runs == ["a"]
    # a repeat that breaks a rule is refused, as it was the first time
    with pytest.raises(DomainError):
        drive(idempotency.once(key, "create_project", 6, create("")), tx)
    # no message id: never deduplicated, nothing stored
    assert idempotency.key("u", "create_project", "") is None
    drive(idempotency.once(None, "create_project", 7, create("b")), tx)
    assert runs == ["a", "b"] and len(tx.stored) == 1


def _request(case: str, mid: str) -> bytes:
    env = pb.WebSocketMessage(message_id=mid)
    getattr(env, case).SetInParent()
    return bytes(env.SerializeToString())


async def test_a_request_past_its_time_limit_gets_timeout_and_the_next_is_answered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The time limit of one request (REQUEST_TIMEOUT) ends that request with TIMEOUT and
    leaves the task answering the connection's frames able to answer the next one."""
    import asyncio

    async def slow(conn: Any, mid: str, msg: Any) -> bytes:
        await asyncio.sleep(5)
        return b"late"

    async def quick(conn: Any, mid: str, msg: Any) -> bytes:
        return b"quick " + mid.encode()

    handlers = dict(ws.HANDLERS)
    handlers["get_work_items_request"] = slow
    handlers["get_sprints_request"] = quick
    monkeypatch.setattr(ws, "HANDLERS", handlers)
    monkeypatch.setattr(ws, "REQUEST_TIMEOUT", 0.05)
    timed_out = pb.WebSocketMessage.FromString(
        await ws.answer(None, _request("get_work_items_request", "m-1"))  # type: ignore[arg-type]
    )
    assert timed_out.message_id == "m-1" and timed_out.error.code == "TIMEOUT"
    assert await ws.answer(None, _request("get_sprints_request", "m-2")) == b"quick m-2"  # type: ignore[arg-type]
    # a cancellation from outside (the connection ending) is not turned into a reply
    task = asyncio.ensure_future(ws.answer(None, _request("get_work_items_request", "m-3")))  # type: ignore[arg-type]
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
