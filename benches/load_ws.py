"""End-to-end WebSocket fan-out benchmark.

    .venv/bin/python benches/load_ws.py [--quick] [--json out.json]

A real pm-fast process (SQLite, temporary folder). One project; 1, 10 and 100
subscriber connections; one writer connection sending `CreateWorkItemRequest`s back to
back (the next one as soon as its reply arrives). For every mutation the latency is the
time from sending the request to the moment the *last* subscriber has received its
`WorkItemCreated` event. Reported: mutations per second (writer throughput), delivered
event frames per second, p50 and p99 of that latency. Loopback only; bounded in count
and time. Subscribers and writer share this process and the machine's 2 cores with the
server, so the numbers are a floor.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import uuid
from pathlib import Path

import websockets

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pm_fast.api import pm_pb2 as pb  # noqa: E402
from tests.harness import ServerProcess  # noqa: E402


def frame(case: str, msg: object, mid: str) -> bytes:
    env = pb.WebSocketMessage(message_id=mid)
    getattr(env, case).CopyFrom(msg)
    return env.SerializeToString()


async def subscriber(
    url: str,
    pid: str,
    ready: asyncio.Event,
    arrivals: dict[str, float],
    expected: int,
    done: asyncio.Event,
) -> None:
    async with websockets.connect(url, max_size=None) as ws:
        await ws.send(frame("subscribe", pb.Subscribe(project_ids=[pid]), "sub"))
        await ws.recv()
        ready.set()
        seen = 0
        while seen < expected:
            env = pb.WebSocketMessage.FromString(await ws.recv())
            if env.WhichOneof("payload") == "work_item_created":
                title = env.work_item_created.work_item.title
                arrivals[title] = time.perf_counter()  # last writer wins = latest arrival
                seen += 1
        done.set()


async def run_case(port: int, subscribers: int, mutations: int, max_seconds: float) -> dict:
    import httpx

    with httpx.Client(base_url=f"http://127.0.0.1:{port}") as c:
        key = "B" + uuid.uuid4().hex[:8].upper()
        pid = c.post("/api/v1/projects", json={"title": key, "key": key}).json()["project"]["id"]
    url = f"ws://127.0.0.1:{port}/ws?user_id={uuid.uuid4()}"
    arrivals: dict[str, float] = {}
    readies = [asyncio.Event() for _ in range(subscribers)]
    dones = [asyncio.Event() for _ in range(subscribers)]
    tasks = [
        asyncio.create_task(subscriber(url, pid, readies[i], arrivals, mutations, dones[i]))
        for i in range(subscribers)
    ]
    await asyncio.wait_for(asyncio.gather(*(r.wait() for r in readies)), 60)
    sent: dict[str, float] = {}
    deadline = time.perf_counter() + max_seconds
    async with websockets.connect(url, max_size=None) as writer:
        start = time.perf_counter()
        done_count = 0
        for i in range(mutations):
            if time.perf_counter() > deadline:
                break
            title = f"m{i}"
            mid = str(uuid.uuid4())
            sent[title] = time.perf_counter()
            await writer.send(
                frame(
                    "create_work_item_request",
                    pb.CreateWorkItemRequest(item_type=4, title=title, project_id=pid),
                    mid,
                )
            )
            while True:
                env = pb.WebSocketMessage.FromString(await writer.recv())
                if env.message_id == mid:
                    break
            done_count += 1
        writer_elapsed = time.perf_counter() - start
    if done_count < mutations:  # stopped early: subscribers will not see the rest
        for t in tasks:
            t.cancel()
    else:
        await asyncio.wait_for(asyncio.gather(*(d.wait() for d in dones)), 60)
    total_elapsed = max(arrivals.values(), default=start) - start
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    lat = sorted((arrivals[k] - sent[k]) * 1000 for k in sent if k in arrivals)
    pct = lambda q: round(lat[min(len(lat) - 1, int(q * len(lat)))], 3) if lat else 0.0  # noqa: E731
    return {
        "subscribers": subscribers,
        "mutations": done_count,
        "mutations_per_s": round(done_count / writer_elapsed, 1),
        # Each mutation reaches each subscriber as two frames: ActivityLogCreated and
        # WorkItemCreated.
        "frames_per_s": round(2 * done_count * subscribers / total_elapsed, 1)
        if total_elapsed
        else 0,
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
    }


async def bench(srv: ServerProcess, quick: bool) -> list[dict]:
    results = []
    for subs, count in ((1, 2000), (10, 1000), (100, 300)):
        if quick:
            count = max(50, count // 5)
        results.append(await run_case(srv.port, subs, count, 20.0 if quick else 60.0))
    return results


def markdown(results: list[dict]) -> str:
    lines = [
        "| subscribers | mutations | mutations/s | frames delivered/s | p50 ms (to last subscriber)"
        " | p99 ms |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r['subscribers']} | {r['mutations']} | {r['mutations_per_s']} |"
            f" {r['frames_per_s']} | {r['p50_ms']} | {r['p99_ms']} |"
        )
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    env = {
        "PM_LOG_LEVEL": "warn",
        "PM_RATE_LIMIT_MAX_REQUESTS": "10000",
        "PM_RATE_LIMIT_WINDOW_SECS": "1",
        "PM_WS_SEND_BUFFER_SIZE": "10000",
    }
    with ServerProcess(env=env) as srv:
        results = asyncio.run(bench(srv, args.quick))
    print(markdown(results))
    if args.json:
        args.json.write_text(json.dumps({"results": results}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
