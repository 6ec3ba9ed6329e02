"""What every engine adapter serves: one `Front` per process around the shared `App`.

An engine adapter (engines/granian.py, engines/robyn.py) turns its server's request
and WebSocket objects into the few things asked for here: a request's method, path,
query string, a header look-up and a way to read the body; a WebSocket's send and
receive functions and a close function taking a status code and reason. Everything
else — the browser guard, probes, the REST router, body limits and time limits, the
WebSocket admission rules, the drain at shutdown — is here, once, for every engine.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from time import perf_counter
from typing import TYPE_CHECKING, Any, Protocol

from ..api import probes
from ..api.auth import authenticator
from ..api.guard import Guard
from ..api.http import JSON, Response, error_body
from ..app import App
from ..logsetup import CONNECTION_ID, REQUEST_ID, ids_wanted, new_id
from ..metrics import STATS

if TYPE_CHECKING:
    from types import ModuleType

    from ..api.ws import Registry
    from ..api.ws_transport import Transport

log = logging.getLogger("pm_fast")

# Answered from memory, so they keep answering while the store closes at shutdown.
_STORELESS = frozenset(("/health", "/live"))
_SHUTTING_DOWN = error_body("SERVICE_UNAVAILABLE", "The server is shutting down")
_BODY_TIMEOUT = error_body("REQUEST_TIMEOUT", "The request body did not arrive in time")
_CLOSE = ("connection", "close")

Headers = tuple[tuple[str, str], ...]


class HeaderLookup(Protocol):
    def get(self, name: str, default: None = None, /) -> str | None: ...


class Scope(Protocol):
    """What the front reads of a request (Granian's RSGI scope has this shape; other
    engines' adapters build one)."""

    @property
    def method(self) -> str: ...
    @property
    def path(self) -> str: ...
    @property
    def query_string(self) -> str: ...
    @property
    def headers(self) -> HeaderLookup: ...


class Body(Protocol):
    """A request body as an engine delivers it: `whole()` when the length is declared,
    else `chunks()`. `unread`: part of it may still be on its way (nobody has read it to
    its end; an engine that reads every body before the app runs says False)."""

    def whole(self) -> Awaitable[bytes]: ...
    def chunks(self) -> AsyncIterator[bytes]: ...
    @property
    def unread(self) -> bool: ...


class _BodyTimeout(BaseException):
    """The request body took longer than `server.body_read_timeout_secs`.

    A BaseException, so it passes the route layer's catch-all for failed handlers (which
    would log it as a server fault and answer 500): it is raised before the handler does
    anything else, and `Front.http` answers 408."""


class Replay:
    """An answer to a GET that an engine may send again for the very same request (same
    path, query, HTTP version and every header, byte for byte): a point read's body
    with the engine's encoding of its headers. `size`: what it and its request hold."""

    __slots__ = ("body", "head", "route", "size", "store_key")

    def __init__(self, store_key: Hashable, body: bytes, head: Any, route: str, size: int) -> None:
        self.store_key = store_key
        self.body = body
        self.head = head
        self.route = route
        self.size = size


class Replays:
    """`Replay`s by request (the engine's key), bounded: at most `max_entries`, and
    `max_bytes` in all (bodies and requests; cleared when either is reached). One that
    is no longer current is dropped when it is looked up."""

    __slots__ = ("entries", "max_bytes", "max_entries", "size")

    def __init__(self, max_entries: int = 1024, max_bytes: int = 4 << 20) -> None:
        self.entries: dict[Hashable, Replay] = {}
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.size = 0

    def put(self, key: Hashable, replay: Replay) -> None:
        if replay.size > self.max_bytes // 16:
            return
        self.drop(key)
        entries = self.entries
        if len(entries) >= self.max_entries or self.size + replay.size > self.max_bytes:
            entries.clear()
            self.size = 0
        entries[key] = replay
        self.size += replay.size

    def drop(self, key: Hashable) -> None:
        old = self.entries.pop(key, None)
        if old is not None:
            self.size -= old.size


class Front:
    """The application as engines serve it: one instance per process."""

    def __init__(self, app: App) -> None:
        self.app = app
        # The same instance checks REST bearer tokens (api/rest.py).
        self.auth = authenticator(app)
        self.guard = Guard(app.cfg, app.pm_dir)
        # The REST router (with every service) and the WebSocket edge (protobuf and its
        # codec) are imported after start-up, so the first /ready is answered sooner: the
        # probes need neither (api/probes.py). `warm_up` imports both once the first
        # request has been answered; the first other HTTP request imports the router and
        # the first WebSocket connection the edge, if they come sooner. Until then nobody
        # can be subscribed, so the hub needs no encoder.
        self._rest_module: ModuleType | None = None
        self._ws_module: ModuleType | None = None
        self.registry: Registry | None = None
        app.on_shutdown.append(self._close_websockets)
        # HTTP requests being answered, for the drain at shutdown (see `close`).
        self.inflight = 0
        self.quiet = asyncio.Event()
        self.quiet.set()
        self.closing = False
        # JSON log lines name the request or connection they were written for; the
        # line format has no place for an id, so none is made for it.
        self.tag_logs = ids_wanted()
        # Point reads answered again without the router (`replayable`, `replayed`).
        self.replays = Replays()

    # -- lazily imported edges ---------------------------------------------------------
    def ws(self) -> ModuleType:
        """The WebSocket edge module, imported on first use."""
        if self._ws_module is None:
            from ..api import ws

            self.registry = ws.Registry()
            self.app.hub.encoder = ws.event_frame
            self._ws_module = ws
        return self._ws_module

    def rest(self) -> ModuleType:
        """The REST router module, imported on first use."""
        if self._rest_module is None:
            from ..api import rest

            self._rest_module = rest
        return self._rest_module

    def warm_up(self) -> None:
        """Import what start-up left out (see `__init__`), once."""
        if self.closing:
            return
        if self._rest_module is None:
            self.rest()
        if self._ws_module is None:
            self.ws()

    # -- shutdown ----------------------------------------------------------------------
    async def _close_websockets(self) -> None:
        if self.registry is not None:
            await self.registry.close_all()

    async def close(self, timeout: float = 10.0) -> None:
        """Answer every later request that could need the store with 503 and wait (at
        most `timeout` s) for the requests in flight, so the store can close while the
        listener still answers `/health`."""
        self.closing = True
        try:
            await asyncio.wait_for(self.quiet.wait(), timeout)
        except TimeoutError:
            log.warning("%d HTTP request(s) still running after %s s", self.inflight, timeout)

    # -- HTTP --------------------------------------------------------------------------
    async def http(self, scope: Scope, body: Body) -> tuple[Response, Headers]:
        """The answer to one HTTP request and the headers every answer to it carries
        (CORS); the adapter sends both."""
        # No extra coroutine or context change when no id is wanted (the line format).
        token = REQUEST_ID.set(new_id()) if self.tag_logs else None
        try:
            cors = self.guard.http(scope)
            if isinstance(cors, Response):  # refused before any route runs
                if STATS.on:
                    STATS.error("http", str(cors.status))
                return _ended(cors, scope, body), ()
            if self.closing and scope.path not in _STORELESS:
                return _ended(Response(503, _SHUTTING_DOWN), scope, body), cors
            self.inflight += 1
            self.quiet.clear()
            try:
                if not STATS.on:
                    resp = (await self._answer(scope, body))[0]
                else:
                    start = perf_counter()
                    resp, route = await self._answer(scope, body)
                    STATS.http(route, scope.method, resp.status, perf_counter() - start)
                return _ended(resp, scope, body), cors
            finally:
                self.inflight -= 1
                if not self.inflight:
                    self.quiet.set()
                if self._ws_module is None or self._rest_module is None:
                    asyncio.get_running_loop().call_soon(self.warm_up)
        finally:
            if token is not None:
                REQUEST_ID.reset(token)

    # -- point reads answered again -----------------------------------------------------
    # The answer to a GET depends on its path, query, headers (the guard's verdict and
    # CORS headers, the caller), the configuration, the clock (bearer tokens expire) and
    # the database. A point read's answer that `Store.read_cached` keeps depends on the
    # database only through that cache, so with auth disabled (no clock) the exact same
    # request gets the exact same answer while `Store.still_cached` says its body is
    # current: the engine sends it again without the guard, router and services (their
    # verdict would be the same), only recording what every answered request records
    # (activity for idle shutdown, metrics). Not while shutting down (503s).

    def replayable(self, resp: Response) -> Hashable | None:
        """The store key of an answer that may be replayed for the same request (none
        on a store that keeps no answers: PostgreSQL)."""
        key = resp.cached_as
        if key is None or resp.status != 200 or resp.headers or self.auth.enabled:
            return None
        return key if self.app.store.still_cached(key, resp.body) else None

    def remember(
        self,
        key: Hashable,
        request_size: int,
        store_key: Hashable,
        resp: Response,
        head: Any,
        path: str,
    ) -> None:
        """Keep `resp` (`replayable`) as the answer to the request `key` (to `path`),
        which holds `request_size` bytes; `head`: its headers as the engine sends them."""
        found = self.rest().ROUTER.match(path)
        route = found[2] if found is not None else "unmatched"
        size = request_size + len(resp.body)
        self.replays.put(key, Replay(store_key, resp.body, head, route, size))

    def replayed(self, key: Hashable, path: str) -> Replay | None:
        """The answer to send for the request `key` (to `path`), if it is still current."""
        start = perf_counter()
        replay = self.replays.entries.get(key)
        if replay is None:
            return None
        if self.closing or not self.app.store.still_cached(replay.store_key, replay.body):
            self.replays.drop(key)
            return None
        self.app.touch(path)
        if STATS.on:
            STATS.http(replay.route, "GET", 200, perf_counter() - start)
        return replay

    async def _answer(self, scope: Scope, body: Body) -> tuple[Response, str]:
        """The response and the template of the route that gave it (for metrics)."""
        if scope.path in probes.PROBES:  # no coroutine for every other request
            probe = await probes.answer(self.app, scope.method, scope.path)
            if probe is not None:  # answered without the router (see `__init__`)
                return probe, scope.path
        rest = self.rest()
        too_large: type[Exception] = rest.BodyTooLarge
        headers = scope.headers
        body_timeout = float(self.app.cfg.server.body_read_timeout_secs)

        async def read_body(limit: int) -> bytes:
            # The whole body within `server.body_read_timeout_secs`, however slowly it comes.
            try:
                return await asyncio.wait_for(read_all(limit), body_timeout)
            except TimeoutError:
                raise _BodyTimeout from None

        async def read_all(limit: int) -> bytes:
            declared = headers.get("content-length")
            if declared is not None and declared.isdigit() and int(declared) > limit:
                raise too_large
            if declared is not None:
                data = await body.whole()
                if len(data) > limit:
                    raise too_large
                return data
            chunks = bytearray()
            async for chunk in body.chunks():
                chunks += chunk
                if len(chunks) > limit:
                    raise too_large
            return bytes(chunks)

        req = rest.Request(scope.method, scope.path, scope.query_string, headers.get, read_body)
        try:
            resp: Response = await rest.handle(self.app, req)
        except _BodyTimeout:
            return Response(408, _BODY_TIMEOUT, JSON, [_CLOSE]), req.route
        return resp, req.route

    # -- WebSocket ---------------------------------------------------------------------
    def ws_admit(self, scope: Scope) -> int | str:
        """The HTTP status refusing a WebSocket upgrade, or the connecting user's id."""
        verdict = self._ws_admit(scope)
        if STATS.on and isinstance(verdict, int):
            STATS.error("ws_upgrade", str(verdict))
        return verdict

    def _ws_admit(self, scope: Scope) -> int | str:
        refused = self.guard.ws(scope)
        if refused is not None:
            return refused
        if scope.path != "/ws":
            return 404
        user = self.auth.identify(scope.query_string, scope.headers.get("authorization"))
        if user is None:
            return 401
        self.ws()
        registry = self.registry
        assert registry is not None
        if len(registry) >= self.app.cfg.server.max_connections or self.app.shutdown.is_set():
            return 503
        return user

    async def ws_session(
        self,
        user: str,
        transport: Transport,
        receive: Callable[[], Awaitable[Any]],
        close: Callable[[int, str], None],
    ) -> None:
        """Serve one accepted WebSocket until it closes (`ws_admit` said yes)."""
        ws = self.ws()
        registry = self.registry
        assert registry is not None
        conn = ws.Connection(self.app, user, transport, close)
        if not self.tag_logs:
            await ws.session(self.app, registry, conn, receive)
            return
        # Set before the session starts its writer task, which inherits it.
        token = CONNECTION_ID.set(conn.id)
        try:
            await ws.session(self.app, registry, conn, receive)
        finally:
            CONNECTION_ID.reset(token)


def _ended(resp: Response, scope: Scope, body: Body) -> Response:
    """`resp`, saying the connection ends after it if the request's body was not read.

    An answer given before the body was read (refused by the guard, its type, its
    route, auth, the shutdown...) leaves the rest of the body on the connection; Granian
    then closes it, and a client that was not told would send its next request on a
    connection about to go (and see it dropped unanswered)."""
    if not body.unread:
        return resp
    headers = scope.headers
    length = headers.get("content-length")
    declared = (length is not None and length.strip() not in ("", "0")) or bool(
        headers.get("transfer-encoding")
    )
    if not declared or any(name == "connection" for name, _ in resp.headers):
        return resp
    return Response(resp.status, resp.body, resp.content_type, [*resp.headers, _CLOSE])


def response_headers(resp: Response, cors: Headers) -> list[tuple[str, str]]:
    """Every header of `resp` (its content type included) after the CORS ones."""
    out = [*cors, *resp.headers]
    if resp.content_type is not None:
        out.append(("content-type", resp.content_type))
    return out
