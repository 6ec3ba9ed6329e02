"""End-to-end WebSocket fan-out benchmark, with the raw-capacity baseline in the same run.

    .venv/bin/python benches/load_ws.py [--quick] [--json out.json] [--markdown out.md]
                                        [--servers rust,pure,baseline] [--seconds S]
                                        [--window N] [--cells WxS,...] [--rounds R]

Three servers run side by side, each on loopback in a process of its own:

- ``rust``: pm-fast on SQLite (temporary folder) with its Rust extension;
- ``pure``: the same with ``PM_FAST_PURE=1`` (the pure-Python twins);
- ``baseline``: ``benches/baseline_rsgi.py``, a bare Granian RSGI app doing the same
  broadcast (two frames per mutation to every subscriber, the request echoed back as
  the reply) with no decoding and no database: the limit pm-fast works under.

For every cell of writers (1, 8, 32) × subscribers (1, 10, 100), the three servers are
measured one after the other, so they share the machine's state. A cell: one project,
the subscribers subscribe to it, then each writer connection sends
``CreateWorkItemRequest``s back to back (the next as soon as its reply arrives) for a
fixed time: plain closed loops with the servers' default settings, the natural load. A
server that cannot keep up must slow the writers down itself (pm-fast: admission,
docs/delivery.md) or it loses subscribers: every cell counts the subscribers the server
closed and the frames they never received. `--window N` is a second, labelled mode in
which the client holds the writers at most N mutations ahead of the slowest subscriber.
Latency of a mutation = from sending the request to the moment the *last* subscriber
still open has its entity event; reply latency = from sending it to its reply. Reported
per cell and server: mutations per second, delivered frames per second, p50 and p99 of
both latencies, closed subscribers and lost frames; and pm-fast's frames per second as a
fraction of the baseline's.

The load generator (benches/wsfast.py, a lean client) runs in this process on the same
2 cores as the server: the numbers are floors, comparable within one run. Each cell also
reports the server's CPU time per delivered frame (all its threads, from /proc), which
depends less on what else the machine runs than the rates do. `--pin` puts every
server's threads on the first CPU and this process on the second, so the client never
takes the server's core (as a load client on a core of its own would).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benches"))

from variants import variant_env  # noqa: E402
from wsfast import Client, connect  # noqa: E402

from pm_fast.api import pm_pb2 as pb  # noqa: E402
from tests.harness import ServerProcess  # noqa: E402

WRITERS = (1, 8, 32)
# --window N: the writers run at most N mutations ahead of the slowest subscriber
# (client-side throttle; 0, the default, is none).
WINDOW = [0]
SUBSCRIBERS = (1, 10, 100)
# How long the subscribers may take to receive what was written once the writers stop.
DRAIN_SECS = 60.0
SERVER_ENV = {
    "PM_LOG_LEVEL": "warn",
    "PM_RATE_LIMIT_MAX_REQUESTS": "10000",
    "PM_RATE_LIMIT_WINDOW_SECS": "1",
    "PM_SERVER_MAX_CONNECTIONS": "1000",
}


def envelope(case: str, msg: object, mid: str) -> bytes:
    env = pb.WebSocketMessage(message_id=mid)
    getattr(env, case).CopyFrom(msg)
    return bytes(env.SerializeToString())


BASELINES = ("baseline", "baseline-asgi", "baseline-sized", "baseline-asgi-sized")


class Baseline:
    """benches/baseline_rsgi.py in a process of its own (Granian's RSGI interface, or
    `interface="asgi"`); `sized`: frames padded to pm-fast's sizes."""

    def __init__(
        self, interface: str = "rsgi", sized: bool = False, args: Sequence[str] = ()
    ) -> None:
        self.interface = interface
        self.sized = sized
        self.args = list(args)  # more arguments of baseline_rsgi.py (get=FILE, post=FILE)

    def __enter__(self) -> Baseline:
        self.dir = tempfile.TemporaryDirectory(prefix="pmfast-baseline-")
        port_file = Path(self.dir.name) / "port"
        script = str(ROOT / "benches" / "baseline_rsgi.py")
        argv = [sys.executable, script, str(port_file), self.interface]
        self.proc = subprocess.Popen(argv + (["sized"] if self.sized else []) + self.args)
        deadline = time.monotonic() + 20
        while not port_file.exists() or not port_file.read_text():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the baseline server did not start")
            time.sleep(0.05)
        self.port = int(port_file.read_text())
        return self

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.dir.cleanup()


@dataclass
class Subscriber:
    keep: bool  # keep payloads (one subscriber per cell, to learn the event order)
    times: list[float] = field(default_factory=list)
    payloads: list[bytes] = field(default_factory=list)
    waiter: asyncio.Future[None] | None = None
    want: int = 0

    def on_frames(self, frames: list[bytes], t: float) -> None:
        self.times.extend([t] * len(frames))
        if self.keep:
            self.payloads.extend(frames)
        if self.waiter is not None and len(self.times) >= self.want and not self.waiter.done():
            self.waiter.set_result(None)

    async def wait_for(self, count: int, timeout: float) -> None:
        if len(self.times) >= count:
            return
        self.want = count
        self.waiter = asyncio.get_running_loop().create_future()
        try:
            await asyncio.wait_for(self.waiter, timeout)
        finally:
            self.waiter = None


class Writer:
    def __init__(self) -> None:
        self.reply: asyncio.Future[list[bytes]] | None = None
        self.client: Client | None = None

    def on_frames(self, frames: list[bytes], t: float) -> None:
        if self.reply is not None and not self.reply.done():
            self.reply.set_result(frames)

    async def request(self, payload: bytes, timeout: float = 30) -> None:
        self.reply = asyncio.get_running_loop().create_future()
        assert self.client is not None
        self.client.send(payload)
        await asyncio.wait_for(self.reply, timeout)


def new_project(port: int) -> str:
    import httpx

    key = "B" + uuid.uuid4().hex[:8].upper()
    with httpx.Client(base_url=f"http://127.0.0.1:{port}") as c:
        resp = c.post("/api/v1/projects", json={"title": key, "key": key})
        resp.raise_for_status()
        return str(resp.json()["project"]["id"])


def event_title(payload: bytes) -> str | None:
    """The title carried by an entity event (pm-fast) or an echoed request (baseline)."""
    env = pb.WebSocketMessage.FromString(payload)
    case = env.WhichOneof("payload")
    if case == "work_item_created":
        return str(env.work_item_created.work_item.title)
    if case == "create_work_item_request":
        return str(env.create_work_item_request.title)
    return None


async def run_cell(
    port: int, baseline: bool, writers: int, subscribers: int, seconds: float, projects: int = 1
) -> dict[str, Any]:
    """One measurement; with `projects` > 1 writer j writes to project j % projects and
    every subscriber subscribes to all of them."""
    pids = [str(uuid.uuid4()) if baseline else new_project(port) for _ in range(projects)]
    user = uuid.uuid4()
    path = f"/ws?user_id={user}"
    subs = [Subscriber(keep=i == 0) for i in range(subscribers)]
    clients: list[Client] = []
    try:
        for s in subs:
            c = await connect("127.0.0.1", port, path, s.on_frames)
            clients.append(c)
            c.send(envelope("subscribe", pb.Subscribe(project_ids=pids), "sub"))
            await s.wait_for(1, 10)
            s.times.clear()
            s.payloads.clear()
        ws = [Writer() for _ in range(writers)]
        for w in ws:
            w.client = await connect("127.0.0.1", port, path + "&role=writer", w.on_frames)
            clients.append(w.client)
        sent: dict[str, float] = {}
        replies: list[float] = []  # ms from a request to its reply
        start = time.perf_counter()
        stop_at = start + seconds

        issued = [0]

        window = WINDOW[0]

        async def write(j: int, w: Writer) -> int:
            pid = pids[j % projects]
            i = 0
            while time.perf_counter() < stop_at:
                # --window only: the client holds the writers back itself.
                while window and issued[0] - min(len(s.times) for s in subs) // 2 >= window:
                    if time.perf_counter() >= stop_at:
                        return i
                    await asyncio.sleep(0.001)
                issued[0] += 1
                title = f"w{j}m{i}"
                req = pb.CreateWorkItemRequest(item_type=pb.TASK, title=title, project_id=pid)
                payload = envelope("create_work_item_request", req, str(uuid.uuid4()))
                sent[title] = asked = time.perf_counter()
                await w.request(payload)
                replies.append((time.perf_counter() - asked) * 1000)
                i += 1
            return i

        done = sum(await asyncio.gather(*(write(j, w) for j, w in enumerate(ws))))
        writer_elapsed = time.perf_counter() - start
        drain_until = time.perf_counter() + DRAIN_SECS
        for s, c in zip(subs, clients, strict=False):
            left = drain_until - time.perf_counter()
            while not c.closed.done() and len(s.times) < 2 * done and left > 0:
                with contextlib.suppress(TimeoutError):
                    await s.wait_for(2 * done, min(left, 0.5))
                left = drain_until - time.perf_counter()
        closed = sum(c.closed.done() for c in clients[: len(subs)])
        lost = sum(max(0, 2 * done - len(s.times)) for s in subs)
    finally:
        for c in clients:
            c.close()
    titles = [event_title(p) for p in subs[0].payloads]
    order = [t for t in titles[1::2]]
    if any(t is None for t in order) or any(t is not None for t in titles[0::2]):
        raise RuntimeError("unexpected frame order: want (activity, entity event) pairs")
    lat = sorted(
        (max(s.times[2 * k + 1] for s in subs if len(s.times) > 2 * k + 1) - sent[title]) * 1000
        for k, title in enumerate(order)
        if title is not None
    )
    delivered = sum(len(s.times) for s in subs)
    last = max((s.times[-1] for s in subs if s.times), default=start)

    def pct(q: float, values: list[float] = lat) -> float:
        return round(values[min(len(values) - 1, int(q * len(values)))], 2) if values else 0.0

    replies.sort()

    return {
        "writers": writers,
        "subscribers": subscribers,
        "projects": projects,
        "mutations": done,
        "mutations_per_s": round(done / writer_elapsed, 1),
        "frames": delivered,
        "frames_per_s": round(delivered / (last - start), 1) if delivered else 0.0,
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "reply_p50_ms": pct(0.50, replies),
        "reply_p99_ms": pct(0.99, replies),
        "closed": closed,
        "lost": lost,
        "window": window,
    }


def cpu_seconds(pid: int) -> float:
    """utime + stime of process `pid`, all its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pin(pids: dict[str, int]) -> None:
    """Every thread of the servers on the first CPU, this process on the second (threads
    started later inherit their creator's CPU)."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        raise SystemExit("--pin needs two CPUs")
    for pid in pids.values():
        for task in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(ProcessLookupError):
                os.sched_setaffinity(int(task), {cpus[0]})
    for task in os.listdir("/proc/self/task"):
        os.sched_setaffinity(int(task), {cpus[1]})


async def bench(
    ports: dict[str, int],
    seconds: float,
    cells: list[tuple[int, int]] | None = None,
    rounds: int = 1,
    pids: dict[str, int] | None = None,
) -> list[dict[str, Any]]:
    """Every cell on every server in turn; with `rounds` > 1 each cell is measured that
    many times (servers alternating) and reported by the medians of its rounds. With
    `pids`, each cell also gets the server's CPU time per delivered frame."""
    results: list[dict[str, Any]] = []
    every = cells or [(w, s) for w in WRITERS for s in SUBSCRIBERS]
    for writers, subscribers in every:
        runs: dict[str, list[dict[str, Any]]] = {name: [] for name in ports}
        for _ in range(rounds):
            for name, port in ports.items():
                pid = (pids or {}).get(name)
                before = cpu_seconds(pid) if pid else 0.0
                row = await run_cell(
                    port, name.startswith("baseline"), writers, subscribers, seconds
                )
                if pid:
                    used = cpu_seconds(pid) - before  # the cell, its set-up and its drain
                    row["server_us_per_frame"] = round(used / max(row["frames"], 1) * 1e6, 1)
                runs[name].append(row)
        for name in ports:
            row = _median_row(runs[name])
            row["server"] = name
            results.append(row)
            print(
                f"{name:8} writers={writers:2} subs={subscribers:3}"
                f" {row['mutations_per_s']:8.1f} mut/s {row['frames_per_s']:9.1f} frames/s"
                f" p50 {row['p50_ms']:6.2f} ms p99 {row['p99_ms']:6.2f} ms"
                f" (reply {row.get('reply_p50_ms', 0):6.2f} / {row.get('reply_p99_ms', 0):6.2f})"
                f" closed {row['closed']} lost {row['lost']}"
                f" server {row.get('server_us_per_frame', '-')} us/frame",
                file=sys.stderr,
            )
    return results


def _median_row(rows: list[dict[str, Any]]) -> dict[str, Any]:
    if len(rows) == 1:
        return rows[0]
    out = dict(rows[0])
    for key in (
        "mutations_per_s",
        "frames_per_s",
        "p50_ms",
        "p99_ms",
        "reply_p50_ms",
        "reply_p99_ms",
        "server_us_per_frame",
    ):
        if key in out:
            out[key] = statistics.median(r[key] for r in rows)
    out["closed"] = max(r["closed"] for r in rows)
    out["lost"] = max(r["lost"] for r in rows)
    out["rounds"] = len(rows)
    return out


def markdown(results: list[dict[str, Any]]) -> str:
    by = {(r["server"], r["writers"], r["subscribers"]): r for r in results}
    servers = list(dict.fromkeys(r["server"] for r in results))
    bases = [s for s in servers if s.startswith("baseline")]
    ours = [s for s in servers if not s.startswith("baseline")]
    head = "| writers | subscribers |"
    rule = "|---:|---:|"
    for s in servers:
        head += f" {s} mut/s | {s} frames/s | {s} p50 / p99 ms | {s} reply p50 / p99 ms |"
        head += f" {s} closed / lost |"
        rule += "---:|---:|---:|---:|---:|"
    for b in bases:
        for s in ours:
            head += f" {s} / {b} frames |"
            rule += "---:|"
    lines = [head, rule]
    for w in WRITERS:
        for n in SUBSCRIBERS:
            if not any((s, w, n) in by for s in servers):
                continue
            line = f"| {w} | {n} |"
            for s in servers:
                r = by.get((s, w, n))
                if r:
                    line += f" {r['mutations_per_s']} | {r['frames_per_s']} |"
                    line += f" {r['p50_ms']} / {r['p99_ms']} |"
                    line += f" {r.get('reply_p50_ms', '')} / {r.get('reply_p99_ms', '')} |"
                    line += f" {r.get('closed', 0)} / {r.get('lost', 0)} |"
                else:
                    line += " | | | | |"
            for b in bases:
                base = by.get((b, w, n))
                for s in ours:
                    r = by.get((s, w, n))
                    ratio = r["frames_per_s"] / base["frames_per_s"] if r and base else 0
                    line += f" {ratio:.2f} |"
            lines.append(line)
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="short run (CI)")
    parser.add_argument("--seconds", type=float, help="measuring time per cell")
    parser.add_argument(
        "--servers",
        default="rust,pure,baseline",
        help="baseline (RSGI), baseline-asgi, either with -sized (frames padded to"
        " pm-fast's sizes) and variants of benches/variants.py"
        " (rust, pure, rsgi, robyn, metrics-off)",
    )
    parser.add_argument("--json", type=Path)
    parser.add_argument("--markdown", type=Path)
    parser.add_argument(
        "--window", type=int, default=0, help="client-side throttle (mutations); 0: none"
    )
    parser.add_argument("--cells", help="only these cells, e.g. 32x100,8x10")
    parser.add_argument("--rounds", type=int, default=1, help="rounds per cell (medians)")
    parser.add_argument(
        "--pin", action="store_true", help="servers on the first CPU, the client on the second"
    )
    args = parser.parse_args()
    cells = None
    if args.cells:
        cells = [(int(c.split("x")[0]), int(c.split("x")[1])) for c in args.cells.split(",")]
    WINDOW[0] = max(0, args.window)
    seconds = args.seconds or (1.5 if args.quick else 5.0)
    names = [n for n in args.servers.split(",") if n]
    ports: dict[str, int] = {}
    pids: dict[str, int] = {}
    with contextlib.ExitStack() as stack:
        for name in names:
            if name in BASELINES:
                interface = "asgi" if name.startswith("baseline-asgi") else "rsgi"
                baseline = stack.enter_context(Baseline(interface, name.endswith("-sized")))
                ports[name], pids[name] = baseline.port, baseline.proc.pid
            else:
                env = {**SERVER_ENV, **variant_env(name)}
                server = stack.enter_context(ServerProcess(env=env))
                ports[name], pids[name] = server.port, server.pid
        if args.pin:
            pin(pids)
        results = asyncio.run(bench(ports, seconds, cells, max(1, args.rounds), pids))
    text = markdown(results)
    print(text)
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "seconds_per_cell": seconds,
                    "window": WINDOW[0],
                    "pinned": args.pin,
                    "results": results,
                },
                indent=2,
            )
        )
    if args.markdown:
        args.markdown.write_text(text)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    raise SystemExit(main())
