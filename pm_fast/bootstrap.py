"""The composition root: reads pm-fast's own settings, chooses the native code, opens
the store and builds the `App`.

Entry points (`pm_fast.cli`, the `--workers` processes in `engines/granian_workers`)
call into this module and nothing else builds an `App` for serving. Every `PM_FAST_*`
variable is read here, once, into `Settings`; the `PM_*` variables of the original's
contract are read with config.toml by `pm_fast.config`. (`pm_fast.boot` is different:
it only orders imports so that start-up does not load OpenSSL.)

| variable | meaning |
|---|---|
| `PM_FAST_PURE=1` | run the pure-Python twins instead of the Rust extension |
| `PM_FAST_WORKERS=N` | N server processes on one port (PostgreSQL only); `--workers N` wins |
| `PM_FAST_SQLITE_SYNCHRONOUS` | `normal` (default, as the original) or `full` |
| `PM_FAST_GROUP_COMMIT=0` | each mutation its own SQLite transaction (for comparisons) |
| `PM_FAST_READ_BATCH=0` | each SQLite read its own hop to a reader thread (for comparisons) |
| `PM_FAST_LISTEN_FD` | a listening socket bound by the sidecar's launcher (build/launcher.c) |
| `PM_FAST_ENGINE` | `granian` (default, ASGI), `granian-rsgi` or `robyn`; `--engine` wins |
| `PM_FAST_LOG_FORMAT` | `text` (default, the original's line format) or `json` (JSON lines) |
| `PM_FAST_METRICS` | `0` or `1`: `GET /metrics` and its counting off or on (`server.metrics`) |
"""

from __future__ import annotations

import logging
import os
import sqlite3
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from . import accel
from . import config as config_mod
from .app import App
from .boot import enable_asyncio_tls
from .config import Config, ConfigError
from .logsetup import FORMATS, setup_logging
from .metrics import STATS
from .paths import ensure_pm_dir
from .service.events import event_positions
from .store.base import Store
from .store.breaker import Breaker, GuardedStore
from .store.sqlite import SYNCHRONOUS, SqliteStore, StoreOpenError

if TYPE_CHECKING:
    from .store.postgres import PostgresStore

log = logging.getLogger("pm_fast")

LISTEN_FD_VAR = "PM_FAST_LISTEN_FD"
MAX_WORKERS = 64
ENGINES = ("granian", "granian-rsgi", "robyn")


class SettingsError(ValueError):
    """A `PM_FAST_*` variable (or `--workers`) with a value pm-fast does not accept."""


@dataclass(frozen=True, slots=True)
class Settings:
    """pm-fast's own settings (module docstring); the defaults are what serving uses."""

    pure: bool = False
    workers: int = 1
    sqlite_synchronous: str = "NORMAL"
    # mutations per SQLite transaction (group commit) and reads per reader-thread hop
    group_commit: int = 64
    read_batch: int = 64
    # the launcher's listener, if any (checked against the configuration when serving)
    listen_fd: int | None = None
    # what serves HTTP and WebSockets (ENGINES)
    engine: str = "granian"
    # how log records are written (logsetup.FORMATS)
    log_format: str = "text"
    # metrics on or off (PM_FAST_METRICS); None: as `server.metrics` says
    metrics: bool | None = None


def check_workers(raw: str) -> int:
    """The number of server processes `raw` asks for; SettingsError if malformed."""
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_WORKERS:
        raise SettingsError(
            f"--workers must be a whole number from 1 to {MAX_WORKERS} (got {raw!r})"
        )
    return int(raw)


def check_engine(raw: str) -> str:
    """The engine `raw` names; SettingsError if none."""
    if raw not in ENGINES:
        raise SettingsError(f"the engine must be one of {', '.join(ENGINES)} (got {raw!r})")
    return raw


def read_settings(
    environ: Mapping[str, str], workers: str | None = None, engine: str | None = None
) -> Settings:
    """`Settings` from the environment; `workers` and `engine` are the `--workers` and
    `--engine` options, if given (they win over PM_FAST_WORKERS and PM_FAST_ENGINE).
    Raises SettingsError on a malformed value."""
    synchronous = environ.get("PM_FAST_SQLITE_SYNCHRONOUS", "normal").strip().upper()
    if synchronous not in SYNCHRONOUS:
        raise SettingsError(
            "PM_FAST_SQLITE_SYNCHRONOUS must be normal or full"
            f" (got {environ['PM_FAST_SQLITE_SYNCHRONOUS']!r})"
        )
    log_format = environ.get("PM_FAST_LOG_FORMAT", "text").strip().lower() or "text"
    if log_format not in FORMATS:
        raise SettingsError(
            f"PM_FAST_LOG_FORMAT must be text or json (got {environ['PM_FAST_LOG_FORMAT']!r})"
        )
    raw_metrics = environ.get("PM_FAST_METRICS", "").strip()
    if raw_metrics not in ("", "0", "1"):
        raise SettingsError(f"PM_FAST_METRICS must be 0 or 1 (got {raw_metrics!r})")
    raw_fd = environ.get(LISTEN_FD_VAR, "")
    if workers is None:
        workers = environ.get("PM_FAST_WORKERS", "1")
    return Settings(
        pure=environ.get("PM_FAST_PURE") == "1",
        workers=check_workers(workers),
        sqlite_synchronous=synchronous,
        group_commit=1 if environ.get("PM_FAST_GROUP_COMMIT") == "0" else 64,
        read_batch=1 if environ.get("PM_FAST_READ_BATCH") == "0" else 64,
        listen_fd=int(raw_fd) if raw_fd.isdigit() else None,
        engine=check_engine(engine or environ.get("PM_FAST_ENGINE") or "granian"),
        log_format=log_format,
        metrics=None if not raw_metrics else raw_metrics == "1",
    )


def start(settings: Settings) -> None:
    """What a serving process does once, before anything else: choose the native code
    (the Rust extension, or the twins) and drop the launcher's listener variable so that
    nothing this process starts inherits the claim."""
    accel.select(pure=settings.pure)
    os.environ.pop(LISTEN_FD_VAR, None)


def load(pm_dir: Path, environ: Mapping[str, str], log_format: str = "text") -> Config | int:
    """Configuration (config.toml and `PM_*`) and logging (`Settings.log_format`), or
    the exit code of a configuration error."""
    try:
        cfg = config_mod.load_config(pm_dir, environ)
        ensure_pm_dir(pm_dir)
        setup_logging(cfg, pm_dir, log_format)
    except ConfigError as err:
        print(f"pm-fast: configuration error: {err}", file=sys.stderr)
        return 2
    return cfg


def _cannot_open(err: BaseException) -> int:
    log.error("cannot open the database: %s", err)
    print(f"pm-fast: cannot open the database: {err}", file=sys.stderr)
    return 1


async def open_app(cfg: Config, pm_dir: Path, settings: Settings) -> App | int:
    """Open the store (and, on PostgreSQL, the change bus): the App, or an exit code."""
    STATS.on = cfg.server.metrics if settings.metrics is None else settings.metrics
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
        sqlite_store = SqliteStore(
            config_mod.database_file(cfg, pm_dir),
            batch_limit=settings.group_commit,
            read_batch_limit=settings.read_batch,
            synchronous=settings.sqlite_synchronous,
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

    app = App(cfg, pm_dir, GuardedStore(store, Breaker(cfg.circuit_breaker)), accel.Hub())
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
