"""The server variants the load benchmarks can start, by name: each is pm-fast on
SQLite in a temporary folder with these environment variables on top of the benchmark's
own."""

from __future__ import annotations

VARIANTS: dict[str, dict[str, str | None]] = {
    # the Rust extension, the default engine (Granian, ASGI)
    "rust": {"PM_FAST_PURE": None, "PM_FAST_ENGINE": None, "PM_FAST_METRICS": None},
    # the pure-Python twins
    "pure": {"PM_FAST_PURE": "1", "PM_FAST_ENGINE": None, "PM_FAST_METRICS": None},
    # Granian's RSGI interface instead of ASGI
    "rsgi": {"PM_FAST_PURE": None, "PM_FAST_ENGINE": "granian-rsgi", "PM_FAST_METRICS": None},
    # the Robyn engine
    "robyn": {"PM_FAST_PURE": None, "PM_FAST_ENGINE": "robyn", "PM_FAST_METRICS": None},
    # `rust` with metrics off (GET /metrics 404, no counting): the cost of metrics
    "metrics-off": {"PM_FAST_PURE": None, "PM_FAST_ENGINE": None, "PM_FAST_METRICS": "0"},
}


def variant_env(name: str) -> dict[str, str | None]:
    """The variables of variant `name`; ValueError for an unknown one."""
    try:
        return VARIANTS[name]
    except KeyError:
        raise ValueError(f"unknown server {name!r} (one of {', '.join(VARIANTS)})") from None
