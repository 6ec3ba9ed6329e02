"""REST reads (and creates) against the original pm-server and the bare-engine floor.

    .venv/bin/python benches/load_reads.py [--quick] [--rounds R] [--json out.json]
        [--markdown out.md] [--servers pm-fast,original,floor-asgi,floor-rsgi]
        [--connections 1,16,64] [--seconds S] [--ab DIR]

The load comes from `benches/rload` (Rust, one thread, nonblocking keep-alive HTTP/1.1
connections over loopback, closed loop; built by build/bench or here with `cargo build
--release`), so the numbers are the servers', not a Python client's. For 1, 16 and 64
connections, every cell runs on every server in turn (the order rotates each round) and
the table shows the medians of the rounds:

- `get`: `GET /api/v1/work-items/{id}` of one existing work item, S seconds per cell
  after a warm-up, on one long-lived process per server;
- `create`: `POST /api/v1/work-items` into a fresh project, on a fresh process per cell
  for pm-fast and the original (the original's per-create cost grows with the project,
  and concurrent creates can open its circuit breaker for good; its README).

Servers: `pm-fast` (default engine, Rust extension, SQLite in a temporary folder), the
original `pm-server` (`$PM_FAST_ORIGINAL_DIR` or `<repo>/../shared/original`; skipped
with a message when absent), and the floor: `benches/baseline_rsgi.py` answering every
GET with the bytes of pm-fast's own GET response (and every POST, after reading it, with
the bytes of a pm-fast create response), through Granian's ASGI interface as pm-fast
serves (`floor-asgi`) or RSGI (`floor-rsgi`, not in the default set). Ratios:
pm-fast / original (req/s, and p99) and pm-fast / floor-asgi (req/s).

`--ab DIR` adds the server `pm-fast-ab`: the venv's interpreter serving the `pm_fast`
package in DIR (PYTHONPATH; e.g. `git archive main pm_fast | tar -x -C DIR`), measured
in the same rotation, for before/after comparisons in one run.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benches"))

from load_rest import environment  # noqa: E402
from load_ws import Baseline  # noqa: E402
from variants import variant_env  # noqa: E402

from tests.blackbox.original import OriginalServer, find_binary  # noqa: E402
from tests.harness import ServerProcess  # noqa: E402

RLOAD_DIR = ROOT / "benches" / "rload"
RLOAD = RLOAD_DIR / "target" / "release" / "rload"
PM_FAST_ENV = {"PM_LOG_LEVEL": "warn", **variant_env("rust")}
FLOORS = {"floor-asgi": "asgi", "floor-rsgi": "rsgi"}
ITEM = {"item_type": "task", "title": "load test task", "description": "benches/load_reads.py"}


def build_rload() -> Path:
    """The load client, compiled if needed (cargo's incremental check is a no-op)."""
    subprocess.run(
        [
            "cargo",
            "build",
            "--release",
            "--quiet",
            "--manifest-path",
            str(RLOAD_DIR / "Cargo.toml"),
        ],
        check=True,
    )
    return RLOAD


def rload(port: int, connections: int, seconds: float, warmup: float, **kw: str) -> dict[str, Any]:
    """One measured cell: rload's JSON. `kw`: method, path, body_file."""
    argv = [str(RLOAD), "--port", str(port), "--connections", str(connections)]
    argv += ["--seconds", str(seconds), "--warmup", str(warmup)]
    for k, v in kw.items():
        argv += ["--" + k.replace("_", "-"), v]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
    if out.returncode != 0:
        raise RuntimeError(f"rload failed ({out.returncode}): {out.stderr.strip()}")
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def new_project(port: int, key: str) -> str:
    import httpx

    with httpx.Client(base_url=f"http://127.0.0.1:{port}", trust_env=False, timeout=30) as c:
        r = c.post("/api/v1/projects", json={"title": "Load", "key": key})
        r.raise_for_status()
        project_id: str = r.json()["project"]["id"]
        return project_id


def create_item(port: int, project_id: str) -> bytes:
    """Creates one work item; the response's bytes."""
    import httpx

    with httpx.Client(base_url=f"http://127.0.0.1:{port}", trust_env=False, timeout=30) as c:
        r = c.post("/api/v1/work-items", json={"project_id": project_id, **ITEM})
        r.raise_for_status()
        return r.content


# The folder whose `pm_fast` the server `pm-fast-ab` serves (`--ab`).
AB_DIR: Path | None = None


def ab_python(folder: Path) -> Path:
    """An interpreter wrapper that puts `folder` first on PYTHONPATH (the harness puts
    this tree on it, after whatever it is given, so the variable alone would not do)."""
    wrapper = Path(tempfile.mkdtemp(prefix="pmfast-ab-")) / "python"
    wrapper.write_text(f'#!/bin/sh\nPYTHONPATH="{folder}:$PYTHONPATH" exec {sys.executable} "$@"\n')
    wrapper.chmod(0o755)
    return wrapper


def server(name: str) -> ServerProcess:
    """Not started yet: `with` starts it and stops it."""
    if name == "original":
        limits = {"PM_RATE_LIMIT_MAX_REQUESTS": "10000", "PM_RATE_LIMIT_WINDOW_SECS": "1"}
        return OriginalServer(env=limits)
    if name == "pm-fast-ab":
        assert AB_DIR is not None
        return ServerProcess(env=PM_FAST_ENV, python=str(ab_python(AB_DIR)))
    return ServerProcess(env=PM_FAST_ENV)


def rotate(names: list[str], k: int) -> list[str]:
    k %= len(names)
    return names[k:] + names[:k]


def measure(
    names: list[str],
    counts: tuple[int, ...],
    rounds: int,
    create_rounds: int,
    seconds: float,
    warmup: float,
    tmp: Path,
) -> list[dict[str, Any]]:
    raw: list[dict[str, Any]] = []
    with contextlib.ExitStack() as stack:
        servers = {n: stack.enter_context(server(n)) for n in names if n not in FLOORS}
        paths: dict[str, str] = {}
        for n, srv in servers.items():
            project = new_project(srv.port, "READ")
            item = json.loads(create_item(srv.port, project))
            paths[n] = f"/api/v1/work-items/{item['work_item']['id']}"
        # The floor answers with pm-fast's own bytes for the same requests.
        import httpx

        pm = servers["pm-fast"]
        (tmp / "get.json").write_bytes(httpx.get(pm.url + paths["pm-fast"]).content)
        (tmp / "post.json").write_bytes(create_item(pm.port, new_project(pm.port, "FLOOR")))
        ports = {n: s.port for n, s in servers.items()}
        for n in names:
            if n in FLOORS:
                files = [f"get={tmp / 'get.json'}", f"post={tmp / 'post.json'}"]
                ports[n] = stack.enter_context(Baseline(FLOORS[n], args=files)).port
                paths[n] = paths["pm-fast"]
        for rnd in range(rounds):
            for c in counts:
                for n in rotate(names, rnd):
                    r = rload(ports[n], c, seconds, warmup, method="GET", path=paths[n])
                    raw.append({"server": n, "request": "get", "round": rnd, **r})
                    print(f"get    {c:3d} {n:12s} {r['rps']:9.1f} req/s", file=sys.stderr)
        for rnd in range(create_rounds):
            for c in counts:
                for n in rotate(names, rnd):
                    raw.append(
                        {
                            "server": n,
                            "request": "create",
                            "round": rnd,
                            **create_cell(n, ports.get(n), c, seconds, warmup, tmp),
                        }
                    )
                    print(f"create {c:3d} {n:12s} {raw[-1]['rps']:9.1f} req/s", file=sys.stderr)
    return raw


def create_cell(
    name: str, floor_port: int | None, c: int, seconds: float, warmup: float, tmp: Path
) -> dict[str, Any]:
    body = tmp / f"create-{name}.json"
    if name in FLOORS:
        assert floor_port is not None
        body.write_text(json.dumps({"project_id": "00000000-0000-0000-0000-000000000000", **ITEM}))
        return rload(
            floor_port,
            c,
            seconds,
            warmup,
            method="POST",
            path="/api/v1/work-items",
            body_file=str(body),
        )
    with server(name) as srv:
        body.write_text(json.dumps({"project_id": new_project(srv.port, "LOAD"), **ITEM}))
        return rload(
            srv.port,
            c,
            seconds,
            warmup,
            method="POST",
            path="/api/v1/work-items",
            body_file=str(body),
        )


def medians(raw: list[dict[str, Any]]) -> list[dict[str, Any]]:
    groups: dict[tuple[str, str, int], list[dict[str, Any]]] = {}
    for r in raw:
        groups.setdefault((r["request"], r["server"], r["connections"]), []).append(r)
    rows = []
    for (request, server, conns), same in groups.items():
        row: dict[str, Any] = {"request": request, "server": server, "connections": conns}
        for key in ("rps", "p50_ms", "p99_ms", "max_ms"):
            row[key] = round(statistics.median(r[key] for r in same), 3)
        # answered with a 2xx per second (the original fails many concurrent creates)
        ok = [r["rps"] * (1 - r["non_2xx"] / r["requests"]) if r["requests"] else 0.0 for r in same]
        row["ok_rps"] = round(statistics.median(ok), 3)
        row["requests"] = sum(r["requests"] for r in same)
        row["non_2xx"] = sum(r["non_2xx"] for r in same)
        row["errors"] = sum(r["errors"] for r in same)
        row["rounds"] = len(same)
        rows.append(row)
    return rows


def ratios(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """pm-fast / original (2xx answers per second, and p99) and pm-fast / each floor
    (req/s) per cell."""
    by = {(r["request"], r["server"], r["connections"]): r for r in rows}
    out = []
    for request, conns in dict.fromkeys((r["request"], r["connections"]) for r in rows):
        ours = by.get((request, "pm-fast", conns))
        if ours is None:
            continue
        row: dict[str, Any] = {"request": request, "connections": conns}
        orig = by.get((request, "original", conns))
        if orig and orig["ok_rps"]:
            row["vs_original_rps"] = round(ours["ok_rps"] / orig["ok_rps"], 3)
            row["vs_original_p99"] = (
                round(ours["p99_ms"] / orig["p99_ms"], 3) if orig["p99_ms"] else None
            )
        for floor in FLOORS:
            f = by.get((request, floor, conns))
            if f and f["rps"]:
                row[f"vs_{floor}_rps"] = round(ours["rps"] / f["rps"], 3)
        out.append(row)
    return out


def table(rows: list[dict[str, Any]]) -> list[str]:
    servers = list(dict.fromkeys(r["server"] for r in rows))
    by = {(r["request"], r["server"], r["connections"]): r for r in rows}
    head = "| request | conns |"
    rule = "|---|---:|"
    for s in servers:
        head += f" {s} req/s | {s} p50 / p99 ms |"
        rule += "---:|---:|"
    extra = [
        ("original", "vs_original_rps", "pm-fast / original 2xx/s"),
        ("original", "vs_original_p99", "pm-fast / original p99"),
    ]
    extra += [(f, f"vs_{f}_rps", f"pm-fast / {f} req/s") for f in FLOORS]
    extra = [e for e in extra if e[0] in servers]
    for _, _, title in extra:
        head += f" {title} |"
        rule += "---:|"
    lines = [head, rule]
    rat = {(r["request"], r["connections"]): r for r in ratios(rows)}
    for request, conns in dict.fromkeys((r["request"], r["connections"]) for r in rows):
        line = f"| {request} | {conns} |"
        for s in servers:
            r = by.get((request, s, conns))
            if r is None:
                line += " | |"
                continue
            bad = f" ({r['non_2xx']} non-2xx)" if r["non_2xx"] else ""
            bad += f" ({r['errors']} failed)" if r["errors"] else ""
            line += f" {r['rps']:,.0f}{bad} | {r['p50_ms']:.2f} / {r['p99_ms']:.2f} |"
        for _, key, _ in extra:
            v = rat.get((request, conns), {}).get(key)
            line += f" {v:.2f} |" if v is not None else " — |"
        lines.append(line)
    return lines


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="short cells (CI)")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--markdown", type=Path)
    parser.add_argument("--servers", default="pm-fast,original,floor-asgi")
    parser.add_argument("--connections", default="1,16,64")
    parser.add_argument("--rounds", type=int, help="rounds (medians); default 3")
    parser.add_argument("--create-rounds", type=int, help="default: --rounds, 1 with --quick")
    parser.add_argument("--seconds", type=float, help="per cell (default 5, 1 with --quick)")
    parser.add_argument("--ab", type=Path, help="also serve the pm_fast package in DIR")
    args = parser.parse_args()
    names = [n for n in args.servers.split(",") if n]
    if args.ab is not None:
        global AB_DIR
        AB_DIR = args.ab.absolute()
        names.insert(names.index("pm-fast") + 1 if "pm-fast" in names else 0, "pm-fast-ab")
    if "pm-fast" not in names:
        parser.error("--servers must include pm-fast (the floor serves its bytes)")
    if "original" in names and find_binary("pm-server") is None:
        print(
            "load_reads: the original pm-server not found (PM_FAST_ORIGINAL_DIR or"
            " ../shared/original): measured without it",
            file=sys.stderr,
        )
        names.remove("original")
    counts = tuple(int(c) for c in args.connections.split(",") if c)
    rounds = args.rounds or 3
    create_rounds = (
        args.create_rounds if args.create_rounds is not None else (1 if args.quick else rounds)
    )
    seconds = args.seconds or (1.0 if args.quick else 5.0)
    warmup = 0.3 if args.quick else 1.0
    build_rload()
    env = environment()
    with tempfile.TemporaryDirectory(prefix="pmfast-reads-") as tmp:
        raw = measure(names, counts, rounds, create_rounds, seconds, warmup, Path(tmp))
    rows = medians(raw)
    text = "\n".join(
        [
            "## REST reads vs the original and the floor (benches/load_reads.py)",
            "",
            f"{env['date']} · {env['cpu']} · Python {env['python']} · granian {env['granian']}"
            f" · {seconds:g} s per cell, medians of {rounds} rounds (create: {create_rounds})",
            "",
            *table(rows),
        ]
    )
    print(text)
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "env": env,
                    "seconds": seconds,
                    "rounds": rounds,
                    "create_rounds": create_rounds,
                    "results": rows,
                    "ratios": ratios(rows),
                    "raw": raw,
                },
                indent=2,
            )
        )
    if args.markdown:
        args.markdown.write_text(text + "\n")
    # pm-fast must answer every request; the original's failed creates are its own trait
    failed = [r for r in rows if r["server"] != "original" and (r["non_2xx"] or r["errors"])]
    for r in failed:
        print(
            f"load_reads: {r['server']} {r['request']} x{r['connections']}: "
            f"{r['non_2xx']} non-2xx, {r['errors']} failed",
            file=sys.stderr,
        )
    return 1 if failed else 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    raise SystemExit(main())
