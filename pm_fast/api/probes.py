"""The monitoring probes: `GET /health`, `/live`, `/ready` (spec/server.md §1.7).

Kept apart from the REST router (api/rest.py, whose route table uses them) so that an
engine can answer them without importing the router and every service: the desktop
shell polls `/ready` right after it starts the sidecar, and those imports are a good
part of the start-up time. Nothing here may import a service module.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from ..app import COMPAT_VERSION, App
from ..store.breaker import Breaker
from .http import Response, encode, fail, ok

log = logging.getLogger("pm_fast")


async def health(app: App) -> Response:
    return ok({"status": "ok", "version": COMPAT_VERSION})


async def live(app: App) -> Response:
    return Response(200, b"", None)


async def ready(app: App) -> Response:
    """`SELECT 1` and the breaker: 503 when the probe fails or recent writes did."""
    breaker: Breaker | None = getattr(app.store, "breaker", None)
    try:
        latency = await app.store.ping()
    except Exception:
        log.exception("readiness probe failed")
        state = breaker.state if breaker is not None else "Closed"
        return Response(503, encode(_ready_body("unhealthy", 0, state)))
    state = breaker.state if breaker is not None else "Closed"
    status = "unhealthy" if state == "Open" else "healthy"
    return Response(
        503 if state == "Open" else 200, encode(_ready_body(status, int(latency), state))
    )


def _ready_body(status: str, latency_ms: int, breaker: str) -> dict[str, Any]:
    return {
        "status": status,
        "version": COMPAT_VERSION,
        "database": {"status": status, "latency_ms": latency_ms},
        "circuit_breaker": {"state": breaker},
    }


# path -> the GET handler (HEAD answers the same without the body).
PROBES: dict[str, Callable[[App], Awaitable[Response]]] = {
    "/health": health,
    "/live": live,
    "/ready": ready,
}


async def answer(app: App, method: str, path: str) -> Response | None:
    """The response to a probe request exactly as the REST edge gives it (`rest.handle`),
    or None when `method path` is not a probe's GET or HEAD (the router answers those:
    OPTIONS preflights, 405s). Never raises."""
    if method != "GET" and method != "HEAD":
        return None
    probe = PROBES.get(path)
    if probe is None:
        return None
    app.touch(path)
    try:
        resp = await probe(app)
    except Exception:
        log.exception("%s %s failed", method, path)
        return fail("INTERNAL_ERROR", "Database operation failed")
    if method == "HEAD":
        resp.body = b""
    return resp
