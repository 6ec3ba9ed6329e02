"""`GET /metrics` (docs/metrics.md): the counters move by what was done (REST calls, a
WebSocket session with a subscription and a broadcast, a rate-limit violation, bad
requests), the text parses as Prometheus text format 0.0.4, the switch turns it off
(404), the browser guard and REST auth apply to it, and under `--workers 2`
(PostgreSQL) one scrape shows every worker. Runs on either store (PM_FAST_TEST_STORE)."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from pathlib import Path

import httpx
import pytest
from harness import ServerProcess, not_on_robyn
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from .conftest import ServerFactory
from .helpers import assert_error, create_item, create_project, ok, uniq_key
from .test_rest_auth import SECRET, bearer
from .wsclient import case_of, clients

WAIT = 30.0
Samples = dict[str, list[Sample]]


def scrape(c: httpx.Client) -> Samples:
    r = c.get("/metrics")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4"), r.headers
    out: Samples = {}
    for family in text_string_to_metric_families(r.text):
        for sample in family.samples:
            out.setdefault(sample.name, []).append(sample)
    return out


def value(s: Samples, name: str, **labels: str) -> float:
    """The sample's value; 0 when the series does not exist (yet)."""
    found = [x.value for x in s.get(name, []) if x.labels == labels]
    assert len(found) <= 1, (name, labels, found)
    return found[0] if found else 0.0


def test_counters_move_by_what_was_done(server_factory: ServerFactory) -> None:
    srv = server_factory(
        env={"PM_RATE_LIMIT_MAX_REQUESTS": "3", "PM_RATE_LIMIT_WINDOW_SECS": "600"}
    )
    with srv.client() as c:
        project = create_project(c, uniq_key("MET"))
        pid = project["id"]
        for _ in range(3):  # on SQLite the 2nd and 3rd are replays (engines/front.py)
            ok(c.get(f"/api/v1/projects/{pid}"))
        bad = c.post(
            "/api/v1/work-items", content=b"{not json", headers={"content-type": "application/json"}
        )
        assert_error(bad, 400, "BAD_REQUEST", startswith="Malformed JSON")
        assert c.get("/no/such/route").status_code == 404

        async def session() -> None:
            async with clients(srv.port, "new") as (ws,):
                await ws.subscribe([pid])  # frame 1
                create_item(c, pid, "task", "broadcast me")
                while case_of(await ws.next_event()) != "work_item_created":
                    pass
                await ws.send_raw(b"\xff\xff\xff\xff", expect_id="")  # frame 2: invalid
                reply, _ = await ws.reply_to("")
                assert case_of(reply) == "error"
                await ws.request("ping", timestamp=1)  # frame 3: the last token
                await ws.send_raw(b"\x00")  # frame 4: refused by the rate limit
                while not ws.texts:
                    frame = await ws.recv_frame()
                    if isinstance(frame, str):
                        ws.texts.append(frame)
                assert "Rate limit exceeded" in ws.texts[0]

        asyncio.run(session())
        deadline = time.monotonic() + WAIT
        s = scrape(c)
        # a session is counted closed as it ends, a moment after the client has gone
        while value(s, "pm_ws_connections_closed_total", code="1000") < 1:
            assert time.monotonic() < deadline, "the closed connection was never counted"
            s = scrape(c)

    assert value(s, "pm_ws_connections_established_total") == 1
    assert value(s, "pm_ws_connections_active") == 0
    assert value(s, "pm_ws_frames_received_total", type="subscribe") == 1
    assert value(s, "pm_ws_frames_received_total", type="ping") == 1
    assert value(s, "pm_ws_frames_received_total", type="invalid") == 1
    assert value(s, "pm_ws_frames_received_total", type="rate_limited") == 1
    assert value(s, "pm_ws_frames_sent_total", kind="reply", type="subscribe") == 1
    assert value(s, "pm_ws_frames_sent_total", kind="reply", type="ping") == 1
    assert value(s, "pm_ws_frames_sent_total", kind="text", type="text") == 1
    created = {"type": "work_item.created"}
    assert value(s, "pm_ws_frames_sent_total", kind="broadcast", **created) == 1
    assert value(s, "pm_ws_broadcasts_total", **created) == 1
    assert value(s, "pm_ws_broadcast_subscribers_total", **created) == 1
    assert value(s, "pm_ws_rate_limit_violations_total") == 1
    assert value(s, "pm_errors_total", edge="ws", code="INVALID_MESSAGE") == 1
    assert value(s, "pm_errors_total", edge="http", code="400") == 1
    assert value(s, "pm_errors_total", edge="http", code="404") == 1
    assert value(s, "pm_ws_request_duration_seconds_count", type="subscribe") == 1
    # REST latency by route template and method, never by raw path
    one = {"route": "/api/v1/projects/{}", "method": "GET"}
    assert value(s, "pm_http_request_duration_seconds_count", **one) == 3
    items = {"route": "/api/v1/work-items", "method": "POST"}
    assert value(s, "pm_http_request_duration_seconds_count", **items) == 2
    unmatched = {"route": "unmatched", "method": "GET"}
    assert value(s, "pm_http_request_duration_seconds_count", **unmatched) == 1
    assert not any(
        pid in x.labels.get("route", "") for x in s["pm_http_request_duration_seconds_count"]
    )
    # the store: at least the two mutations and the three reads
    assert value(s, "pm_store_seconds_count", op="write") >= 2
    assert value(s, "pm_store_seconds_count", op="read") >= 3
    if srv.pg_url is None:  # SQLite: group commit and read batches; no pool
        assert value(s, "pm_store_batch_size_count", op="write") >= 2
        assert value(s, "pm_store_batch_size_count", op="read") >= 3
        assert "pm_pg_pool_size" not in s
    else:
        assert value(s, "pm_pg_pool_size") >= 1
        assert value(s, "pm_pg_pool_max") >= value(s, "pm_pg_pool_size")
    assert value(s, "pm_ws_subscriber_lag_frames_max") == 0


def test_switched_off_it_is_not_found(server_factory: ServerFactory) -> None:
    off_by_config = "[server]\nmetrics = false\n"
    for env, config, served in (
        ({"PM_FAST_METRICS": "0"}, None, False),
        ({}, off_by_config, False),
        ({"PM_FAST_METRICS": "1"}, off_by_config, True),  # the variable wins
    ):
        srv = server_factory(env=env, config_toml=config)
        with srv.client() as c:
            r = c.get("/metrics")
            if served:
                assert r.status_code == 200
            else:
                assert_error(r, 404, "NOT_FOUND", "No route for /metrics")
        srv.close(remove=False)


def test_browser_guard_and_auth(server_factory: ServerFactory) -> None:
    srv = server_factory(env={"PM_AUTH_ENABLED": "true", "PM_AUTH_JWT_SECRET": SECRET})
    with srv.client() as c:
        r = c.get("/metrics", headers={"Origin": "http://evil.example"})
        assert_error(r, 403, "FORBIDDEN", contains="origin")
        r = c.get("/metrics", headers={"Sec-Fetch-Site": "cross-site"})
        assert r.status_code == 403
        r = c.get("/metrics")
        assert_error(r, 401, "UNAUTHORIZED", contains="bearer")
        assert c.get("/health").status_code == 200  # the probes stay open
        r = c.get("/metrics", headers=bearer(str(uuid.uuid4())))
        assert r.status_code == 200
        assert "pm_ws_connections_active" in r.text


@pytest.mark.skipif(
    not os.environ.get("PM_FAST_PG_URL"),
    reason='needs PostgreSQL: eval "$(build/pg.sh)" sets PM_FAST_PG_URL',
)
@not_on_robyn("several processes on one port")
def test_one_scrape_shows_every_worker(tmp_path: Path, pg_url: str) -> None:
    srv = ServerProcess(tmp_path, env={"PM_DATABASE_URL": pg_url}, args=("serve", "--workers", "2"))
    try:
        srv.start()
        with srv.client() as c:
            create_project(c, uniq_key("WRK"))
            deadline = time.monotonic() + WAIT
            while True:
                s = scrape(c)
                workers = {x.labels["worker"] for x in s["pm_ws_connections_active"]}
                if workers == {"1", "2"}:
                    break
                assert time.monotonic() < deadline, f"workers in the scrape: {workers}"
            for w in ("1", "2"):
                assert value(s, "pm_pg_pool_size", worker=w) >= 1
                assert value(s, "pm_metrics_snapshot_age_seconds", worker=w) < WAIT
            # every series names its worker
            assert all("worker" in x.labels for v in s.values() for x in v)
    except BaseException:
        print(srv.logs()[-8000:])
        raise
    finally:
        srv.close(remove=False)
