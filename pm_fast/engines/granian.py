"""Granian engine: the Front (engines/front.py) as an ASGI application (the default)
or an RSGI one, and an in-process embedded server for either."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import os
import socket
import sys
import types
from collections.abc import Callable
from typing import Any

from ..api.http import Response
from ..api.ws_transport import KIND_BINARY, KIND_CLOSE, KIND_TEXT, Frame
from ..app import App
from .front import Front, Headers, response_headers

log = logging.getLogger("pm_fast")


# -- RSGI -------------------------------------------------------------------------------
class _RsgiBody:
    __slots__ = ("proto", "unread")

    def __init__(self, proto: Any) -> None:
        self.proto = proto
        self.unread = True

    async def whole(self) -> bytes:
        data: bytes = await self.proto()
        self.unread = False
        return data

    async def chunks(self) -> Any:
        async for chunk in self.proto:
            yield chunk
        self.unread = False


class RsgiApp(Front):
    """The Front served through Granian's RSGI interface. RSGI cannot put a status code
    in a Close frame once a WebSocket is accepted (Granian 2.8.9 sends the Close frame
    without one): the default engine serves ASGI (`AsgiApp`)."""

    async def __call__(self, scope: Any, proto: Any) -> None:
        if scope.proto == "http":
            resp, cors = await self.http(scope, _RsgiBody(proto))
            self._send(proto, cors, resp)
        elif scope.proto == "ws":
            admitted = self.ws_admit(scope)
            if isinstance(admitted, int):
                proto.close(admitted)
                return
            transport = await proto.accept()
            await self.ws_session(
                admitted, transport, transport.receive, lambda code, reason: proto.close(None)
            )

    @staticmethod
    def _send(proto: Any, cors: Headers, resp: Response) -> None:
        out = response_headers(resp, cors)
        if resp.content_type is not None:
            proto.response_bytes(resp.status, out, resp.body)
        else:
            proto.response_empty(resp.status, out)


# -- ASGI -------------------------------------------------------------------------------
class _AsgiHeaders(dict[str, str]):
    """An ASGI request's headers by lower-case name (the first of repeated ones).

    Granian's ASGI scope has `host: ""` for a request without `Host` as for one with an
    empty `Host`. An HTTP/1.0 request may lack it (no browser sends one): as in Granian's
    RSGI scope, it has no `Host` here; an HTTP/1.1 one must name the host, so an empty
    one stays (and is refused like any unknown host)."""

    __slots__ = ()

    def __init__(self, raw: Any, version: str) -> None:
        super().__init__((k.decode("latin-1"), v.decode("latin-1")) for k, v in reversed(raw))
        if version in ("1", "1.0") and not self.get("host", True):  # Granian says "1"
            del self["host"]


class _AsgiScope:
    __slots__ = ("headers", "method", "path", "query_string")

    def __init__(self, scope: dict[str, Any]) -> None:
        self.method: str = scope.get("method", "GET")
        self.path: str = scope["path"]
        self.query_string: str = scope["query_string"].decode("latin-1")
        self.headers = _AsgiHeaders(scope["headers"], scope.get("http_version", "1.1"))


class _AsgiBody:
    __slots__ = ("receive", "unread")

    def __init__(self, receive: Any) -> None:
        self.receive = receive
        self.unread = True

    async def whole(self) -> bytes:
        data = b""
        async for chunk in self.chunks():
            data += chunk
        return data

    async def chunks(self) -> Any:
        while True:
            msg = await self.receive()
            if msg["type"] != "http.request":  # http.disconnect
                raise OSError("the client went away")
            yield msg.get("body", b"")
            if not msg.get("more_body", False):
                self.unread = False
                return


class _AsgiSocket:
    """An accepted ASGI WebSocket as the transport (ws_transport.Transport) sees it."""

    __slots__ = ("closing", "receive_message", "send_message")

    def __init__(self, receive: Any, send: Any) -> None:
        self.receive_message = receive
        self.send_message = send
        self.closing: asyncio.Future[Any] | None = None

    def send_bytes(self, data: bytes) -> Any:
        return self.send_message({"type": "websocket.send", "bytes": data})

    def send_str(self, data: str) -> Any:
        return self.send_message({"type": "websocket.send", "text": data})

    async def receive(self) -> Frame:
        msg = await self.receive_message()
        if msg["type"] != "websocket.receive":  # websocket.disconnect
            return Frame(KIND_CLOSE)
        data = msg.get("bytes")
        if data is not None:
            return Frame(KIND_BINARY, data)
        return Frame(KIND_TEXT, msg.get("text") or "")

    def close(self, code: int, reason: str) -> None:
        # Granian sends it after the frame being sent, if any (its sender is a lock).
        if self.closing is None:
            msg = {"type": "websocket.close", "code": code, "reason": reason}
            self.closing = asyncio.ensure_future(self.send_message(msg))


class AsgiApp(Front):
    """The Front served through Granian's ASGI interface (the default: its Close frames
    carry status codes)."""

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        kind = scope["type"]
        if kind == "http":
            key = None
            if scope["method"] == "GET":  # the same request again? (Front.replayed)
                key = (
                    scope["path"],
                    scope["query_string"],
                    scope.get("http_version"),
                    *scope["headers"],
                )
                try:
                    replay = self.replayed(key, scope["path"])
                except TypeError:  # header pairs that are not tuples: never replayed
                    key = replay = None
                if replay is not None:
                    await send(
                        {"type": "http.response.start", "status": 200, "headers": replay.head}
                    )
                    await send({"type": "http.response.body", "body": replay.body})
                    return
            resp, cors = await self.http(_AsgiScope(scope), _AsgiBody(receive))
            head = _raw(cors, resp)
            await send({"type": "http.response.start", "status": resp.status, "headers": head})
            await send({"type": "http.response.body", "body": resp.body})
            if key is not None and (store_key := self.replayable(resp)) is not None:
                size = sum(len(k) + len(v) for k, v in scope["headers"]) + len(scope["path"])
                self.remember(key, size, store_key, resp, head, scope["path"])
        elif kind == "websocket":
            await receive()  # websocket.connect
            admitted = self.ws_admit(_AsgiScope(scope))
            if isinstance(admitted, int):  # refused with an HTTP status (no body)
                start = {"type": "websocket.http.response.start", "status": admitted}
                await send({**start, "headers": []})
                await send({"type": "websocket.http.response.body", "body": b""})
                return
            await send({"type": "websocket.accept"})
            sock = _AsgiSocket(receive, send)
            try:
                await self.ws_session(admitted, sock, sock.receive, sock.close)
            finally:
                if sock.closing is not None:
                    with contextlib.suppress(Exception):
                        await sock.closing
        elif kind == "lifespan":
            await self.lifespan(receive, send)

    async def lifespan(self, receive: Any, send: Any) -> None:
        """Nothing to start or stop (the process's App is built before serving)."""
        while True:
            msg = await receive()
            await send({"type": msg["type"] + ".complete"})
            if msg["type"] == "lifespan.shutdown":
                return


# The CORS headers of the allowed origins and the content types, in ASGI's byte form:
# the same few values on almost every answer. Bounded (cleared when full): an allowed
# origin pattern may admit many origins.
_RAW_CORS: dict[Headers, list[tuple[bytes, bytes]]] = {(): []}
_RAW_TYPES: dict[str, tuple[bytes, bytes]] = {}


def _raw(cors: Headers, resp: Response) -> list[tuple[bytes, bytes]]:
    """`response_headers(resp, cors)` encoded (latin-1) as ASGI wants them."""
    head = _RAW_CORS.get(cors)
    if head is None:
        if len(_RAW_CORS) >= 64:
            _RAW_CORS.clear()
            _RAW_CORS[()] = []
        head = _RAW_CORS[cors] = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in cors]
    out = head.copy()
    if resp.headers:
        out += [(k.encode("latin-1"), v.encode("latin-1")) for k, v in resp.headers]
    content_type = resp.content_type
    if content_type is not None:
        raw = _RAW_TYPES.get(content_type)
        if raw is None:
            if len(_RAW_TYPES) >= 64:
                _RAW_TYPES.clear()
            raw = _RAW_TYPES[content_type] = (b"content-type", content_type.encode("latin-1"))
        out.append(raw)
    return out


def bind_listener(server: Any) -> int:
    """Bind one listener for a Granian server (embedded or multi-process) and record it
    where Granian looks for a shared socket; the listening file descriptor."""
    holder: Any = build_listener(server.bind_addr, server.bind_port, server.backlog)
    server._ssp = None
    server._shd = holder
    server._sfd = holder.get_fd()
    raw: Any = server._sfd
    return int(raw[0] if isinstance(raw, tuple) else raw)


# event loop packages `granian._loops` registers if it can import them
_OPTIONAL_LOOPS = ("uvloop", "winloop", "rloop")


def import_granian_core() -> None:
    """Import the `granian` package without its process managers.

    `granian/__init__` re-exports `granian.server.Server`, whose modules pull in
    multiprocessing, pickle, tempfile, compression modules and more: a good part of the
    start-up time, for machinery a single embedded worker never uses. While the package
    initialises, `granian.server` is a placeholder; afterwards it is importable as usual
    (the multi-process engine imports it).

    `granian._loops` also tries to import the optional event loops (uvloop, winloop,
    rloop) to list them; this server runs its own loop (engines/loop.py), and uvloop
    imports `ssl`, hence OpenSSL (some 20 ms and 5 MiB of resident memory). They are
    unavailable while the package initialises, and importable as usual afterwards.
    """
    if "granian" in sys.modules:
        return
    placeholder = types.ModuleType("granian.server")
    placeholder.Server = None  # type: ignore[attr-defined]
    sys.modules["granian.server"] = placeholder
    blocked = [name for name in _OPTIONAL_LOOPS if name not in sys.modules]
    for name in blocked:
        sys.modules[name] = None  # type: ignore[assignment]  # `import name` fails
    try:
        import granian
    finally:
        if sys.modules.get("granian.server") is placeholder:
            del sys.modules["granian.server"]
        for name in blocked:
            if sys.modules.get(name, 0) is None:
                del sys.modules[name]
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
    """One Granian worker inside our own event loop (what Granian's embedded server
    does for one worker, without its supervisor). The listener is bound first, so the
    OS-chosen port is known before serving starts and the port file can name it.

    `target` is an ASGI application (`AsgiApp`; its lifespan is not run: the App is
    built before serving) or, with `interface="rsgi"`, an RSGI one."""

    def __init__(
        self,
        target: Any,
        host: str,
        port: int,
        backlog: int = 1024,
        header_read_timeout: int = 15,
        interface: str = "asgi",
    ) -> None:
        self.target = target
        self.interface = interface
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
        # of the workers is older than their constructor). `granian.rsgi`/`granian.asgi`
        # are not imported: without an access log their callback wrappers only adapt
        # the call (ASGI: `target(scope, proto.receive, proto.send)`, done here), and
        # importing them imports `granian.log`, hence logging.config, logging.handlers,
        # pickle and socketserver (some 9 ms of start-up for nothing).
        native = sys.modules["granian._granian"]
        worker_type: Any = native.ASGIWorker if self.interface == "asgi" else native.RSGIWorker
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
        if self.interface == "asgi":
            target = self.target

            def asgi(scope: Any, proto: Any) -> Any:
                return target(scope, proto.receive, proto.send)

            callback = wrap_watcher(asgi)
        else:
            callback = wrap_watcher(self.target)
        scheduler = new_scheduler(loop, callback, impl_asyncio=True)
        log.info("serving HTTP and WebSockets (Granian %s, one worker)", self.interface.upper())
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


def make_server(
    app: App, host: str, port: int, log_options: dict[str, Any], interface: str = "asgi"
) -> EmbeddedServer:
    # Granian's loggers need nothing from `log_options` here: they have no handlers of
    # their own and pass records to ours at the levels logsetup gave them.
    timeout = int(app.cfg.server.header_read_timeout_secs)
    front = AsgiApp(app) if interface == "asgi" else RsgiApp(app)
    return EmbeddedServer(front, host, port, header_read_timeout=timeout, interface=interface)
