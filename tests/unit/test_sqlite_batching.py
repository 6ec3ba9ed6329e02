"""SqliteStore's batching, in process: reads queued while the readers are busy share a
thread hop, and each caller still gets its own result or its own error."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from pm_fast.core.commands import CreateProject
from pm_fast.core.errors import DomainError
from pm_fast.service.common import Ctx, Limits
from pm_fast.service.projects import create_project
from pm_fast.service.work_items import get_work_item
from pm_fast.store.sqlite import SqliteStore

LLM = "00000000-0000-0000-0000-000000000001"


async def _open(tmp_path: Path, **kwargs: Any) -> SqliteStore:
    store = SqliteStore(tmp_path / "data.db", **kwargs)
    await store.open(LLM, "LLM")
    return store


def _count_hops(store: SqliteStore) -> list[int]:
    sizes: list[int] = []
    original = store._run_reads

    def counting(conn: Any, programs: list[Any]) -> list[tuple[bool, Any]]:
        sizes.append(len(programs))
        time.sleep(0.002)  # keep the readers busy long enough for reads to queue
        return original(conn, programs)

    store._run_reads = counting  # type: ignore[method-assign]
    return sizes


@pytest.mark.parametrize("limit", [64, 1])
async def test_queued_reads_share_hops_and_keep_their_own_answers(
    tmp_path: Path, limit: int
) -> None:
    store = await _open(tmp_path, read_batch_limit=limit)
    try:
        ctx = Ctx(actor=LLM, now=int(time.time()), limits=Limits())
        project = (await store.write(create_project(ctx, CreateProject("Batch", "BAT")))).value
        sizes = _count_hops(store)

        async def one(i: int) -> Any:
            ident = project.key if i % 2 else f"BAT-{i + 1}"  # odd: a project; even: no item
            try:
                return await store.read(_project_or_item(ident))
            except DomainError as err:
                return err

        answers = await asyncio.gather(*(one(i) for i in range(60)))
        for i, answer in enumerate(answers):
            if i % 2:
                assert answer.id == project.id
            else:
                assert isinstance(answer, DomainError) and answer.code == "NOT_FOUND"
        assert sum(sizes) == 60
        if limit == 1:
            assert max(sizes) == 1
        else:
            assert len(sizes) < 60 and max(sizes) > 1, sizes  # reads did share hops
    finally:
        await store.close()


def _project_or_item(ident: str) -> Any:
    from pm_fast.service.common import resolve_project

    if "-" in ident:
        return get_work_item(Ctx(actor=LLM, now=int(time.time())), ident)
    return resolve_project(ident)


class _Busy:
    """Stands in for the loop-thread connection: its snapshot cannot start (busy)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.tried = 0

    def execute(self, sql: str, *args: Any) -> Any:
        if sql.startswith("SELECT 1 FROM sqlite_master"):
            self.tried += 1
            raise sqlite3.OperationalError("database is locked")
        return self.inner.execute(sql, *args)

    @property
    def in_transaction(self) -> bool:
        return bool(self.inner.in_transaction)

    def rollback(self) -> None:
        self.inner.rollback()


async def test_point_reads_run_on_the_loop_and_fall_back_to_a_reader_when_busy(
    tmp_path: Path,
) -> None:
    store = await _open(tmp_path)
    try:
        ctx = Ctx(actor=LLM, now=int(time.time()), limits=Limits())
        project = (await store.write(create_project(ctx, CreateProject("Point", "PNT")))).value
        sizes = _count_hops(store)
        # idle readers: a point read takes no thread hop, and its errors are its own
        assert (await store.read(_project_or_item("PNT"), point=True)).id == project.id
        with pytest.raises(DomainError) as err:
            await store.read(_project_or_item("PNT-1"), point=True)
        assert err.value.code == "NOT_FOUND"
        assert sizes == []
        # a read that is not a point read still goes to a reader
        assert (await store.read(_project_or_item("PNT"))).id == project.id
        assert sizes == [1]
        # a snapshot that cannot start at once: the same read on a reader thread
        inline = store._inline
        busy = _Busy(inline)
        store._inline = busy  # type: ignore[assignment]
        assert (await store.read(_project_or_item("PNT"), point=True)).id == project.id
        assert busy.tried == 1 and sizes == [1, 1]
        assert inline is not None and not inline.in_transaction
        store._inline = inline
        # while a read is under way on a reader, point reads queue for the readers too
        # (batched, SQLite beside the loop); every answer is right
        found = await asyncio.gather(
            store.read(_project_or_item("PNT")),
            *(store.read(_project_or_item("PNT"), point=True) for _ in range(20)),
        )
        assert {p.id for p in found} == {project.id}
        assert sum(sizes[2:]) == 21 and len(sizes[2:]) < 21, sizes
    finally:
        await store.close()


def test_a_batch_logs_its_events_once_per_project_and_a_failed_program_none(
    tmp_path: Path,
) -> None:
    """Group commit numbers the events of the programs that succeeded, in the order
    they ran, and writes them as one log row per project; a program rolled back to
    its savepoint after emitting leaves no event and takes no number."""
    from pm_fast.core.model import WorkItemCreated
    from pm_fast.realtime import eventlog
    from pm_fast.store.base import op

    def emitting(project: str, label: str, fail: bool = False) -> Any:
        event = WorkItemCreated(project, label, "u")  # type: ignore[arg-type]
        yield from op(lambda tx: tx.emit([event]))
        if fail:
            raise DomainError("CONFLICT", "rolled back after emitting")
        return event

    store = SqliteStore(tmp_path / "data.db")
    conn = sqlite3.connect(str(store.path), isolation_level=None, check_same_thread=False)
    try:
        store._prepare(conn, LLM, "LLM")
        programs = [
            emitting("a", "a1"),
            emitting("b", "b1"),
            emitting("a", "lost", fail=True),
            emitting("a", "a2"),
        ]
        results, _ = store._run_batch(conn, programs)
        assert [ok for ok, _ in results] == [True, True, False, True]
        assert [results[i][1].seq for i in (0, 1, 3)] == [1, 1, 2]
        rows = conn.execute("SELECT project_id, first_seq, last_seq FROM pm_fast_events")
        assert sorted(rows.fetchall()) == [("a", 1, 2), ("b", 1, 1)]
        logged = conn.execute(eventlog.ROWS, ("a", 1, 9, 10)).fetchall()
        decoded = eventlog.decode_rows([(f, bytes(p), c) for f, p, c in logged], 0, 9)
        assert [(e.seq, str(e.entity)) for e, _ in decoded] == [(1, "a1"), (2, "a2")]
        # the next batch continues the numbers
        ((ok, later),) = store._run_batch(conn, [emitting("a", "a3")])[0]
        assert ok and later.seq == 3
    finally:
        conn.close()
