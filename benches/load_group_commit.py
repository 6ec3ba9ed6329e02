"""Group commit on vs off: work-item creates per second with 1, 8 and 32 writers.

    .venv/bin/python benches/load_group_commit.py [--quick] [--json out.json]

Two pm-fast processes in the same run, one with group commit (default) and one with
`PM_FAST_GROUP_COMMIT=0` (one transaction per mutation), measured alternately so both
see the same machine load.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benches"))

from httpload import run  # noqa: E402

from tests.harness import ServerProcess  # noqa: E402


async def measure(port: int, clients: int, total: int) -> dict:
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


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    total = 600 if args.quick else 3000
    quiet = {"PM_LOG_LEVEL": "warn"}
    rows = []
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
    print("| writers | group commit req/s | p99 ms | one tx each req/s | p99 ms | ratio |")
    print("|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        g, o = r["group_commit"], r["one_tx_each"]
        print(
            f"| {r['writers']} | {g['rps']} | {g['p99_ms']} | {o['rps']} | {o['p99_ms']} |"
            f" {r['ratio']}× |"
        )
    if args.json:
        args.json.write_text(json.dumps({"results": rows}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
