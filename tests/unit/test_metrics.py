"""pm_fast/metrics.py: the fixed-bucket histograms, the snapshot of a process, the
Prometheus text made from it (parsed back with prometheus_client's parser), the
`worker` label when several workers' snapshots are merged, the PM_FAST_METRICS
setting, and that start-up does not import prometheus_client."""

from __future__ import annotations

import subprocess
import sys
import time
from types import SimpleNamespace
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from pm_fast import metrics
from pm_fast.bootstrap import SettingsError, read_settings
from pm_fast.metrics import Histogram, Stats


def test_histogram_buckets_are_inclusive_upper_bounds() -> None:
    h = Histogram((1, 2, 4))
    for value in (0, 1, 1.5, 2, 3, 4, 5, 100):
        h.observe(value)
    assert h.counts == [2, 2, 2, 2]  # <=1, (1,2], (2,4], above
    assert h.sum == pytest.approx(116.5)


class _Feed:
    def __init__(self, behind: int) -> None:
        self._behind = behind

    def behind(self) -> int:
        return self._behind


def _app(feeds: tuple[int, ...] = (), sent: dict[str, tuple[int, int]] | None = None) -> Any:
    hub = SimpleNamespace(sent=lambda: dict(sent or {}))
    delivery = SimpleNamespace(bound=8, feeds={_Feed(n) for n in feeds})
    return SimpleNamespace(hub=hub, delivery=delivery, ws_connections=len(feeds), store=None)


@pytest.fixture
def stats(monkeypatch: pytest.MonkeyPatch) -> Stats:
    fresh = Stats()
    monkeypatch.setattr(metrics, "STATS", fresh)
    return fresh


def _samples(text: str) -> dict[str, list[Sample]]:
    out: dict[str, list[Sample]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, []).append(sample)
    return out


def _value(samples: dict[str, list[Sample]], name: str, **labels: str) -> float:
    found = [s.value for s in samples.get(name, []) if s.labels == labels]
    assert len(found) == 1, (name, labels, samples.get(name))
    return found[0]


def test_the_text_parses_and_says_what_was_counted(stats: Stats) -> None:
    stats.http("/api/v1/projects/{}", "GET", 200, 0.0004)
    stats.http("/api/v1/projects/{}", "GET", 404, 0.003)
    stats.http("unmatched", "BREW", 404, 0.0001)
    stats.ws_request("ping", 0.0002, None)
    stats.ws_request("create_project_request", 0.002, "VALIDATION_ERROR")
    stats.ws_frame("text", "text")
    stats.ws_frame(None, "replay", 5)
    stats.ws_opened += 2
    stats.closed(1000)
    stats.closed(1008)
    stats.rate_limited += 1
    stats.store("write", 3, 0.0002)
    stats.store("read", 1, 0.00005)
    app = _app(feeds=(0, 3, 20), sent={"work_item.created": (2, 5)})
    text = metrics.render(app).decode()
    s = _samples(text)
    assert _value(s, "pm_ws_connections_established_total") == 2
    assert _value(s, "pm_ws_connections_closed_total", code="1008") == 1
    assert _value(s, "pm_ws_connections_active") == 3
    assert _value(s, "pm_ws_frames_received_total", type="ping") == 1
    assert _value(s, "pm_ws_frames_received_total", type="text") == 1
    assert _value(s, "pm_ws_frames_sent_total", kind="reply", type="ping") == 1
    assert _value(s, "pm_ws_frames_sent_total", kind="replay", type="replay") == 5
    assert _value(s, "pm_ws_frames_sent_total", kind="broadcast", type="work_item.created") == 5
    assert _value(s, "pm_ws_broadcasts_total", type="work_item.created") == 2
    assert _value(s, "pm_ws_broadcast_subscribers_total", type="work_item.created") == 5
    assert _value(s, "pm_ws_rate_limit_violations_total") == 1
    assert _value(s, "pm_errors_total", edge="http", code="404") == 2
    assert _value(s, "pm_errors_total", edge="ws", code="VALIDATION_ERROR") == 1
    assert _value(s, "pm_ws_subscriber_lag_frames_max") == 20
    assert _value(s, "pm_ws_subscriber_lag_frames_sum") == 23
    assert _value(s, "pm_ws_subscribers_behind") == 1
    route = {"route": "/api/v1/projects/{}", "method": "GET"}
    assert _value(s, "pm_http_request_duration_seconds_count", **route) == 2
    assert _value(s, "pm_http_request_duration_seconds_bucket", le="0.0005", **route) == 1
    assert _value(s, "pm_http_request_duration_seconds_bucket", le="0.0025", **route) == 1
    assert _value(s, "pm_http_request_duration_seconds_bucket", le="0.005", **route) == 2
    assert _value(s, "pm_http_request_duration_seconds_bucket", le="+Inf", **route) == 2
    # an invented method is not a label value of its own
    assert _value(s, "pm_http_request_duration_seconds_count", route="unmatched", method="other")
    assert _value(s, "pm_ws_request_duration_seconds_count", type="create_project_request") == 1
    assert _value(s, "pm_store_batch_size_bucket", op="write", le="2.0") == 0
    assert _value(s, "pm_store_batch_size_bucket", op="write", le="4.0") == 1
    assert _value(s, "pm_store_seconds_count", op="read") == 1
    assert "pm_pg_pool_size" not in s  # SQLite: no pool


def test_buckets_are_cumulative_and_end_at_the_count(stats: Stats) -> None:
    for value in (0.0001, 0.002, 0.002, 0.3, 7.0):
        stats.ws_request("ping", value, None)
    s = _samples(metrics.render(_app()).decode())
    buckets = [x for x in s["pm_ws_request_duration_seconds_bucket"]]
    counts = [b.value for b in buckets]
    assert counts == sorted(counts)
    assert [b.labels["le"] for b in buckets][-1] == "+Inf"
    assert counts[-1] == _value(s, "pm_ws_request_duration_seconds_count", type="ping") == 5
    assert _value(s, "pm_ws_request_duration_seconds_sum", type="ping") == pytest.approx(7.3041)


def test_workers_snapshots_are_merged_with_a_worker_label(stats: Stats) -> None:
    stats.ws_opened = 4
    mine = metrics.snapshot(_app())
    stats.ws_opened = 9
    other = metrics.snapshot(_app(feeds=(1,)))
    now = time.time()
    made = metrics.families([("1", now, mine), ("2", now - 3, other)])
    from prometheus_client.exposition import generate_latest
    from prometheus_client.registry import Collector, CollectorRegistry

    class Fixed(Collector):
        def collect(self) -> Any:
            return made

    registry = CollectorRegistry(auto_describe=False)
    registry.register(Fixed())
    s = _samples(generate_latest(registry).decode())
    assert _value(s, "pm_ws_connections_established_total", worker="1") == 4
    assert _value(s, "pm_ws_connections_established_total", worker="2") == 9
    assert _value(s, "pm_ws_connections_active", worker="2") == 1
    assert _value(s, "pm_metrics_snapshot_age_seconds", worker="2") >= 3


def test_snapshots_survive_json(
    stats: Stats, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    stats.ws_request("ping", 0.001, None)
    monkeypatch.setattr(metrics, "_group", None)
    metrics.join_group(2, tmp_path)
    metrics.write_snapshot(_app())
    metrics.join_group(1, tmp_path)
    others = list(metrics._others())
    assert [who for who, _, _ in others] == ["2"]
    s = _samples(metrics.render(_app()).decode())
    assert _value(s, "pm_ws_frames_received_total", worker="1", type="ping") == 1
    assert _value(s, "pm_ws_frames_received_total", worker="2", type="ping") == 1
    monkeypatch.setattr(metrics, "_group", None)


def test_pm_fast_metrics_setting() -> None:
    assert read_settings({}).metrics is None  # server.metrics decides (default on)
    assert read_settings({"PM_FAST_METRICS": "0"}).metrics is False
    assert read_settings({"PM_FAST_METRICS": "1"}).metrics is True
    with pytest.raises(SettingsError, match="PM_FAST_METRICS must be 0 or 1"):
        read_settings({"PM_FAST_METRICS": "yes"})


def test_serving_modules_do_not_import_prometheus_client() -> None:
    code = (
        "import sys\n"
        "import pm_fast.cli, pm_fast.bootstrap, pm_fast.engines.front, pm_fast.engines.granian\n"
        "import pm_fast.api.rest, pm_fast.api.ws, pm_fast.metrics\n"
        "print(sorted(m for m in sys.modules if m.startswith('prometheus_client')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == "[]"
