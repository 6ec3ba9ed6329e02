"""Profile a running pm-fast under load: where the server's time goes.

    .venv/bin/pip install py-spy           # once; not a test dependency
    .venv/bin/python benches/profile_server.py rest-create [--seconds 8] [--pure]
    .venv/bin/python benches/profile_server.py rest-get [--seconds 8] [--pure]
    .venv/bin/python benches/profile_server.py ws-fanout  [--seconds 8] [--pure] [--cell 32x100]

Starts pm-fast (SQLite, temporary folder), drives it from this process over loopback
(``rest-create``: 16 keep-alive clients creating work items; ``rest-get``: 16
connections of benches/rload, a separate process, reading one work item;
``ws-fanout``: 1 writer, 100 subscribers, as in benches/load_ws.py, or the ``--cell``
writers x subscribers) and samples the server with ``py-spy record --nonblocking
--threads -f raw`` at 200 Hz. Prints the share of samples per thread and the 25
busiest leaf frames, and keeps the raw profile (for a flame graph) in
``.benchmarks/profile-<load>.raw``. ``--pure`` profiles ``PM_FAST_PURE=1``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benches"))

from httpload import run  # noqa: E402
from load_ws import SERVER_ENV, run_cell  # noqa: E402

from tests.harness import ServerProcess  # noqa: E402


def summarize(raw: Path) -> str:
    threads: Counter[str] = Counter()
    leaves: Counter[tuple[str, str]] = Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        name = frames[0].split(":", 1)[-1].strip() or frames[0]
        name = "Granian (Rust) / other" if name.startswith("thread (") else name
        threads[name] += int(count)
        leaves[(name, frames[-1])] += int(count)
    total = sum(threads.values()) or 1
    lines = ["| thread | share of samples |", "|---|---:|"]
    lines += [f"| {k} | {v / total:.0%} |" for k, v in threads.most_common()]
    lines += ["", "| thread | leaf frame | share |", "|---|---|---:|"]
    lines += [f"| {t} | `{f}` | {v / total:.1%} |" for (t, f), v in leaves.most_common(25)]
    return "\n".join(lines)


async def rest_create(port: int, seconds: float, cell: str = "") -> str:
    import httpx

    with httpx.Client(base_url=f"http://127.0.0.1:{port}", trust_env=False) as c:
        pid = c.post("/api/v1/projects", json={"title": "Prof", "key": "PROF"}).json()
    body = json.dumps(
        {"project_id": pid["project"]["id"], "item_type": "task", "title": "profiled"}
    ).encode()
    r = await run(
        "create",
        "127.0.0.1",
        port,
        16,
        lambda i, s: ("POST", "/api/v1/work-items", body),
        10**7,
        seconds,
    )
    row = r.row()
    return f"{row['rps']} creates/s, p50 {row['p50_ms']} ms, p99 {row['p99_ms']} ms"


async def ws_fanout(port: int, seconds: float, cell: str = "1x100") -> str:
    writers, subscribers = (int(n) for n in cell.split("x"))
    row = await run_cell(port, False, writers, subscribers, seconds)
    return (
        f"{row['mutations_per_s']} mutations/s, {row['frames_per_s']} frames/s,"
        f" p50 {row['p50_ms']} ms, p99 {row['p99_ms']} ms to the last subscriber"
    )


async def rest_get(port: int, seconds: float, cell: str = "") -> str:
    """16 connections reading one work item by id, driven by benches/rload (Rust)."""
    from load_reads import build_rload, create_item, new_project, rload

    build_rload()
    item = json.loads(create_item(port, new_project(port, "PROF")))
    path = f"/api/v1/work-items/{item['work_item']['id']}"
    row = rload(port, 16, seconds, 0.0, method="GET", path=path)
    return f"{row['rps']} gets/s, p50 {row['p50_ms']} ms, p99 {row['p99_ms']} ms"


LOADS = {"rest-create": rest_create, "rest-get": rest_get, "ws-fanout": ws_fanout}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("load", choices=sorted(LOADS))
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--pure", action="store_true")
    parser.add_argument("--cell", default="1x100", help="ws-fanout: writers x subscribers")
    args = parser.parse_args()
    spy = Path(sys.executable).parent / "py-spy"
    if not spy.exists():
        print(f"profile_server: {spy} missing: .venv/bin/pip install py-spy", file=sys.stderr)
        return 2
    out = ROOT / ".benchmarks" / f"profile-{args.load}{'-pure' if args.pure else ''}.raw"
    out.parent.mkdir(exist_ok=True)
    env = {**SERVER_ENV, "PM_FAST_PURE": "1" if args.pure else None}
    with ServerProcess(env=env) as srv:
        sampler = subprocess.Popen(
            [
                *(str(spy), "record", "-p", str(srv.pid), "-d", str(int(args.seconds) + 2)),
                *("-r", "200", "-f", "raw", "-o", str(out), "--threads", "--nonblocking"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(1.0)
        outcome = asyncio.run(LOADS[args.load](srv.port, args.seconds, args.cell))
        sampler.wait(60)
    print(f"{args.load}: {outcome}\n")
    print(summarize(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
