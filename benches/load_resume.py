"""Exact resume (docs/events.md): replay speed, and memory with stuck subscribers.

    .venv/bin/python benches/load_resume.py [--quick] [--events N] [--json out.json]
                                            [--markdown out.md]

Replay, per store (SQLite; PostgreSQL too when PM_FAST_PG_URL is set, see build/pg.sh):
one project gets 1,000 real `CreateWorkItemRequest`s over WebSocket (2,000 events), then
its log rows are copied, renumbered, until it holds N events (default 100,000; 10,000
with --quick), and the server restarts (so the log is read from the database, as after
a crash). A client then sends `Subscribe{resume: [{project, 0}]}` and reads everything:
events per second from the request to the ack, and the server's RSS before and at
its peak during the replay.

Stuck subscribers (SQLite): 8 writers for S seconds (45; 12 with --quick), 100
subscribers of which 10 never read (a 4 KiB receive buffer, nothing read): RSS of the
server before, at its peak and after; how many subscribers were closed and how many
events the 90 readers lost. With the default `websocket.stuck_client_secs` (30) the 10
are closed only in the long run.

Loopback only; the load client runs on the same 2 cores as the server.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import sys
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benches"))

from load_ws import SERVER_ENV, Subscriber, Writer, envelope, new_project  # noqa: E402
from wsfast import Client, connect  # noqa: E402

from pm_fast.api import pm_pb2 as pb  # noqa: E402
from tests.harness import ServerProcess, create_pg_database, drop_pg_database  # noqa: E402

SEED_CREATES = 1000


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Peak:
    """The highest RSS of a process, sampled every 20 ms while the block runs."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self._task = pid, 0.0, None

    async def __aenter__(self) -> Peak:
        async def sample() -> None:
            while True:
                self.peak = max(self.peak, rss_mib(self.pid))
                await asyncio.sleep(0.02)

        self._task = asyncio.create_task(sample())  # type: ignore[assignment]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self.peak = max(self.peak, rss_mib(self.pid))


async def write_items(port: int, pid: str, count: int, writers: int = 8) -> None:
    path = f"/ws?user_id={uuid.uuid4()}"
    left = [count]

    async def loop() -> None:
        w = Writer()
        w.client = await connect("127.0.0.1", port, path, w.on_frames)
        try:
            while left[0] > 0:
                left[0] -= 1
                req = pb.CreateWorkItemRequest(item_type=pb.TASK, title="t", project_id=pid)
                await w.request(envelope("create_work_item_request", req, str(uuid.uuid4())))
        finally:
            w.client.close()

    await asyncio.gather(*(loop() for _ in range(writers)))


def grow_log(srv: ServerProcess, pid: str, target: int, postgres: bool) -> int:
    """Copy the project's log rows, renumbered, until it holds at least `target` events."""
    (last,) = srv.sql("SELECT last_seq FROM pm_fast_event_seq WHERE project_id = ?", (pid,))[0]
    base = int(last)
    total = base
    origin = ("origin, ", "origin, ") if postgres else ("", "")  # the outbox row's writer
    while total < target:
        srv.sql(
            f"INSERT INTO pm_fast_events ({origin[0]}project_id, first_seq, last_seq, payload,"
            f" created_at) SELECT {origin[1]}project_id, first_seq + ?, last_seq + ?, payload,"
            " created_at FROM pm_fast_events WHERE project_id = ? AND first_seq <= ?",
            (total, total, pid, base),
        )
        total += base
    srv.sql("UPDATE pm_fast_event_seq SET last_seq = ? WHERE project_id = ?", (total, pid))
    return total


async def replay(srv: ServerProcess, pid: str, total: int) -> dict[str, Any]:
    frames = [0]
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def on_frames(batch: list[bytes], t: float) -> None:
        for frame in batch:
            frames[0] += 1
            if b"ack" in frame[:8] and not done.done():
                done.set_result(None)

    client = await connect("127.0.0.1", srv.port, f"/ws?user_id={uuid.uuid4()}", on_frames)
    try:
        before = rss_mib(srv.pid)
        async with Peak(srv.pid) as peak:
            start = time.perf_counter()
            msg = pb.Subscribe(resume=[pb.EventPosition(project_id=pid, seq=0)])
            client.send(envelope("subscribe", msg, "ack"))
            await asyncio.wait_for(done, 300)
            elapsed = time.perf_counter() - start
    finally:
        client.close()
    if frames[0] != total + 1:
        raise RuntimeError(f"replayed {frames[0] - 1} frames, expected {total}")
    return {
        "events": total,
        "seconds": round(elapsed, 3),
        "events_per_s": round(total / elapsed),
        "rss_before_mib": round(before, 1),
        "rss_peak_mib": round(peak.peak, 1),
    }


async def replay_cell(store: str, events: int, tmp: Path) -> dict[str, Any]:
    env = dict(SERVER_ENV)
    db_name = None
    if store == "postgres":
        db_name, url = create_pg_database()
        env["PM_DATABASE_URL"] = url
    srv = ServerProcess(tmp / store, env=env)
    try:
        srv.start()
        pid = new_project(srv.port)
        await write_items(srv.port, pid, SEED_CREATES)
        srv.stop()
        total = grow_log(srv, pid, events, store == "postgres")
        srv.start()
        result = await replay(srv, pid, total)
    finally:
        srv.close()
        if db_name is not None:
            drop_pg_database(db_name)
    return {"store": store, **result}


def stuck_closed(srv: ServerProcess) -> int:
    return srv.logs().count("frame(s) pending and none sent for")


async def stuck_cell(seconds: float, tmp: Path) -> dict[str, Any]:
    srv = ServerProcess(tmp / "stuck", env=dict(SERVER_ENV))
    clients: list[Client] = []
    try:
        srv.start()
        pid = new_project(srv.port)
        path = f"/ws?user_id={uuid.uuid4()}"
        subs = [Subscriber(keep=False) for _ in range(90)]
        for s in subs:
            c = await connect("127.0.0.1", srv.port, path, s.on_frames)
            clients.append(c)
            c.send(envelope("subscribe", pb.Subscribe(project_ids=[pid]), "sub"))
            await s.wait_for(1, 10)
            s.times.clear()
        for _ in range(10):
            c = await connect("127.0.0.1", srv.port, path, lambda frames, t: None)
            c.send(envelope("subscribe", pb.Subscribe(project_ids=[pid]), "sub"))
            clients.append(c)
            assert c.transport is not None
            c.transport.pause_reading()  # reads nothing from now on
            sock = c.transport.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        await asyncio.sleep(0.5)
        before = rss_mib(srv.pid)
        made = [0]
        stop_at = time.perf_counter() + seconds
        async with Peak(srv.pid) as peak:

            async def loop() -> None:
                w = Writer()
                w.client = await connect("127.0.0.1", srv.port, path, w.on_frames)
                try:
                    while time.perf_counter() < stop_at:
                        req = pb.CreateWorkItemRequest(item_type=pb.TASK, title="t", project_id=pid,
                                                       description="x" * 2000)  # fmt: skip
                        await w.request(
                            envelope("create_work_item_request", req, str(uuid.uuid4()))
                        )
                        made[0] += 1
                finally:
                    w.client.close()

            await asyncio.gather(*(loop() for _ in range(8)))
            drain = time.perf_counter() + 30
            while time.perf_counter() < drain and any(len(s.times) < 2 * made[0] for s in subs):
                await asyncio.sleep(0.1)
        # the stuck ones read nothing, not even their Close: count the server's log lines
        # (one per connection closed as stuck), waiting for them at most the stuck
        # timeout and a little more
        stuck_at = time.perf_counter()
        while time.perf_counter() - stuck_at < 35 and stuck_closed(srv) < 10:
            await asyncio.sleep(0.5)
        await asyncio.sleep(1.0)
        after = rss_mib(srv.pid)
        closed_readers = sum(c.closed.done() for c in clients[:90])
        closed_stuck = stuck_closed(srv)
        lost = sum(max(0, 2 * made[0] - len(s.times)) for s in subs)
    finally:
        for c in clients:
            c.close()
        srv.close()
    return {
        "seconds": seconds,
        "mutations": made[0],
        "rss_before_mib": round(before, 1),
        "rss_peak_mib": round(peak.peak, 1),
        "rss_after_mib": round(after, 1),
        "readers_closed": closed_readers,
        "readers_lost_events": lost,
        "stuck_closed": closed_stuck,
    }


def markdown(result: dict[str, Any]) -> str:
    lines = [
        "| store | events replayed | seconds | events/s | server RSS before → peak (MiB) |",
        "|---|---:|---:|---:|---|",
    ]
    for r in result["replay"]:
        lines.append(
            f"| {r['store']} | {r['events']:,} | {r['seconds']} | {r['events_per_s']:,} |"
            f" {r['rss_before_mib']} → {r['rss_peak_mib']} |"
        )
    s = result["stuck"]
    lines += [
        "",
        f"100 subscribers, 10 of them stuck, 8 writers for {s['seconds']} s (2 KB"
        f" descriptions, SQLite, default settings): {s['mutations']:,} mutations; server RSS"
        f" {s['rss_before_mib']} → peak {s['rss_peak_mib']} → {s['rss_after_mib']} MiB"
        f" after; stuck subscribers closed: {s['stuck_closed']} of 10; readers closed:"
        f" {s['readers_closed']} of 90, events they lost: {s['readers_lost_events']}.",
    ]
    return "\n".join(lines) + "\n"


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    import tempfile

    stores = ["sqlite"] + (["postgres"] if os.environ.get("PM_FAST_PG_URL") else [])
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        replays = [await replay_cell(store, args.events, tmp) for store in stores]
        stuck = await stuck_cell(args.seconds, tmp)
    return {"replay": replays, "stuck": stuck}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="short run (CI)")
    parser.add_argument("--events", type=int)
    parser.add_argument("--seconds", type=float)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args()
    args.events = args.events or (10_000 if args.quick else 100_000)
    args.seconds = args.seconds or (12.0 if args.quick else 45.0)
    result = asyncio.run(main_async(args))
    text = markdown(result)
    print(text)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    if args.markdown:
        args.markdown.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
