"""Group commit on vs off: work-item creates per second with 1, 8 and 32 writers.

Measured twice. End to end: two pm-fast processes over HTTP.
Store level: the same `create_work_item` service program written through
`SqliteStore.write` by W concurrent tasks in this process, with no HTTP, no JSON and no
load generator sharing the cores: what the batching itself gains.

    .venv/bin/python benches/load_group_commit.py [--quick] [--json out.json]

Two pm-fast processes in the same run, one with group commit (default) and one with
`PM_FAST_GROUP_COMMIT=0` (one transaction per mutation), measured alternately so both
see the same machine load.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benches"))

from httpload import run  # noqa: E402

from pm_fast import accel  # noqa: E402
from tests.harness import ServerProcess  # noqa: E402

# the start-up choice a server makes (pm_fast.bootstrap.start): the Rust extension
accel.select(pure=False)


async def measure(port: int, clients: int, total: int) -> dict[str, Any]:
    import httpx

    with httpx.Client(base_url=f"http://127.0.0.1:{port}", trust_env=False) as c:
        key = f"GC{clients}X{port % 1000}"
        pid = c.post("/api/v1/projects", json={"title": key, "key": key}).json()["project"]["id"]
    body = json.dumps({"project_id": pid, "item_type": "task", "title": "gc"}).encode()
    r = await run(
        "create",
        "127.0.0.1",
        port,
        clients,
        lambda i, s: ("POST", "/api/v1/work-items", body),
        total,
        30.0,
    )
    return r.row()


async def _hammer(
    call: Callable[[Any], Any], make: Callable[[], Any], writers: int, seconds: float
) -> float:
    """W tasks each running `call(make())` back to back for `seconds`: calls/s."""
    stop = time.perf_counter() + seconds
    counts = [0] * writers

    async def writer(i: int) -> None:
        while time.perf_counter() < stop:
            await call(make())
            counts[i] += 1

    start = time.perf_counter()
    await asyncio.gather(*(writer(i) for i in range(writers)))
    return sum(counts) / (time.perf_counter() - start)


async def store_level(writers: int, seconds: float, synchronous: str = "NORMAL") -> dict[str, Any]:
    """Creates per second through SqliteStore.write, group commit on and off, alternately."""
    import tempfile

    from pm_fast.core.commands import CreateProject, CreateWorkItem
    from pm_fast.service.common import Ctx, Limits
    from pm_fast.service.projects import create_project
    from pm_fast.service.work_items import create_work_item, get_work_item
    from pm_fast.store.sqlite import SqliteStore

    llm = "00000000-0000-0000-0000-000000000001"
    out = {}
    with tempfile.TemporaryDirectory(prefix="pmfast-gc-") as tmp:
        for label, batch in (("group_commit", 64), ("one_tx_each", 1)):
            path = Path(tmp) / f"{label}.db"
            store = SqliteStore(
                path, batch_limit=batch, read_batch_limit=batch, synchronous=synchronous
            )
            await store.open(llm, "LLM")
            try:
                ctx = Ctx(actor=llm, now=int(time.time()), limits=Limits())
                key = "S" + "ABCDEFGHIJ"[writers % 10] + ("G" if batch > 1 else "T")
                project = await store.write(create_project(ctx, CreateProject(key, key)))
                cmd = CreateWorkItem(project_id=project.value.id, item_type="task", title="gc")
                make = functools.partial(create_work_item, ctx, cmd)
                out[label] = round(await _hammer(store.write, make, writers, seconds), 1)
                if synchronous == "NORMAL":  # reads do not depend on the commit mode
                    # the same number of tasks, each getting an item by display key
                    get = functools.partial(get_work_item, ctx, f"{key}-1")
                    rate = await _hammer(store.read, get, writers, seconds)
                    out[f"reads_{label}"] = round(rate, 1)
            finally:
                await store.close()
    out["ratio"] = round(out["group_commit"] / out["one_tx_each"], 2)
    if synchronous == "NORMAL":
        out["reads_ratio"] = round(out["reads_group_commit"] / out["reads_one_tx_each"], 2)
    return {"writers": writers, **out}


def store_table(rows: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| tasks | creates/s group commit | one tx each | ratio"
        " | with synchronous=FULL: group commit | one tx each | ratio"
        " | reads/s batched | one hop each | ratio |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        full = r.get("full", {})
        lines.append(
            f"| {r['writers']} | {r['group_commit']} | {r['one_tx_each']} | {r['ratio']}× |"
            f" {full.get('group_commit', '')} | {full.get('one_tx_each', '')} |"
            f" {full.get('ratio', '')}× |"
            f" {r.get('reads_group_commit', '')} | {r.get('reads_one_tx_each', '')} |"
            f" {r.get('reads_ratio', '')}× |"
        )
    return lines


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    total = 600 if args.quick else 3000
    quiet = {"PM_LOG_LEVEL": "warn"}
    rows: list[dict[str, Any]] = []
    with (
        ServerProcess(env=quiet) as on,
        ServerProcess(env={**quiet, "PM_FAST_GROUP_COMMIT": "0"}) as off,
    ):
        for clients in (1, 8, 32):
            a = asyncio.run(measure(on.port, clients, total))
            b = asyncio.run(measure(off.port, clients, total))
            rows.append(
                {
                    "writers": clients,
                    "group_commit": a,
                    "one_tx_each": b,
                    "ratio": round(a["rps"] / b["rps"], 2) if b["rps"] else 0,
                }
            )
    seconds = 1.0 if args.quick else 4.0
    store_rows = []
    for w in (1, 8, 32):
        row = asyncio.run(store_level(w, seconds))
        full = asyncio.run(store_level(w, seconds, "FULL"))
        row["full"] = {k: full[k] for k in ("group_commit", "one_tx_each", "ratio")}
        store_rows.append(row)
    print("Store level (SqliteStore.write / .read, no HTTP):")
    print("\n".join(store_table(store_rows)))
    print()
    print("| writers | group commit req/s | p99 ms | one tx each req/s | p99 ms | ratio |")
    print("|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        g, o = r["group_commit"], r["one_tx_each"]
        print(
            f"| {r['writers']} | {g['rps']} | {g['p99_ms']} | {o['rps']} | {o['p99_ms']} |"
            f" {r['ratio']}× |"
        )
    if args.json:
        args.json.write_text(json.dumps({"results": rows, "store_level": store_rows}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
