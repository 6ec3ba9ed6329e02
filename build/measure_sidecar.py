"""Measure the sidecar binary against `pm-fast serve` and print a markdown table.

    .venv/bin/python build/measure_sidecar.py [--bin build/out/pm-server] [--runs 5]

Both are launched like the desktop shell launches pm-server (no arguments, cwd = a git
repository, PM_SERVER_PORT/HOST, PM_LOG_FILE, PM_IDLE_SHUTDOWN_SECS=120,
PM_AUTH_ENABLED=false, null stdio, new session) and stopped with POST /admin/shutdown.

* size: the binary; for `pm-fast serve`, the installed files of pm-fast and its runtime
  dependencies (the interpreter and its standard library not counted).
* start: exec -> first 2xx `GET /ready` (polled every 10 ms). "first" is the first launch:
  for the binary with an empty extraction cache (a fresh XDG_CACHE_HOME), so it includes
  unpacking; "later" is the median of --runs further launches on the same repository.
* memory: VmRSS from /proc/<pid>/status summed over the launched process and its
  descendants (the binary execs the server: one process), idle 1 s after ready and
  after 1,000 REST requests (GET /health, POST and GET work items, 1/3 each), on a later
  launch; and idle on the first launch, which unpacks first.

Start-up with busy cores (the desktop shell gives a respawned server ~200 ms):
build/measure_start.py --busy 2.

Traffic goes to 127.0.0.1 only; every wait is bounded; every process is killed at the end.
The table is also written to build/out/measurements.md.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata as md
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
READY_TIMEOUT = 30.0
EXIT_TIMEOUT = 15.0
REQUESTS = 1000


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tree(pid: int) -> list[int]:
    """pid and all its live descendants."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_rss_mib(pid: int) -> list[float]:
    """VmRSS in MiB of pid and each descendant (the launched process first)."""
    return [rss_kib(p) / 1024 for p in tree(pid)]


class Launch:
    def __init__(self, cmd: list[str], repo: Path, cache_home: Path) -> None:
        self.cmd = " ".join(cmd)
        self.repo = repo
        self.port = free_port()
        pm = repo / ".pm"
        (pm / "logs").mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("PM_")}
        env["XDG_CACHE_HOME"] = str(cache_home)
        env.update(
            PM_SERVER_PORT=str(self.port),
            PM_SERVER_HOST="127.0.0.1",
            PM_LOG_LEVEL="info",
            PM_LOG_FILE=str(pm / "logs" / "pm-server.log"),
            PM_IDLE_SHUTDOWN_SECS="120",
            PM_AUTH_ENABLED="false",
        )
        self.t0 = time.perf_counter()
        self.proc = subprocess.Popen(
            cmd,
            cwd=repo,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.url = f"http://127.0.0.1:{self.port}"

    def wait_ready(self) -> float:
        with httpx.Client(timeout=1.0) as c:
            while time.perf_counter() - self.t0 < READY_TIMEOUT:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"{self.cmd} exited with {self.proc.returncode}")
                with contextlib.suppress(httpx.TransportError):
                    if 200 <= c.get(f"{self.url}/ready").status_code < 300:
                        return time.perf_counter() - self.t0
                time.sleep(0.01)
        raise RuntimeError(f"{self.cmd} not ready after {READY_TIMEOUT} s")

    def stop(self) -> None:
        with contextlib.suppress(httpx.TransportError), httpx.Client(timeout=5.0) as c:
            c.post(f"{self.url}/admin/shutdown")
        try:
            self.proc.wait(timeout=EXIT_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=10)


@contextlib.contextmanager
def launched(cmd: list[str], repo: Path, cache_home: Path) -> Iterator[Launch]:
    run = Launch(cmd, repo, cache_home)
    try:
        yield run
    finally:
        run.stop()
        run.kill()


def git_repo(path: Path) -> Path:
    path.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(path)], check=True, timeout=30)
    return path


def load(url: str, count: int) -> float:
    """`count` REST requests on one keep-alive connection; returns requests per second."""
    with httpx.Client(base_url=url, timeout=10.0) as c:
        key = "M" + format(int(time.time() * 1000) % 10**8, "d")
        resp = c.post("/api/v1/projects", json={"title": "measure", "key": key})
        resp.raise_for_status()
        project = resp.json()["project"]["id"]
        ids: list[str] = []
        t0 = time.perf_counter()
        for i in range(count):
            kind = i % 3
            if kind == 0:
                c.get("/health").raise_for_status()
            elif kind == 1:
                r = c.post(
                    "/api/v1/work-items",
                    json={"project_id": project, "item_type": "task", "title": f"item {i}"},
                )
                r.raise_for_status()
                ids.append(r.json()["work_item"]["id"])
            else:
                c.get(f"/api/v1/work-items/{ids[-1]}").raise_for_status()
        return count / (time.perf_counter() - t0)


@dataclass
class Result:
    first: float  # seconds to the first 2xx /ready, first launch
    later: list[float]  # the same, later launches
    first_idle: list[float]  # MiB per process of the tree, idle, first launch
    idle: list[float]  # MiB per process of the tree, idle (a later launch)
    busy: list[float]  # MiB per process, after the REST requests
    rate: float  # REST requests per second during the load

    @property
    def later_median(self) -> float:
        return statistics.median(self.later)


def measure(name: str, cmd: list[str], runs: int, work: Path) -> Result:
    print(f"measuring {name}: {' '.join(cmd)}", file=sys.stderr)
    cache_home = work / f"{name}-cache"
    cache_home.mkdir()
    repo = git_repo(work / f"{name}-repo")
    with launched(cmd, repo, cache_home) as first:
        first_ready = first.wait_ready()
        time.sleep(1.0)
        first_idle = tree_rss_mib(first.proc.pid)
    later: list[float] = []
    for _ in range(runs):
        with launched(cmd, repo, cache_home) as run:
            later.append(run.wait_ready())
    with launched(cmd, repo, cache_home) as run:
        run.wait_ready()
        time.sleep(1.0)
        idle = tree_rss_mib(run.proc.pid)
        rate = load(run.url, REQUESTS)
        busy = tree_rss_mib(run.proc.pid)
    return Result(
        first=first_ready, later=later, first_idle=first_idle, idle=idle, busy=busy, rate=rate
    )


def runtime_install_size() -> int:
    """Bytes of the installed files of pm-fast and its runtime requirements (recursive)."""
    seen: set[str] = set()
    todo = ["pm-fast"]
    total = 0
    while todo:
        name = re.sub(r"[-_.]+", "-", todo.pop()).lower()
        if name in seen:
            continue
        seen.add(name)
        try:
            dist = md.distribution(name)
        except md.PackageNotFoundError:
            continue
        for req in dist.requires or []:
            if "extra ==" in req:
                continue
            todo.append(re.split(r"[ ;<>=!~\[(]", req, maxsplit=1)[0])
        for f in dist.files or []:
            with contextlib.suppress(OSError):
                total += Path(f.locate()).stat().st_size
    # The editable install lists only its .pth: count the package directories themselves.
    for pkg in ("pm_fast", "pm_fast_ext"):
        for p in (ROOT / pkg).rglob("*"):
            parts = p.relative_to(ROOT).parts
            if p.is_file() and "target" not in parts and "__pycache__" not in parts:
                total += p.stat().st_size
    return total


def mib(n: float) -> str:
    return f"{n / 2**20:.1f} MiB"


def environment() -> str:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    versions = []
    for dist in ("nuitka", "granian", "msgspec", "aiosqlite", "protobuf"):
        with contextlib.suppress(md.PackageNotFoundError):
            versions.append(f"{dist} {md.version(dist)}")
    return (
        f"{datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}; {cpu}, {os.cpu_count()} cores; "
        f"{platform.system()} {platform.release()}; Python {platform.python_version()}; "
        + ", ".join(versions)
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--bin", default=os.environ.get("PM_SERVER_BIN", str(ROOT / "build/out/pm-server"))
    )
    ap.add_argument("--serve", default=str(ROOT / ".venv/bin/pm-fast"), help="the pm-fast script")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--out", default=str(ROOT / "build/out/measurements.md"))
    args = ap.parse_args()
    binary = Path(args.bin).absolute()
    if not binary.is_file():
        print(f"measure_sidecar: {binary} does not exist (run ./build/sidecar)", file=sys.stderr)
        return 1

    work = Path(tempfile.mkdtemp(prefix="pm-measure-"))
    try:
        b = measure("binary", [str(binary)], args.runs, work)
        s = measure("serve", [args.serve, "serve"], args.runs, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    def ms(x: float) -> str:
        return f"{x * 1000:.0f} ms"

    def rss(parts: list[float]) -> str:
        split = " + ".join(f"{p:.1f}" for p in parts)
        return f"{sum(parts):.1f} MiB" + (f" ({split})" if len(parts) > 1 else "")

    installed = runtime_install_size()
    rows = [
        ("size", f"{mib(binary.stat().st_size)} (one file)",
         f"{mib(installed)} installed (+ the Python interpreter)"),
        ("exec → first 2xx /ready, first launch",
         f"{ms(b.first)} (empty cache: unpacks the payload)", ms(s.first)),
        (f"exec → first 2xx /ready, later launches (median of {args.runs})",
         ms(b.later_median), ms(s.later_median)),
        ("RSS idle, process tree, later launch", rss(b.idle), rss(s.idle)),
        ("RSS idle, process tree, first launch", rss(b.first_idle), rss(s.first_idle)),
        (f"RSS after {REQUESTS:,} REST requests (later launch)", rss(b.busy), rss(s.busy)),
        (f"REST rate during those {REQUESTS:,} (one connection)",
         f"{b.rate:.0f} req/s", f"{s.rate:.0f} req/s"),
    ]  # fmt: skip
    lines = [
        "# pm-server sidecar binary vs `pm-fast serve`",
        "",
        f"Environment: {environment()}.",
        "",
        f"| measure | `{binary.name}` (Nuitka onefile) | `pm-fast serve` |",
        "|---|---|---|",
        *[f"| {name} | {left} | {right} |" for name, left, right in rows],
        "",
        "RSS of the binary: the launched process and its children (one process).",
        "Later launches: binary " + ", ".join(ms(x) for x in b.later)
        + "; pm-fast serve " + ", ".join(ms(x) for x in s.later) + ".",
        "",
    ]  # fmt: skip
    text = "\n".join(lines)
    print(text)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(json.dumps({"written": str(out)}), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
