"""Exact resume (docs/events.md): every event of a project carries its number in the
project's log (1, 2, ... in commit order); `Subscribe.resume` sends what a client missed
and then goes live, with no gap and no duplicate; positions older than the log keeps
answer RESYNC_REQUIRED; `GET /api/v1/projects/{id}/events?since=N` reads the same log.

Writers here are real clients (WebSocket and REST) on loopback; every wait is bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from harness import ON_POSTGRES, ServerProcess, not_on_robyn

from pm_fast.api import pm_pb2 as pb

from .wsclient import (
    WsClient,
    case_of,
    envelope,
    module_server,
    running_server,
    small_socket,
)

WAIT = 30.0
ENV = {
    "PM_RATE_LIMIT_MAX_REQUESTS": "10000",
    "PM_RATE_LIMIT_WINDOW_SECS": "1",
    "PM_WS_HEARTBEAT_TIMEOUT_SECS": "600",
}


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    yield from module_server(tmp_path_factory, "resume", env=ENV)


# -- a subscriber that remembers where it is ---------------------------------------------
class Follower:
    """A client following one project: the numbers of the events it got, in order."""

    def __init__(self, port: int, user: str, pid: str) -> None:
        self.port, self.user, self.pid = port, user, pid
        self.client: WsClient | None = None
        self.seqs: list[int] = []
        self.kinds: list[str | None] = []

    @property
    def last(self) -> int:
        return self.seqs[-1] if self.seqs else 0

    async def connect(self, resume: bool) -> pb.WebSocketMessage:
        """Connect and subscribe (resuming after `last` when asked); returns the ack
        (or the error) after filing the replayed events."""
        self.client = await WsClient.connect(self.port, self.user)
        if resume:
            env = envelope(
                "subscribe", resume=[pb.EventPosition(project_id=self.pid, seq=self.last)]
            )
        else:
            env = envelope("subscribe", project_ids=[self.pid])
        reply, events = await self.client.request_env(env, WAIT)
        self.file(events)
        return reply

    def file(self, events: list[pb.WebSocketMessage]) -> None:
        for ev in events:
            assert ev.HasField("event"), f"an event frame without its number: {ev}"
            assert ev.event.project_id == self.pid
            self.seqs.append(ev.event.seq)
            self.kinds.append(case_of(ev))

    async def drain(self) -> None:
        """Read everything sent so far (a Ping's Pong comes after it)."""
        assert self.client is not None
        self.file(await self.client.sync(WAIT))

    async def drop(self) -> None:
        if self.client is not None:
            await self.client.close()
            self.client = None


def position(reply: pb.WebSocketMessage, pid: str) -> int:
    found = [p.seq for p in reply.positions if p.project_id == pid]
    assert len(found) == 1, f"the ack should give the position of {pid}: {reply}"
    return int(found[0])


def rest_log(srv: ServerProcess, pid: str, since: int = 0, limit: int = 10000) -> dict[str, Any]:
    with httpx.Client(base_url=srv.url, timeout=WAIT, trust_env=False) as c:
        r = c.get(f"/api/v1/projects/{pid}/events", params={"since": since, "limit": limit})
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body


def last_seq(srv: ServerProcess, pid: str) -> int:
    return int(rest_log(srv, pid, limit=1)["last_seq"]) if pid else 0


@contextlib.asynccontextmanager
async def writers(
    port: int, user: str, pid: str, count: int = 3, pause: float = 0.0
) -> AsyncIterator[list[int]]:
    """`count` closed-loop writers creating items in `pid` over WebSocket until the
    block ends; yields the running list of items made (one per writer step)."""
    made: list[int] = []
    stop = asyncio.Event()

    async def loop() -> None:
        async with contextlib.AsyncExitStack() as stack:
            client = await WsClient.connect(port, user)
            stack.push_async_callback(client.close)
            while not stop.is_set():
                await client.item(pid)
                made.append(1)
                if pause:
                    await asyncio.sleep(pause)

    tasks = [asyncio.create_task(loop()) for _ in range(count)]
    try:
        yield made
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), WAIT)


async def bounce(
    sub: Follower, made: list[int], rounds: int, step: int, ports: tuple[int, ...] = ()
) -> None:
    """Every `step` items the writers make, drop `sub` and resume it while they go on
    (on the next of `ports` in turn, when given)."""
    for round_ in range(rounds):
        while len(made) < step * (round_ + 1):
            await asyncio.sleep(0.01)
        await sub.drain()
        await sub.drop()
        if ports:
            sub.port = ports[(round_ + 1) % len(ports)]
        ack = await sub.connect(resume=True)
        assert case_of(ack) is None, ack
        # live events may precede the ack: it gives where the replay ended
        assert position(ack, sub.pid) <= sub.last


async def new_project(port: int) -> tuple[str, str]:
    """A fresh project and its creator (an admin of it)."""
    async with contextlib.AsyncExitStack() as stack:
        owner = await WsClient.connect(port)
        stack.push_async_callback(owner.close)
        project = await owner.project()
        return project.id, owner.user_id


# -- numbering -----------------------------------------------------------------------------
async def test_events_are_numbered_gaplessly_in_commit_order(srv: ServerProcess) -> None:
    pid, user = await new_project(srv.port)
    sub = Follower(srv.port, user, pid)
    ack = await sub.connect(resume=False)
    start = position(ack, pid)
    assert start == last_seq(srv, pid) >= 1  # the project's creation is numbered too
    async with writers(srv.port, user, pid, count=4) as made:
        with httpx.Client(base_url=srv.url, timeout=WAIT, trust_env=False) as c:
            for i in range(10):  # REST writes are numbered in the same sequence
                r = c.post(
                    "/api/v1/work-items",
                    json={"project_id": pid, "item_type": "task", "title": f"rest {i}"},
                    headers={"x-user-id": user},
                )
                assert r.status_code == 200, r.text
        while len(made) < 40:
            await asyncio.sleep(0.01)
    await sub.drain()
    end = last_seq(srv, pid)
    assert sub.seqs == list(range(start + 1, end + 1))
    log = rest_log(srv, pid, since=start)
    assert [e["seq"] for e in log["events"]] == sub.seqs
    created = [e for e in log["events"] if e["kind"] == "work_item.created"]
    numbers = [e["entity"]["item_number"] for e in created]
    assert len(set(numbers)) == len(numbers) == len(made) + 10
    if not ON_POSTGRES:
        # commit order: on SQLite the items' numbers (taken by the commit) rise with the
        # event numbers; on PostgreSQL a create takes its number before its transaction,
        # so creates running together commit in any order (docs/compat.md)
        assert numbers == sorted(numbers)
    kinds = [e["kind"] for e in log["events"]]
    assert kinds.count("activity.created") == kinds.count("work_item.created")
    await sub.drop()


async def test_replies_carry_no_number_and_other_projects_are_numbered_apart(
    srv: ServerProcess,
) -> None:
    pid_a, user = await new_project(srv.port)
    async with contextlib.AsyncExitStack() as stack:
        client = await WsClient.connect(srv.port, user)
        stack.push_async_callback(client.close)
        b = await client.project()
        reply, _ = await client.request("create_work_item_request", project_id=pid_a,
                                        item_type=pb.TASK, title="x")  # fmt: skip
        assert case_of(reply) == "work_item_created"
        assert not reply.HasField("event")  # a reply is not an event of the log
        base = last_seq(srv, b.id)
        assert last_seq(srv, pid_a) == base + 2  # the item and its activity entry


# -- resume --------------------------------------------------------------------------------
async def test_resume_after_a_drop_gets_exactly_the_missed_events(srv: ServerProcess) -> None:
    pid, user = await new_project(srv.port)
    sub = Follower(srv.port, user, pid)
    base = position(await sub.connect(resume=False), pid)
    async with writers(srv.port, user, pid, count=3) as made:
        await bounce(sub, made, rounds=4, step=15)
    await sub.drain()
    end = last_seq(srv, pid)
    assert sub.seqs == list(range(base + 1, end + 1)), "a gap or a duplicate"
    await sub.drop()


async def test_resume_from_the_current_position_replays_nothing(srv: ServerProcess) -> None:
    pid, user = await new_project(srv.port)
    sub = Follower(srv.port, user, pid)
    base = last_seq(srv, pid)
    sub.seqs = [base]
    ack = await sub.connect(resume=True)
    assert case_of(ack) is None and position(ack, pid) == base and sub.seqs == [base]
    assert sub.client is not None
    await sub.client.item(pid)
    await sub.drain()
    assert sub.seqs == [base, base + 1, base + 2]
    await sub.drop()


@pytest.mark.parametrize("beyond", [99, 2**63, 2**64 - 1])
async def test_a_position_the_log_never_gave_is_refused_and_nothing_subscribed(
    srv: ServerProcess, beyond: int
) -> None:
    pid, user = await new_project(srv.port)
    sub = Follower(srv.port, user, pid)
    sub.seqs = [beyond]
    ack = await sub.connect(resume=True)
    assert case_of(ack) == "error" and ack.error.code == "RESYNC_REQUIRED", ack
    assert pid in ack.error.message
    assert sub.client is not None
    await sub.client.item(pid)
    assert await sub.client.sync(WAIT) == []  # not subscribed
    with httpx.Client(base_url=srv.url, timeout=WAIT, trust_env=False) as c:
        r = c.get(f"/api/v1/projects/{pid}/events", params={"since": min(beyond, 2**63 - 1)})
    assert r.status_code == 410 and r.json()["error"]["code"] == "RESYNC_REQUIRED"
    await sub.drop()


async def test_resume_position_of_a_project_the_user_may_not_view_is_ignored(
    srv: ServerProcess,
) -> None:
    pid, _ = await new_project(srv.port)
    stranger = Follower(srv.port, str(uuid.uuid4()), pid)
    ack = await stranger.connect(resume=True)
    assert case_of(ack) is None and list(ack.positions) == []
    assert stranger.seqs == []
    await stranger.drop()


async def test_every_client_ends_with_the_commit_order_sequence(srv: ServerProcess) -> None:
    """Random interleavings of writes (WebSocket and REST), drops and resumes: each
    follower ends with exactly the project's events, in order, from where it began."""
    for seed in range(3):
        rng = random.Random(seed)
        pid, user = await new_project(srv.port)
        base = last_seq(srv, pid)
        followers = [Follower(srv.port, user, pid) for _ in range(3)]
        for f in followers:
            f.seqs = [base]
            await f.connect(resume=True)
        async with contextlib.AsyncExitStack() as stack:
            writer = await WsClient.connect(srv.port, user)
            stack.push_async_callback(writer.close)
            rest = httpx.AsyncClient(base_url=srv.url, timeout=WAIT, trust_env=False)
            stack.push_async_callback(rest.aclose)
            for _step in range(25):
                action = rng.random()
                f = rng.choice(followers)
                if action < 0.35:
                    for _ in range(rng.randint(1, 4)):
                        await writer.item(pid)
                elif action < 0.5:
                    r = await rest.post(
                        "/api/v1/work-items",
                        json={"project_id": pid, "item_type": "task", "title": "r"},
                        headers={"x-user-id": user},
                    )
                    assert r.status_code == 200, r.text
                elif action < 0.7 and f.client is not None:
                    if rng.random() < 0.5:
                        await f.drain()
                    await f.drop()
                elif action < 0.85 and f.client is None:
                    ack = await f.connect(resume=True)
                    assert case_of(ack) is None, ack
                elif f.client is not None:
                    await f.drain()
            for f in followers:
                if f.client is None:
                    await f.connect(resume=True)
                await f.drain()
        end = last_seq(srv, pid)
        for f in followers:
            assert f.seqs == list(range(base, end + 1)), f"seed {seed}: gap or duplicate"
            await f.drop()


# -- restart and retention -------------------------------------------------------------------
async def test_resume_after_a_server_restart(tmp_path: Path) -> None:
    with running_server(tmp_path, env=ENV) as srv:
        pid, user = await new_project(srv.port)
        sub = Follower(srv.port, user, pid)
        base = position(await sub.connect(resume=False), pid)
        async with contextlib.AsyncExitStack() as stack:
            w = await WsClient.connect(srv.port, user)
            stack.push_async_callback(w.close)
            for _ in range(5):
                await w.item(pid)
        await sub.drain()
        seen = list(sub.seqs)
        await sub.drop()
        assert seen == list(range(base + 1, base + 11))
        sub.seqs = seen[:4]  # as if the last frames had been lost with the connection
        async with contextlib.AsyncExitStack() as stack:
            w = await WsClient.connect(srv.port, user)
            stack.push_async_callback(w.close)
            for _ in range(3):
                await w.item(pid)
        srv.stop()
        srv.start()
        sub.port = srv.port  # a new port after the restart
        ack = await sub.connect(resume=True)
        assert case_of(ack) is None, ack
        assert sub.client is not None
        await sub.client.item(pid)  # numbering goes on after the restart
        await sub.drain()
        end = last_seq(srv, pid)
        assert end == base + 2 * 9
        assert sub.seqs == list(range(base + 1, end + 1))
        await sub.drop()


async def test_a_position_older_than_the_retention_needs_a_resync(tmp_path: Path) -> None:
    with running_server(tmp_path, env=ENV) as srv:
        pid, user = await new_project(srv.port)
        async with contextlib.AsyncExitStack() as stack:
            w = await WsClient.connect(srv.port, user)
            stack.push_async_callback(w.close)
            for _ in range(3):
                await w.item(pid)
        kept = last_seq(srv, pid)  # 3 items after the project's own events
        srv.stop()
        # every row committed long ago: the next prune (the first write after start
        # on SQLite, the event bus's first round on PostgreSQL) deletes them
        srv.sql("UPDATE pm_fast_events SET created_at = 0")
        srv.start()
        async with contextlib.AsyncExitStack() as stack:
            w = await WsClient.connect(srv.port, user)
            stack.push_async_callback(w.close)
            await w.item(pid)  # two events after `kept`, kept
        deadline = time.monotonic() + WAIT
        while True:
            with httpx.Client(base_url=srv.url, timeout=WAIT, trust_env=False) as c:
                r = c.get(f"/api/v1/projects/{pid}/events", params={"since": 3})
            if r.status_code == 410 or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
        assert r.status_code == 410, r.text
        assert r.json()["error"]["code"] == "RESYNC_REQUIRED"
        sub = Follower(srv.port, user, pid)
        sub.seqs = [3]
        ack = await sub.connect(resume=True)
        assert case_of(ack) == "error" and ack.error.code == "RESYNC_REQUIRED", ack
        await sub.drop()
        sub.seqs = [kept]  # everything after it is kept
        ack = await sub.connect(resume=True)
        assert case_of(ack) is None, ack
        assert sub.seqs == [kept, kept + 1, kept + 2]
        await sub.drop()


@not_on_robyn("back-pressure on WebSocket sends")
async def test_replays_hold_nobody_back_and_a_stuck_one_is_closed(tmp_path: Path) -> None:
    """While one client reads its replay slowly and another stops reading its replay,
    the writers keep going, the slow one gets the whole log in order, the live
    subscriber every event, and the stuck one is closed as stuck like any other. (That
    replay frames do not count for flow control is checked in tests/unit/
    test_delivery.py; here the slow reader is not slow enough for it to show.)

    A replay runs until it reaches the project's last number, which the writers keep
    moving (some 1,000 events/s here): the slow client reads the log that was there
    before it resumed one frame every 4 ms (some 6 s), then reads at full speed so that
    its replay catches up and is acknowledged instead of running into the request
    timeout (a client that stays slower than the writers would get TIMEOUT after 30 s
    and resume again: docs/events.md)."""
    stuck_secs = 3
    env = {**ENV, "PM_WS_STUCK_CLIENT_SECS": str(stuck_secs)}
    with running_server(tmp_path, env=env) as srv:
        pid, user = await new_project(srv.port)
        async with contextlib.AsyncExitStack() as stack:
            w = await WsClient.connect(srv.port, user)
            stack.push_async_callback(w.close)
            for _ in range(700):  # some 13 MB of events: more than the sockets hold
                await w.item(pid, description="d" * 9000)
        logged = last_seq(srv, pid)
        live = Follower(srv.port, user, pid)
        base = position(await live.connect(resume=False), pid)
        resume = envelope("subscribe", resume=[pb.EventPosition(project_id=pid, seq=0)])
        # resumes from the start, then reads nothing (a 4 KiB receive buffer)
        stuck = await WsClient.connect(srv.port, user, sock=small_socket(srv.port, 4096))
        await stuck.send_env(resume)
        # resumes from the start and reads one frame every 4 ms until it has the log
        # that was there (some 6 s), then the rest at full speed
        slow = await WsClient.connect(srv.port, user, sock=small_socket(srv.port))
        slow_seqs: list[int] = []
        slow_ack: list[pb.WebSocketMessage] = []

        async def read_slowly() -> None:
            mid = await slow.send_env(envelope("subscribe", resume=[resume.subscribe.resume[0]]))
            while mid not in slow.replies:
                ev = slow._classify(await slow.recv_frame(WAIT))
                if ev is not None and ev.event.seq <= logged:
                    slow_seqs.append(ev.event.seq)
                if not slow_seqs or slow_seqs[-1] < logged:
                    await asyncio.sleep(0.004)
            slow_ack.append(slow.replies[mid])
            await slow.close()

        followed = asyncio.Event()

        async def follow() -> None:  # the live subscriber keeps reading
            # (until told; cancelled inside `drain` it would drop what it had read)
            while not followed.is_set():
                await live.drain()
                await asyncio.sleep(0.1)

        replies: list[float] = []
        start = time.monotonic()
        following = asyncio.get_running_loop().create_task(follow())
        async with writers(srv.port, user, pid, count=2) as made:
            reading = asyncio.get_running_loop().create_task(read_slowly())
            while not reading.done() or time.monotonic() - start < stuck_secs + 2:
                count = len(made)
                await asyncio.sleep(0.05)
                if len(made) > count:
                    replies.append(time.monotonic())
                assert time.monotonic() - start < 45, "the slow replay did not finish"
            await reading
        followed.set()
        await asyncio.wait_for(following, WAIT)
        await live.drain()
        end = last_seq(srv, pid)
        assert slow_seqs == list(range(1, logged + 1))  # the whole log, in order
        assert [case_of(a) for a in slow_ack] == [None], slow_ack  # acknowledged
        assert live.seqs == list(range(base + 1, end + 1))
        closes = re.findall(r"closing WebSocket of user \w+: (.*)", srv.logs())
        # the stuck one (a client that leaves with frames still queued for it, as the slow
        # one does here, is logged the same way once its writer gives up)
        assert any("none sent for" in why for why in closes), closes
        # the writers never waited for a replay: progress in every stretch shorter than
        # the stuck time, all along the slow replay (longer than that) and after it
        gaps = [b - a for a, b in zip([start, *replies], replies, strict=False)]
        assert max(gaps) < stuck_secs, f"writers paused {max(gaps):.1f} s"
        assert replies[-1] - start > stuck_secs
        await live.drop()
        await stuck.close()


# -- REST ------------------------------------------------------------------------------------
async def test_rest_reads_the_log_in_pages(srv: ServerProcess) -> None:
    pid, user = await new_project(srv.port)
    async with contextlib.AsyncExitStack() as stack:
        w = await WsClient.connect(srv.port, user)
        stack.push_async_callback(w.close)
        made = [await w.item(pid) for _ in range(6)]
    end = last_seq(srv, pid)
    seen: list[int] = []
    since = 0
    while True:
        page = rest_log(srv, pid, since=since, limit=4)
        assert page["project_id"] == pid and page["last_seq"] == end
        seen += [e["seq"] for e in page["events"]]
        if page["next_since"] == since:
            break
        assert len(page["events"]) <= 4
        since = page["next_since"]
    assert seen == list(range(1, end + 1)) and end >= 12
    full = rest_log(srv, pid)["events"]
    assert [e["entity"]["id"] for e in full if e["kind"] == "project.created"] == [pid]
    created = [e["entity"]["id"] for e in full if e["kind"] == "work_item.created"]
    assert created == [m.id for m in made]
    assert all(e["actor"] == user and e["created_at"] > 0 for e in full)
    with httpx.Client(base_url=srv.url, timeout=WAIT, trust_env=False) as c:
        bad = ("since=-1", "since=x", "limit=0", "limit=10001", "since=99999999999999999999")
        for query in bad:
            r = c.get(f"/api/v1/projects/{pid}/events?{query}")
            assert r.status_code == 400, (query, r.text)
        r = c.get(f"/api/v1/projects/{uuid.uuid4()}/events")
        assert r.status_code == 404, r.text


# -- several processes (PostgreSQL) ------------------------------------------------------------
@pytest.mark.skipif(not ON_POSTGRES, reason="several processes share one database on PostgreSQL")
async def test_resume_on_another_process_gets_exactly_the_missed_events(tmp_path: Path) -> None:
    with running_server(tmp_path / "a", env=ENV) as a:
        env = {**ENV, "PM_DATABASE_URL": a.environment()["PM_DATABASE_URL"]}
        with running_server(tmp_path / "b", env=env) as b:
            pid, user = await new_project(a.port)
            sub = Follower(a.port, user, pid)
            base = position(await sub.connect(resume=False), pid)
            async with writers(a.port, user, pid, count=3) as made:
                await bounce(sub, made, rounds=4, step=10, ports=(a.port, b.port))
            await sub.drain()
            end = last_seq(a, pid)
            deadline = time.monotonic() + WAIT
            while sub.last < end and time.monotonic() < deadline:
                await sub.drain()
            assert sub.seqs == list(range(base + 1, end + 1)), "a gap or a duplicate"
            await sub.drop()
