"""`serve --workers N`: a worker that keeps dying is replaced with a back-off, and the
server keeps serving (needs PostgreSQL: PM_FAST_PG_URL, see build/pg.sh).

Granian's supervisor stopped everything when a worker died again within 5.5 s of its
replacement; the worker slot is killed here four times in a row, each replacement as
soon as it appears, while a client polls /ready and a REST route. Every wait is bounded.
"""

from __future__ import annotations

import itertools
import os
import signal
import threading
import time
from pathlib import Path

import httpx
from harness import not_on_robyn

from .test_pg_workers import WAIT, _is_worker, children, multi, needs_pg, spread, workers_of

KILLS = 4


class Poller(threading.Thread):
    """GET /ready and GET /api/v1/projects in a loop; counts answers and failures."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.stop = threading.Event()
        self.ok: list[float] = []
        self.failed: list[tuple[float, str]] = []

    def run(self) -> None:
        base = f"http://127.0.0.1:{self.port}"
        while not self.stop.is_set():
            for path in ("/ready", "/api/v1/projects"):
                try:
                    # a new connection each time: the kernel hands it to any live worker
                    r = httpx.get(base + path, timeout=2.0)
                    if r.status_code == 200:
                        self.ok.append(time.monotonic())
                    else:
                        self.failed.append((time.monotonic(), f"{path}: {r.status_code}"))
                except httpx.HTTPError as exc:
                    self.failed.append((time.monotonic(), f"{path}: {exc!r}"))
            time.sleep(0.02)


def _replacement(srv_pid: int, known: set[int]) -> int:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        new = [p for p in children(srv_pid) if _is_worker(p) and p not in known]
        if new:
            return new[0]
        time.sleep(0.01)
    raise AssertionError("no replacement worker appeared")


@needs_pg
@not_on_robyn("several processes on one port")
async def test_a_worker_crash_loop_keeps_the_server_serving(tmp_path: Path, pg_url: str) -> None:
    with multi(tmp_path, pg_url, 2) as srv:
        victim, survivor = workers_of(srv, 2)
        poller = Poller(srv.port)
        poller.start()
        try:
            started = time.monotonic()
            seen = {victim, survivor}
            kills = []
            for n in range(KILLS):
                os.kill(victim, signal.SIGKILL)
                kills.append(time.monotonic())
                assert srv.proc is not None and srv.proc.poll() is None, srv.logs()[-4000:]
                if n < KILLS - 1:
                    victim = _replacement(srv.pid, seen)
                    seen.add(victim)
                    time.sleep(0.2)  # killed again well within Granian's 5.5 s
            assert kills[-1] - started < 10.0
            # the slot comes back and the survivor never stopped
            deadline = time.monotonic() + WAIT
            while True:
                back = workers_of(srv, 2)
                if victim not in back:
                    break
                assert time.monotonic() < deadline
                time.sleep(0.05)
            assert survivor in back
            time.sleep(0.5)
        finally:
            poller.stop.set()
            poller.join(10)
        assert srv.proc is not None and srv.proc.poll() is None, srv.logs()[-4000:]
        # served throughout: answers during every gap between kills and after them
        for a, b in [*itertools.pairwise(kills), (kills[-1], time.monotonic())]:
            assert any(a <= t <= b for t in poller.ok), (a, b, poller.failed[-10:])
        assert len(poller.ok) > 10 * max(1, len(poller.failed)), poller.failed[-10:]
        # both workers serve again: a connection lands on each
        held = await spread(srv.port, back, 1)
        for conns in held.values():
            for c in conns:
                assert (await c.call("list_projects_request")) is not None
                await c.close()
        with srv.client() as rest:
            assert rest.get("/ready").status_code == 200
        assert "crash loop" not in srv.logs()
