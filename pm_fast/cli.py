"""`pm-fast` command line: no arguments (or `serve`) runs the server, like pm-server."""

from __future__ import annotations

import asyncio
import contextlib
import faulthandler
import gc
import logging
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from . import bootstrap
from . import config as config_mod
from .app import COMPAT_VERSION, App
from .bootstrap import Settings, SettingsError
from .engines.loop import new_loop
from .logsetup import granian_log_options
from .paths import find_pm_dir
from .sidecar import PortFile, idle_monitor, install_signal_handlers

if TYPE_CHECKING:
    from .engines.front import Front

log = logging.getLogger("pm_fast")

USAGE = """usage: pm-fast [serve [--workers N] [--engine E]] [-h | --help] [-V | --version]
       pm-fast migrate --from SOURCE --to TARGET [--replace] [--quiet]

Runs the pm-fast server (a drop-in for pm-server). Configuration comes from
<pm>/config.toml and PM_* environment variables, where <pm> is the .pm folder at the
git top level of the working directory (else beside the executable's config.json,
else ~/.pm).

--workers N (or PM_FAST_WORKERS=N): N server processes on one port. PostgreSQL only
(database.url / PM_DATABASE_URL); on SQLite one process serves.

--engine E (or PM_FAST_ENGINE=E): what serves HTTP and WebSockets: granian (the
default, Granian's ASGI interface), granian-rsgi (Granian's RSGI interface, which
sends WebSocket Close frames without a status code; for comparisons) or robyn (Robyn,
installed with pm-fast[robyn]; its limits are listed in docs/compat.md).

migrate: copies the database between a SQLite file and a postgresql:// URL, either
way (docs/migrate.md); --replace deletes data the target already holds.
"""


def announce(cfg: config_mod.Config, port_file: PortFile, port: int) -> None:
    """The listener is bound: say where and write the port file (every engine)."""
    log.info("pm-fast %s listening on http://%s:%d", COMPAT_VERSION, cfg.server.host, port)
    port_file.write(cfg.server.host, port)
    gc.enable()  # the sidecar's entry point starts without it (build/pm_server_main.py)


def watch(app: App) -> list[asyncio.Task[None]]:
    """The tasks that set `app.shutdown` besides the signal handlers and
    /admin/shutdown: the idle monitor, if configured."""
    idle = app.cfg.server.idle_shutdown_secs
    return [asyncio.create_task(idle_monitor(app, idle))] if idle > 0 else []


async def shut_down(app: App, port_file: PortFile, front: Front) -> None:
    """Everything that must happen before exit, while the listener still answers: the
    desktop shell polls /health after /admin/shutdown and SIGKILLs the process the moment
    it stops answering (spec/server.md §3.3 "Stop"). The engine closes its listener
    afterwards."""
    log.info("shutting down")
    port_file.remove()
    for hook in app.on_shutdown:  # close WebSockets
        await hook()
    await front.close()  # requests in flight finish; later ones get 503
    await app.store.close()  # the last connection checkpoints and deletes -wal/-shm
    log.info("stopped")


async def serve(pm_dir: Path, environ: dict[str, str], settings: Settings) -> int:
    cfg = bootstrap.load(pm_dir, environ, settings.log_format)
    if isinstance(cfg, int):
        return cfg
    for line in config_mod.config_summary(cfg):
        log.info("%s", line)
    app = await bootstrap.open_app(cfg, pm_dir, settings)
    if isinstance(app, int):
        return app
    store = app.store
    port_file = PortFile(pm_dir)
    from .engines.granian import make_server

    interface = "rsgi" if settings.engine == "granian-rsgi" else "asgi"
    server = make_server(app, cfg.server.host, cfg.server.port, granian_log_options(cfg), interface)
    server.listen_fd = settings.listen_fd
    server.on_bound = lambda port: announce(cfg, port_file, port)
    install_signal_handlers(app)
    serving = asyncio.create_task(server.serve(), name="granian")
    waiter = asyncio.create_task(app.shutdown.wait(), name="shutdown")
    tasks = [serving, waiter, *watch(app)]
    code = 0
    try:
        await asyncio.wait([serving, waiter], return_when=asyncio.FIRST_COMPLETED)
        if serving.done():
            exc = serving.exception()
            if exc is not None:
                log.error("server failed: %s", exc)
                print(f"pm-fast: server failed: {exc}", file=sys.stderr)
                code = 1
        else:
            await shut_down(app, port_file, server.target)
            server.signal_handler_interrupt()
            await serving
    finally:
        for task in tasks:
            if not task.done():
                task.cancel()
        port_file.remove()
        await store.close()
    return code


# How long a Robyn server waits after its shutdown for actix-web to send its last answers.
ROBYN_FLUSH_SECS = 0.1


def serve_robyn(pm_dir: Path, environ: dict[str, str], settings: Settings) -> NoReturn:
    """`serve` on the Robyn engine. Robyn runs the event loop itself and offers no way
    to stop its listener, so the lifecycle is a task in that loop that ends the process
    (`leave`) once everything is closed; the listener closes with the process."""
    try:
        from .engines import robyn
    except ImportError as err:
        print(
            f"pm-fast: the robyn engine needs Robyn (pip install 'pm-fast[robyn]'): {err}",
            file=sys.stderr,
        )
        leave(2)
    robyn.block_signals()  # before the store starts its threads (RobynServer.claim_signals)
    loop = new_loop()
    asyncio.set_event_loop(loop)
    cfg = bootstrap.load(pm_dir, environ, settings.log_format)
    if isinstance(cfg, int):
        leave(cfg)
    for line in config_mod.config_summary(cfg):
        log.info("%s", line)
    app = loop.run_until_complete(bootstrap.open_app(cfg, pm_dir, settings))
    if isinstance(app, int):
        leave(app)
    if settings.listen_fd is not None:
        from .engines.granian import inherited_listener

        # Robyn cannot serve on an inherited listener: one that matches is closed to free
        # its port (a mismatched one is closed by `inherited_listener`).
        fd = inherited_listener(settings.listen_fd, cfg.server.host, cfg.server.port)
        if fd is not None:
            log.warning("the robyn engine binds its own listener: closing the inherited one")
            os.close(fd)
    port_file = PortFile(pm_dir)
    server = robyn.RobynServer(app, cfg.server.host, cfg.server.port)
    try:
        port = server.bind()
    except Exception as exc:  # noqa: BLE001 - Robyn raises its own error types
        log.error("server failed: %s", exc)
        print(f"pm-fast: server failed: {exc}", file=sys.stderr)
        loop.run_until_complete(app.store.close())
        leave(1)
    announce(cfg, port_file, port)

    async def lifecycle() -> None:
        code = 0
        tasks: list[asyncio.Task[None]] = []
        try:
            await server.claim_signals(port, lambda: install_signal_handlers(app))
            tasks = watch(app)
            await app.shutdown.wait()
            await shut_down(app, port_file, server.target)
            # Robyn writes an answer after its handler has returned and says nothing
            # when it has: give actix-web a moment to send the last ones (the 202 of
            # /admin/shutdown among them) before the process ends.
            await asyncio.sleep(ROBYN_FLUSH_SECS)
        except BaseException as exc:  # noqa: BLE001 - the process ends here in any case
            log.error("server failed: %r", exc)
            code = 1
        finally:
            for task in tasks:
                task.cancel()
            port_file.remove()
            with contextlib.suppress(Exception):
                await app.store.close()
        leave(code)

    # Referenced here while Robyn runs the loop: the loop itself keeps only weak
    # references to tasks.
    running = loop.create_task(lifecycle(), name="lifecycle")
    server.run()
    running.cancel()
    leave(1)  # not reached: Robyn returns only if its loop stops


def _options(args: list[str]) -> dict[str, str]:
    """The values of `serve --workers N --engine E` (or `--workers=N` ...) that are
    given, by name; raises SettingsError on any other option."""
    values: dict[str, str] = {}
    rest = args[1:]
    while rest:
        opt = rest.pop(0)
        name, eq, value = opt.partition("=")
        if name not in ("--workers", "--engine") or (not eq and not rest):
            raise SettingsError(f"unknown option {opt!r}")
        values[name[2:]] = value if eq else rest.pop(0)
    return values


def serve_many(pm_dir: Path, environ: dict[str, str], settings: Settings) -> int:
    """Several Granian worker processes on one listener; PostgreSQL only."""
    workers = settings.workers
    cfg = bootstrap.load(pm_dir, environ, settings.log_format)
    if isinstance(cfg, int):
        return cfg
    if not cfg.database.url:
        print(
            f"pm-fast: --workers {workers} needs PostgreSQL (database.url or PM_DATABASE_URL):"
            " on SQLite one process serves (run without --workers)",
            file=sys.stderr,
        )
        return 2
    for line in config_mod.config_summary(cfg):
        log.info("%s", line)
    if cfg.server.idle_shutdown_secs > 0:
        log.warning("server.idle_shutdown_secs is not applied with --workers")

    async def check() -> int:  # fail fast, before any worker starts
        app = await bootstrap.open_app(cfg, pm_dir, settings)
        if isinstance(app, int):
            return app
        await app.store.close()
        return 0

    code = asyncio.run(check())
    if code:
        return code
    from .engines.granian_workers import serve_workers

    return serve_workers(cfg, pm_dir, settings, granian_log_options(cfg))


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if any(arg in ("-h", "--help") for arg in args):  # on any command, e.g. `serve --help`
        print(USAGE)
        return 0
    if args and args[0] in ("-V", "--version"):
        print(f"pm-fast (pm-server {COMPAT_VERSION} compatible)")
        return 0
    if args and args[0] == "migrate":
        gc.enable()  # off only until a server listens (`announce`)
        from . import migrate

        return migrate.main(args[1:])
    if args and args[0] != "serve":
        print(f"pm-fast: unknown command {args[0]!r}\n\n{USAGE}", file=sys.stderr)
        return 2
    if hasattr(signal, "SIGUSR1"):  # diagnostics: every thread's stack to stderr
        faulthandler.register(signal.SIGUSR1, all_threads=True)
    environ = dict(os.environ)
    try:
        options = _options(args)
        workers, engine = options.get("workers"), options.get("engine")
        if workers is not None:
            bootstrap.check_workers(workers)
        if engine is not None:
            bootstrap.check_engine(engine)
    except SettingsError as err:
        print(f"pm-fast: {err}\n\n{USAGE}", file=sys.stderr)
        return 2
    try:
        settings = bootstrap.read_settings(environ, workers, engine)
    except SettingsError as err:
        print(f"pm-fast: configuration error: {err}", file=sys.stderr)
        return 2
    bootstrap.start(settings)
    pm_dir = find_pm_dir()
    if settings.workers > 1:
        if settings.engine != "granian":
            print("pm-fast: --workers serves through the granian engine only", file=sys.stderr)
            return 2
        gc.enable()  # see `serve`
        return serve_many(pm_dir, environ, settings)
    if settings.engine == "robyn":
        serve_robyn(pm_dir, environ, settings)
    with asyncio.Runner(loop_factory=new_loop) as runner:
        code = runner.run(serve(pm_dir, environ, settings))
    leave(code)
    return 1  # not reached


def leave(code: int) -> NoReturn:
    """End the serving process now that everything is closed, without interpreter
    finalization.

    Granian's runtime threads may still be winding down connections when the event loop
    has closed. A thread that asks for the GIL while CPython 3.11 finalizes is ended
    with pthread_exit, whose forced unwind through Granian's Rust frames aborts the
    process (SIGABRT, "panic in a function that cannot unwind") and so turns a clean
    shutdown into a crash. By now the store is closed, the port file removed and the
    WebSockets closed; only the logs and standard streams need flushing.
    """
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


if __name__ == "__main__":
    raise SystemExit(main())
