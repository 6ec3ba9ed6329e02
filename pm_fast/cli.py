"""`pm-fast` command line: no arguments (or `serve`) runs the server, like pm-server."""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from . import config as config_mod
from .app import COMPAT_VERSION, App
from .config import ConfigError
from .logsetup import granian_log_options, setup_logging
from .paths import ensure_pm_dir, find_pm_dir
from .sidecar import PortFile, idle_monitor, install_signal_handlers
from .store.base import Store
from .store.sqlite import SqliteStore, StoreOpenError

if TYPE_CHECKING:
    from .store.postgres import PostgresStore

log = logging.getLogger("pm_fast")

USAGE = """usage: pm-fast [serve]

Runs the pm-fast server (a drop-in for pm-server). Configuration comes from
<pm>/config.toml and PM_* environment variables, where <pm> is the .pm folder at the
git top level of the working directory (else beside the executable's config.json,
else ~/.pm).
"""


async def serve(pm_dir: Path, environ: dict[str, str]) -> int:
    try:
        cfg = config_mod.load_config(pm_dir, environ)
        ensure_pm_dir(pm_dir)
        setup_logging(cfg, pm_dir)
    except ConfigError as err:
        print(f"pm-fast: configuration error: {err}", file=sys.stderr)
        return 2
    for line in config_mod.config_summary(cfg):
        log.info("%s", line)

    pg: PostgresStore | None = None
    store: Store
    if cfg.database.url:  # PostgreSQL (pm-fast only); config checked the URL's scheme
        from .store.postgres import PostgresStore  # asyncpg only when it is used
        from .store.postgres import StoreOpenError as PgOpenError

        pg = PostgresStore(cfg.database.url)
        store = pg
        try:
            await pg.open(cfg.api.llm_user_id, cfg.api.llm_user_name)
        except PgOpenError as err:
            log.error("cannot open the database: %s", err)
            print(f"pm-fast: cannot open the database: {err}", file=sys.stderr)
            await pg.close()
            return 1
    else:
        # PM_FAST_GROUP_COMMIT=0 gives each mutation its own transaction (for comparisons).
        batch = 1 if environ.get("PM_FAST_GROUP_COMMIT") == "0" else 64
        sqlite_store = SqliteStore(config_mod.database_file(cfg, pm_dir), batch_limit=batch)
        store = sqlite_store
        try:
            await sqlite_store.open(cfg.api.llm_user_id, cfg.api.llm_user_name)
        except (StoreOpenError, OSError) as err:
            log.error("cannot open the database: %s", err)
            print(f"pm-fast: cannot open the database: {err}", file=sys.stderr)
            return 1
        except sqlite3.DatabaseError as err:  # a corrupt or foreign file
            log.error("cannot open the database: %s", err)
            print(f"pm-fast: cannot open the database: {err}", file=sys.stderr)
            await sqlite_store.close()
            return 1

    app = App(cfg, pm_dir, store)
    if pg is not None:
        # Events committed by other processes reach this process's subscribers.
        try:
            await pg.start_bus(app.publish)
        except PgOpenError as err:
            log.error("cannot open the database: %s", err)
            print(f"pm-fast: cannot open the database: {err}", file=sys.stderr)
            await pg.close()
            return 1
    port_file = PortFile(pm_dir)
    from .engines.granian import make_server

    server = make_server(app, cfg.server.host, cfg.server.port, granian_log_options(cfg))

    def on_bound(port: int) -> None:
        log.info("pm-fast %s listening on http://%s:%d", COMPAT_VERSION, cfg.server.host, port)
        port_file.write(cfg.server.host, port)

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
            log.info("shutting down")
            for hook in app.on_shutdown:
                await hook()
            server.signal_handler_interrupt()  # type: ignore[no-untyped-call]
            await serving
    finally:
        for task in tasks:
            if not task.done():
                task.cancel()
        port_file.remove()
        await store.close()
    log.info("stopped")
    return code


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] in ("-h", "--help"):
        print(USAGE)
        return 0
    if args and args[0] in ("-V", "--version"):
        print(f"pm-fast (pm-server {COMPAT_VERSION} compatible)")
        return 0
    if args and args[0] != "serve":
        print(f"pm-fast: unknown command {args[0]!r}\n\n{USAGE}", file=sys.stderr)
        return 2
    pm_dir = find_pm_dir()
    return asyncio.run(serve(pm_dir, dict(os.environ)))


if __name__ == "__main__":
    raise SystemExit(main())
