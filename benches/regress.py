"""Regression checks of build/bench: ratios measured in the same run against thresholds.

    .venv/bin/python benches/regress.py benches/thresholds.toml \\
        load_reads=R.json load_ws=W.json micro=M.json

Every check in the thresholds file is a ratio of two figures measured in the same run
(pm-fast against a bare-engine floor started beside it, the Rust extension against its
Python twin), never an absolute time, so a slower or busier machine moves both sides.
A check whose source file was not given (or lacks the cell) is reported and skipped.
Exit status 1 when a ratio is below its `min` or above its `max` (a check has one or
both: `max` for figures where lower is better, such as memory growth).

Kinds of check (the keys each needs):

- `load_reads` (benches/load_reads.py JSON): `request`, `connections`, `ratio` (a key of
  its `ratios` rows, e.g. `vs_floor-asgi_rps`);
- `load_ws` (benches/load_ws.py JSON): `writers`, `subscribers`, `server`, `baseline`:
  server's frames/s / baseline's;
- `micro` (pytest-benchmark JSON): `group`: the twin's median / the Rust median;
- `load_rest` (benches/load_rest.py JSON): `request`, `clients`, `server`, `over`:
  server's req/s / the other's;
- `load_lifecycle` (benches/load_lifecycle.py JSON): `ratio` (a key of its `ratios`,
  e.g. `venv_rss_after_rest_vs_idle`).
"""

from __future__ import annotations

import json
import sys
import tomllib
from pathlib import Path
from typing import Any


def value(kind: str, data: dict[str, Any], check: dict[str, Any]) -> float | None:
    """The check's ratio in `data`, or None when the run did not measure it."""
    if kind == "load_reads":
        for row in data.get("ratios", []):
            if row["request"] == check["request"] and row["connections"] == check["connections"]:
                v = row.get(check["ratio"])
                return float(v) if v is not None else None
        return None
    if kind == "load_ws":
        cell = (check["writers"], check["subscribers"])
        by = {
            r["server"]: r["frames_per_s"]
            for r in data.get("results", [])
            if (r["writers"], r["subscribers"]) == cell
        }
        ours, base = by.get(check["server"]), by.get(check["baseline"])
        return ours / base if ours is not None and base else None
    if kind == "micro":
        medians = {
            b.get("param") or b["name"]: b["stats"]["median"]
            for b in data.get("benchmarks", [])
            if b.get("group") == check["group"]
        }
        rust, twin = medians.get("rust"), medians.get("python")
        return twin / rust if rust and twin else None
    if kind == "load_rest":
        by = {
            r.get("server", "rust"): r["rps"]
            for r in data.get("results", [])
            if r["name"] == check["request"] and r["clients"] == check["clients"]
        }
        ours, other = by.get(check["server"]), by.get(check["over"])
        return ours / other if ours is not None and other else None
    if kind == "load_lifecycle":
        v = data.get("ratios", {}).get(check["ratio"])
        return float(v) if v is not None else None
    raise ValueError(f"unknown kind of check {kind!r}")


def run(thresholds: Path, sources: dict[str, Path]) -> int:
    checks = tomllib.loads(thresholds.read_text())["check"]
    failed = 0
    loaded: dict[str, dict[str, Any]] = {}
    for check in checks:
        kind = check["kind"]
        low, high = check.get("min"), check.get("max")
        bounds = [f"min {low}"] if low is not None else []
        bounds += [f"max {high}"] if high is not None else []
        label = f"{check['name']} ({', '.join(bounds)})"
        if kind not in sources:
            print(f"regress: skipped  {label}: no {kind} results given", file=sys.stderr)
            continue
        if kind not in loaded:
            loaded[kind] = json.loads(sources[kind].read_text())
        v = value(kind, loaded[kind], check)
        if v is None:
            print(f"regress: skipped  {label}: not in {sources[kind]}", file=sys.stderr)
        elif (low is not None and v < low) or (high is not None and v > high):
            failed += 1
            print(f"regress: FAILED   {label}: {v:.3f}", file=sys.stderr)
        else:
            print(f"regress: ok       {label}: {v:.3f}", file=sys.stderr)
    return 1 if failed else 0


def main() -> int:
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    sources = {}
    for arg in sys.argv[2:]:
        kind, _, path = arg.partition("=")
        if Path(path).is_file():
            sources[kind] = Path(path)
    return run(Path(sys.argv[1]), sources)


if __name__ == "__main__":
    raise SystemExit(main())
