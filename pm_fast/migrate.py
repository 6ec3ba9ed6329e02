"""`pm-fast migrate --from A --to B [--replace] [--quiet]`: copy a pm-fast database
between SQLite and PostgreSQL, either way (docs/migrate.md).

* The target is brought to the current schema by its store's own opening code
  (`SqliteStore.open`, `PostgresStore.open`), never by DDL of its own.
* Copied: every table of the original's schema that holds data (users, activity log,
  LLM context, idempotency keys, projects, sprints, swim lanes, members, work items,
  comments, time entries, dependencies) and pm-fast's `pm_fast_event_seq` (so event
  numbers keep growing across the move and no resume position is ever given twice).
  Not copied: the schema bookkeeping of each side (`_sqlx_migrations`,
  `pm_fast_schema_migrations`, written by the target's opening) and the event log /
  outbox rows `pm_fast_events` (cleared on the target: a client that resumes across
  the move gets RESYNC_REQUIRED unless it had seen everything).
* PostgreSQL's `seq` columns (the rowid's stand-in) and SQLite's rowid are the same
  number: copied both ways, and the identity sequences are set past the largest.
* One transaction per table; a marker table `pm_fast_migration` in the target records
  the source and each finished table. A run that was interrupted is resumed by running
  the same command again (finished tables are kept and re-verified); the marker is
  dropped when everything verified.
* Every table is verified: row count and an order-independent digest of the normalised
  rows (`row_digest`), source against target.
* A target that holds data is refused (exit 1, nothing changed) unless `--replace`.
"""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TextIO

from .config import DEFAULT_LLM_USER_ID

USAGE = """usage: pm-fast migrate --from SOURCE --to TARGET [--replace] [--quiet]

Copies a pm-fast database between SQLite and PostgreSQL: one of SOURCE and TARGET is
a SQLite file, the other a postgresql:// URL. Stop every server using either first.
The target is created or brought to the current schema; a target that already holds
data is refused unless --replace (which deletes that data first). An interrupted run
is resumed by running the same command again. See docs/migrate.md.
"""

MARKER = "pm_fast_migration"
HEADER = "*"  # the marker's row for the run itself (source, start time)
BATCH = 5000  # rows per fetch / insert step
LLM_NAME = "LLM Assistant"


class MigrateError(Exception):
    """The migration cannot go on: the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class Table:
    name: str
    # PostgreSQL `seq` <-> SQLite rowid (the tables SQLite lists in rowid order)
    seq: bool = False
    # BOOLEAN on PostgreSQL, 0/1 on SQLite
    bools: tuple[str, ...] = ()
    # WITHOUT ROWID on SQLite
    rowid: bool = True


# In foreign-key order: a table comes after every table it refers to.
TABLES: tuple[Table, ...] = (
    Table("users"),
    Table("pm_llm_context"),
    Table("pm_idempotency_keys"),
    Table("pm_projects"),
    Table("pm_sprints", seq=True),
    Table("pm_swim_lanes", bools=("is_default",)),
    Table("pm_project_members"),
    Table("pm_work_items"),
    Table("pm_comments", seq=True),
    Table("pm_time_entries", seq=True),
    Table("pm_dependencies", seq=True),
    Table("pm_activity_log", seq=True),
    Table("pm_fast_event_seq", rowid=False),
)
# Cleared on the target, never copied (module docstring).
CLEARED = ("pm_fast_events",)

Row = tuple[Any, ...]


# ------------------------------------------------------------------------ checksums
def row_digest(row: Row) -> int:
    """A row's digest from its normalised values: ints (booleans as 0/1), str, None
    (and bytes or float, which no copied column holds), in column order with the
    rowid/seq last. `repr` of such a tuple is unambiguous, and a value that changed
    type on the way (an int that came back as text) changes it."""
    return int.from_bytes(
        hashlib.blake2b(repr(row).encode("utf-8", "surrogatepass"), digest_size=16).digest()
    )


class Digest:
    """Count and order-independent digest (sum of row digests mod 2**128) of a table."""

    __slots__ = ("rows", "total")

    def __init__(self) -> None:
        self.rows = 0
        self.total = 0

    def add(self, batch: list[Row]) -> None:
        self.rows += len(batch)
        self.total = (self.total + sum(map(row_digest, batch))) % (1 << 128)

    @property
    def hex(self) -> str:
        return f"{self.total:032x}"


# ------------------------------------------------------------------------- progress
class Progress:
    """A bar on a terminal, plain lines otherwise, nothing with --quiet (stderr)."""

    def __init__(self, stream: TextIO, quiet: bool) -> None:
        self.stream = stream
        self.mode = "quiet" if quiet else ("bar" if stream.isatty() else "lines")
        self.name = ""
        self.total = 0
        self.done = 0
        self.step = 0
        self.drawn = 0.0

    def say(self, message: str) -> None:
        if self.mode != "quiet":
            print(message, file=self.stream, flush=True)

    def start(self, name: str, total: int) -> None:
        self.name, self.total, self.done, self.step = name, total, 0, 0
        if self.mode == "lines":
            self.say(f"{name}: copying {total} rows")
        self._draw(force=True)

    def advance(self, rows: int) -> None:
        self.done += rows
        if self.mode == "lines" and self.total:
            step = self.done * 5 // self.total  # a line at every 20 %
            if step > self.step and self.done < self.total:
                self.step = step
                self.say(f"{self.name}: {self.done}/{self.total} rows")
        self._draw()

    def finish(self, seconds: float) -> None:
        if self.mode == "bar":
            self._draw(force=True)
            self.stream.write("\n")
            self.stream.flush()
        else:
            self.say(f"{self.name}: copied {self.done} rows in {seconds:.2f} s")

    def _draw(self, force: bool = False) -> None:
        if self.mode != "bar":
            return
        now = time.monotonic()
        if not force and now - self.drawn < 0.1:
            return
        self.drawn = now
        width = 30
        filled = width if not self.total else min(width, self.done * width // self.total)
        bar = "#" * filled + "-" * (width - filled)
        self.stream.write(f"\r{self.name:<20} [{bar}] {self.done}/{self.total}")
        self.stream.flush()


# ---------------------------------------------------------------------------- sides
class Db(Protocol):
    """One end of a migration (SQLite file or PostgreSQL database)."""

    describe: str

    async def connect(self) -> None: ...
    async def close(self) -> None: ...
    async def check_source(self) -> None: ...
    async def prepare_target(self) -> None: ...
    async def reopen(self) -> None: ...
    async def existing(self) -> tuple[str | None, dict[str, int]]: ...
    async def columns(self, table: Table) -> list[str]: ...
    async def count(self, table: Table) -> int: ...
    def batches(self, table: Table, columns: list[str]) -> AsyncIterator[list[Row]]: ...
    async def start_run(self, source: str, replace: bool) -> None: ...
    async def finished(self) -> dict[str, tuple[int, str]]: ...
    async def copy(
        self,
        table: Table,
        columns: list[str],
        rows: AsyncIterator[list[Row]],
        digest: Digest,
        progress: Progress,
    ) -> None: ...
    async def end_run(self) -> None: ...


def _seed_ids() -> list[str]:
    from .store.llm_seed import seed_rows

    return [str(r[0]) for r in seed_rows(0)]


def _qi(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class SqliteDb:
    """A SQLite file: read through one read transaction (a snapshot), written one
    transaction per table with foreign keys off (rows of a table may come in any
    order; the PostgreSQL source enforced them)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.describe = str(path.resolve())
        self.conn: sqlite3.Connection | None = None
        self.tables: set[str] = set()

    @property
    def c(self) -> sqlite3.Connection:
        assert self.conn is not None
        return self.conn

    def _tables(self) -> set[str]:
        return {r[0] for r in self.c.execute("SELECT name FROM sqlite_master WHERE type='table'")}

    async def connect(self) -> None:
        """Read-only, for a source or for looking at a target before changing it."""
        if not self.path.is_file():
            raise MigrateError(f"{self.path}: no such file")
        self.conn = sqlite3.connect(
            f"{self.path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None
        )
        self.c.execute("PRAGMA busy_timeout = 5000")
        self.tables = self._tables()

    async def close(self) -> None:
        if self.conn is not None:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            self.conn.close()
            self.conn = None

    async def check_source(self) -> None:
        from .store.sqlite import SqliteStore, StoreOpenError

        if "pm_projects" not in self.tables:
            raise MigrateError(f"{self.path} is not a pm-server database")
        try:
            SqliteStore(self.path)._check_migrations(self.c, self.tables)
        except StoreOpenError as err:
            raise MigrateError(str(err)) from None
        self.c.execute("BEGIN")  # one snapshot for the whole run

    async def existing(self) -> tuple[str | None, dict[str, int]]:
        """(source of an unfinished migration, or None; rows beyond what opening the
        store writes, per table) of a target, without changing it."""
        if not self.path.exists() or self.path.stat().st_size == 0:
            return None, {}
        await self.connect()
        try:
            source = None
            if MARKER in self.tables:
                row = self.c.execute(
                    f"SELECT source FROM {MARKER} WHERE tbl = ?", (HEADER,)
                ).fetchone()
                source = str(row[0]) if row else ""
            counts: dict[str, int] = {}
            for t in TABLES:
                if t.name in self.tables:
                    counts[t.name] = self._data_rows(t.name)
            return source, {k: v for k, v in counts.items() if v}
        finally:
            await self.close()

    def _data_rows(self, name: str) -> int:
        if name == "users":
            q = "SELECT count(*) FROM users WHERE email IS NOT id || '@system.local'"
            return int(self.c.execute(q).fetchone()[0])
        if name == "pm_llm_context":
            ids = _seed_ids()
            marks = ",".join("?" * len(ids))
            q = f"SELECT count(*) FROM pm_llm_context WHERE id NOT IN ({marks})"
            return int(self.c.execute(q, ids).fetchone()[0])
        return int(self.c.execute(f"SELECT count(*) FROM {_qi(name)}").fetchone()[0])

    async def prepare_target(self) -> None:
        """Create or check the file with the store's own opening code, then write."""
        from .store.sqlite import SqliteStore, StoreOpenError

        store = SqliteStore(self.path, readers=0)
        try:
            await store.open(DEFAULT_LLM_USER_ID, LLM_NAME)
        except (StoreOpenError, OSError, sqlite3.DatabaseError) as err:
            raise MigrateError(f"cannot open {self.path}: {err}") from None
        finally:
            await store.close()
        await self.reopen()

    async def reopen(self) -> None:
        """Connect for writing (the schema is current)."""
        self.conn = sqlite3.connect(str(self.path), isolation_level=None)
        self.c.execute("PRAGMA busy_timeout = 5000")
        self.c.execute("PRAGMA foreign_keys = OFF")
        self.c.execute("PRAGMA synchronous = NORMAL")
        # A table's whole transaction stays in memory rather than spilling pages to the
        # WAL as it goes (measured: the 100,000 work items took 1.7x longer at the default).
        self.c.execute("PRAGMA cache_size = -131072")
        self.tables = self._tables()

    async def columns(self, table: Table) -> list[str]:
        if table.name not in self.tables:
            return []
        return [str(r[1]) for r in self.c.execute(f"PRAGMA table_info({_qi(table.name)})")]

    async def count(self, table: Table) -> int:
        if table.name not in self.tables:
            return 0
        return int(self.c.execute(f"SELECT count(*) FROM {_qi(table.name)}").fetchone()[0])

    async def batches(self, table: Table, columns: list[str]) -> AsyncIterator[list[Row]]:
        if table.name not in self.tables:
            return
        cols = ", ".join(map(_qi, columns))
        if table.seq:
            query = f"SELECT {cols}, rowid FROM {_qi(table.name)} ORDER BY rowid"
        elif table.rowid:
            query = f"SELECT {cols} FROM {_qi(table.name)} ORDER BY rowid"
        else:
            query = f"SELECT {cols} FROM {_qi(table.name)}"
        cursor = self.c.execute(query)
        while True:
            rows = cursor.fetchmany(BATCH)
            if not rows:
                return
            yield rows
            await asyncio.sleep(0)

    async def start_run(self, source: str, replace: bool) -> None:
        c = self.c
        c.execute("BEGIN IMMEDIATE")
        try:
            if replace:
                c.execute(f"DROP TABLE IF EXISTS {MARKER}")
                for t in reversed(TABLES):
                    c.execute(f"DELETE FROM {_qi(t.name)}")
            c.execute(
                f"CREATE TABLE IF NOT EXISTS {MARKER} (tbl TEXT PRIMARY KEY, source TEXT NOT NULL,"
                " rows INTEGER, digest TEXT, done_at INTEGER NOT NULL)"
            )
            c.execute(
                f"INSERT OR IGNORE INTO {MARKER} VALUES (?, ?, NULL, NULL, ?)",
                (HEADER, source, int(time.time())),
            )
            for name in CLEARED:
                c.execute(f"DELETE FROM {_qi(name)}")
            c.execute("COMMIT")
        except BaseException:
            c.execute("ROLLBACK")
            raise
        self.tables = self._tables()

    async def finished(self) -> dict[str, tuple[int, str]]:
        return {
            str(t): (int(n), str(d))
            for t, n, d in self.c.execute(
                f"SELECT tbl, rows, digest FROM {MARKER} WHERE tbl <> ?", (HEADER,)
            )
        }

    async def copy(
        self,
        table: Table,
        columns: list[str],
        rows: AsyncIterator[list[Row]],
        digest: Digest,
        progress: Progress,
    ) -> None:
        c = self.c
        names = [*columns, "rowid"] if table.seq else columns
        insert = (
            f"INSERT INTO {_qi(table.name)} ({', '.join(map(_qi, names))})"
            f" VALUES ({', '.join('?' * len(names))})"
        )
        c.execute("BEGIN IMMEDIATE")
        try:
            c.execute(f"DELETE FROM {_qi(table.name)}")
            async for batch in rows:
                digest.add(batch)
                c.executemany(insert, batch)
                progress.advance(len(batch))
            c.execute(
                f"INSERT OR REPLACE INTO {MARKER} VALUES (?, '', ?, ?, ?)",
                (table.name, digest.rows, digest.hex, int(time.time())),
            )
            c.execute("COMMIT")
        except BaseException:
            c.execute("ROLLBACK")
            raise

    async def end_run(self) -> None:
        self.c.execute(f"DROP TABLE IF EXISTS {MARKER}")
        self.c.execute("PRAGMA wal_checkpoint(TRUNCATE)")


class PgDb:
    """A PostgreSQL database: read in one REPEATABLE READ, READ ONLY transaction (a
    snapshot), written one transaction per table with COPY (the table's foreign keys
    are checked once after its rows are in, so a work item may come before its
    parent)."""

    def __init__(self, url: str) -> None:
        from .store.postgres import redact

        self.url = url
        self.describe = redact(url)
        self.conn: Any = None
        self.tables: set[str] = set()

    async def connect(self) -> None:
        import asyncpg  # type: ignore[import-untyped]

        from .boot import enable_asyncio_tls

        enable_asyncio_tls()
        try:
            # A server still using the database holds locks: fail, do not wait forever.
            settings = {"application_name": "pm-fast migrate", "lock_timeout": "10s"}
            self.conn = await asyncio.wait_for(
                asyncpg.connect(self.url, timeout=10, server_settings=settings), 15
            )
        except (OSError, TimeoutError, asyncpg.PostgresError) as err:
            raise MigrateError(
                f"cannot connect to PostgreSQL at {self.describe}: {err or type(err).__name__}"
            ) from None
        await self._load_tables()

    async def _load_tables(self) -> None:
        rows = await self.conn.fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        )
        self.tables = {str(r[0]) for r in rows}

    async def close(self) -> None:
        if self.conn is not None:
            await self.conn.close()
            self.conn = None

    async def check_source(self) -> None:
        from .store.postgres_schema import MIGRATIONS

        if "pm_fast_schema_migrations" not in self.tables:
            raise MigrateError(f"{self.describe} is not a pm-fast database")
        applied = {
            int(r[0])
            for r in await self.conn.fetch("SELECT version FROM pm_fast_schema_migrations")
        }
        missing = [v for v, _, _ in MIGRATIONS if v not in applied]
        if missing:
            raise MigrateError(
                f"{self.describe} lacks pm-fast's schema migrations {missing}:"
                " start this pm-fast on it once first"
            )
        await self.conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")

    async def existing(self) -> tuple[str | None, dict[str, int]]:
        await self.connect()
        try:
            source = None
            if MARKER in self.tables:
                value = await self.conn.fetchval(
                    f"SELECT source FROM {MARKER} WHERE tbl = $1", HEADER
                )
                source = "" if value is None else str(value)
            counts: dict[str, int] = {}
            for t in TABLES:
                if t.name in self.tables:
                    counts[t.name] = await self._data_rows(t.name)
            return source, {k: v for k, v in counts.items() if v}
        finally:
            await self.close()

    async def _data_rows(self, name: str) -> int:
        if name == "users":
            q = "SELECT count(*) FROM users WHERE email IS DISTINCT FROM id || '@system.local'"
            return int(await self.conn.fetchval(q))
        if name == "pm_llm_context":
            q = "SELECT count(*) FROM pm_llm_context WHERE NOT (id = ANY($1::text[]))"
            return int(await self.conn.fetchval(q, _seed_ids()))
        return int(await self.conn.fetchval(f"SELECT count(*) FROM {_qi(name)}"))

    async def prepare_target(self) -> None:
        from .store.postgres import PostgresStore, StoreOpenError

        store = PostgresStore(self.url, pool_min=1, pool_max=1)
        try:
            await store.open(DEFAULT_LLM_USER_ID, LLM_NAME)
        except StoreOpenError as err:
            raise MigrateError(str(err)) from None
        finally:
            await store.close()
        await self.connect()

    async def reopen(self) -> None:
        await self.connect()

    async def columns(self, table: Table) -> list[str]:
        rows = await self.conn.fetch(
            "SELECT column_name FROM information_schema.columns WHERE table_schema ="
            " current_schema() AND table_name = $1 ORDER BY ordinal_position",
            table.name,
        )
        return [str(r[0]) for r in rows]

    async def count(self, table: Table) -> int:
        if table.name not in self.tables:
            return 0
        return int(await self.conn.fetchval(f"SELECT count(*) FROM {_qi(table.name)}"))

    async def batches(self, table: Table, columns: list[str]) -> AsyncIterator[list[Row]]:
        if table.name not in self.tables:
            return
        cols = ", ".join(map(_qi, columns))
        # Tables without `seq` come in heap order: about the order rows were written.
        query = (
            f"SELECT {cols}, seq FROM {_qi(table.name)} ORDER BY seq"
            if table.seq
            else f"SELECT {cols} FROM {_qi(table.name)}"
        )
        if self.conn.is_in_transaction():  # the source's snapshot
            async for batch in self._fetch(table, columns, query):
                yield batch
        else:  # a target, verified after its copy
            async with self.conn.transaction(readonly=True):
                async for batch in self._fetch(table, columns, query):
                    yield batch

    async def _fetch(
        self, table: Table, columns: list[str], query: str
    ) -> AsyncIterator[list[Row]]:
        flags = [c in table.bools for c in columns]
        convert = any(flags)
        cursor = await self.conn.cursor(query)
        while True:
            records = await cursor.fetch(BATCH)
            if not records:
                return
            if convert:
                yield [
                    tuple(
                        (None if v is None else int(v)) if flag else v
                        for v, flag in zip(r, [*flags, False], strict=False)
                    )
                    for r in records
                ]
            else:
                yield [tuple(r) for r in records]

    async def start_run(self, source: str, replace: bool) -> None:
        async with self.conn.transaction():
            if replace:
                await self.conn.execute(f"DROP TABLE IF EXISTS {MARKER}")
                names = ", ".join(_qi(t.name) for t in TABLES)
                await self.conn.execute(f"TRUNCATE {names}")
            await self.conn.execute(
                f"CREATE TABLE IF NOT EXISTS {MARKER} (tbl TEXT PRIMARY KEY,"
                " source TEXT NOT NULL, rows BIGINT, digest TEXT, done_at BIGINT NOT NULL)"
            )
            await self.conn.execute(
                f"INSERT INTO {MARKER} VALUES ($1, $2, NULL, NULL, $3) ON CONFLICT DO NOTHING",
                HEADER,
                source,
                int(time.time()),
            )
            for name in CLEARED:
                await self.conn.execute(f"DELETE FROM {_qi(name)}")
        await self._load_tables()

    async def finished(self) -> dict[str, tuple[int, str]]:
        rows = await self.conn.fetch(
            f"SELECT tbl, rows, digest FROM {MARKER} WHERE tbl <> $1", HEADER
        )
        return {str(r[0]): (int(r[1]), str(r[2])) for r in rows}

    async def copy(
        self,
        table: Table,
        columns: list[str],
        rows: AsyncIterator[list[Row]],
        digest: Digest,
        progress: Progress,
    ) -> None:
        names = [*columns, "seq"] if table.seq else columns
        flags = [c in table.bools for c in names]
        convert = any(flags)

        async def records() -> AsyncIterator[Row]:
            async for batch in rows:
                digest.add(batch)
                for row in batch:
                    if convert:
                        yield tuple(
                            (None if v is None else bool(v)) if flag else v
                            for v, flag in zip(row, flags, strict=True)
                        )
                    else:
                        yield row
                progress.advance(len(batch))

        name = _qi(table.name)
        async with self.conn.transaction():
            await self.conn.execute(f"DELETE FROM {name}")
            # The table's own foreign keys are checked once after the load, by one query
            # each (as pg_restore does), rather than row by row: taken off and put back
            # from their own definitions, in this transaction.
            keys = await self.conn.fetch(
                "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
                " WHERE conrelid = $1::regclass AND contype = 'f' ORDER BY conname",
                table.name,
            )
            for key, _ in keys:
                await self.conn.execute(f"ALTER TABLE {name} DROP CONSTRAINT {_qi(key)}")
            await self.conn.copy_records_to_table(table.name, records=records(), columns=names)
            for key, definition in keys:
                await self.conn.execute(
                    f"ALTER TABLE {name} ADD CONSTRAINT {_qi(key)} {definition}"
                )
            if table.seq:
                await self.conn.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table.name}', 'seq'),"
                    f" COALESCE((SELECT max(seq) FROM {name}), 1),"
                    f" (SELECT max(seq) FROM {name}) IS NOT NULL)"
                )
            await self.conn.execute(
                f"INSERT INTO {MARKER} VALUES ($1, '', $2, $3, $4)"
                " ON CONFLICT (tbl) DO UPDATE SET rows = EXCLUDED.rows,"
                " digest = EXCLUDED.digest, done_at = EXCLUDED.done_at",
                table.name,
                digest.rows,
                digest.hex,
                int(time.time()),
            )

    async def end_run(self) -> None:
        await self.conn.execute(f"DROP TABLE IF EXISTS {MARKER}")


# ------------------------------------------------------------------------ the run
async def _columns(source: Db, target: Db, table: Table, sqlite_side: Db) -> list[str]:
    """The columns both sides hold: the SQLite side's (the original's), all of which
    the PostgreSQL side must have; PostgreSQL may have only `seq` besides."""
    lite = await sqlite_side.columns(table)
    other = target if sqlite_side is source else source
    pg = await other.columns(table)
    if not lite:  # a SQLite source without pm-fast's tables (written by the original)
        return []
    missing = [c for c in lite if c not in pg]
    if missing:
        raise MigrateError(f"{table.name}: the PostgreSQL side has no column {missing}")
    extra = [c for c in pg if c not in lite and not (table.seq and c == "seq")]
    if extra:
        raise MigrateError(f"{table.name}: the SQLite side has no column {extra}")
    return lite


async def _digest(db: Db, table: Table, columns: list[str]) -> Digest:
    d = Digest()
    if columns:
        async for batch in db.batches(table, columns):
            d.add(batch)
    return d


async def run(source: Db, target: Db, replace: bool, progress: Progress) -> None:
    started = time.monotonic()
    await source.connect()
    await source.check_source()
    unfinished, data = await target.existing()
    resume = unfinished is not None and unfinished == source.describe and not replace
    if unfinished is not None and not resume and not replace:
        raise MigrateError(
            f"{target.describe} holds an unfinished migration from {unfinished or '?'};"
            " nothing was changed. Run again with --replace to start over from"
            f" {source.describe}"
        )
    if data and unfinished is None and not replace:
        held = ", ".join(f"{name} {n}" for name, n in data.items())
        raise MigrateError(
            f"{target.describe} already holds data ({held} rows); nothing was changed."
            " Run again with --replace to delete it and copy anew"
        )
    if resume:  # the interrupted run brought the schema up (the marker came after)
        await target.reopen()
    else:
        await target.prepare_target()
    await target.start_run(source.describe, replace)
    done = await target.finished()
    if resume:
        progress.say(f"resuming the migration into {target.describe}: {len(done)} tables done")
    sqlite_side = source if isinstance(source, SqliteDb) else target
    plan = [(t, await _columns(source, target, t, sqlite_side)) for t in TABLES]
    for table, columns in plan:
        if table.name in done:
            progress.say(f"{table.name}: copied by the earlier run")
            continue
        t0 = time.monotonic()
        progress.start(table.name, await source.count(table) if columns else 0)
        digest = Digest()

        async def nothing() -> AsyncIterator[list[Row]]:
            return
            yield

        rows = source.batches(table, columns) if columns else nothing()
        await target.copy(table, columns, rows, digest, progress)
        progress.finish(time.monotonic() - t0)
    # Verify: the target against what was copied, and the source again (a table copied
    # by an earlier run, or a source written meanwhile, shows here).
    copied = await target.finished()
    failures: list[str] = []
    for table, columns in plan:
        count, expected = copied.get(table.name, (-1, ""))
        src = await _digest(source, table, columns)
        dst = await _digest(target, table, columns)
        if (src.rows, src.hex) != (count, expected):
            failures.append(
                f"{table.name}: the source changed since it was copied"
                f" ({count} rows {expected} then, {src.rows} rows {src.hex} now)"
            )
        if (dst.rows, dst.hex) != (src.rows, src.hex):
            failures.append(
                f"{table.name}: target has {dst.rows} rows digest {dst.hex},"
                f" source {src.rows} rows digest {src.hex}"
            )
        else:
            progress.say(f"{table.name}: verified {dst.rows} rows, checksum {dst.hex}")
    if failures:
        raise MigrateError(
            "verification failed (the marker stays: run again with --replace):\n  "
            + "\n  ".join(failures)
        )
    await target.end_run()
    progress.say(
        f"migrated {source.describe} -> {target.describe} in {time.monotonic() - started:.1f} s"
    )


def _parse(args: list[str]) -> dict[str, str | bool]:
    values: dict[str, str | bool] = {"replace": False, "quiet": False}
    rest = list(args)
    while rest:
        opt = rest.pop(0)
        name, eq, value = opt.partition("=")
        if name in ("--replace", "--quiet") and not eq:
            values[name[2:]] = True
        elif name in ("--from", "--to") and (eq or rest):
            values[name[2:]] = value if eq else rest.pop(0)
        else:
            raise ValueError(f"unknown option {opt!r}")
    if not isinstance(values.get("from"), str) or not isinstance(values.get("to"), str):
        raise ValueError("--from and --to are required")
    return values


def _side(where: str) -> Db:
    from .store.postgres import is_postgres_url

    return PgDb(where) if is_postgres_url(where) else SqliteDb(Path(where))


def main(args: list[str], stream: TextIO | None = None) -> int:
    """`pm-fast migrate ...` (args after `migrate`): the exit code."""
    err = sys.stderr if stream is None else stream
    try:
        opts = _parse(args)
    except ValueError as exc:
        print(f"pm-fast migrate: {exc}\n\n{USAGE}", file=err)
        return 2
    source, target = _side(str(opts["from"])), _side(str(opts["to"]))
    if isinstance(source, PgDb) == isinstance(target, PgDb):
        print(
            "pm-fast migrate: one of --from and --to must be a SQLite file and the other"
            f" a postgresql:// URL\n\n{USAGE}",
            file=err,
        )
        return 2
    progress = Progress(err, bool(opts["quiet"]))

    async def go() -> None:
        try:
            await run(source, target, bool(opts["replace"]), progress)
        finally:
            await source.close()
            await target.close()

    try:
        asyncio.run(go())
    except MigrateError as exc:
        print(f"pm-fast migrate: {exc}", file=err)
        return 1
    except Exception as exc:  # noqa: BLE001 - a database error: say it, exit 1
        print(f"pm-fast migrate: failed: {type(exc).__name__}: {exc}", file=err)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
