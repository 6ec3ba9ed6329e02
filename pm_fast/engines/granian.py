"""Granian (RSGI) engine: the RSGI callable and an in-process embedded server."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import socket
import sys
import types
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..api import probes
from ..api.auth import authenticator
from ..api.guard import Guard
from ..api.http import JSON, Response, error_body
from ..app import App
from ..boot import enable_asyncio_tls

if TYPE_CHECKING:
    from types import ModuleType

    from ..api.ws import Registry

log = logging.getLogger("pm_fast")

# Answered from memory, so they keep answering while the store closes at shutdown.
_STORELESS = frozenset(("/health", "/live"))
_SHUTTING_DOWN = error_body("SERVICE_UNAVAILABLE", "The server is shutting down")
_BODY_TIMEOUT = error_body("REQUEST_TIMEOUT", "The request body did not arrive in time")


class _BodyTimeout(BaseException):
    """The request body took longer than `server.body_read_timeout_secs`.

    A BaseException, so it passes the route layer's catch-all for failed handlers (which
    would log it as a server fault and answer 500): it is raised before the handler does
    anything else, and `RsgiApp._answer` answers 408."""


class RsgiApp:
    """The RSGI application: one instance per process, holding the shared `App`."""

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
            enable_asyncio_tls()
            self.ws()

    async def _close_websockets(self) -> None:
        if self.registry is not None:
            await self.registry.close_all()

    async def __call__(self, scope: Any, proto: Any) -> None:
        if scope.proto == "http":
            await self._http(scope, proto)
        elif scope.proto == "ws":
            await self._ws(scope, proto)

    async def _ws(self, scope: Any, proto: Any) -> None:
        refused = self.guard.ws(scope)
        if refused is not None:
            proto.close(refused)
            return
        if scope.path != "/ws":
            proto.close(404)
            return
        user = self.auth.identify(scope.query_string, scope.headers.get("authorization"))
        if user is None:
            proto.close(401)
            return
        ws = self.ws()
        registry = self.registry
        assert registry is not None
        if len(registry) >= self.app.cfg.server.max_connections or self.app.shutdown.is_set():
            proto.close(503)
            return
        transport = await proto.accept()
        conn = ws.Connection(self.app, user, transport, lambda: proto.close(None))
        await ws.session(self.app, registry, conn, transport.receive)

    async def close(self, timeout: float = 10.0) -> None:
        """Answer every later request that could need the store with 503 and wait (at
        most `timeout` s) for the requests in flight, so the store can close while the
        listener still answers `/health`."""
        self.closing = True
        try:
            await asyncio.wait_for(self.quiet.wait(), timeout)
        except TimeoutError:
            log.warning("%d HTTP request(s) still running after %s s", self.inflight, timeout)

    async def _http(self, scope: Any, proto: Any) -> None:
        cors = self.guard.http(scope)
        if isinstance(cors, Response):  # refused before any route runs
            proto.response_bytes(cors.status, [*cors.headers, ("content-type", JSON)], cors.body)
            return
        if self.closing and scope.path not in _STORELESS:
            proto.response_bytes(503, [*cors, ("content-type", JSON)], _SHUTTING_DOWN)
            return
        self.inflight += 1
        self.quiet.clear()
        try:
            await self._answer(scope, proto, cors)
        finally:
            self.inflight -= 1
            if not self.inflight:
                self.quiet.set()
            if self._ws_module is None or self._rest_module is None:
                asyncio.get_running_loop().call_soon(self.warm_up)

    async def _answer(self, scope: Any, proto: Any, cors: tuple[tuple[str, str], ...]) -> None:
        if scope.path in probes.PROBES:  # no coroutine for every other request
            probe = await probes.answer(self.app, scope.method, scope.path)
            if probe is not None:  # answered without the router (see `__init__`)
                self._send(proto, cors, probe)
                return
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
                data: bytes = await proto()
                if len(data) > limit:
                    raise too_large
                return data
            chunks = bytearray()
            async for chunk in proto:
                chunks += chunk
                if len(chunks) > limit:
                    raise too_large
            return bytes(chunks)

        req = rest.Request(scope.method, scope.path, scope.query_string, headers.get, read_body)
        try:
            resp = await rest.handle(self.app, req)
        except _BodyTimeout:
            out408 = [*cors, ("connection", "close"), ("content-type", JSON)]
            proto.response_bytes(408, out408, _BODY_TIMEOUT)
            return
        self._send(proto, cors, resp)

    @staticmethod
    def _send(proto: Any, cors: tuple[tuple[str, str], ...], resp: Response) -> None:
        out = [*cors, *resp.headers]
        if resp.content_type is not None:
            out.append(("content-type", resp.content_type))
            proto.response_bytes(resp.status, out, resp.body)
        else:
            proto.response_empty(resp.status, out)


def bind_listener(server: Any) -> int:
    """Bind one listener for a Granian server (embedded or multi-process) and record it
    where Granian looks for a shared socket; the listening file descriptor."""
    holder: Any = build_listener(server.bind_addr, server.bind_port, server.backlog)
    server._ssp = None
    server._shd = holder
    server._sfd = holder.get_fd()
    raw: Any = server._sfd
    return int(raw[0] if isinstance(raw, tuple) else raw)


def import_granian_core() -> None:
    """Import the `granian` package without its process managers.

    `granian/__init__` re-exports `granian.server.Server`, whose modules pull in
    multiprocessing, pickle, tempfile, compression modules and more: a good part of the
    start-up time, for machinery a single embedded worker never uses. While the package
    initialises, `granian.server` is a placeholder; afterwards it is importable as usual
    (the multi-process engine imports it).
    """
    if "granian" in sys.modules:
        return
    placeholder = types.ModuleType("granian.server")
    placeholder.Server = None  # type: ignore[attr-defined]
    sys.modules["granian.server"] = placeholder
    try:
        import granian
    finally:
        if sys.modules.get("granian.server") is placeholder:
            del sys.modules["granian.server"]
    if getattr(granian, "server", None) is placeholder:
        del granian.server


def build_listener(host: str, port: int, backlog: int) -> Any:
    """A bound, listening Granian socket holder for `host:port`.

    Granian binds IP addresses only; a name (`server.host = "localhost"`, which the
    desktop shell allows) is resolved and its addresses tried, IPv4 ones first, until
    one binds.
    """
    from granian._granian import ListenerSpec

    try:
        ipaddress.ip_address(host)
        candidates = [host]
    except ValueError:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        # IPv4 first: the desktop shell polls http://127.0.0.1:<port> whatever the name
        infos.sort(key=lambda info: info[0] != socket.AF_INET)
        candidates = list(dict.fromkeys(str(info[4][0]) for info in infos))
    error: Exception | None = None
    for address in candidates:
        try:
            return ListenerSpec(address, port, backlog).build()
        except Exception as exc:  # noqa: BLE001 - Granian raises its own error types
            error = exc
    raise error if error is not None else OSError(f"{host} has no address to bind")


def inherited_listener(fd: int, host: str, port: int) -> int | None:
    """`fd`, the listening socket the sidecar's launcher bound before the interpreter
    started (build/launcher.c, PM_FAST_LISTEN_FD, read by pm_fast.bootstrap), if it
    listens exactly where the configuration says; else None (a mismatched one is
    closed)."""
    try:
        sock = socket.socket(fileno=fd)
    except OSError:
        return None  # not a socket (or already closed)
    # An ASCII name goes to getaddrinfo as bytes, as the str would after the idna codec,
    # whose import (unicodedata, stringprep) would otherwise delay the first answer.
    name: str | bytes = host.encode("ascii") if host.isascii() else host
    try:
        wanted = socket.getaddrinfo(name, port, sock.family, socket.SOCK_STREAM)
        bound = sock.getsockname()
        listening = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
    except OSError:
        sock.close()
        return None
    matches = sock.type == socket.SOCK_STREAM and listening and port != 0
    matches = matches and any(info[4][:2] == bound[:2] for info in wanted)
    if not matches:
        log.warning(
            "ignoring the inherited listener %s: the server listens on %s:%d", bound, host, port
        )
        sock.close()
        return None
    os.set_inheritable(fd, False)
    return sock.detach()


def http_settings(header_read_timeout: int) -> tuple[Any, Any]:
    """Granian's HTTP mode and HTTP/1 settings, the same for every engine.

    HTTP/1 only: in "auto" mode Granian first waits for the bytes that tell HTTP/1 from
    HTTP/2, with no time limit, so a connection that sends nothing would be kept forever.
    In HTTP/1 mode `header_read_timeout` bounds the wait for a request's line and headers
    from the moment the connection is accepted, and the idle time between two requests
    on one connection; the connection is closed when it runs out.
    """
    from granian.constants import HTTPModes
    from granian.http import HTTP1Settings

    return HTTPModes.http1, HTTP1Settings(header_read_timeout=header_read_timeout * 1000)


class EmbeddedServer:
    """One Granian RSGI worker inside our own event loop (what Granian's embedded server
    does for one worker, without its supervisor). The listener is bound first, so the
    OS-chosen port is known before serving starts and the port file can name it."""

    def __init__(
        self, target: Any, host: str, port: int, backlog: int = 1024, header_read_timeout: int = 15
    ) -> None:
        self.target = target  # an RSGI application (here a RsgiApp)
        self.bind_addr = host
        self.bind_port = port
        self.backlog = backlog
        self.header_read_timeout = header_read_timeout  # s, see `http_settings`
        self.on_bound: Callable[[int], object] | None = None
        # a listener bound before start-up, to serve on instead of binding (see
        # `inherited_listener`)
        self.listen_fd: int | None = None
        self._stop: Any = None
        self._holder: Any = None

    async def serve(self) -> None:
        import_granian_core()
        from granian import _futures
        from granian._granian import WorkerSignal
        from granian.constants import SSLProtocols

        # Called as Granian's embedded server calls them (2.8.9; the bundled type stub
        # of RSGIWorker is older than its constructor). `granian.rsgi` is not imported:
        # without an access log its `_callback_wrapper` returns the target unchanged, and
        # importing it imports `granian.log`, hence logging.config, logging.handlers,
        # pickle and socketserver (some 9 ms of start-up for nothing).
        worker_type: Any = sys.modules["granian._granian"].RSGIWorker
        wrap_watcher: Any = _futures._future_watcher_wrapper
        new_scheduler: Any = _futures._new_cbscheduler

        loop = asyncio.get_running_loop()
        inherited = None
        if self.listen_fd is not None:
            inherited = inherited_listener(self.listen_fd, self.bind_addr, self.bind_port)
        if inherited is not None:
            holder_type: Any = sys.modules["granian._granian"].SocketHolder
            self._holder = holder_type(inherited, False, self.backlog)  # fd, unix?, backlog
        else:
            self._holder = build_listener(self.bind_addr, self.bind_port, self.backlog)
        if self.on_bound is not None:
            self.on_bound(self.bound_port())
        warm_up = getattr(self.target, "warm_up", None)
        if warm_up is not None:
            loop.call_later(1.0, warm_up)  # in case no request comes soon

        stopped: asyncio.Future[None] = loop.create_future()

        def stop_waiting() -> None:
            if not stopped.done():
                stopped.set_result(None)

        def on_stop() -> None:  # called from a Granian thread
            loop.call_soon_threadsafe(stop_waiting)

        self._stop = WorkerSignal()
        self._stop.add_cb(on_stop)
        no_tls: tuple[Any, ...] = (False, None, None, None, str(SSLProtocols.tls13))
        no_tls += (None, [], False)
        worker = worker_type(
            1,  # worker id
            (None, self._holder),  # the listener
            None,
            1,  # runtime threads
            512,  # runtime blocking threads (Granian's default)
            1,  # blocking threads (RSGI allows one)
            30,  # blocking threads' idle timeout, s
            self.backlog,  # backpressure: Granian's default of backlog / workers
            *http_settings(self.header_read_timeout),
            None,  # HTTP/2 settings: defaults
            True,  # WebSockets
            None,  # no static files
            *no_tls,
            (None, None),
        )
        callback = wrap_watcher(self.target)
        scheduler = new_scheduler(loop, callback, impl_asyncio=True)
        log.info("serving HTTP and WebSockets (Granian RSGI, one worker)")
        worker.serve_async(scheduler, loop, self._stop)
        await stopped

    def signal_handler_interrupt(self) -> None:
        """Stop serving: the listener stops and `serve` returns."""
        if self._stop is not None:
            self._stop.set()

    def bound_port(self) -> int:
        raw: Any = self._holder.get_fd()
        fd: int = raw[0] if isinstance(raw, tuple) else raw
        sock = socket.socket(fileno=os.dup(fd))
        try:
            return int(sock.getsockname()[1])
        finally:
            sock.close()


def make_server(app: App, host: str, port: int, log_options: dict[str, Any]) -> EmbeddedServer:
    # Granian's loggers need nothing from `log_options` here: they have no handlers of
    # their own and pass records to ours at the levels logsetup gave them.
    timeout = int(app.cfg.server.header_read_timeout_secs)
    return EmbeddedServer(RsgiApp(app), host, port, header_read_timeout=timeout)
