"""Idempotent creates: a create runs once per `user:operation:message_id`.

The WebSocket edge gives every create its client's message id; the first run stores
its reply (base64 text, inside the same transaction as the change), and a repeat of the
same id by the same user for the same operation gets that stored reply back: no row, no
event. A request without a message id is never deduplicated.
"""

from __future__ import annotations

import base64

from ..store.base import Op, Program, op
from .common import Outcome


def key(user: str, operation: str, message_id: str) -> str | None:
    """The deduplication key of one request (None: the request has no message id)."""
    return f"{user}:{operation}:{message_id}" if message_id else None


def once(
    key: str | None, operation: str, now: int, program: Program[Outcome[bytes]]
) -> Program[Outcome[bytes]]:
    """`program` (whose value is its reply) run once per `key`: a repeat returns the
    stored reply and no events. The program's own checks (what it does before its first
    store operation) run before the stored reply is looked up, so a repeat that breaks a
    rule is refused as the first request was."""
    step: Op | None = None
    try:
        step = next(program)
    except StopIteration as done:
        outcome: Outcome[bytes] = done.value
    if key is not None:
        stored: str | None = yield from op(lambda tx: tx.idem_get(key))
        if stored is not None:
            program.close()
            return Outcome(base64.b64decode(stored), sealed=True)
    while step is not None:
        result = yield step
        try:
            step = program.send(result)
        except StopIteration as done:
            outcome = done.value
            step = None
    if key is not None:
        reply = base64.b64encode(outcome.value).decode()
        yield from op(lambda tx: tx.idem_put(key, operation, reply, now))
    return outcome
