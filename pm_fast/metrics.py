"""Metrics (`GET /metrics`, docs/metrics.md): counted as plain numbers on the hot paths,
turned into Prometheus metric families by `prometheus_client` only when scraped.

The serving code counts into `STATS`, one `Stats` per process: integer attributes,
small dicts of ints and fixed-bucket histograms (`Histogram`: a `bisect` into a list of
ints). No lock and no `prometheus_client` object is touched per request or frame; each
site checks `STATS.on` first, so with metrics off (`PM_FAST_METRICS=0` or
`server.metrics = false`) it does nothing more. Numbers that exist anyway are read at
scrape time instead of being counted: open connections, how far each subscriber is
behind, the hub's broadcast counts (`Hub.sent`), the PostgreSQL pool.

A scrape turns `snapshot(app)` (plain data: lists and numbers) into metric families with
a custom collector. Under `--workers N` a scrape reaches one worker of the group, so each
worker also writes its snapshot every `SNAPSHOT_EVERY` s to `<dir>/<worker>.json` (a
per-run directory the supervisor makes: `join_group`), and the worker answering
reads the others' files: every series carries a `worker` label (1..N) and each scrape
shows every worker, the others as of their last snapshot (`pm_metrics_snapshot_age_seconds`).

`prometheus_client` is imported on the first scrape, not at start-up.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from bisect import bisect_left
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

    from .app import App

log = logging.getLogger("pm_fast")

# Bucket bounds (upper, inclusive), seconds or counts.
LATENCY_BOUNDS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
DB_BOUNDS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)
BATCH_BOUNDS = (1, 2, 4, 8, 16, 32, 64, 128)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
SNAPSHOT_EVERY = 1.0

# HTTP methods named in labels; any other is "other" (a label per invented method
# would let a client grow the output without bound).
_METHODS = frozenset(("GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"))


class Histogram:
    """Observations in fixed buckets: `counts[i]` holds values <= `bounds[i]` (and above
    the bound before); the last count is above every bound."""

    __slots__ = ("bounds", "counts", "sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.sum += value


class Stats:
    """What one process has counted (module docstring). Edges add to it directly."""

    def __init__(self) -> None:
        self.on = True
        self.ws_opened = 0
        self.ws_closed: dict[int, int] = {}  # close code -> connections
        self.ws_received: dict[str, int] = {}  # request payload case (or text, invalid)
        self.ws_sent: dict[tuple[str, str], int] = {}  # (kind, type) -> frames, not broadcasts
        self.ws_latency: dict[str, Histogram] = {}  # request payload case
        self.rate_limited = 0
        self.errors: dict[tuple[str, str], int] = {}  # (edge, code)
        self.http_latency: dict[tuple[str, str], Histogram] = {}  # (route template, method)
        self.batches: dict[str, Histogram] = {
            "write": Histogram(BATCH_BOUNDS),
            "read": Histogram(BATCH_BOUNDS),
        }
        self.db_seconds: dict[str, Histogram] = {
            "write": Histogram(DB_BOUNDS),
            "read": Histogram(DB_BOUNDS),
        }

    # -- the edges' calls (each site checks `on` first) --------------------------------
    def http(self, route: str, method: str, status: int, seconds: float) -> None:
        """One HTTP request answered: `route` is the route's template (never the raw
        path), "unmatched" when no route matched."""
        if method not in _METHODS:
            method = "other"
        key = (route, method)
        hist = self.http_latency.get(key)
        if hist is None:
            hist = self.http_latency[key] = Histogram(LATENCY_BOUNDS)
        hist.observe(seconds)
        if status >= 400:
            self.error("http", str(status))

    def ws_request(self, case: str, seconds: float, error: str | None) -> None:
        """One WebSocket request (payload `case`) answered, with the error code it got."""
        hist = self.ws_latency.get(case)
        if hist is None:
            hist = self.ws_latency[case] = Histogram(LATENCY_BOUNDS)
            self.ws_received[case] = 0
            self.ws_sent["reply", case] = 0
        hist.observe(seconds)
        self.ws_received[case] += 1
        self.ws_sent["reply", case] += 1
        if error is not None:
            self.error("ws", error)

    def ws_frame(self, received: str | None, sent: str | None, count: int = 1) -> None:
        """Frames outside requests: `received` a text or undecodable frame, `sent` a
        text frame or replayed events (`count` of them)."""
        if received is not None:
            self.ws_received[received] = self.ws_received.get(received, 0) + 1
        if sent is not None:
            key = (sent, sent)
            self.ws_sent[key] = self.ws_sent.get(key, 0) + count

    def error(self, edge: str, code: str) -> None:
        key = (edge, code)
        self.errors[key] = self.errors.get(key, 0) + 1

    def closed(self, code: int) -> None:
        self.ws_closed[code] = self.ws_closed.get(code, 0) + 1

    def store(self, op: str, programs: int, seconds: float) -> None:
        """One batch of `programs` run by the store (`op`: write or read) in `seconds`."""
        self.batches[op].observe(programs)
        self.db_seconds[op].observe(seconds)

    def store_time(self, op: str, seconds: float) -> None:
        """One program run alone (PostgreSQL: one pooled connection per program)."""
        self.db_seconds[op].observe(seconds)


STATS = Stats()


# -- snapshots: plain data, the same for this process and the other workers ------------
# A family: [name, type, help, label names, samples]; a sample of a counter or gauge is
# [label values, value], of a histogram [label values, bounds, counts, sum].
Family = list[Any]


def _hist(labels: list[str], h: Histogram) -> list[Any]:
    return [labels, list(h.bounds), list(h.counts), h.sum]


def _lag(app: App) -> tuple[int, int, int]:
    """(max, sum, connections over the flow-control bound) of frames behind."""
    top = total = over = 0
    bound = app.delivery.bound
    for feed in app.delivery.feeds:
        behind = feed.behind()
        total += behind
        top = max(top, behind)
        over += behind > bound
    return top, total, over


def snapshot(app: App) -> list[Family]:
    """This process's metrics as plain data (`Family`)."""
    s = STATS
    sent_by_kind = app.hub.sent()
    lag_max, lag_sum, lag_over = _lag(app)
    sent = [[[k, t], n] for (k, t), n in sorted(s.ws_sent.items())]
    sent += [[["broadcast", kind], n[1]] for kind, n in sorted(sent_by_kind.items())]
    families: list[Family] = [
        ["pm_ws_connections_established", "counter", "WebSocket connections accepted", [],
         [[[], s.ws_opened]]],
        ["pm_ws_connections_closed", "counter", "WebSocket connections ended, by Close code",
         ["code"], [[[str(c)], n] for c, n in sorted(s.ws_closed.items())]],
        ["pm_ws_connections_active", "gauge", "WebSocket connections open now", [],
         [[[], app.ws_connections]]],
        ["pm_ws_frames_received", "counter",
         "WebSocket frames received, by request payload type (text: a text frame; invalid:"
         " not a protobuf WebSocketMessage or no known payload)", ["type"],
         [[[t], n] for t, n in sorted(s.ws_received.items())]],
        ["pm_ws_frames_sent", "counter",
         "WebSocket frames sent or queued: replies by the request type they answer,"
         " broadcasts by event type, replayed events, text frames", ["kind", "type"], sent],
        ["pm_ws_broadcasts", "counter", "Events broadcast (encoded once for >= 1 subscriber)",
         ["type"], [[[kind], n[0]] for kind, n in sorted(sent_by_kind.items())]],
        ["pm_ws_broadcast_subscribers", "counter",
         "Subscribers reached by broadcasts (frames offered to their send queues)", ["type"],
         [[[kind], n[1]] for kind, n in sorted(sent_by_kind.items())]],
        ["pm_ws_rate_limit_violations", "counter",
         "WebSocket frames refused by the rate limit", [], [[[], s.rate_limited]]],
        ["pm_errors", "counter",
         "Errors: http (answers with status >= 400, by status), ws (error replies, by code),"
         " ws_upgrade (refused upgrades, by status)", ["edge", "code"],
         [[[e, c], n] for (e, c), n in sorted(s.errors.items())]],
        ["pm_http_request_duration_seconds", "histogram",
         "HTTP request time by route template and method", ["route", "method"],
         [_hist([r, m], h) for (r, m), h in sorted(s.http_latency.items())]],
        ["pm_ws_request_duration_seconds", "histogram",
         "WebSocket request time by request payload type", ["type"],
         [_hist([t], h) for t, h in sorted(s.ws_latency.items())]],
        ["pm_store_batch_size", "histogram",
         "Programs per store batch: mutations per SQLite transaction (group commit, op=write)"
         " and reads per reader-thread hop (op=read)", ["op"],
         [_hist([op], h) for op, h in s.batches.items() if sum(h.counts)]],
        ["pm_store_seconds", "histogram",
         "Database time per batch (SQLite) or per transaction (PostgreSQL)", ["op"],
         [_hist([op], h) for op, h in s.db_seconds.items()]],
        ["pm_ws_subscriber_lag_frames_max", "gauge",
         "Frames queued and not yet sent to the WebSocket connection furthest behind", [],
         [[[], lag_max]]],
        ["pm_ws_subscriber_lag_frames_sum", "gauge",
         "Frames queued and not yet sent, summed over WebSocket connections", [],
         [[[], lag_sum]]],
        ["pm_ws_subscribers_behind", "gauge",
         "WebSocket connections more than websocket.flow_control_frames frames behind", [],
         [[[], lag_over]]],
    ]  # fmt: skip
    pool = _pool(app)
    if pool is not None:
        families += [
            ["pm_pg_pool_size", "gauge", "PostgreSQL pool connections open", [],
             [[[], pool.get_size()]]],
            ["pm_pg_pool_idle", "gauge", "PostgreSQL pool connections idle", [],
             [[[], pool.get_idle_size()]]],
            ["pm_pg_pool_max", "gauge", "PostgreSQL pool size limit", [],
             [[[], pool.get_max_size()]]],
        ]  # fmt: skip
    return families


def _pool(app: App) -> Any:
    store = getattr(app.store, "inner", app.store)
    return getattr(store, "_pool", None)


# -- workers ----------------------------------------------------------------------------
_group: tuple[str, Path] | None = None


def join_group(number: int, folder: Path) -> None:
    """This process is worker `number` (1..N) of a `--workers` group whose snapshots are
    in `folder` (engines/granian_workers.py)."""
    global _group
    _group = (str(number), folder)


def worker() -> str | None:
    """This process's worker number under `--workers`, else None."""
    return _group[0] if _group is not None else None


def _dir() -> Path | None:
    return _group[1] if _group is not None else None


def write_snapshot(app: App) -> None:
    """Publish this worker's snapshot for the others (atomically: write, then rename)."""
    import json

    folder, me = _dir(), worker()
    if folder is None or me is None:
        return
    data = json.dumps([time.time(), snapshot(app)]).encode()
    tmp = folder / f".{me}.{os.getpid()}.tmp"
    tmp.write_bytes(data)
    os.replace(tmp, folder / f"{me}.json")


async def publish_snapshots(app: App) -> None:
    """Under `--workers`: write this worker's snapshot every `SNAPSHOT_EVERY` s."""
    while not app.shutdown.is_set():
        try:
            write_snapshot(app)
        except OSError as err:
            log.warning("cannot write the metrics snapshot: %s", err)
        await asyncio.sleep(SNAPSHOT_EVERY)


def _others() -> Iterator[tuple[str, float, list[Family]]]:
    import json

    folder, me = _dir(), worker()
    if folder is None:
        return
    for path in sorted(folder.glob("*.json")):
        if path.stem == me:
            continue
        try:
            stamp, families = json.loads(path.read_bytes())
        except (OSError, ValueError) as err:
            log.warning("skipping the metrics snapshot %s: %s", path.name, err)
            continue
        yield path.stem, float(stamp), families


# -- exposition ---------------------------------------------------------------------------
def families(sources: Iterable[tuple[str | None, float, list[Family]]]) -> list[Metric]:
    """Metric families from snapshots (worker label, time taken, families): one family
    per name with every source's samples, labelled `worker` when the source names one."""
    from prometheus_client.core import (
        CounterMetricFamily,
        GaugeMetricFamily,
        HistogramMetricFamily,
    )

    made: dict[str, Any] = {}
    order: list[str] = []
    ages: list[tuple[str, float]] = []
    now = time.time()
    for who, stamp, snap in sources:
        extra = [] if who is None else [who]
        if who is not None:
            ages.append((who, max(0.0, now - stamp)))
        for name, kind, text, labels, samples in snap:
            names = ["worker", *labels] if who is not None else list(labels)
            family: Any = made.get(name)
            if family is None:
                order.append(name)
                if kind == "counter":
                    family = CounterMetricFamily(name, text, labels=names)
                elif kind == "gauge":
                    family = GaugeMetricFamily(name, text, labels=names)
                else:
                    family = HistogramMetricFamily(name, text, labels=names)
                made[name] = family
            for sample in samples:
                values = [*extra, *sample[0]]
                if kind == "histogram":
                    _, bounds, counts, total = sample
                    cumulative, running = [], 0
                    for bound, count in zip([*bounds, float("inf")], counts, strict=True):
                        running += count
                        cumulative.append((_le(bound), running))
                    family.add_metric(values, cumulative, total)
                else:
                    family.add_metric(values, sample[1])
    out = [made[name] for name in order]
    if ages:
        age = GaugeMetricFamily(
            "pm_metrics_snapshot_age_seconds",
            "How old each worker's numbers in this scrape are (0 for the worker answering)",
            labels=["worker"],
        )
        for who, seconds in sorted(ages):
            age.add_metric([who], seconds)
        out.append(age)
    return out


def _le(bound: float) -> str:
    if bound == float("inf"):
        return "+Inf"
    return repr(float(bound))


def render(app: App) -> bytes:
    """The Prometheus text (format 0.0.4) of this process, and of every other worker
    under `--workers`."""
    from prometheus_client.exposition import generate_latest
    from prometheus_client.registry import Collector, CollectorRegistry

    me = worker()
    sources: list[tuple[str | None, float, list[Family]]] = [(me, time.time(), snapshot(app))]
    if me is not None:
        sources += _others()
    made = families(sources)

    class _Scrape(Collector):
        def collect(self) -> Iterable[Metric]:
            return made

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Scrape())
    return generate_latest(registry)
