"""`pm-fast` command line: no arguments (or `serve`) runs the server, like pm-server."""

from __future__ import annotations

import asyncio
import contextlib
import faulthandler
import gc
import logging
import os
import signal
import sqlite3
import sys
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from . import config as config_mod
from .app import COMPAT_VERSION, App
from .boot import enable_asyncio_tls
from .config import Config, ConfigError
from .engines.loop import new_loop
from .logsetup import granian_log_options, setup_logging
from .paths import ensure_pm_dir, find_pm_dir
from .service.events import event_positions
from .sidecar import PortFile, idle_monitor, install_signal_handlers
from .store.base import Store
from .store.breaker import Breaker, GuardedStore
from .store.sqlite import SYNCHRONOUS, SqliteStore, StoreOpenError

if TYPE_CHECKING:
    from .store.postgres import PostgresStore

log = logging.getLogger("pm_fast")

USAGE = """usage: pm-fast [serve [--workers N]] [-h | --help] [-V | --version]

Runs the pm-fast server (a drop-in for pm-server). Configuration comes from
<pm>/config.toml and PM_* environment variables, where <pm> is the .pm folder at the
git top level of the working directory (else beside the executable's config.json,
else ~/.pm).

--workers N (or PM_FAST_WORKERS=N): N server processes on one port. PostgreSQL only
(database.url / PM_DATABASE_URL); on SQLite one process serves.
"""


def load(pm_dir: Path, environ: dict[str, str]) -> Config | int:
    """Configuration and logging, or the exit code of a configuration error."""
    try:
        cfg = config_mod.load_config(pm_dir, environ)
        if sqlite_synchronous(environ) is None:
            raise ConfigError(
                "PM_FAST_SQLITE_SYNCHRONOUS must be normal or full"
                f" (got {environ['PM_FAST_SQLITE_SYNCHRONOUS']!r})"
            )
        ensure_pm_dir(pm_dir)
        setup_logging(cfg, pm_dir)
    except ConfigError as err:
        print(f"pm-fast: configuration error: {err}", file=sys.stderr)
        return 2
    return cfg


def _cannot_open(err: BaseException) -> int:
    log.error("cannot open the database: %s", err)
    print(f"pm-fast: cannot open the database: {err}", file=sys.stderr)
    return 1


def sqlite_synchronous(environ: dict[str, str]) -> str | None:
    """PM_FAST_SQLITE_SYNCHRONOUS (pm-fast only): normal (default, as the original) or full."""
    value = environ.get("PM_FAST_SQLITE_SYNCHRONOUS", "normal").strip().upper()
    return value if value in SYNCHRONOUS else None


async def open_app(cfg: Config, pm_dir: Path, environ: dict[str, str]) -> App | int:
    """Open the store (and, on PostgreSQL, the change bus): the App, or an exit code."""
    pg: PostgresStore | None = None
    store: Store
    if cfg.database.url:  # PostgreSQL (pm-fast only); config checked the URL's scheme
        enable_asyncio_tls()  # asyncpg may negotiate TLS
        from .store.postgres import PostgresStore  # asyncpg only when it is used
        from .store.postgres import StoreOpenError as PgOpenError

        pg = PostgresStore(cfg.database.url)
        store = pg
        try:
            await pg.open(cfg.api.llm_user_id, cfg.api.llm_user_name)
        except PgOpenError as err:
            await pg.close()
            return _cannot_open(err)
    else:
        synchronous = sqlite_synchronous(environ) or "NORMAL"  # load() checked it
        # For comparisons: PM_FAST_GROUP_COMMIT=0 gives each mutation its own transaction,
        # PM_FAST_READ_BATCH=0 each read its own hop to a reader thread.
        batch = 1 if environ.get("PM_FAST_GROUP_COMMIT") == "0" else 64
        read_batch = 1 if environ.get("PM_FAST_READ_BATCH") == "0" else 64
        sqlite_store = SqliteStore(
            config_mod.database_file(cfg, pm_dir),
            batch_limit=batch,
            read_batch_limit=read_batch,
            synchronous=synchronous,
        )
        sqlite_store.event_retention = cfg.websocket.event_retention_secs
        store = sqlite_store
        try:
            await sqlite_store.open(cfg.api.llm_user_id, cfg.api.llm_user_name)
        except (StoreOpenError, OSError) as err:
            return _cannot_open(err)
        except sqlite3.DatabaseError as err:  # a corrupt or foreign file
            await sqlite_store.close()
            return _cannot_open(err)

    app = App(cfg, pm_dir, GuardedStore(store, Breaker(cfg.circuit_breaker)))
    if pg is not None:
        # Events committed by other processes reach this process's subscribers.
        try:
            bus = await pg.start_bus(app.publish, cfg.websocket.event_retention_secs)
        except PgOpenError as err:
            await pg.close()
            return _cannot_open(err)
        app.events.start(bus.positions)
    else:
        app.events.start(await store.read(event_positions()))
    return app


async def serve(pm_dir: Path, environ: dict[str, str]) -> int:
    cfg = load(pm_dir, environ)
    if isinstance(cfg, int):
        return cfg
    for line in config_mod.config_summary(cfg):
        log.info("%s", line)
    app = await open_app(cfg, pm_dir, environ)
    if isinstance(app, int):
        return app
    store = app.store
    port_file = PortFile(pm_dir)
    from .engines.granian import make_server

    server = make_server(app, cfg.server.host, cfg.server.port, granian_log_options(cfg))

    def on_bound(port: int) -> None:
        log.info("pm-fast %s listening on http://%s:%d", COMPAT_VERSION, cfg.server.host, port)
        port_file.write(cfg.server.host, port)
        gc.enable()  # the sidecar's entry point starts without it (build/pm_server_main.py)

    server.on_bound = on_bound
    install_signal_handlers(app)
    serving = asyncio.create_task(server.serve(), name="granian")
    waiter = asyncio.create_task(app.shutdown.wait(), name="shutdown")
    tasks = [serving, waiter]
    if cfg.server.idle_shutdown_secs > 0:
        tasks.append(asyncio.create_task(idle_monitor(app, cfg.server.idle_shutdown_secs)))
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
            # Everything that must happen before exit happens while the listener still
            # answers: the desktop shell polls /health after /admin/shutdown and SIGKILLs
            # the process the moment it stops answering (spec/server.md §3.3 "Stop").
            log.info("shutting down")
            port_file.remove()
            for hook in app.on_shutdown:  # close WebSockets
                await hook()
            await server.target.close()  # requests in flight finish; later ones get 503
            await store.close()  # the last connection checkpoints and deletes -wal/-shm
            log.info("stopped")
            server.signal_handler_interrupt()
            await serving
    finally:
        for task in tasks:
            if not task.done():
                task.cancel()
        port_file.remove()
        await store.close()
    return code


def _workers(args: list[str], environ: dict[str, str]) -> int | str:
    """The --workers N option (or PM_FAST_WORKERS); an error message if malformed."""
    raw = environ.get("PM_FAST_WORKERS", "1")
    rest = args[1:]
    while rest:
        opt = rest.pop(0)
        if opt == "--workers" and rest:
            raw = rest.pop(0)
        elif opt.startswith("--workers="):
            raw = opt.split("=", 1)[1]
        else:
            return f"unknown option {opt!r}"
    if not raw.isdigit() or not 1 <= int(raw) <= 64:
        return f"--workers must be a whole number from 1 to 64 (got {raw!r})"
    return int(raw)


def serve_many(pm_dir: Path, environ: dict[str, str], workers: int) -> int:
    """Several Granian worker processes on one listener; PostgreSQL only."""
    cfg = load(pm_dir, environ)
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
        app = await open_app(cfg, pm_dir, environ)
        if isinstance(app, int):
            return app
        await app.store.close()
        return 0

    code = asyncio.run(check())
    if code:
        return code
    from .engines.granian_workers import serve_workers

    return serve_workers(cfg, pm_dir, environ, workers, granian_log_options(cfg))


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if any(arg in ("-h", "--help") for arg in args):  # on any command, e.g. `serve --help`
        print(USAGE)
        return 0
    if args and args[0] in ("-V", "--version"):
        print(f"pm-fast (pm-server {COMPAT_VERSION} compatible)")
        return 0
    if args and args[0] != "serve":
        print(f"pm-fast: unknown command {args[0]!r}\n\n{USAGE}", file=sys.stderr)
        return 2
    if hasattr(signal, "SIGUSR1"):  # diagnostics: every thread's stack to stderr
        faulthandler.register(signal.SIGUSR1, all_threads=True)
    environ = dict(os.environ)
    workers = _workers(args, environ)
    if isinstance(workers, str):
        print(f"pm-fast: {workers}\n\n{USAGE}", file=sys.stderr)
        return 2
    pm_dir = find_pm_dir()
    if workers > 1:
        gc.enable()  # see `serve`
        return serve_many(pm_dir, environ, workers)
    with asyncio.Runner(loop_factory=new_loop) as runner:
        code = runner.run(serve(pm_dir, environ))
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
