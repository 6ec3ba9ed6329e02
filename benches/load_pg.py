"""SQLite vs PostgreSQL, and PostgreSQL with 1, 2 and 4 worker processes, end to end.

    eval "$(build/pg.sh)"     # a private PostgreSQL; sets PM_FAST_PG_URL
    .venv/bin/python benches/load_pg.py [--quick] [--json out.json] [--markdown out.md]

Servers, one after the other per cell so they share the machine's state:

- ``sqlite``: one pm-fast process on SQLite (temporary folder);
- ``pg-1``, ``pg-2``, ``pg-4``: ``pm-fast serve --workers N`` on one fresh PostgreSQL
  database (``pg-1`` is the plain single process). Subscribers land on whichever worker
  accepts them, so most events cross processes through LISTEN/NOTIFY.

Each cell is the WebSocket measurement of ``benches/load_ws.py`` (W writer connections
sending CreateWorkItem back to back, N subscribers; mutations per second; p50/p99 from
the request to the *last* subscriber's event). Where the time goes: CPU seconds used
during the cell by the pm-fast processes, by PostgreSQL's processes and by this load
generator, read from /proc; the machine has 2 cores for all three, so their sum over
the wall time says how saturated it was. Loopback only; bounded in time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benches"))

from load_ws import SERVER_ENV, run_cell  # noqa: E402

from tests.harness import ServerProcess, create_pg_database, drop_pg_database  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")
# (writers, subscribers, projects): creates in one project are serialised by its item
# numbering (one row lock); spread over projects they run in parallel.
CELLS = ((1, 10, 1), (8, 10, 1), (32, 10, 1), (32, 10, 8))


def _stat(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def _cpu(pid: int) -> float:
    fields = _stat(pid)
    # utime, stime, cutime, cstime (fields 14-17 of stat; index 11-14 after the name)
    return sum(int(f) for f in fields[11:15]) / TICK if fields else 0.0


def _tree(root: int) -> list[int]:
    pids = [root]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields and int(fields[1]) == root:
                pids.append(int(entry.name))
    return pids


def _postgres() -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if (entry / "comm").read_text().strip() == "postgres":
                    out.append(int(entry.name))
    return out


def cpu_snapshot(server: int) -> dict[str, dict[int, float]]:
    return {
        "pm-fast": {p: _cpu(p) for p in _tree(server)},
        "postgres": {p: _cpu(p) for p in _postgres()},
    }


def cpu_used(
    before: dict[str, dict[int, float]], after: dict[str, dict[int, float]]
) -> dict[str, float]:
    return {k: round(sum(v - before[k].get(p, 0.0) for p, v in after[k].items()), 2) for k in after}


def self_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


async def bench(servers: dict[str, ServerProcess], seconds: float) -> list[dict[str, Any]]:
    results = []
    for writers, subscribers, projects in CELLS:
        for name, srv in servers.items():
            before, gen0, t0 = cpu_snapshot(srv.pid), self_cpu(), time.perf_counter()
            row = await run_cell(srv.port, False, writers, subscribers, seconds, projects)
            wall = time.perf_counter() - t0
            used = cpu_used(before, cpu_snapshot(srv.pid))
            if name == "sqlite":
                used.pop("postgres")
            used["load generator"] = round(self_cpu() - gen0, 2)
            row.update(server=name, wall_s=round(wall, 2), cpu_s=used)
            results.append(row)
            print(
                f"{name:6} writers={writers:2} subs={subscribers:3} projects={projects}"
                f" {row['mutations_per_s']:8.1f} mut/s p50 {row['p50_ms']:7.2f} ms"
                f" p99 {row['p99_ms']:7.2f} ms  cpu {used} in {wall:.1f} s",
                file=sys.stderr,
            )
    return results


def table(results: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| server | writers | subscribers | projects | mutations/s | p50 ms"
        " | p99 ms (to last subscriber) | CPU s: pm-fast | PostgreSQL | load generator | wall s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        cpu = r["cpu_s"]
        lines.append(
            f"| {r['server']} | {r['writers']} | {r['subscribers']} | {r.get('projects', 1)} |"
            f" {r['mutations_per_s']} |"
            f" {r['p50_ms']} | {r['p99_ms']} | {cpu.get('pm-fast', '')} |"
            f" {cpu.get('postgres', '—')} | {cpu.get('load generator', '')} | {r['wall_s']} |"
        )
    return lines


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="short run (CI)")
    parser.add_argument("--seconds", type=float)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args()
    if not os.environ.get("PM_FAST_PG_URL"):
        print('load_pg: needs PostgreSQL: eval "$(build/pg.sh)"', file=sys.stderr)
        return 2
    seconds = args.seconds or (1.5 if args.quick else 5.0)
    name, url = create_pg_database()
    try:
        with contextlib.ExitStack() as stack:
            sqlite_env = {**SERVER_ENV, "PM_DATABASE_URL": None}
            servers = {"sqlite": stack.enter_context(ServerProcess(env=sqlite_env))}
            for n in (1, 2, 4):
                env = {**SERVER_ENV, "PM_DATABASE_URL": url}
                servers[f"pg-{n}"] = stack.enter_context(
                    ServerProcess(env=env, args=("serve", "--workers", str(n)))
                )
            results = asyncio.run(bench(servers, seconds))
    finally:
        drop_pg_database(name)
    text = "\n".join(table(results)) + "\n"
    print(text)
    if args.json:
        args.json.write_text(json.dumps({"seconds_per_cell": seconds, "results": results}))
    if args.markdown:
        args.markdown.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
