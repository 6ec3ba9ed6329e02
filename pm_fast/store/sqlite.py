"""SQLite store: one writer connection, a few reader connections, all through aiosqlite.

Each aiosqlite connection owns a thread. A program (see `store.base`) is shipped to
that thread as one callable and runs there start to finish inside one transaction, so
a mutation is one hop across threads no matter how many statements it needs.
"""

from __future__ import annotations

import asyncio
import logging
import mmap
import os
import sqlite3
import stat
import threading
import time
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any, TypeVar, cast

import aiosqlite
from msgspec import structs

from ..core import rules
from ..core.model import Event, WorkItem
from ..metrics import STATS
from ..realtime import eventlog
from . import sql
from .base import Program, drive
from .sqlite_schema import MIGRATIONS, SCHEMA

log = logging.getLogger("pm_fast")
T = TypeVar("T")


class StoreOpenError(Exception):
    """The database cannot be opened as a pm-server database."""


class WriterCache:
    """What the writer's transactions look up again and again, kept by the writer thread.

    * `by_project`: the highest live sibling position per (project, parent). Finding
      the next position otherwise scans every NULL-parent item of a project on each
      create (the original's indexes have no position column, and pm-fast keeps its
      schema identical).
    * `project_state` / `members`: whether a project is live and who its members are,
      which every mutation of an authenticated caller checks (service/access.py): two
      statements of the nine a WebSocket create runs.

    Only the writer fills it, and it is exact: any commit by another connection of any
    process (`PRAGMA data_version` changes, checked at the start of every batch) or any
    rollback empties it all, and a write of the writer's own that may change a
    project's state or members (`SqliteTx._run`, `sql.keeps_access`) empties the access
    part at once, within the batch.
    """

    __slots__ = ("by_project", "data_version", "members", "project_state")

    def __init__(self) -> None:
        self.by_project: dict[str, dict[str | None, int]] = {}
        self.project_state: dict[str, str | None] = {}
        self.members: dict[str, tuple[tuple[str, str], ...]] = {}
        self.data_version = -1

    def validate(self, conn: sqlite3.Connection) -> None:
        version = conn.execute("PRAGMA data_version").fetchone()[0]
        if version != self.data_version:
            self.clear()
            self.data_version = version

    def clear(self) -> None:
        self.by_project.clear()
        self.forget_access()

    def forget_access(self) -> None:
        self.project_state.clear()
        self.members.clear()


class AnswerCache:
    """Encoded answers of point reads (`SqliteStore.read_cached`), all valid for one
    `version` (`SqliteStore._data_version`: the WAL index header, or `PRAGMA
    data_version` of the inline connection): it changes whenever any other connection
    (this process's writer, another process) has committed, so an answer is served
    only while nothing has been committed since it was read.

    Bounded: at most `max_entries` answers and `max_bytes` of them in all (the oldest
    go first); an answer larger than `max_bytes // 16` is not kept."""

    __slots__ = ("entries", "max_bytes", "max_entries", "size", "version")

    def __init__(self, max_entries: int = 1024, max_bytes: int = 4 << 20) -> None:
        self.entries: dict[Hashable, bytes] = {}
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.size = 0
        self.version: Hashable | None = None

    def reset(self, version: Hashable | None) -> None:
        self.entries.clear()
        self.size = 0
        self.version = version

    def put(self, key: Hashable, body: bytes) -> None:
        if len(body) > self.max_bytes // 16:
            return
        entries = self.entries
        old = entries.pop(key, None)
        if old is not None:
            self.size -= len(old)
        while entries and (
            len(entries) >= self.max_entries or self.size + len(body) > self.max_bytes
        ):
            self.size -= len(entries.pop(next(iter(entries))))
        entries[key] = body
        self.size += len(body)


class SqliteTx(sql.SyncQueries):
    """The operations of `base.Tx`, executed synchronously on one connection.

    Operations that are one query (`sql.Queries`) run through `_run`; the methods below
    are the ones with more to them (caches, several statements).
    """

    def __init__(
        self,
        conn: sqlite3.Connection,
        known_users: set[str],
        cache: WriterCache | None = None,
    ) -> None:
        self.c = conn
        self.known_users = known_users
        self.new_users: list[str] = []
        self.cache = cache
        self.events: list[Event] = []

    def emit(self, events: list[Event]) -> None:
        """Events of this program's change. The batch that runs the program numbers
        them in their projects' logs and keeps them there (realtime/eventlog.py) once
        every program of the batch has run, in the same transaction, as one log row
        per project (`SqliteStore._run_batch`). SQLite has one process and no outbox:
        the caller publishes them after commit (App.commit)."""
        self.events.extend(events)

    # -- the event log (realtime/eventlog.py) ----------------------------------------
    def event_bounds(self, project_id: str) -> tuple[int | None, int]:
        """(first number kept or None, last number given) of a project's log."""
        oldest, last = self.c.execute(eventlog.BOUNDS, (project_id,)).fetchone()
        return (None if oldest is None else int(oldest)), int(last)

    def event_rows(
        self, project_id: str, after: int, upto: int, limit: int
    ) -> list[tuple[int, bytes, int]]:
        """Log rows (first_seq, payload, created_at) holding numbers in (after, upto]."""
        return [
            (int(first), bytes(payload), int(created))
            for first, payload, created in self.c.execute(
                eventlog.ROWS, (project_id, after + 1, upto, limit)
            )
        ]

    def event_positions(self) -> dict[str, int]:
        return {pid: int(last) for pid, last in self.c.execute(eventlog.POSITIONS)}

    def _run(self, q: sql.Query, args: tuple[Any, ...]) -> Any:
        if self.cache is not None and not sql.keeps_access(q):
            self.cache.forget_access()
        if q.ids:
            ids = args[0]
            if not ids:
                return []
            cursor = self.c.execute(sql.sqlite_ids(q.lite, len(ids)), tuple(ids))
        else:
            cursor = self.c.execute(q.lite, sql.bind(q, *args))
        if q.returns == "one":
            row = cursor.fetchone()
            return None if row is None or q.row is None else q.row(row)
        if q.returns == "all":
            assert q.row is not None
            rows = [q.row(r) for r in cursor.fetchall()]
            return q.post(rows, args[0]) if q.post else rows
        return None

    # -- users ---------------------------------------------------------------------
    def ensure_user(self, user_id: str, now: int) -> None:
        if user_id in self.known_users:
            return
        self._run(sql.USER_INSERT, (user_id, f"user-{user_id[:8]}@localhost", None, now))
        self.new_users.append(user_id)

    def user_exists(self, user_id: str) -> bool:
        if user_id in self.known_users:
            return True
        return bool(self._run(sql.USER_EXISTS, (user_id,)))

    def row_state(self, entity: str, row_id: str) -> str | None:
        """None if no row has this id, else 'live' or 'deleted'."""
        cache = self.cache if entity == "project" else None
        if cache is not None and row_id in cache.project_state:
            return cache.project_state[row_id]
        state: str | None = self._run(sql.ROW_STATE[entity], (row_id,))
        if cache is not None:
            cache.project_state[row_id] = state
        return state

    def project_access(self, pid: str) -> tuple[str | None, list[tuple[str, str]]]:
        """The project's state and, when it is live, (user id, role) of each member."""
        state = self.row_state("project", pid)
        if state != "live":
            return state, []
        cache = self.cache
        if cache is not None:
            known = cache.members.get(pid)
            if known is not None:
                return state, list(known)
        rows: list[tuple[str, str]] = self._run(sql.MEMBERS_OF, (pid,))
        if cache is not None:
            cache.members[pid] = tuple(rows)
        return state, rows

    # -- work items ----------------------------------------------------------------
    def item_create(self, w: WorkItem) -> WorkItem | None:
        """Insert a new item as the last of its siblings with the project's next number
        (`w`'s position, number and display key are ignored); None if the project is
        not live."""
        taken: tuple[int, str] | None = self._run(sql.PROJECT_TAKE_NUMBER, (w.project_id,))
        if taken is None:
            return None
        number, key = taken
        position = rules.next_position(self._max_position(w.project_id, w.parent_id))
        item = structs.replace(
            w, display_key=f"{key}-{number}", item_number=number, position=position
        )
        self.item_insert(item)
        return item

    def _max_position(self, pid: str, parent_id: str | None) -> int:
        cached = self.cache.by_project.get(pid) if self.cache else None
        if cached is not None and parent_id in cached:
            return cached[parent_id]
        row = self.c.execute(
            "SELECT MAX(position) FROM pm_work_items WHERE project_id = ? AND parent_id IS ?"
            " AND deleted_at IS NULL",
            (pid, parent_id),
        ).fetchone()
        value = int(row[0]) if row and row[0] is not None else 0
        if self.cache is not None:
            self.cache.by_project.setdefault(pid, {})[parent_id] = value
        return value

    def _forget_positions(self, pid: str) -> None:
        if self.cache is not None:
            self.cache.by_project.pop(pid, None)

    def item_insert(self, w: WorkItem) -> None:
        self._run(sql.ITEM_INSERT, (w,))
        siblings = self.cache.by_project.get(w.project_id) if self.cache else None
        if siblings is not None and w.parent_id in siblings:
            siblings[w.parent_id] = max(siblings[w.parent_id], w.position)

    def item_update(self, w: WorkItem) -> None:
        """Write every mutable column (never item_number)."""
        # Position or parent may change: forget the whole project (cheap to refill).
        self._forget_positions(w.project_id)
        self._run(sql.ITEM_UPDATE, (w,))

    def item_soft_delete(self, wid: str, pid: str, now: int, actor: str) -> None:
        self._forget_positions(pid)
        self._run(sql.ITEM_SOFT_DELETE, (wid, now, actor))

    # -- several items at once -----------------------------------------------------
    def export_all(self) -> dict[str, list[Any]]:
        return {kind: self._run(q, ()) for kind, q in sql.EXPORT.items()}


# PRAGMA synchronous: NORMAL is the original's (in WAL mode a commit survives a crash
# of the process but not necessarily of the machine); FULL syncs the WAL on every
# commit, which group commit pays once per batch.
SYNCHRONOUS = ("NORMAL", "FULL")


# The modes pm-fast and the original left under the usual umask 022 (before the files
# were made private): such files are tightened, any other mode was chosen by someone.
_DEFAULT_MODE = 0o644


def make_private(path: Path) -> None:
    """Create the database file readable by its owner only, before SQLite opens it:
    SQLite gives its -wal and -shm files the database file's mode (docs/compat.md).

    An existing database (and a -wal/-shm left beside it) that still has the default
    0644 is made 0600; any other mode is kept, with a warning if others may read it.
    """
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        os.close(fd)  # an empty file is an empty SQLite database
        return
    if os.name != "posix":
        return
    for name in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        try:
            mode = stat.S_IMODE(os.stat(name).st_mode)
            if mode == _DEFAULT_MODE:
                os.chmod(name, 0o600)
                log.info("made %s readable by its owner only (was %o)", name, mode)
            elif mode & 0o077:
                log.warning("%s has mode %o: other users of this machine may read it", name, mode)
        except FileNotFoundError:
            continue
        except OSError as err:
            log.warning("could not check or tighten the mode of %s: %s", name, err)


def _configure(conn: sqlite3.Connection, synchronous: str = "NORMAL") -> None:
    conn.execute("PRAGMA busy_timeout = 5000")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute(f"PRAGMA synchronous = {SYNCHRONOUS[SYNCHRONOUS.index(synchronous)]}")


def _settle(
    batch: list[tuple[Program[Any], asyncio.Future[Any]]], results: list[tuple[bool, Any]]
) -> None:
    """Give each waiting caller of a batch its own result or error."""
    for (_, future), (ok, value) in zip(batch, results, strict=True):
        if future.done():
            continue
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)


class SqliteStore:
    """The embedded default store."""

    def __init__(
        self,
        path: Path,
        readers: int = 2,
        batch_limit: int = 64,
        read_batch_limit: int = 64,
        synchronous: str = "NORMAL",
    ) -> None:
        self.path = path
        self.synchronous = synchronous
        self._reader_count = readers
        self._writer: aiosqlite.Connection | None = None
        self._readers: asyncio.Queue[aiosqlite.Connection] = asyncio.Queue()
        self._all_readers: list[aiosqlite.Connection] = []
        self._known_users: set[str] = set()
        self._writer_cache = WriterCache()
        self._pending: list[tuple[Program[Any], asyncio.Future[Any]]] = []
        self._flushing = False
        # At most this many mutations share a transaction; 1 turns group commit off.
        self.batch_limit = batch_limit
        # Reads queue here and each free reader takes up to this many per thread hop.
        self._read_pending: list[tuple[Program[Any], asyncio.Future[Any]]] = []
        self.read_batch_limit = read_batch_limit
        # Event-log rows live this long (websocket.event_retention_secs; set by the caller).
        self.event_retention = 86400
        self._pruned = -1e9
        # A reader on the event loop's own thread for point reads (`read(point=True)`):
        # an indexed lookup of a few rows takes tens of µs, the hop to a reader thread
        # and back costs more than that. It never waits for a lock (busy_timeout 0);
        # a read it cannot start goes to a reader thread instead.
        self._inline: sqlite3.Connection | None = None
        self._inline_thread = 0
        # Encoded answers of point reads and what tells that nothing was committed
        # since: the mapped WAL index header, else `PRAGMA data_version` per loop turn
        # (`read_cached`, `_data_version`).
        self._answers = AnswerCache()
        self._seen_version: int | None = None
        self._shm: mmap.mmap | None = None
        self._shm_fd = -1

    # -- life cycle ----------------------------------------------------------------
    async def open(self, llm_user_id: str, llm_user_name: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        make_private(self.path)
        writer = await aiosqlite.connect(str(self.path), isolation_level=None)
        self._writer = writer
        try:
            await self._on_thread(writer, self._prepare, llm_user_id, llm_user_name)
        except BaseException:
            await writer.close()
            self._writer = None
            raise
        for _ in range(self._reader_count):
            reader = await aiosqlite.connect(str(self.path), isolation_level=None)
            await self._on_thread(reader, _configure, self.synchronous)
            self._all_readers.append(reader)
            self._release_reader(reader)
        inline = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False)
        _configure(inline, self.synchronous)
        inline.execute("PRAGMA busy_timeout = 0")
        self._inline = inline
        self._inline_thread = threading.get_ident()
        self._shm = self._map_wal_index(inline)

    def _map_wal_index(self, inline: sqlite3.Connection) -> mmap.mmap | None:
        """The `-shm` file mapped read-only (`_wal_header`), or None: not in WAL mode,
        or the file is not there or too short. The connections of this store keep it
        open, so SQLite neither truncates nor deletes it until `close`.

        The descriptors opened here (ours and the one `mmap` duplicates) stay open
        until every connection is closed (`_unmap_wal_index`): POSIX record locks
        belong to the process, and closing *any* descriptor of a file drops all of
        them, SQLite's shared lock on the `-shm` included. Without that lock another
        process opening the database believes it is alone, truncates and rebuilds the
        WAL index under this process's connections (and a mapped page past the new end
        of the file is SIGBUS). `tests/blackbox/test_point_reads.py` checks the lock.
        """
        try:
            mode = inline.execute("PRAGMA journal_mode").fetchone()[0]
            inline.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()  # maps it
            if str(mode).lower() != "wal":
                return None
            fd = os.open(f"{self.path}-shm", os.O_RDONLY | os.O_CLOEXEC)
        except (OSError, ValueError, sqlite3.Error) as err:
            log.info("answering repeated point reads checks PRAGMA data_version: %s", err)
            return None
        self._shm_fd = fd
        try:
            if os.fstat(fd).st_size < 136:
                return None
            return mmap.mmap(fd, 136, access=mmap.ACCESS_READ)
        except (OSError, ValueError) as err:
            log.info("answering repeated point reads checks PRAGMA data_version: %s", err)
            return None

    def _unmap_wal_index(self, shm: mmap.mmap | None) -> None:
        """After the last connection closed (see `_map_wal_index`)."""
        if shm is not None:
            shm.close()
        fd, self._shm_fd = self._shm_fd, -1
        if fd >= 0:
            os.close(fd)

    @staticmethod
    async def _on_thread(conn: aiosqlite.Connection, fn: Callable[..., T], *args: Any) -> T:
        # aiosqlite runs every call on the connection's own thread; `_execute` is how
        # it ships a callable there (pinned version 0.22.1).
        raw = conn._conn
        result: T = await conn._execute(fn, raw, *args)  # type: ignore[no-untyped-call]
        return result

    def _prepare(self, conn: sqlite3.Connection, llm_user_id: str, llm_user_name: str) -> None:
        _configure(conn, self.synchronous)
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()
        if mode and str(mode[0]).lower() != "wal":
            log.warning("could not switch %s to WAL (journal mode %s)", self.path, mode[0])
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        now = int(time.time())
        if "pm_projects" not in tables:
            if tables - {"sqlite_sequence"}:
                raise StoreOpenError(
                    f"{self.path} is not a pm-server database (tables: {sorted(tables)})"
                )
            self._create(conn, now)
        else:
            self._check_migrations(conn, tables)
        # pm-fast's own tables (the event log); the original ignores them
        eventlog.sqlite_prepare(conn)
        conn.execute(
            sql.USER_INSERT.lite, (llm_user_id, f"{llm_user_id}@system.local", llm_user_name, now)
        )
        # Idempotency keys live a day (docs/compat.md); the original never pruned them.
        conn.execute(sql.IDEM_PRUNE.lite, (now - 86400,))
        self._known_users.add(llm_user_id)

    def _create(self, conn: sqlite3.Connection, now: int) -> None:
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            for version, description, checksum in MIGRATIONS:
                conn.execute(
                    "INSERT INTO _sqlx_migrations (version, description, success, checksum,"
                    " execution_time) VALUES (?, ?, 1, ?, 0)",
                    (version, description, bytes.fromhex(checksum)),
                )
            from .llm_seed import seed_rows  # only a new database needs the seed texts

            conn.executemany(sql.LLM_SEED_INSERT.lite, seed_rows(now))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        log.info("created database %s", self.path)

    def _check_migrations(self, conn: sqlite3.Connection, tables: set[str]) -> None:
        if "_sqlx_migrations" not in tables:
            raise StoreOpenError(f"{self.path} has no _sqlx_migrations table")
        applied = {
            int(v): (bytes(c).hex(), bool(s))
            for v, c, s in conn.execute("SELECT version, checksum, success FROM _sqlx_migrations")
        }
        missing = [v for v, _, _ in MIGRATIONS if v not in applied]
        if missing:
            raise StoreOpenError(
                f"{self.path} was written by an older pm-server: migrations {missing} are not"
                " applied; open it once with pm-server 0.1.4 first"
            )
        for version, _, checksum in MIGRATIONS:
            stored, success = applied[version]
            if stored != checksum or not success:
                raise StoreOpenError(
                    f"{self.path}: migration {version} has checksum {stored} (success={success}),"
                    f" expected {checksum}"
                )
        extra = sorted(set(applied) - {v for v, _, _ in MIGRATIONS})
        if extra:
            log.warning("%s has migrations newer than pm-server 0.1.4: %s", self.path, extra)

    async def close(self) -> None:
        # Let queued mutations finish: their callers are waiting for an answer.
        deadline = time.monotonic() + 10.0
        while (
            self._pending or self._flushing or self._read_pending
        ) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        inline, self._inline = self._inline, None
        self._answers.reset(None)
        self._seen_version = None
        shm, self._shm = self._shm, None
        if inline is not None:
            inline.close()
        # The readers at once (each closes on its own thread), the writer last: the last
        # connection to close checkpoints the WAL and deletes -wal/-shm.
        readers, self._all_readers = self._all_readers, []
        await asyncio.gather(*(reader.close() for reader in readers))
        if self._writer is not None:
            await self._writer.close()
            self._writer = None
        self._unmap_wal_index(shm)

    # -- running programs ----------------------------------------------------------
    def _run_batch(
        self, conn: sqlite3.Connection, programs: list[Program[Any]]
    ) -> tuple[list[tuple[bool, Any]], list[str]]:
        """Group commit: every program in one transaction, each in its own savepoint.

        A program that raises is rolled back to its savepoint and gets its own error;
        the others still commit. Nothing is acknowledged before COMMIT returns.
        """
        results: list[tuple[bool, Any]] = []
        new_users: list[str] = []
        events: list[Event] = []  # of the programs that succeeded, in commit order
        conn.execute("BEGIN IMMEDIATE")
        try:
            self._writer_cache.validate(conn)
            # A lone mutation needs no savepoint: on error the transaction is its own.
            alone = len(programs) == 1
            for program in programs:
                tx = SqliteTx(conn, self._known_users, self._writer_cache)
                if not alone:
                    conn.execute("SAVEPOINT program")
                try:
                    value = drive(program, tx)
                except Exception as err:  # noqa: BLE001 - the error belongs to its caller
                    conn.execute("ROLLBACK" if alone else "ROLLBACK TO program")
                    if not alone:
                        conn.execute("RELEASE program")
                    self._writer_cache.clear()
                    results.append((False, err))
                    continue
                if not alone:
                    conn.execute("RELEASE program")
                results.append((True, value))
                new_users.extend(tx.new_users)
                events.extend(tx.events)
            if conn.in_transaction:
                # One log row (and one counter update) per project for the whole batch,
                # not per program: the numbers are the same (programs run in commit
                # order), and a program rolled back to its savepoint left no events.
                if events:
                    eventlog.sqlite_log(conn, events, int(time.time()))
                self._prune(conn)
                conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            self._writer_cache.clear()
            raise
        return results, new_users

    def _prune(self, conn: sqlite3.Connection) -> None:
        """Drop event-log rows older than the retention, at most once a minute."""
        now = time.monotonic()
        if now - self._pruned < 60.0:
            return
        self._pruned = now
        conn.execute(eventlog.PRUNE, (int(time.time()) - self.event_retention,))

    def _run_reads(
        self, conn: sqlite3.Connection, programs: list[Program[Any]]
    ) -> list[tuple[bool, Any]]:
        """Batched reads: every program on one snapshot, each with its own result."""
        results: list[tuple[bool, Any]] = []
        conn.execute("BEGIN")
        try:
            for program in programs:
                try:
                    results.append((True, drive(program, SqliteTx(conn, self._known_users))))
                except Exception as err:  # noqa: BLE001 - the error belongs to its caller
                    results.append((False, err))
        finally:
            conn.execute("COMMIT")
        return results

    async def write(self, program: Program[T]) -> T:
        """Queue a mutation; concurrent ones share one transaction (group commit)."""
        if self._writer is None:
            raise RuntimeError("store is closed")
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._pending.append((program, future))
        if not self._flushing:
            self._flushing = True
            asyncio.get_running_loop().create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        try:
            while self._pending and self._writer is not None:
                batch = self._pending[: self.batch_limit]
                del self._pending[: self.batch_limit]
                start = time.perf_counter()
                try:
                    done: tuple[list[tuple[bool, Any]], list[str]] = await self._on_thread(
                        self._writer, self._run_batch, [program for program, _ in batch]
                    )
                    if STATS.on:
                        STATS.store("write", len(batch), time.perf_counter() - start)
                except BaseException as err:  # the whole transaction failed
                    _settle(batch, [(False, err)] * len(batch))
                    if not isinstance(err, Exception):
                        raise
                    continue
                results, new_users = done
                self._known_users.update(new_users)
                _settle(batch, results)
        finally:
            self._flushing = False

    async def read(self, program: Program[T], point: bool = False) -> T:
        """Run a read on a free reader, or queue it: a reader that comes free runs the
        queued reads together (one snapshot, one thread hop). A `point` read (a few
        indexed rows, no scan: the caller says so) runs at once on the event loop's
        thread while no other read is under way (under concurrent reads the reader
        threads run SQLite beside the loop and batch), unless its snapshot cannot start
        without waiting."""
        if (
            point
            and self._inline is not None
            and self._readers.qsize() == self._reader_count
            and threading.get_ident() == self._inline_thread
        ):
            inline = self._inline
            start = time.perf_counter()
            try:
                inline.execute("BEGIN")
                inline.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()  # snapshot
            except sqlite3.OperationalError:  # busy: a reader thread waits for it
                if inline.in_transaction:
                    inline.rollback()
            else:
                try:
                    return drive(program, SqliteTx(inline, self._known_users))
                finally:
                    inline.execute("COMMIT")
                    if STATS.on:
                        STATS.store("read", 1, time.perf_counter() - start)
        if not self._read_pending and not self._readers.empty():
            reader = self._readers.get_nowait()
            start = time.perf_counter()
            try:
                ((ok, value),) = await self._on_thread(reader, self._run_reads, [program])
                if STATS.on:
                    STATS.store("read", 1, time.perf_counter() - start)
            finally:
                self._release_reader(reader)
            if ok:
                return cast(T, value)
            raise value
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._read_pending.append((program, future))
        if not self._readers.empty():
            self._start_reads(self._readers.get_nowait())
        return await future

    async def read_cached(
        self, key: Hashable, program: Program[T], encode: Callable[[T], bytes]
    ) -> bytes:
        """`encode` of a point read's result (`read(program, point=True)`), served from
        memory while nothing has been committed since the same `key` was read.

        The database's version (`_data_version`), taken before the read, labels the
        answer: the read's snapshot starts after it, so an unchanged value later means
        no commit by any other connection (the inline one never writes) since both. A
        read that raises (not found, refused) is never kept; the program is the
        caller's, so `key` must name everything its answer depends on."""
        answers = self._answers
        version = self._data_version()
        if version is not None:
            if version == answers.version:
                hit = answers.entries.get(key)
                if hit is not None:
                    return hit
            else:
                answers.reset(version)
        body = encode(await self.read(program, True))
        if version is not None and answers.version == version:
            answers.put(key, body)
        return body

    def still_cached(self, key: Hashable, body: bytes) -> bool:
        """`body` is the answer kept for `key` and nothing has been committed since it
        was read (the check `read_cached` makes before answering from memory)."""
        answers = self._answers
        version = self._data_version()
        return (
            version is not None and version == answers.version and answers.entries.get(key) is body
        )

    def _data_version(self) -> Hashable | None:
        """A value that changes whenever any connection but the inline one commits: the
        WAL index header (`_wal_header`), else the inline connection's `PRAGMA
        data_version`, kept until the event loop's next turn (`_seen_version`); None off
        the loop's thread or if SQLite fails. The two kinds never compare equal.

        Kept for the rest of this turn, it is exact for every request answered in it:
        each was handed to the loop (a callback queued) before this turn reached this
        point, and the loop runs its callbacks in the order they were queued, so the
        callback forgetting the value, queued now, runs before any request that arrives
        later. Such an answer shows the database as it was after the request arrived."""
        inline = self._inline
        if inline is None or threading.get_ident() != self._inline_thread:
            return None
        header = self._wal_header()
        if header is not None:
            return header
        if self._seen_version is not None:
            return self._seen_version
        try:
            version: int = inline.execute("PRAGMA data_version").fetchone()[0]
        except sqlite3.Error:  # busy or worse: read without the cache
            return None
        self._seen_version = version
        asyncio.get_running_loop().call_soon(self._forget_version)
        return version

    def _forget_version(self) -> None:
        self._seen_version = None

    def _wal_header(self) -> bytes | None:
        """The WAL index header (the first 48 bytes of the `-shm` file, sqlite.org
        walformat.html §2.1), read from memory without a system call or releasing the
        GIL (a SQLite statement does both, and under load another thread then takes
        the GIL; docs/performance.md "REST point reads" has what it cost). Every
        commit in WAL mode, by any connection of any process, rewrites it with
        `iChange` incremented before COMMIT returns, and SQLite itself tells "changed
        since" from these bytes (`PRAGMA data_version` included).
        SQLite writes the second copy, then the first; a header whose two copies
        differ (being written) or that is not initialised is None, and so is every
        call if the database was not in WAL mode at `open` or the file could not be
        mapped (it cannot leave WAL mode while this store's connections are open).
        A commit acknowledged before a request arrived is visible here: the request
        reached this thread through locks and system calls that order memory."""
        shm = self._shm
        if shm is None:
            return None
        head = shm[:96]
        if head[:48] != head[48:] or not head[12]:  # being written, or not initialised
            return None
        return head[:48]

    def _release_reader(self, reader: aiosqlite.Connection) -> None:
        if self._read_pending:
            self._start_reads(reader)
        else:
            self._readers.put_nowait(reader)

    def _start_reads(self, reader: aiosqlite.Connection) -> None:
        asyncio.get_running_loop().create_task(self._read_flush(reader))

    async def _read_flush(self, reader: aiosqlite.Connection) -> None:
        try:
            while self._read_pending:
                batch = self._read_pending[: self.read_batch_limit]
                del self._read_pending[: self.read_batch_limit]
                start = time.perf_counter()
                try:
                    results = await self._on_thread(
                        reader, self._run_reads, [program for program, _ in batch]
                    )
                    if STATS.on:
                        STATS.store("read", len(batch), time.perf_counter() - start)
                except BaseException as err:  # the snapshot itself failed
                    _settle(batch, [(False, err)] * len(batch))
                    if not isinstance(err, Exception):
                        raise
                    continue
                _settle(batch, results)
        finally:
            if reader in self._all_readers:  # not closed meanwhile
                self._release_reader(reader)

    async def ping(self) -> float:
        reader = await self._readers.get()
        try:
            start = time.perf_counter()
            await self._on_thread(reader, lambda c: c.execute("SELECT 1").fetchone())
            return (time.perf_counter() - start) * 1000.0
        finally:
            self._release_reader(reader)

    async def checkpoint(self) -> None:
        writer = self._writer
        if writer is None:
            raise RuntimeError("store is closed")
        await self._on_thread(
            writer, lambda c: c.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        )
