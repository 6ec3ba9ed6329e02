"""Start-up, shutdown and memory of the server, side by side with the original.

    .venv/bin/python benches/load_lifecycle.py [--quick] [--json out.json]
        [--runs N] [--requests N] [--targets original,venv,sidecar]
        [--original PATH] [--sidecar PATH]

Targets, each launched like the desktop shell launches pm-server (no arguments, cwd = a
git repository, PM_SERVER_HOST/PORT, PM_LOG_FILE, PM_AUTH_ENABLED=false, null stdio, a
new session):

- ``original``: the original Rust pm-server (/work/shared/original/pm-server);
- ``venv``: pm-fast from the venv, ``.venv/bin/python -m pm_fast serve``;
- ``sidecar``: the Nuitka binary (build/out/pm-server, made by build/sidecar; its
  launcher execs the unpacked server), skipped if it does not exist.

Measured, every run interleaving the targets (so they share the machine's state):

- start-up: exec -> first 2xx ``GET /ready`` (a raw request every millisecond), on an
  existing database (one unmeasured launch first: later launches) and on a new one (a
  fresh repository each run); median and p90 of --runs each;
- shutdown: the start-up runs end with SIGINT and SIGTERM alternately; signal -> exit of
  the launched process (a pidfd, no polling), idle server;
- one longer launch per target: RSS idle (VmRSS summed over the process tree, 1 s after
  ready), after --requests REST requests, after 5 s idle, after a WebSocket burst (one
  writer creating work items, 20 subscribers, benches/load_ws.run_cell), after 5 s
  idle; then shutdown with connections open (8 idle keep-alive HTTP connections and 8
  subscribed WebSockets) by SIGTERM.

References measured in the same run, for regression checks whose absolute numbers vary
from machine to machine: the venv interpreter's ``-c pass`` and ``-c "import granian"``
(exec -> exit), and the original itself. The JSON's ``ratios`` divide pm-fast's figures
by them (names say which by which).

``--ab DIR`` adds the target ``ab``: the venv's interpreter serving the ``pm_fast`` in DIR
(PYTHONPATH; e.g. ``git archive <commit> pm_fast | tar -x -C DIR``, with
``pm_fast_ext/_native*.so`` copied beside it), for before/after comparisons in one run.

``--importtime`` instead launches the venv server N times under ``python -X importtime``
and prints the modules imported before the first 2xx ``/ready`` (those the warm-up
imports after the first answer are cut off), top 15 by their own import time (median
over the runs), with what imported them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import select
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benches"))
sys.path.insert(0, str(ROOT / "build"))

from httpload import Connection, RequestFactory, run  # noqa: E402
from measure_sidecar import free_port, tree_rss_mib  # noqa: E402

ORIGINAL = Path("/work/shared/original/pm-server")
READY_TIMEOUT = 30.0
EXIT_TIMEOUT = 20.0
SERVER_ENV = {
    "PM_LOG_LEVEL": "info",
    "PM_IDLE_SHUTDOWN_SECS": "0",
    "PM_AUTH_ENABLED": "false",
    "PM_RATE_LIMIT_MAX_REQUESTS": "10000",
    "PM_RATE_LIMIT_WINDOW_SECS": "1",
    "PM_SERVER_MAX_CONNECTIONS": "1000",
}


def ready_status(port: int) -> int | None:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0) as s:
            s.sendall(b"GET /ready HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            head = s.recv(64)
    except OSError:
        return None
    parts = head.split(b" ", 2)
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None


def rss_mib(pid: int) -> float:
    """VmRSS summed over the process tree, MiB."""
    return round(sum(tree_rss_mib(pid)), 1)


def git_repo(parent: Path, name: str) -> Path:
    repo = parent / name
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True, timeout=30)
    (repo / ".pm" / "logs").mkdir(parents=True)
    return repo


class Launch:
    def __init__(self, cmd: list[str], repo: Path, extra_env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        # PYTHONDONTWRITEBYTECODE off: the unmeasured first launch writes the bytecode
        # cache of pm_fast (an editable install), as an installed package has one.
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("PM_") and k != "PYTHONDONTWRITEBYTECODE"
        }
        env.update(SERVER_ENV)
        env.update(
            PM_SERVER_PORT=str(self.port),
            PM_SERVER_HOST="127.0.0.1",
            PM_LOG_FILE=str(repo / ".pm" / "logs" / "pm-server.log"),
        )
        env.update(extra_env or {})
        self.t0 = time.perf_counter()
        self.proc = subprocess.Popen(
            cmd,
            cwd=repo,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE if "PYTHONPROFILEIMPORTTIME" in env else subprocess.DEVNULL,
            start_new_session=True,
        )
        self.pidfd = os.pidfd_open(self.proc.pid)

    def wait_ready(self) -> float:
        """Milliseconds from exec to the first 2xx /ready."""
        while True:
            elapsed = time.perf_counter() - self.t0
            if elapsed > READY_TIMEOUT:
                raise RuntimeError(f"not ready after {READY_TIMEOUT} s")
            if self.proc.poll() is not None:
                raise RuntimeError(f"exited with {self.proc.returncode} before it was ready")
            code = ready_status(self.port)
            if code is not None and 200 <= code < 300:
                return (time.perf_counter() - self.t0) * 1000
            time.sleep(0.001)

    def stop(self, sig: signal.Signals) -> tuple[float, int]:
        """Milliseconds from sending `sig` to the process's exit, and its exit code."""
        t0 = time.perf_counter()
        os.kill(self.proc.pid, sig)
        readable, _, _ = select.select([self.pidfd], [], [], EXIT_TIMEOUT)
        elapsed = (time.perf_counter() - t0) * 1000
        if not readable:
            raise RuntimeError(f"still running {EXIT_TIMEOUT} s after {sig.name}")
        return elapsed, self.proc.wait(5)

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(10)
        with contextlib.suppress(OSError):
            os.close(self.pidfd)


@contextlib.contextmanager
def launched(cmd: list[str], repo: Path) -> Iterator[Launch]:
    env = None
    if cmd[0] == "env":  # ["env", "NAME=VALUE", interpreter, ...]: the `ab` target
        env = dict([cmd[1].split("=", 1)])
        cmd = cmd[2:]
    run_ = Launch(cmd, repo, env)
    try:
        yield run_
    finally:
        run_.kill()


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(q * (len(ordered) - 1))))]


def summary(values: list[float]) -> dict[str, Any]:
    return {
        "median": round(statistics.median(values), 1),
        "p90": round(pct(values, 0.9), 1),
        "runs": [round(v, 1) for v in values],
    }


def exec_ms(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdin=subprocess.DEVNULL, timeout=30)
    return (time.perf_counter() - t0) * 1000


# -- load ------------------------------------------------------------------------------
def rest_factory(port: int) -> RequestFactory:
    """Client 0 creates a work item every 10th request (the original allows no
    concurrent creates); every other request reads one of the first work items or
    `/health`."""
    import httpx

    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as c:
        resp = c.post("/api/v1/projects", json={"title": "Lifecycle", "key": "LIFE"})
        resp.raise_for_status()
        project = resp.json()["project"]["id"]
        for i in range(20):
            body = {"project_id": project, "item_type": "task", "title": f"seed {i}"}
            c.post("/api/v1/work-items", json=body).raise_for_status()
    create = json.dumps(
        {"project_id": project, "item_type": "task", "title": "lifecycle load"}
    ).encode()

    def factory(client: int, seq: int) -> tuple[str, str, bytes]:
        if client == 0 and seq % 10 == 9:
            return "POST", "/api/v1/work-items", create
        if seq % 2:
            return "GET", "/health", b""
        return "GET", f"/api/v1/work-items/LIFE-{1 + (seq * 7 + client) % 20}", b""

    return factory


async def rest_load(port: int, requests: int) -> dict[str, Any]:
    factory = rest_factory(port)
    result = await run("rest", "127.0.0.1", port, 2, factory, requests, 600.0, expect=200)
    return {"requests": result.requests, "rps": round(result.rps, 1)}


async def ws_burst(port: int, seconds: float) -> dict[str, Any]:
    import load_ws

    cell = await load_ws.run_cell(port, False, 1, 20, seconds)
    return {k: cell[k] for k in ("mutations", "mutations_per_s", "frames_per_s", "closed", "lost")}


async def open_connections(port: int, count: int) -> list[Any]:
    """`count` keep-alive HTTP connections (one request answered on each) and `count`
    WebSockets subscribed to a project."""
    import load_ws
    from wsfast import connect

    from pm_fast.api import pm_pb2 as pb

    conns: list[Any] = []
    for _ in range(count):
        c = Connection("127.0.0.1", port)
        await c.open()
        await c.request("GET", "/health")
        conns.append(c)
    project = load_ws.new_project(port)
    for i in range(count):
        sub = load_ws.Subscriber(keep=False)
        client = await connect("127.0.0.1", port, f"/ws?user_id=lifecycle{i}", sub.on_frames)
        client.send(load_ws.envelope("subscribe", pb.Subscribe(project_ids=[project]), "s"))
        await sub.wait_for(1, 10)
        conns.append(client)
    return conns


def memory_run(
    cmd: list[str], repo: Path, requests: int, burst: float, rest: float
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with launched(cmd, repo) as srv:
        srv.wait_ready()
        time.sleep(1.0)
        pid = srv.proc.pid
        out["rss_idle_mib"] = rss_mib(pid)
        out["rest"] = asyncio.run(rest_load(srv.port, requests))
        out["rss_after_rest_mib"] = rss_mib(pid)
        time.sleep(rest)
        out["rss_after_rest_idle_mib"] = rss_mib(pid)
        try:
            out["ws"] = asyncio.run(ws_burst(srv.port, burst))
        except Exception as exc:  # noqa: BLE001 - reported, the other figures still count
            out["ws"] = {"error": repr(exc)}
        out["rss_after_ws_mib"] = rss_mib(pid)
        time.sleep(rest)
        out["rss_after_ws_idle_mib"] = rss_mib(pid)

        async def stop_with_connections() -> tuple[float, int]:
            conns = await open_connections(srv.port, 8)
            loop = asyncio.get_running_loop()
            try:
                return await loop.run_in_executor(None, srv.stop, signal.SIGTERM)
            finally:
                for c in conns:
                    with contextlib.suppress(Exception):
                        r = c.close()
                        if asyncio.iscoroutine(r):
                            await r

        try:
            ms, code = asyncio.run(stop_with_connections())
            out["shutdown_with_connections_ms"] = round(ms, 1)
            out["shutdown_with_connections_exit"] = code
        except Exception as exc:  # noqa: BLE001
            out["shutdown_with_connections_ms"] = None
            out["shutdown_with_connections_error"] = repr(exc)
    return out


# -- the run ---------------------------------------------------------------------------
def environment() -> dict[str, str]:
    import granian

    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": f"{cpu} ({os.cpu_count()} cores)",
        "python": platform.python_version(),
        "granian": granian.__version__,
        "load_average": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def measure(
    targets: dict[str, list[str]], runs: int, requests: int, burst: float, rest: float
) -> dict[str, Any]:
    py = str(ROOT / ".venv" / "bin" / "python")
    ref_pass: list[float] = []
    ref_granian: list[float] = []
    start_existing: dict[str, list[float]] = {t: [] for t in targets}
    start_new: dict[str, list[float]] = {t: [] for t in targets}
    stops: dict[str, dict[str, list[float]]] = {t: {"SIGINT": [], "SIGTERM": []} for t in targets}
    codes: dict[str, dict[str, set[int]]] = {
        t: {"SIGINT": set(), "SIGTERM": set()} for t in targets
    }
    with tempfile.TemporaryDirectory(prefix="pm-lifecycle-") as tmp:
        base = Path(tmp)
        repos = {t: git_repo(base, f"{t}-existing") for t in targets}
        for name, cmd in targets.items():  # unmeasured: fills caches, creates the database
            with launched(cmd, repos[name]) as srv:
                srv.wait_ready()
                srv.stop(signal.SIGTERM)
        for i in range(runs):
            ref_pass.append(exec_ms([py, "-c", "pass"]))
            ref_granian.append(exec_ms([py, "-c", "import granian"]))
            sig = signal.SIGINT if i % 2 == 0 else signal.SIGTERM
            order = list(targets) if i % 2 == 0 else list(reversed(targets))
            for name in order:
                for fresh in (False, True):
                    repo = git_repo(base, f"{name}-new{i}") if fresh else repos[name]
                    with launched(targets[name], repo) as srv:
                        (start_new if fresh else start_existing)[name].append(srv.wait_ready())
                        time.sleep(0.2)  # idle: the warm-up after the first answer is done
                        ms, code = srv.stop(sig)
                        stops[name][sig.name].append(ms)
                        codes[name][sig.name].add(code)
        memory = {
            name: memory_run(cmd, git_repo(base, f"{name}-memory"), requests, burst, rest)
            for name, cmd in targets.items()
        }
    results: dict[str, Any] = {}
    for name in targets:
        results[name] = {
            "command": " ".join(targets[name]),
            "start_existing_db_ms": summary(start_existing[name]),
            "start_new_db_ms": summary(start_new[name]),
            "shutdown_sigint_ms": summary(stops[name]["SIGINT"]),
            "shutdown_sigterm_ms": summary(stops[name]["SIGTERM"]),
            "exit_codes": {k: sorted(v) for k, v in codes[name].items()},
            **memory[name],
        }
    reference = {
        "python_pass_ms": summary(ref_pass),
        "python_import_granian_ms": summary(ref_granian),
    }
    return {"results": results, "reference": reference, "ratios": ratios(results, reference)}


def ratios(results: dict[str, Any], reference: dict[str, Any]) -> dict[str, float]:
    """pm-fast's figures divided by a reference measured in the same run."""
    out: dict[str, float] = {}
    granian_ms = reference["python_import_granian_ms"]["median"]
    orig = results.get("original")
    for name in ("venv", "sidecar"):
        r = results.get(name)
        if r is None:
            continue
        start = r["start_existing_db_ms"]["median"]
        out[f"{name}_start_existing_vs_python_import_granian"] = round(start / granian_ms, 2)
        idle = r["rss_idle_mib"]
        out[f"{name}_rss_after_rest_vs_idle"] = round(r["rss_after_rest_mib"] / idle, 2)
        out[f"{name}_rss_after_rest_idle_vs_idle"] = round(r["rss_after_rest_idle_mib"] / idle, 2)
        out[f"{name}_rss_after_ws_vs_idle"] = round(r["rss_after_ws_mib"] / idle, 2)
        out[f"{name}_rss_after_ws_idle_vs_idle"] = round(r["rss_after_ws_idle_mib"] / idle, 2)
        if orig is None:
            continue
        for key in ("start_existing_db_ms", "start_new_db_ms", "shutdown_sigint_ms"):
            out[f"{name}_{key[:-3]}_vs_original"] = round(r[key]["median"] / orig[key]["median"], 2)
        out[f"{name}_shutdown_sigterm_vs_original"] = round(
            r["shutdown_sigterm_ms"]["median"] / orig["shutdown_sigterm_ms"]["median"], 2
        )
        out[f"{name}_rss_idle_vs_original"] = round(idle / orig["rss_idle_mib"], 2)
    return out


def markdown(data: dict[str, Any]) -> list[str]:
    res = data["results"]
    names = list(res)
    ref = data["reference"]

    def row(label: str, get: Any) -> str:
        cells = []
        for n in names:
            try:
                cells.append(str(get(res[n])))
            except (KeyError, TypeError):
                cells.append("—")
        return f"| {label} | " + " | ".join(cells) + " |"

    def mp(key: str) -> Any:
        return lambda r: f"{r[key]['median']} / {r[key]['p90']}"

    lines = [
        "| measure | " + " | ".join(f"`{n}`" for n in names) + " |",
        "|---|" + "---:|" * len(names),
        row("exec → first 2xx /ready, existing db, median / p90 ms", mp("start_existing_db_ms")),
        row("exec → first 2xx /ready, new db, median / p90 ms", mp("start_new_db_ms")),
        row("SIGINT → exit (idle), median / p90 ms", mp("shutdown_sigint_ms")),
        row("SIGTERM → exit (idle), median / p90 ms", mp("shutdown_sigterm_ms")),
        row(
            "SIGTERM → exit, 8 HTTP + 8 WebSocket connections open, ms",
            lambda r: r["shutdown_with_connections_ms"],
        ),
        row("RSS idle (process tree), MiB", lambda r: r["rss_idle_mib"]),
        row(
            "RSS after the REST requests / +5 s idle, MiB",
            lambda r: f"{r['rss_after_rest_mib']} / {r['rss_after_rest_idle_mib']}",
        ),
        row(
            "RSS after the WebSocket burst / +5 s idle, MiB",
            lambda r: f"{r['rss_after_ws_mib']} / {r['rss_after_ws_idle_mib']}",
        ),
        row("REST requests (req/s)", lambda r: f"{r['rest']['requests']} ({r['rest']['rps']})"),
        row(
            "WebSocket burst: mutations, frames/s",
            lambda r: f"{r['ws']['mutations']}, {r['ws']['frames_per_s']}",
        ),
        "",
        f"References (same run): venv `python -c pass` {ref['python_pass_ms']['median']} ms,"
        f' `python -c "import granian"` {ref["python_import_granian_ms"]["median"]} ms'
        " (exec → exit, median).",
        "",
        "Ratios: " + ", ".join(f"{k} {v}" for k, v in data["ratios"].items()) + ".",
    ]
    return lines


# -- importtime ------------------------------------------------------------------------
def parse_importtime(text: str) -> list[tuple[str, int, int, list[str]]]:
    """(module, self µs, cumulative µs, importers) of each import before the warm-up."""
    rows: list[tuple[int, int, int, str]] = []
    for line in text.splitlines():
        if not line.startswith("import time:") or "|" not in line or "self [us]" in line:
            continue
        raw_own, raw_cum, name = line[len("import time:") :].split("|")
        module = name.strip()
        if module == "pm_fast.api.rest":  # the warm-up's first import: after /ready
            break
        depth = (len(name) - len(name.lstrip()) - 1) // 2
        rows.append((int(raw_own), int(raw_cum), depth, module))
    out: list[tuple[str, int, int, list[str]]] = []
    for i, (own, cum, depth, module) in enumerate(rows):
        chain: list[str] = []
        d = depth
        for _, _, d2, m2 in rows[i + 1 :]:  # importers are printed after what they import
            if d2 < d:
                chain.append(m2)
                d = d2
        out.append((module, own, cum, chain))
    return out


def importtime(runs: int) -> dict[str, Any]:
    cmd = [str(ROOT / ".venv" / "bin" / "python"), "-m", "pm_fast", "serve"]
    per: dict[str, list[tuple[int, int]]] = {}
    chains: dict[str, list[str]] = {}
    totals: list[float] = []
    counts: list[int] = []
    with tempfile.TemporaryDirectory(prefix="pm-importtime-") as tmp:
        repo = git_repo(Path(tmp), "repo")
        for i in range(runs + 1):  # the first writes the bytecode cache and the database
            srv = Launch(cmd, repo, {"PYTHONPROFILEIMPORTTIME": "1"})
            try:
                srv.wait_ready()
            finally:
                srv.kill()
            assert srv.proc.stderr is not None
            rows = parse_importtime(srv.proc.stderr.read().decode())
            srv.proc.stderr.close()
            if i == 0:
                continue
            totals.append(sum(own for _, own, _, _ in rows) / 1000)
            counts.append(len(rows))
            for module, own, cum, chain in rows:
                per.setdefault(module, []).append((own, cum))
                chains[module] = chain
    top = sorted(per, key=lambda m: -statistics.median(o for o, _ in per[m]))
    return {
        "runs": runs,
        "modules_before_ready": int(statistics.median(counts)),
        "import_ms_before_ready": round(statistics.median(totals), 1),
        "top": [
            {
                "module": m,
                "self_ms": round(statistics.median(o for o, _ in per[m]) / 1000, 2),
                "cumulative_ms": round(statistics.median(c for _, c in per[m]) / 1000, 2),
                "imported_by": " <- ".join(chains[m][:4]),
            }
            for m in top[:15]
        ],
    }


def importtime_markdown(data: dict[str, Any]) -> list[str]:
    lines = [
        f"{data['modules_before_ready']} modules imported before the first /ready,"
        f" {data['import_ms_before_ready']} ms of import time (sum of self times, median of"
        f" {data['runs']} launches).",
        "",
        "| module | self ms | cumulative ms | imported by |",
        "|---|---:|---:|---|",
    ]
    for t in data["top"]:
        lines.append(
            f"| `{t['module']}` | {t['self_ms']} | {t['cumulative_ms']} | {t['imported_by']} |"
        )
    return lines


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="a short run (CI)")
    ap.add_argument("--json", help="write the results here")
    ap.add_argument("--runs", type=int, help="start-up runs per target (default 15, quick 5)")
    ap.add_argument("--requests", type=int, help="REST requests (default 100000, quick 3000)")
    ap.add_argument("--targets", default="original,venv,sidecar")
    ap.add_argument("--original", default=str(ORIGINAL))
    ap.add_argument("--sidecar", default=str(ROOT / "build" / "out" / "pm-server"))
    ap.add_argument("--ab", help="also serve the pm_fast package in this folder (target `ab`)")
    ap.add_argument("--importtime", action="store_true", help="import times before /ready")
    args = ap.parse_args()
    runs = args.runs or (5 if args.quick else 15)
    if args.importtime:
        imports = importtime(runs)
        print("\n".join(importtime_markdown(imports)))
        if args.json:
            Path(args.json).write_text(json.dumps(imports, indent=2) + "\n")
        return 0
    requests = args.requests or (3000 if args.quick else 100_000)
    burst, rest = (2.0, 5.0) if args.quick else (5.0, 5.0)
    commands = {
        "original": [args.original],
        "venv": [str(ROOT / ".venv" / "bin" / "python"), "-m", "pm_fast", "serve"],
        "sidecar": [str(Path(args.sidecar).absolute())],
    }
    targets: dict[str, list[str]] = {}
    for name in args.targets.split(","):
        if name not in commands:
            ap.error(f"unknown target {name!r}")
        if name != "venv" and not Path(commands[name][0]).is_file():
            print(
                f"load_lifecycle: {name}: {commands[name][0]} does not exist, skipped",
                file=sys.stderr,
            )
            continue
        targets[name] = commands[name]
    if args.ab:
        py = str(ROOT / ".venv" / "bin" / "python")
        ab = str(Path(args.ab).absolute())
        targets["ab"] = ["env", f"PYTHONPATH={ab}", py, "-m", "pm_fast", "serve"]
    data = {
        "env": environment(),
        "runs": runs,
        "requests": requests,
        **measure(targets, runs, requests, burst, rest),
    }
    print("\n".join(markdown(data)))
    if args.json:
        Path(args.json).write_text(json.dumps(data, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
