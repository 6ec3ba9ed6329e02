"""Creates in one project on PostgreSQL: this tree against another one, alternately.

    eval "$(build/pg.sh)"
    git archive main | tar -x -C /tmp/old      # the tree to compare with
    .venv/bin/python benches/load_pg_ab.py --old /tmp/old [--rounds 3] [--seconds 4]

Servers (each on its own fresh PostgreSQL database; the old tree's code runs with this
tree's virtualenv through a wrapper that puts the old tree first on PYTHONPATH, before
the harness's own entry): ``old-1`` / ``new-1`` (one
process), ``old-2`` / ``new-2`` (``--workers 2``), and ``sqlite`` (this tree) for
comparison. Each cell is the WebSocket measurement of ``benches/load_ws.py`` (W writers
sending CreateWorkItem back to back to one project, 10 subscribers, mutations per
second); every round runs every server once per writer count, in alternating order, and
the table gives the median of the rounds. Loopback only; bounded in time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benches"))

from load_ws import SERVER_ENV, run_cell  # noqa: E402

from tests.harness import ServerProcess, create_pg_database, drop_pg_database  # noqa: E402

WRITERS = (1, 8, 32)
SUBSCRIBERS = 10


async def bench(
    servers: dict[str, ServerProcess], rounds: int, seconds: float
) -> dict[str, dict[int, list[float]]]:
    out: dict[str, dict[int, list[float]]] = {n: {w: [] for w in WRITERS} for n in servers}
    names = list(servers)
    for r in range(rounds):
        order = names if r % 2 == 0 else names[::-1]
        for writers in WRITERS:
            for name in order:
                row = await run_cell(servers[name].port, False, writers, SUBSCRIBERS, seconds)
                out[name][writers].append(row["mutations_per_s"])
                print(
                    f"round {r + 1} {name:7} writers={writers:2}"
                    f" {row['mutations_per_s']:8.1f} mut/s p99 {row['p99_ms']:7.1f} ms",
                    file=sys.stderr,
                )
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--old", type=Path, required=True, help="the other tree")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if not os.environ.get("PM_FAST_PG_URL"):
        print('load_pg_ab: needs PostgreSQL: eval "$(build/pg.sh)"', file=sys.stderr)
        return 2
    wrapper = Path(tempfile.mkdtemp(prefix="pmfast-ab-")) / "python"
    wrapper.write_text(
        f'#!/bin/sh\nPYTHONPATH="{args.old.resolve()}:$PYTHONPATH" exec {sys.executable} "$@"\n'
    )
    wrapper.chmod(0o755)
    databases = [create_pg_database() for _ in range(4)]
    try:
        with contextlib.ExitStack() as stack:
            servers = {}
            for i, (label, n) in enumerate((("old", 1), ("new", 1), ("old", 2), ("new", 2))):
                env = {**SERVER_ENV, "PM_DATABASE_URL": databases[i][1]}
                python = str(wrapper) if label == "old" else sys.executable
                servers[f"{label}-{n}"] = stack.enter_context(
                    ServerProcess(env=env, args=("serve", "--workers", str(n)), python=python)
                )
            sqlite_env = {**SERVER_ENV, "PM_DATABASE_URL": None}
            servers["sqlite"] = stack.enter_context(ServerProcess(env=sqlite_env))
            results = asyncio.run(bench(servers, args.rounds, args.seconds))
    finally:
        for name, _ in databases:
            drop_pg_database(name)
    lines = [
        "| server | " + " | ".join(f"{w} writers" for w in WRITERS) + " |",
        "|---|" + "---:|" * len(WRITERS),
    ]
    for name, cells in results.items():
        medians = [statistics.median(cells[w]) for w in WRITERS]
        lines.append(f"| {name} | " + " | ".join(f"{m:.0f}" for m in medians) + " |")
    print("\n".join(lines))
    if args.json:
        args.json.write_text(json.dumps(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
