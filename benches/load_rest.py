"""End-to-end REST load benchmark: work-item create and get against a real server.

    .venv/bin/python benches/load_rest.py [--quick] [--json out.json] [--markdown out.md]

Starts pm-fast (SQLite, temporary folder) once per variant with the test harness (by
default `rust`, its Rust extension, and `pure`, the pure-Python twins; `--servers`
picks others from benches/variants.py, e.g. `rust,rsgi` for Granian's two interfaces),
then for 1, 4 and 16 concurrent keep-alive clients (`--clients`) measures requests per
second and p50/p99 latency of `POST /api/v1/work-items` and
`GET /api/v1/work-items/{display key}`, each step on every server in turn (`--rounds R`:
R times, reported by the medians; `--servers rust,metrics-off --rounds 3` is the cost of
metrics). The load generator runs in this process and shares the machine's cores with
the server: numbers are a floor, comparable between runs on the same machine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import statistics
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benches"))

from httpload import RequestFactory, Result, run  # noqa: E402
from variants import variant_env  # noqa: E402

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
    }


async def bench(
    ports: dict[str, int], quick: bool, counts: tuple[int, ...] = (1, 4, 16), rounds: int = 1
) -> list[tuple[str, Result]]:
    """Each step runs on every server in turn, so they share the machine's state; with
    `rounds` > 1 every step is run that many times (servers still alternating)."""
    import httpx

    bodies: dict[str, bytes] = {}
    for name, port in ports.items():
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as c:
            project = c.post("/api/v1/projects", json={"title": "Load", "key": "LOAD"}).json()
        bodies[name] = json.dumps(
            {
                "project_id": project["project"]["id"],
                "item_type": "task",
                "title": "load test task",
                "description": "created by benches/load_rest.py",
            }
        ).encode()
    results: list[tuple[str, Result]] = []
    total = 600 if quick else 4000
    created = dict.fromkeys(ports, 0)
    for _ in range(rounds):
        results += await _round(ports, quick, counts, bodies, created, total)
    return results


async def _round(
    ports: dict[str, int],
    quick: bool,
    counts: tuple[int, ...],
    bodies: dict[str, bytes],
    created: dict[str, int],
    total: int,
) -> list[tuple[str, Result]]:
    results: list[tuple[str, Result]] = []
    for clients in counts:
        for name, port in ports.items():
            body = bodies[name]
            r = await run(
                "create work item",
                "127.0.0.1",
                port,
                clients,
                # the default argument binds this step's value; mypy cannot match such a
                # lambda to the two-argument RequestFactory by itself
                cast(RequestFactory, lambda i, s, body=body: ("POST", "/api/v1/work-items", body)),
                total,
                10.0 if quick else 30.0,
            )
            created[name] += r.requests
            results.append((name, r))
    for clients in counts:
        for name, port in ports.items():
            n = created[name]
            r = await run(
                "get work item",
                "127.0.0.1",
                port,
                clients,
                cast(
                    RequestFactory,
                    lambda i, s, n=n: (
                        "GET",
                        f"/api/v1/work-items/LOAD-{1 + (s * 7 + i) % n}",
                        b"",
                    ),
                ),
                total,
                10.0 if quick else 30.0,
            )
            results.append((name, r))
    return results


def medians(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per server, request and client count: the medians of its rounds."""
    groups: dict[tuple[str, str, int], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((r["server"], r["name"], r["clients"]), []).append(r)
    out = []
    for same in groups.values():
        row = dict(same[0])
        for key, digits in (("rps", 1), ("p50_ms", 3), ("p99_ms", 3), ("mean_ms", 3)):
            row[key] = round(statistics.median(r[key] for r in same), digits)
        row["requests"] = sum(r["requests"] for r in same)
        row["errors"] = sum(r["errors"] for r in same)
        row["rounds"] = len(same)
        out.append(row)
    return out


def table(rows: list[dict[str, Any]]) -> list[str]:
    """Markdown rows: one line per request and client count, servers side by side."""
    servers = list(dict.fromkeys(r.get("server", "rust") for r in rows))
    by = {(r.get("server", "rust"), r["name"], r["clients"]): r for r in rows}
    head = "| request | clients | errors |"
    rule = "|---|---:|---:|"
    for s in servers:
        head += f" {s} req/s | {s} p50 / p99 ms |"
        rule += "---:|---:|"
    if len(servers) > 1:
        head += f" {servers[0]} / {servers[1]} |"
        rule += "---:|"
    lines = [head, rule]
    for key in dict.fromkeys((r["name"], r["clients"]) for r in rows):
        cells = [by.get((s, *key)) for s in servers]
        line = f"| {key[0]} | {key[1]} | {sum(c['errors'] for c in cells if c)} |"
        for c in cells:
            line += f" {c['rps']} | {c['p50_ms']} / {c['p99_ms']} |" if c else " | |"
        if len(servers) > 1 and cells[0] and cells[1] and cells[1]["rps"]:
            line += f" {cells[0]['rps'] / cells[1]['rps']:.2f}× |"
        lines.append(line)
    return lines


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="short run (CI)")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--markdown", type=Path)
    parser.add_argument(
        "--servers",
        default="rust,pure",
        help="variants of benches/variants.py (rust, pure, rsgi, robyn, metrics-off):"
        " comma-separated",
    )
    parser.add_argument("--clients", default="1,4,16", help="connection counts, e.g. 1,16,64")
    parser.add_argument("--rounds", type=int, default=1, help="rounds per step (medians)")
    args = parser.parse_args()
    counts = tuple(int(c) for c in args.clients.split(",") if c)
    env = environment()
    names = [n for n in args.servers.split(",") if n]
    base = {"PM_LOG_LEVEL": "warn"}
    with contextlib.ExitStack() as stack:
        ports = {
            name: stack.enter_context(ServerProcess(env={**base, **variant_env(name)})).port
            for name in names
        }
        results = asyncio.run(bench(ports, args.quick, counts, max(1, args.rounds)))
    rows = medians([{"server": name, **r.row()} for name, r in results])
    text = "\n".join(
        [
            "## REST load (benches/load_rest.py)",
            "",
            f"{env['date']} · {env['cpu']} · Python {env['python']} · granian {env['granian']}"
            f" · msgspec {env['msgspec']}",
            "",
            *table(rows),
        ]
    )
    print(text)
    if args.json:
        args.json.write_text(json.dumps({"env": env, "results": rows}, indent=2))
    if args.markdown:
        args.markdown.write_text(text + "\n")
    return 1 if any(r.errors for _, r in results) else 0


if __name__ == "__main__":
    raise SystemExit(main())
