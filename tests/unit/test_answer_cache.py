"""SqliteStore.read_cached: answers of point reads from memory only while nothing has
been committed since (`PRAGMA data_version`), bounded in memory, errors never kept."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from pm_fast.core.commands import CreateProject
from pm_fast.core.errors import DomainError
from pm_fast.service.common import Ctx, Limits, resolve_project
from pm_fast.service.projects import create_project
from pm_fast.store.sqlite import AnswerCache, SqliteStore

LLM = "00000000-0000-0000-0000-000000000001"


def _encode(project: Any) -> bytes:
    return f"{project.id}:{project.title}".encode()


class _Counting:
    """The programs a test asked for, and how many of them ran."""

    def __init__(self) -> None:
        self.ran = 0

    def program(self, ident: str) -> Any:
        self.ran += 1
        return resolve_project(ident)


async def _next_turn() -> None:
    """Let the event loop turn (the kept `data_version` is forgotten each turn)."""
    await asyncio.sleep(0)
    await asyncio.sleep(0)


async def test_an_answer_is_kept_until_any_connection_commits(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "data.db")
    await store.open(LLM, "LLM")
    try:
        ctx = Ctx(actor=LLM, now=int(time.time()), limits=Limits())
        project = (await store.write(create_project(ctx, CreateProject("Kept", "KPT")))).value
        calls = 0

        def encode(value: Any) -> bytes:
            nonlocal calls
            calls += 1
            return _encode(value)

        async def get() -> bytes:
            return await store.read_cached(("p", "KPT"), resolve_project("KPT"), encode)

        # the version comes from the WAL index header, without a statement
        assert store._shm is not None and store._wal_header() is not None
        first = await get()
        assert first == f"{project.id}:Kept".encode()
        await _next_turn()
        assert await get() == first
        assert calls == 1  # answered from memory
        # another connection (another process, the CLI) commits: the next read runs
        other = sqlite3.connect(str(tmp_path / "data.db"), isolation_level=None)
        other.execute("UPDATE pm_projects SET title = 'Changed' WHERE id = ?", (project.id,))
        other.close()
        await _next_turn()
        assert await get() == f"{project.id}:Changed".encode()
        assert calls == 2
        # this process's own writer commits (anything at all): the next read runs
        await store.write(create_project(ctx, CreateProject("Other", "OTH")))
        await _next_turn()
        assert await get() == f"{project.id}:Changed".encode()
        assert calls == 3
        # with the header unreadable (being written, or no WAL index), per turn
        shm, store._shm = store._shm, None
        shm.close()
        assert await get() == f"{project.id}:Changed".encode()
        assert calls == 4
        await _next_turn()
        assert await get() == f"{project.id}:Changed".encode()
        assert calls == 4
        other = sqlite3.connect(str(tmp_path / "data.db"), isolation_level=None)
        other.execute("UPDATE pm_projects SET title = 'Again' WHERE id = ?", (project.id,))
        other.close()
        await _next_turn()
        assert await get() == f"{project.id}:Again".encode()
        assert calls == 5
        # a different key is its own answer
        assert await store.read_cached(("p", "OTH"), resolve_project("OTH"), encode) != first
    finally:
        await store.close()


async def test_errors_are_never_kept(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "data.db")
    await store.open(LLM, "LLM")
    try:
        counting = _Counting()
        for _ in range(2):
            with pytest.raises(DomainError) as err:
                await store.read_cached(("p", "NOPE"), counting.program("NOPE"), _encode)
            assert err.value.code == "NOT_FOUND"
            await _next_turn()
        assert counting.ran == 2
        assert store._answers.entries == {}
    finally:
        await store.close()


async def test_after_close_nothing_is_answered_from_memory(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "data.db")
    await store.open(LLM, "LLM")
    ctx = Ctx(actor=LLM, now=int(time.time()), limits=Limits())
    await store.write(create_project(ctx, CreateProject("Closed", "CLO")))
    await store.read_cached(("p", "CLO"), resolve_project("CLO"), _encode)
    await store.close()
    assert store._answers.entries == {}
    assert store._data_version() is None


def test_the_cache_is_bounded_by_entries_and_bytes() -> None:
    cache = AnswerCache(max_entries=3, max_bytes=160)
    cache.reset(1)
    for i in range(5):
        cache.put(i, b"x" * 10)
    assert list(cache.entries) == [2, 3, 4]  # the oldest went first
    assert cache.size == 30
    cache.put("big", b"y" * 11)  # over max_bytes // 16: not kept
    assert "big" not in cache.entries
    cache.put(3, b"z" * 10)  # replacing keeps the size exact
    assert cache.size == 30 and cache.entries[3] == b"z" * 10
    small = AnswerCache(max_entries=100, max_bytes=32)
    small.reset(1)
    for i in range(10):
        small.put(i, b"a" * 2)
    assert small.size <= 32 and len(small.entries) == 10
    for i in range(10, 20):
        small.put(i, b"a" * 2)
    assert small.size <= 32 and len(small.entries) == 16
    small.reset(2)
    assert small.entries == {} and small.size == 0 and small.version == 2
