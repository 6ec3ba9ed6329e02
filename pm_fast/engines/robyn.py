"""Robyn engine: the Front (engines/front.py) served through Robyn 0.88 (`pm-fast serve
--engine robyn`, optional dependency `pm-fast[robyn]`).

Robyn's low-level `robyn.robyn.Server` is used directly (Robyn's `Robyn` application
class adds OpenAPI routes, dependency injection and its own process pool, none of which
pm-fast wants): one catch-all route per method hands every request to `Front.http`, and
`/ws` is a channel-mode WebSocket route whose connect handler asks `Front.ws_admit` and
starts `Front.ws_session`.

What Robyn cannot do, and how pm-fast behaves instead, is listed in docs/compat.md
("Robyn engine"): in short, no WebSocket Close status codes (Robyn sends a text frame
"Connection closed" and drops the connection), no refusal of an upgrade with an HTTP
status (the socket is accepted and closed at once), no request headers on a WebSocket
upgrade (so no Host/Origin check and no `Authorization` header there), no streaming
request bodies, no way to stop its listener, and `Server.start` runs the event loop
itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import ipaddress
import logging
import os
import signal
import socket
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any
from urllib.parse import unquote

from ..api.ws_transport import CLOSE_NORMAL, KIND_BINARY, KIND_CLOSE, KIND_TEXT, Frame
from ..app import App
from .front import Front, response_headers

log = logging.getLogger("pm_fast")

# Every method the REST router and the browser guard answer (others get Robyn's 404).
_METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS")
# Robyn reads a whole request body before calling the route (up to this many bytes,
# ROBYN_MAX_PAYLOAD_SIZE); the largest body pm-fast accepts is an import (api/rest.py).
_MAX_PAYLOAD = 64 * 1024 * 1024 + 1
_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class _NoHeaders:
    """A WebSocket upgrade's headers: Robyn hands the connect handler none."""

    __slots__ = ()

    def get(self, name: str, default: None = None, /) -> str | None:
        return None


class _Scope:
    __slots__ = ("headers", "method", "path", "query_string")

    def __init__(self, method: str, path: str, query_string: str, headers: Any) -> None:
        self.method = method
        self.path = path
        self.query_string = query_string
        self.headers = headers


def _query_string(params: Any) -> str:
    """The query string again from Robyn's parsed one (its values are still
    percent-encoded; the order of different names is lost)."""
    return "&".join(f"{k}={v}" if v else k for k, v in params.multi_items())


class _Body:
    """A body Robyn has read whole (str when it decoded as UTF-8, else bytes)."""

    __slots__ = ("data",)
    unread = False

    def __init__(self, raw: str | bytes) -> None:
        self.data = raw.encode() if isinstance(raw, str) else bytes(raw)

    async def whole(self) -> bytes:
        return self.data

    async def chunks(self) -> AsyncIterator[bytes]:
        yield self.data


class _Socket:
    """An accepted Robyn WebSocket as the transport (ws_transport.Transport) sees it."""

    __slots__ = ("channel", "closed", "conn")

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.channel = conn.message_channel
        self.closed = False

    def send_bytes(self, data: bytes) -> Any:
        return self.conn.async_send_bytes_to(self.conn.id, data)

    def send_str(self, data: str) -> Any:
        return self.conn.async_send_to(self.conn.id, data)

    async def receive(self) -> Frame:
        msg = await self.channel.receive()
        if msg is None:  # the connection is gone
            return Frame(KIND_CLOSE)
        if isinstance(msg, str):
            return Frame(KIND_TEXT, msg)
        return Frame(KIND_BINARY, bytes(msg))

    def close(self, code: int, reason: str) -> None:
        # Robyn's close takes no status code (docs/compat.md "Robyn engine").
        if not self.closed:
            self.closed = True
            self.conn.close()


def _function(handler: Callable[..., Coroutine[Any, Any, Any]]) -> Any:
    """Robyn's description of an async handler (it passes the declared parameters)."""
    from robyn.robyn import FunctionInfo

    params = dict(inspect.signature(handler).parameters)
    return FunctionInfo(handler, True, len(params), params, {})


class RobynApp(Front):
    """The Front as Robyn's route and WebSocket handlers."""

    def __init__(self, app: App) -> None:
        super().__init__(app)
        self._sessions: dict[str, asyncio.Task[None]] = {}

    async def route(self, request: Any) -> Any:
        from robyn.robyn import Headers, Response

        headers = request.headers
        scope = _Scope(
            request.method,
            unquote(request.url.path),
            _query_string(request.query_params),
            headers,
        )
        resp, cors = await self.http(scope, _Body(request.body))
        out = Headers({})
        for name, value in response_headers(resp, cors):
            out.append(name, value)
        return Response(resp.status, out, resp.body)

    async def ws_connect(self, ws: Any) -> None:
        scope = _Scope("GET", "/ws", _query_string(ws.query_params), _NoHeaders())
        sock = _Socket(ws)
        admitted = self.ws_admit(scope)
        if isinstance(admitted, int):  # cannot answer the upgrade with this status
            log.info("WebSocket refused (%d): accepted and closed at once", admitted)
            sock.close(0, "")
            return None
        task = asyncio.create_task(self._session(admitted, sock))
        self._sessions[ws.id] = task
        return None

    async def _session(self, user: str, sock: _Socket) -> None:
        try:
            await self.ws_session(user, sock, sock.receive, sock.close)
        except Exception:
            log.exception("WebSocket session failed")
        finally:
            self._sessions.pop(sock.conn.id, None)
            sock.close(0, "")

    async def ws_closed(self, ws: Any) -> None:
        """The client has gone. Robyn 0.88's message channel does not end then, so the
        session would wait for a frame until the heartbeat closed it, holding its slot
        (`server.max_connections`): it is stopped here, as the server stops a session
        (a request being answered is answered first)."""
        registry = self.registry
        if registry is None:
            return None
        for conn in list(registry.connections):
            sock = conn.transport
            if isinstance(sock, _Socket) and sock.conn.id == ws.id:
                sock.closed = True  # nothing to close: the socket is gone
                conn.stop("the client closed the connection", CLOSE_NORMAL, "")
        return None

    async def ws_message(self, ws: Any, msg: Any) -> None:
        return None  # channel mode: Robyn does not call it

    def server(self) -> Any:
        """A Robyn server with the catch-all routes and `/ws`."""
        from robyn.robyn import HttpMethod, Server

        # Typed as Any: the stub bundled with Robyn 0.88 lists a `use_channel` argument
        # that its `add_web_socket_route` does not take (channel mode is always on).
        srv: Any = Server()
        route = _function(self.route)
        for name in _METHODS:
            method = getattr(HttpMethod, name)
            for pattern in ("/", "/*path"):
                srv.add_route(method, pattern, route, False)
        srv.add_web_socket_route(
            "/ws", _function(self.ws_connect), _function(self.ws_closed), _function(self.ws_message)
        )
        return srv


def _listeners() -> dict[int, int]:
    """This process's listening TCP sockets: their ports by file descriptor."""
    found: dict[int, int] = {}
    for name in os.listdir("/proc/self/fd"):
        try:
            sock = socket.socket(fileno=os.dup(int(name)))
        except OSError:
            continue
        try:
            if sock.type == socket.SOCK_STREAM and sock.getsockopt(
                socket.SOL_SOCKET, socket.SO_ACCEPTCONN
            ):
                bound = sock.getsockname()
                if isinstance(bound, tuple):
                    found[int(name)] = int(bound[1])
        except OSError:
            pass
        finally:
            sock.close()
    return found


def block_signals() -> None:
    """Keep SIGINT and SIGTERM pending in this thread and every thread it starts from
    now on, until `RobynServer.claim_signals` (call it before any thread starts)."""
    signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)


class RobynServer:
    """Binds, then serves the Front through Robyn in this thread's event loop.

    `Server.start` runs the current event loop itself (`run_forever`) and does not
    return while serving; the lifecycle runs as a task in that loop and ends the
    process (cli.serve_robyn)."""

    def __init__(self, app: App, host: str, port: int) -> None:
        self.target = RobynApp(app)
        self.host = host
        self.port = port
        self._socket: Any = None

    def bind(self) -> int:
        """Bind and listen; the port (the OS-chosen one for port 0)."""
        from robyn.robyn import SocketHeld

        # Robyn binds IP addresses only: a name (`server.host = "localhost"`, which the
        # desktop shell allows) is resolved and its addresses tried, IPv4 ones first.
        try:
            ipaddress.ip_address(self.host)
            candidates = [self.host]
        except ValueError:
            infos = socket.getaddrinfo(self.host, self.port, type=socket.SOCK_STREAM)
            infos.sort(key=lambda info: info[0] != socket.AF_INET)
            candidates = list(dict.fromkeys(str(info[4][0]) for info in infos))
        error: Exception = OSError(f"{self.host} has no address to bind")
        for address in candidates:
            # `SocketHeld` does not say which port it bound when asked for port 0: the
            # listening socket that appeared does.
            before = _listeners()
            try:
                self._socket = SocketHeld(address, self.port)
            except Exception as exc:  # noqa: BLE001 - Robyn raises its own error types
                error = exc
                continue
            new = [port for fd, port in _listeners().items() if fd not in before]
            if new:
                return new[0]
            error = OSError(f"Robyn bound no listener on {address}:{self.port}")
        raise error

    def run(self) -> None:
        """Serve until the process ends (runs the current event loop)."""
        if not self.target.app.cfg.auth.enabled:
            log.warning(
                "robyn engine with auth disabled: WebSocket upgrades cannot be checked for"
                " their Origin, so any web page open in a browser on this machine can connect"
                " to /ws (docs/compat.md, Robyn engine)"
            )
        os.environ.setdefault("ROBYN_MAX_PAYLOAD_SIZE", str(_MAX_PAYLOAD))
        loop = asyncio.get_event_loop()
        # `Server.start` makes a new event loop (through the policy), sets it current
        # and runs it: it must be this one, where the store and the lifecycle live.
        asyncio.set_event_loop_policy(_ThisLoop(loop))
        asyncio.set_event_loop(loop)
        loop.call_later(1.0, self.target.warm_up)  # in case no request comes soon
        for name in ("actix_server", "actix_web", "robyn"):  # their start-up chatter
            logging.getLogger(name).setLevel(logging.WARNING)
        log.info("serving HTTP and WebSockets (Robyn, one worker)")
        self.target.server().start(self._socket, 1)

    async def claim_signals(self, port: int, install: Callable[[], None]) -> None:
        """Install pm-fast's SIGINT/SIGTERM handlers once Robyn serves.

        actix-web (under Robyn) installs its own handlers when its server starts and
        on a signal stops accepting connections at once, which would end `/health`
        before the graceful shutdown; it offers no way to opt out. Once a request has
        been answered its handlers are in place, and installing ours replaces them."""
        deadline = asyncio.get_running_loop().time() + 30
        while True:
            with contextlib.suppress(OSError):
                reader, writer = await asyncio.open_connection(_probe_host(self.host), port)
                request = f"GET /live HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                writer.write(request.encode() + b"Connection: close\r\n\r\n")
                answered = await reader.read(1)
                writer.close()
                if answered:
                    break
            if asyncio.get_running_loop().time() > deadline:
                log.warning("Robyn did not answer within 30 s; signals may stop it abruptly")
                break
            await asyncio.sleep(0.02)
        install()
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _SIGNALS)


class _ThisLoop(asyncio.DefaultEventLoopPolicy):
    """An event loop policy whose every "new" loop is `loop` (the serving process has
    one)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self._loop = loop

    def new_event_loop(self) -> asyncio.AbstractEventLoop:
        return self._loop


def _probe_host(host: str) -> str:
    if host in ("0.0.0.0", ""):
        return "127.0.0.1"
    if host == "::":
        return "::1"
    return host
