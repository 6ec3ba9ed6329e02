"""Granian's multi-process mode: N worker processes on one listener, PostgreSQL only.

The parent process binds the listener, writes the port file (with its own pid: it is
the one to signal) and supervises the workers; it opens no store and serves nothing.
Each worker is a complete pm-fast: its own event loop, PostgreSQL pool, change bus
(LISTEN/NOTIFY, so a subscriber on any worker sees every change) and WebSocket
registry. SQLite is served by one process only: the caller refuses workers there.

Shutdown: SIGINT/SIGTERM to the parent stops every worker (Granian sends each a
SIGTERM). A worker first closes its WebSockets with a Close frame, then lets Granian
stop its listener, then closes its store. `POST /admin/shutdown` on any worker signals
the parent, which stops them all.

A worker that dies is replaced after a back-off (0.5 s, doubling up to 30 s per slot, back
to 0.5 s once a replacement has served for 30 s), while the other workers go on serving.
Granian's own supervisor gives up instead when a slot dies twice within 5.5 s; ours gives
up only when nothing can start at all: every worker of the first start died before it
was ready (a worker tells the supervisor it is ready through a pipe).

Metrics: each worker knows its slot number (1..N, `worker` label) and writes its
snapshot to a directory the supervisor makes for the run, so a scrape of any worker
answers for all of them (pm_fast/metrics.py, docs/metrics.md).
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal
import socket
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from granian._loops import loops
from granian.constants import Interfaces
from granian.server.mp import MPServer

from .. import metrics
from ..app import COMPAT_VERSION, App
from ..bootstrap import Settings, open_app
from ..config import Config
from ..sidecar import PortFile
from .granian import AsgiApp, bind_listener, http_settings
from .loop import new_loop

log = logging.getLogger("pm_fast")


class WorkerApp(AsgiApp):
    """The ASGI application of one worker; its App is built in the worker's own loop,
    at the ASGI lifespan's start-up (Granian runs it in each worker before serving)."""

    def __init__(self, cfg: Config, pm_dir: Path, settings: Settings) -> None:
        # AsgiApp.__init__ runs in the worker (`started`), not in the parent.
        self.cfg = cfg
        self.pm_dir = pm_dir
        self.settings = settings
        self.parent = os.getpid()
        self._granian_stop: Any = None
        # The write end of the supervisor's readiness pipe (inherited over fork).
        self.ready_fd: int | None = None
        # This worker's slot (1..N, set in the worker) and the run's metrics directory.
        self.slot = 0
        self.metrics_dir: Path | None = None

    async def lifespan(self, receive: Any, send: Any) -> None:
        while True:
            msg = await receive()
            if msg["type"] == "lifespan.startup":
                opened = await open_app(self.cfg, self.pm_dir, self.settings)
                if isinstance(opened, int):
                    reason = f"the store did not open (exit code {opened})"
                    await send({"type": "lifespan.startup.failed", "message": reason})
                    return
                self.started(asyncio.get_running_loop(), opened)
                await send({"type": "lifespan.startup.complete"})
            elif msg["type"] == "lifespan.shutdown":
                await self.stopped()
                await send({"type": "lifespan.shutdown.complete"})
                return

    def started(self, loop: asyncio.AbstractEventLoop, opened: App) -> None:
        AsgiApp.__init__(self, opened)
        # Granian installed its own SIGINT/SIGTERM handlers on this loop; keep the one it
        # runs to stop the listener, and run it only after the WebSockets are closed.
        handlers: dict[int, Any] = getattr(loop, "_signal_handlers", {})
        self._granian_stop = handlers.get(signal.SIGTERM)
        if self._granian_stop is not None:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, self._on_signal, opened)
        loop.create_task(self._stop_when_asked(opened), name="pm-fast-shutdown")
        if metrics.STATS.on and self.metrics_dir is not None and self.slot:
            metrics.join_group(self.slot, self.metrics_dir)
            loop.create_task(metrics.publish_snapshots(opened), name="pm-fast-metrics")
        log.info("worker %d ready", os.getpid())
        if self.ready_fd is not None:
            try:
                os.write(self.ready_fd, f"{os.getpid()}\n".encode())
            except OSError:
                log.warning("worker %d: could not tell the supervisor it is ready", os.getpid())

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

    async def stopped(self) -> None:
        app: App | None = getattr(self, "app", None)
        if app is not None:
            try:
                await asyncio.wait_for(app.store.close(), 10.0)
            except Exception:
                log.exception("worker %d: closing the store failed", os.getpid())


BACKOFF_FIRST = 0.5
BACKOFF_MAX = 30.0
STABLE_AFTER = 30.0


class Supervisor(MPServer):
    """Granian's process supervisor, with the port file written once the port is bound
    and dead workers replaced with a back-off instead of its crash-loop exit."""

    port_file: PortFile
    host: str
    ready_rx: int

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

    def _serve_loop(self, spawn_target: Any, target_loader: Any) -> None:
        """Granian's main loop for what pm-fast uses (signals, dead workers, SIGHUP)."""
        delay = dict.fromkeys(range(self.workers), BACKOFF_FIRST)
        due: dict[int, float] = {}  # slot -> when its replacement starts
        ready: set[int] = set()  # pids that reported ready
        ever_ready = False
        first_failed: set[int] = set()  # slots whose first worker died before ready
        replaced = dict.fromkeys(range(self.workers), 0)  # replacements per slot
        while True:
            now = time.monotonic()
            timeout = min([1.0, *(max(0.0, t - now) for t in due.values())])
            self.main_loop_interrupt.wait(timeout)
            if self.interrupt_signal:
                break
            ready |= self._drain_ready()
            ever_ready = ever_ready or bool(ready)
            self.main_loop_interrupt.clear()
            dead: list[int] = []
            while self.interrupt_children:  # appended to by Granian's watcher threads
                dead.append(self.interrupt_children.pop(0))
            now = time.monotonic()
            for idx in dead:
                wrk = self.wrks[idx]
                pid = wrk.inner.pid
                lived = now - wrk.birth
                was_ready = pid in ready
                ready.discard(pid)
                if not was_ready and not replaced[idx]:
                    first_failed.add(idx)
                if was_ready and lived >= STABLE_AFTER:
                    delay[idx] = BACKOFF_FIRST
                log.warning(
                    "worker %s (slot %d) died after %.1f s (exit code %s, %s); replaced in %.1f s",
                    pid,
                    idx + 1,
                    lived,
                    wrk.inner.exitcode,
                    "was serving" if was_ready else "before it was ready",
                    delay[idx],
                )
                due[idx] = now + delay[idx]
                delay[idx] = min(delay[idx] * 2, BACKOFF_MAX)
            if not ever_ready and len(first_failed) == self.workers:
                log.error("no worker could start; stopping")
                self.interrupt_children.append(0)  # Granian's shutdown then exits 1
                break
            for idx, when in sorted(due.items()):
                if when <= now:
                    del due[idx]
                    replaced[idx] += 1
                    self._respawn_workers([idx], spawn_target, target_loader)
            if self.reload_signal:
                self._reload(spawn_target, target_loader)  # type: ignore[no-untyped-call]

    def _spawn_worker(
        self, idx: int, target: Any, callback_loader: Callable[[], Any], *rest: Any
    ) -> Any:
        # Granian calls the loader in the new (forked) worker: it learns its slot there.
        def load() -> Any:
            app = callback_loader()
            app.slot = idx + 1
            return app

        return super()._spawn_worker(idx, target, load, *rest)

    def _drain_ready(self) -> set[int]:
        pids: set[int] = set()
        data = b""
        while True:
            try:
                chunk = os.read(self.ready_rx, 4096)
            except BlockingIOError:
                break
            if not chunk:
                break
            data += chunk
        for line in data.split():
            if line.isdigit():
                pids.add(int(line))
        return pids


LOOP = "pm-fast"


@loops.register(LOOP)
def _worker_loop() -> asyncio.AbstractEventLoop:
    """Each worker's event loop: the same as the one-process server's (engines/loop.py);
    built in the worker by Granian, which forks its workers from this process."""
    loop = new_loop()
    asyncio.set_event_loop(loop)
    return loop


def serve_workers(
    cfg: Config, pm_dir: Path, settings: Settings, log_options: dict[str, Any]
) -> int:
    """Run until SIGINT/SIGTERM or /admin/shutdown; the exit code."""
    target = WorkerApp(cfg, pm_dir, settings)
    target.metrics_dir = Path(tempfile.mkdtemp(prefix="pm-fast-metrics-"))
    http_mode, http1 = http_settings(int(cfg.server.header_read_timeout_secs))
    server = Supervisor(
        target,  # type: ignore[arg-type]
        address=cfg.server.host,
        port=cfg.server.port,
        interface=Interfaces.ASGI,
        loop=LOOP,  # type: ignore[arg-type]
        workers=settings.workers,
        websockets=True,
        http=http_mode,
        http1_settings=http1,
        backlog=1024,
        respawn_failed_workers=True,
        workers_kill_timeout=15,
        **log_options,
    )
    server.port_file = PortFile(pm_dir)
    server.host = cfg.server.host
    server.ready_rx, target.ready_fd = os.pipe()
    os.set_blocking(server.ready_rx, False)
    try:
        server.serve(target_loader=lambda *_: target, wrap_loader=False)
    except SystemExit as exc:
        return int(exc.code or 0)
    finally:
        server.port_file.remove()
        shutil.rmtree(target.metrics_dir, ignore_errors=True)
        os.close(server.ready_rx)
        os.close(target.ready_fd)
    log.info("stopped")
    return 0
