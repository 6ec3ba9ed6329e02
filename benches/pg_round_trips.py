"""Statements (round trips) per work-item create on the PostgreSQL store.

    eval "$(build/pg.sh)"; .venv/bin/python benches/pg_round_trips.py

Runs the create program through `PostgresStore.write` (what REST's create does) on a
fresh database, with the event bus listening, and counts the statements pm-fast's
connections send over 100 creates after a warm-up: each asyncpg `execute`/`fetch*` is
one round trip (prepared statements are cached by then).
"""

from __future__ import annotations

import asyncio
import collections
import sys
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pm_fast import accel  # noqa: E402
from pm_fast.core.commands import CreateProject, CreateWorkItem  # noqa: E402
from pm_fast.service import projects, work_items  # noqa: E402
from pm_fast.service.common import Ctx  # noqa: E402
from pm_fast.store.postgres import PostgresStore  # noqa: E402
from tests.harness import create_pg_database, drop_pg_database  # noqa: E402

# the start-up choice a server makes (pm_fast.bootstrap.start): the Rust extension
accel.select(pure=False)

LLM = "00000000-0000-0000-0000-000000000001"
counts: collections.Counter[str] = collections.Counter()
counting = False


class CountingConnection(asyncpg.Connection):  # type: ignore[misc]
    async def execute(self, query: str, *args: Any, timeout: float | None = None) -> Any:
        if counting and not args:  # the simple protocol (BEGIN, COMMIT)
            counts[" ".join(query.split())[:72]] += 1
        return await super().execute(query, *args, timeout=timeout)

    async def _execute(self, query: str, args: Any, limit: int, timeout: Any, **kw: Any) -> Any:
        if counting:
            counts[" ".join(query.split())[:72]] += 1
        return await super()._execute(query, args, limit, timeout, **kw)


async def main(n: int = 100) -> None:
    global counting
    name, url = await asyncio.to_thread(create_pg_database)
    store = PostgresStore(url)
    plain = store._connect_kwargs
    store._connect_kwargs = lambda: {**plain(), "connection_class": CountingConnection}  # type: ignore[method-assign]
    try:
        await store.open(LLM, "LLM")
        await store.start_bus(lambda events: None)
        ctx = Ctx(actor=LLM, now=1)
        created = await store.write(projects.create_project(ctx, CreateProject("T", "TRIP")))
        project = created.value
        for i in range(20 + n):
            counting = i >= 20
            cmd = CreateWorkItem(project.id, "task", f"item {i}")
            await store.write(work_items.create_work_item(ctx, cmd))
        await asyncio.sleep(0.5)  # let the listener react to the last notifications
        counting = False
        for statement, count in counts.most_common():
            print(f"{count / n:5.2f}  {statement}")
        print(f"round trips per create: {sum(counts.values()) / n:.2f}")
    finally:
        await store.close()
        await asyncio.to_thread(drop_pg_database, name)


if __name__ == "__main__":
    asyncio.run(main())
