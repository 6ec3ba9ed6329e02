"""The running application: configuration, store, event hub and life-cycle signals.

Edges (REST, WebSocket) and engines (Granian, Robyn) hold one `App` and nothing else.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from . import accel
from .config import Config, llm_user_id
from .core.errors import DomainError
from .core.model import Event
from .realtime.delivery import Delivery
from .realtime.eventlog import EventLog
from .realtime.hub import HubApi
from .service.common import Ctx, Limits, Outcome
from .store.base import Program, Store

log = logging.getLogger("pm_fast")
T = TypeVar("T")

# The version pm-fast reports on /health, /ready and in the port file: the pm-server
# release whose contract it implements (docs/compat.md).
COMPAT_VERSION = "0.1.4"


@dataclass(slots=True)
class App:
    cfg: Config
    pm_dir: Path
    store: Store
    # The Rust hub or its twin (`accel.Hub()`, after pm_fast.accel.select).
    hub: HubApi
    shutdown: asyncio.Event = field(default_factory=asyncio.Event)
    last_activity: float = field(default_factory=time.monotonic)
    ws_connections: int = 0
    # Awaited when shutdown starts, before the listener stops (e.g. close WebSockets).
    on_shutdown: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    llm_user: str = ""
    limits: Limits = field(default_factory=Limits)
    # flow control between mutations and WebSocket subscribers (realtime/delivery.py)
    delivery: Delivery = field(init=False)
    # what this process has broadcast of each project's event log (exact resume)
    events: EventLog = field(init=False)

    def __post_init__(self) -> None:
        self.llm_user = llm_user_id(self.cfg)
        ws = self.cfg.websocket
        self.delivery = Delivery(ws.flow_control_frames, float(ws.stuck_client_secs))
        self.events = EventLog(ws.event_retention_secs)
        v = self.cfg.validation
        self.limits = Limits(
            max_title_length=v.max_title_length,
            max_description_length=v.max_description_length,
            max_comment_length=v.max_comment_length,
            max_sprint_name_length=v.max_sprint_name_length,
        )

    def ctx(self, actor: str) -> Ctx:
        return Ctx(actor=actor, now=int(time.time()), limits=self.limits)

    def touch(self, path: str | None = None) -> None:
        """Record activity for idle shutdown: a WebSocket frame, or an HTTP request to
        `path`. Requests that only ask about the server (health, readiness, admin) do
        not count: the desktop shell polls `/ready` every 5 s for as long as it runs."""
        if path is not None and not counts_as_activity(path):
            return
        self.last_activity = time.monotonic()

    async def commit(self, program: Program[Outcome[T]]) -> T:
        """The one path from a mutation to its events, for both edges: wait for flow
        control (the subscribers that are reading have caught up), run `program` in a
        write transaction (its events sealed: put in wire form before the commit), then
        hand the events to the hub in commit order, and return the program's value."""
        await self.delivery.admit()
        outcome = await self.store.write(sealed(program))
        if outcome.events:
            self.publish(outcome.events)
        return outcome.value

    def publish(self, events: list[Event]) -> None:
        """Broadcast committed events: this process's (`commit`) and, on PostgreSQL,
        other processes' (the bus, realtime/bus.py). Nothing else calls it."""
        self.events.note(events)
        try:
            self.hub.publish(events)
        except Exception:  # a broadcast problem never fails the mutation
            log.exception("broadcast failed")


def sealed(program: Program[Outcome[T]]) -> Program[Outcome[T]]:
    """`program`, then each event of its change put in its wire form, still inside the
    store's transaction: a change whose events cannot be encoded (a value beyond its
    protobuf field, a date without an ISO form) fails and rolls back. So a mutation
    either commits and its caller gets success and subscribers get its events, or it
    reports failure having written nothing. Every mutation runs through here
    (`App.commit`); an outcome already sealed (`Outcome.sealed`: the WebSocket edge
    seals before it builds its reply) is not encoded twice."""
    outcome = yield from program
    if outcome.sealed:
        return outcome
    for event in outcome.events:
        try:
            accel.encode_event(event.kind, event.entity, event.actor, event.extra, "", 0)
        except Exception as err:  # noqa: BLE001 - whatever the codec refuses
            log.error("not saving a change whose %s event cannot be encoded: %r", event.kind, err)
            raise DomainError(
                "INTERNAL_ERROR", "The change cannot be sent to clients and was not saved"
            ) from None
    outcome.sealed = True
    return outcome


# Paths of the monitoring and admin routes (spec/server.md §1.7).
_PROBES = frozenset(("/health", "/live", "/ready"))


def counts_as_activity(path: str) -> bool:
    """Whether an HTTP request to `path` keeps an idle server alive."""
    return path not in _PROBES and not path.startswith("/admin/")
