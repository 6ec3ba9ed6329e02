"""What every service needs: the caller's context, the outcome type, resolution helpers."""

from __future__ import annotations

from dataclasses import dataclass, field
from os import urandom
from typing import Any, Generic, Protocol, TypeVar

from ..core import rules
from ..core.errors import not_found
from ..core.model import ActivityCreated, ActivityEntry, Event, Project, WorkItem
from ..store.base import Program, op

T = TypeVar("T")
E = TypeVar("E")
E_contra = TypeVar("E_contra", contravariant=True)


class EventClass(Protocol[E_contra]):
    """An event class (`pm_fast.core.model`) whose entity is an `E_contra`."""

    @property
    def kind(self) -> str: ...

    def __call__(
        self, project_id: str | None, entity: E_contra, actor: str, extra: dict[str, Any] = ...
    ) -> Event: ...


@dataclass(frozen=True, slots=True)
class Limits:
    max_title_length: int = 200
    max_description_length: int = 10000
    max_comment_length: int = 5000
    max_sprint_name_length: int = 100


@dataclass(frozen=True, slots=True)
class Profile:
    """The rules and wording that differ between the edges, in one place.

    The original's REST and WebSocket handlers validated the same change differently;
    pm-fast keeps both byte for byte. The services read these flags, and each edge only
    picks its profile (`REST`, `WEBSOCKET`): no edge checks a rule itself.
    """

    name: str
    # The original's WebSocket validator limits what a message may carry, measured
    # before trimming and refused as INVALID_MESSAGE: title, description and sprint name
    # lengths, the project key's length and characters, the sprint date window, the
    # time-entry description. REST never had those limits.
    message_limits: bool
    # Activity comments "N fields changed" (the original writes them on WebSocket only).
    change_notes: bool
    # Errors worded as the original's WebSocket handlers word them: ids are UUIDs only
    # ("Invalid UUID format: ..."), enum numbers that name nothing, a self-dependency.
    message_wording: bool


REST = Profile("rest", message_limits=False, change_notes=False, message_wording=False)
WEBSOCKET = Profile("websocket", message_limits=True, change_notes=True, message_wording=True)


@dataclass(frozen=True, slots=True)
class Ctx:
    """Who is acting, and when (one timestamp for the whole mutation).

    `authenticated` says whether the edge vouches for `actor` (WebSocket connections
    do, and REST requests with auth enabled, by their bearer token; with auth disabled
    REST's X-User-Id header is a claim, not an identity), and so whether project
    membership is enforced, for reads and writes alike. `llm_user` is the identity
    anonymous REST callers act as. `profile` is the edge's (see `Profile`).
    """

    actor: str
    now: int
    limits: Limits = field(default_factory=Limits)
    authenticated: bool = False
    llm_user: str = "00000000-0000-0000-0000-000000000001"
    profile: Profile = REST


@dataclass(slots=True)
class Outcome(Generic[T]):
    """A service's result and the events its commit caused, in commit order.

    `sealed`: the events were already put in their wire form inside the transaction
    (`pm_fast.app.sealed`), so `App.commit` does not encode them again."""

    value: T
    events: list[Event] = field(default_factory=list)
    sealed: bool = False


# The variant nibble of a version 4 UUID: binary 10xx, from the random nibble's low bits.
_VARIANT = {c: "89ab"[int(c, 16) & 3] for c in "0123456789abcdef"}


def new_id() -> str:
    """A random (version 4) UUID in canonical text: what `str(uuid.uuid4())` gives, from
    the same 16 random bytes, without building a UUID object (~0.75 against ~2.1 µs;
    a create makes two, the broadcast one per event)."""
    h = urandom(16).hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:]}"


def message_id(ctx: Ctx, text: str, field: str) -> str:
    """An id as the edge's profile takes it: on WebSocket a UUID only, made canonical or
    refused naming the message's field; on REST the text as given (the service then
    accepts a key where it does, in REST's words)."""
    return rules.parse_uuid(text, field) if ctx.profile.message_wording else text


def check_length(value: str, low: int, high: int, field: str) -> None:
    """The original WebSocket validator's length limit, on the text as sent (untrimmed)."""
    if len(value) < low:
        raise rules.malformed(f"{field} must be at least {low} characters", field)
    if len(value) > high:
        raise rules.malformed(f"{field} must not exceed {high} characters", field)


def begin(ctx: Ctx) -> Program[None]:
    """Make sure the acting user exists (docs/compat.md: unknown callers are created)."""
    yield from op(lambda tx: tx.ensure_user(ctx.actor, ctx.now))


def record(
    ctx: Ctx, entity_type: str, entity_id: str, action: str, comment: str | None = None
) -> Program[ActivityEntry]:
    entry = ActivityEntry(
        new_id(), entity_type, entity_id, action, None, None, None, ctx.actor, ctx.now, comment
    )
    yield from op(lambda tx: tx.activity_insert(entry))
    return entry


def changes_note(ctx: Ctx, changed: list[str]) -> str | None:
    """The activity comment of an update: the original's WebSocket handlers write
    "N fields changed", its REST handlers leave it null."""
    return f"{len(changed)} fields changed" if ctx.profile.change_notes else None


def diff(entity: Any, proposed: dict[str, Any]) -> dict[str, Any]:
    """The subset of `proposed` that differs from `entity`'s current values."""
    return {name: value for name, value in proposed.items() if getattr(entity, name) != value}


def committed(
    ctx: Ctx,
    event: EventClass[E],
    entity: E,
    project_id: str | None,
    extra: dict[str, object] | None = None,
    note: str | None = None,
) -> Program[Outcome[E]]:
    """Write the activity row of a mutation and describe what subscribers should see
    (handed to the store with the change, and returned for the caller to publish):
    `event` is the class of the mutation's event, e.g. `WorkItemCreated`."""
    entity_type, _, action = event.kind.partition(".")
    entity_id = getattr(entity, "id")  # noqa: B009
    entry = yield from record(ctx, entity_type, entity_id, action, note)
    events = [
        activity_event(entry, project_id),
        event(project_id, entity, ctx.actor, extra or {}),
    ]
    yield from op(lambda tx: tx.emit(events))
    return Outcome(entity, events)


def activity_event(entry: ActivityEntry, project_id: str | None) -> ActivityCreated:
    # Sprint activity also reaches connections subscribed to the sprint (spec §4.5.2).
    extra: dict[str, object] = (
        {"sprint_id": entry.entity_id} if entry.entity_type == "sprint" else {}
    )
    return ActivityCreated(project_id, entry, entry.user_id, extra)


def resolve_project(ident: str) -> Program[Project]:
    """UUID, else the raw string as a project key (spec §1.5)."""
    pid = rules.try_uuid(ident)
    if pid is not None:
        project: Project | None = yield from op(lambda tx: tx.project_get(pid))
        if project is None:
            raise not_found(f"Project with ID {ident} not found")
        return project
    project = yield from op(lambda tx: tx.project_by_key(ident))
    if project is None:
        raise not_found(f"Project with key '{ident}' not found")
    return project


def resolve_work_item(ident: str) -> Program[WorkItem]:
    """UUID, else a display key `KEY-N` (spec §1.5)."""
    wid = rules.try_uuid(ident)
    if wid is not None:
        item: WorkItem | None = yield from op(lambda tx: tx.item_get(wid))
        if item is None:
            raise not_found(f"Work item with ID {ident} not found")
        return item
    key, number = rules.parse_display_key(ident)
    project: Project | None = yield from op(lambda tx: tx.project_by_key(key))
    if project is None:
        raise not_found(f"Project with key '{key}' not found")
    item = None
    if number <= rules.I32_MAX:
        item = yield from op(lambda tx: tx.item_by_number(project.id, number))
    if item is None:
        raise not_found(f"Work item {ident} not found in project {key}")
    return item


def require_item(wid: str, shown: str | None = None) -> Program[WorkItem]:
    """The live item `wid`; a miss names it as the caller wrote it (`shown`), as the
    original's messages do."""
    item: WorkItem | None = yield from op(lambda tx: tx.item_get(wid))
    if item is None:
        raise not_found(f"Work item {shown or wid} not found")
    return item
