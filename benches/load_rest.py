"""End-to-end REST load benchmark: work-item create and get against a real server.

    .venv/bin/python benches/load_rest.py [--quick] [--json out.json] [--markdown out.md]

Starts pm-fast (SQLite, temporary folder) with the test harness, then for 1, 4 and 16
concurrent keep-alive clients measures requests per second and p50/p99 latency of
`POST /api/v1/work-items` and `GET /api/v1/work-items/{display key}`. The load generator
runs in this process and shares the machine's cores with the server: numbers are a
floor, comparable between runs on the same machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benches"))

from httpload import Result, run  # noqa: E402

from tests.harness import ServerProcess  # noqa: E402


def environment() -> dict[str, str]:
    import granian
    import msgspec

    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": f"{cpu} ({os.cpu_count()} cores)",
        "python": platform.python_version(),
        "granian": granian.__version__,
        "msgspec": msgspec.__version__,
        "pure": os.environ.get("PM_FAST_PURE", "0"),
    }


async def bench(srv: ServerProcess, quick: bool) -> list[Result]:
    import httpx

    with httpx.Client(base_url=srv.url) as c:
        project = c.post("/api/v1/projects", json={"title": "Load", "key": "LOAD"}).json()[
            "project"
        ]
    pid = project["id"]
    create_body = json.dumps(
        {
            "project_id": pid,
            "item_type": "task",
            "title": "load test task",
            "description": "created by benches/load_rest.py",
        }
    ).encode()
    results: list[Result] = []
    total = 600 if quick else 4000
    created = 0
    for clients in (1, 4, 16):
        r = await run(
            "create work item",
            "127.0.0.1",
            srv.port,
            clients,
            lambda i, s: ("POST", "/api/v1/work-items", create_body),
            total,
            10.0 if quick else 30.0,
        )
        created += r.requests
        results.append(r)
    for clients in (1, 4, 16):
        r = await run(
            "get work item",
            "127.0.0.1",
            srv.port,
            clients,
            lambda i, s: ("GET", f"/api/v1/work-items/LOAD-{1 + (s * 7 + i) % created}", b""),
            total,
            10.0 if quick else 30.0,
        )
        results.append(r)
    return results


def markdown(env: dict[str, str], results: list[Result]) -> str:
    lines = [
        "## REST load (benches/load_rest.py)",
        "",
        f"{env['date']} · {env['cpu']} · Python {env['python']} · granian {env['granian']}"
        f" · msgspec {env['msgspec']} · PM_FAST_PURE={env['pure']}",
        "",
        "| request | clients | requests | errors | req/s | p50 ms | p99 ms |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        row = r.row()
        lines.append(
            f"| {row['name']} | {row['clients']} | {row['requests']} | {row['errors']} |"
            f" {row['rps']} | {row['p50_ms']} | {row['p99_ms']} |"
        )
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="short run (CI)")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args()
    env = environment()
    with ServerProcess(env={"PM_LOG_LEVEL": "warn"}) as srv:
        results = asyncio.run(bench(srv, args.quick))
    text = markdown(env, results)
    print(text)
    if args.json:
        args.json.write_text(
            json.dumps({"env": env, "results": [r.row() for r in results]}, indent=2)
        )
    if args.markdown:
        args.markdown.write_text(text)
    return 1 if any(r.errors for r in results) else 0


if __name__ == "__main__":
    raise SystemExit(main())
