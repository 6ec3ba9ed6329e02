"""Granian (RSGI) engine: the RSGI callable and an in-process embedded server."""

from __future__ import annotations

import logging
import os
import socket
from typing import Any

from granian.constants import Interfaces
from granian.server.embed import Server

from ..api import ws
from ..api.auth import Authenticator
from ..api.rest import BodyTooLarge, Request, handle
from ..app import App
from ..config import desktop_user_id

log = logging.getLogger("pm_fast")

_CORS = ("access-control-allow-origin", "*")


class RsgiApp:
    """The RSGI application: one instance per process, holding the shared `App`."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.auth = Authenticator(app.cfg, app.pm_dir, desktop_user_id(app.cfg))
        self.registry = ws.Registry()
        app.hub.encoder = ws.event_frame
        app.on_shutdown.append(self.registry.close_all)

    async def __call__(self, scope: Any, proto: Any) -> None:
        if scope.proto == "http":
            await self._http(scope, proto)
        elif scope.proto == "ws":
            await self._ws(scope, proto)

    async def _ws(self, scope: Any, proto: Any) -> None:
        if scope.path != "/ws":
            proto.close(404)
            return
        user = self.auth.identify(scope.query_string, scope.headers.get("authorization"))
        if user is None:
            proto.close(401)
            return
        if len(self.registry) >= self.app.cfg.server.max_connections or self.app.shutdown.is_set():
            proto.close(503)
            return
        transport = await proto.accept()
        conn = ws.Connection(self.app, user, transport, lambda: proto.close(None))
        await ws.session(self.app, self.registry, conn, transport.receive)

    async def _http(self, scope: Any, proto: Any) -> None:
        headers = scope.headers

        async def read_body(limit: int) -> bytes:
            declared = headers.get("content-length")
            if declared is not None and declared.isdigit() and int(declared) > limit:
                raise BodyTooLarge
            if declared is not None:
                data: bytes = await proto()
                if len(data) > limit:
                    raise BodyTooLarge
                return data
            chunks = bytearray()
            async for chunk in proto:
                chunks += chunk
                if len(chunks) > limit:
                    raise BodyTooLarge
            return bytes(chunks)

        req = Request(scope.method, scope.path, scope.query_string, headers.get, read_body)
        resp = await handle(self.app, req)
        out = [_CORS, *resp.headers]
        if resp.content_type is not None:
            out.append(("content-type", resp.content_type))
            proto.response_bytes(resp.status, out, resp.body)
        else:
            proto.response_empty(resp.status, out)


def bind_listener(server: Any) -> int:
    """Bind one listener for a Granian server (embedded or multi-process) and record it
    where Granian looks for a shared socket; the listening file descriptor."""
    from granian._granian import ListenerSpec

    holder: Any = ListenerSpec(server.bind_addr, server.bind_port, server.backlog).build()
    server._ssp = None
    server._shd = holder
    server._sfd = holder.get_fd()
    raw: Any = server._sfd
    return int(raw[0] if isinstance(raw, tuple) else raw)


class EmbeddedGranian(Server):
    """Granian inside our own event loop, bound once so that port 0 can be read back."""

    def _init_shared_socket(self) -> None:
        # Build the listener here (not once per worker) so the OS-chosen port is known
        # before serving starts and the port file can name it.
        bind_listener(self)

    on_bound: Any = None

    def startup(self, spawn_target: Any, target_loader: Any) -> None:
        self._init_shared_socket()
        if self.on_bound is not None:
            self.on_bound(self.bound_port())
        # The parent binds again unless we skip it; reuse our listener instead.
        self._init_shared_socket = lambda: None  # type: ignore[method-assign]
        super().startup(spawn_target, target_loader)  # type: ignore[no-untyped-call]

    def bound_port(self) -> int:
        raw: Any = self._sfd
        fd: int = raw[0] if isinstance(raw, tuple) else raw
        sock = socket.socket(fileno=os.dup(fd))
        try:
            return int(sock.getsockname()[1])
        finally:
            sock.close()


def make_server(app: App, host: str, port: int, log_options: dict[str, Any]) -> EmbeddedGranian:
    return EmbeddedGranian(
        RsgiApp(app),
        address=host,
        port=port,
        interface=Interfaces.RSGI,
        websockets=True,
        backlog=1024,
        **log_options,
    )
