"""Granian's multi-process mode: N worker processes on one listener, PostgreSQL only.

The parent process binds the listener, writes the port file (with its own pid: it is
the one to signal) and supervises the workers; it opens no store and serves nothing.
Each worker is a complete pm-fast: its own event loop, PostgreSQL pool, change bus
(LISTEN/NOTIFY, so a subscriber on any worker sees every change) and WebSocket
registry. SQLite is served by one process only: the caller refuses workers there.

Shutdown: SIGINT/SIGTERM to the parent stops every worker (Granian sends each a
SIGTERM). A worker first closes its WebSockets with a Close frame, then lets Granian
stop its listener, then closes its store. `POST /admin/shutdown` on any worker signals
the parent, which stops them all. A worker that dies is replaced by a new one.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
from pathlib import Path
from typing import Any

from granian.constants import Interfaces
from granian.server.mp import MPServer

from ..app import COMPAT_VERSION, App
from ..config import Config
from ..sidecar import PortFile
from .granian import RsgiApp, bind_listener

log = logging.getLogger("pm_fast")


class WorkerApp(RsgiApp):
    """The RSGI application of one worker; its App is built in the worker's own loop."""

    def __init__(self, cfg: Config, pm_dir: Path, environ: dict[str, str]) -> None:
        # RsgiApp.__init__ runs in the worker (__rsgi_init__), not in the parent.
        self.cfg = cfg
        self.pm_dir = pm_dir
        self.environ = environ
        self.parent = os.getpid()
        self._granian_stop: Any = None

    def __rsgi_init__(self, loop: asyncio.AbstractEventLoop) -> None:
        from ..cli import open_app

        opened = loop.run_until_complete(open_app(self.cfg, self.pm_dir, self.environ))
        if isinstance(opened, int):
            raise SystemExit(opened)
        RsgiApp.__init__(self, opened)
        # Granian installed its own SIGINT/SIGTERM handlers on this loop; keep the one it
        # runs to stop the listener, and run it only after the WebSockets are closed.
        handlers: dict[int, Any] = getattr(loop, "_signal_handlers", {})
        self._granian_stop = handlers.get(signal.SIGTERM)
        if self._granian_stop is not None:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, self._on_signal, opened)
        loop.create_task(self._stop_when_asked(opened), name="pm-fast-shutdown")
        log.info("worker %d ready", os.getpid())

    _by_signal = False

    def _on_signal(self, app: App) -> None:
        self._by_signal = True  # the supervisor is stopping us: no need to tell it
        app.shutdown.set()

    async def _stop_when_asked(self, app: App) -> None:
        await app.shutdown.wait()
        try:
            for hook in app.on_shutdown:
                await asyncio.wait_for(hook(), 10.0)
        except Exception:
            log.exception("worker %d: shutdown hook failed", os.getpid())
        finally:
            if not self._by_signal and os.getppid() == self.parent:
                # /admin/shutdown on this worker: the supervisor stops every worker.
                os.kill(self.parent, signal.SIGTERM)
            if self._granian_stop is not None:
                self._granian_stop._run()

    def __rsgi_del__(self, loop: asyncio.AbstractEventLoop) -> None:
        app: App | None = getattr(self, "app", None)
        if app is not None:
            try:
                loop.run_until_complete(asyncio.wait_for(app.store.close(), 10.0))
            except Exception:
                log.exception("worker %d: closing the store failed", os.getpid())


class Supervisor(MPServer):
    """Granian's process supervisor, with the port file written once the port is bound."""

    port_file: PortFile
    host: str

    def _init_shared_socket(self) -> None:
        # One listener bound here and inherited by every worker (Granian would have each
        # worker bind with SO_REUSEPORT, which cannot share an OS-chosen port 0).
        sock = socket.socket(fileno=bind_listener(self))
        sock.set_inheritable(True)
        self._sso = sock
        port = int(sock.getsockname()[1])
        log.info(
            "pm-fast %s listening on http://%s:%d with %d worker processes",
            COMPAT_VERSION,
            self.host,
            port,
            self.workers,
        )
        self.port_file.write(self.host, port)


def serve_workers(
    cfg: Config, pm_dir: Path, environ: dict[str, str], workers: int, log_options: dict[str, Any]
) -> int:
    """Run until SIGINT/SIGTERM or /admin/shutdown; the exit code."""
    target = WorkerApp(cfg, pm_dir, environ)
    server = Supervisor(
        target,  # type: ignore[arg-type]
        address=cfg.server.host,
        port=cfg.server.port,
        interface=Interfaces.RSGI,
        workers=workers,
        websockets=True,
        backlog=1024,
        respawn_failed_workers=True,
        workers_kill_timeout=15,
        **log_options,
    )
    server.port_file = PortFile(pm_dir)
    server.host = cfg.server.host
    try:
        server.serve(target_loader=lambda *_: target, wrap_loader=False)
    except SystemExit as exc:
        return int(exc.code or 0)
    finally:
        server.port_file.remove()
    log.info("stopped")
    return 0
