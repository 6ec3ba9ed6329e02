"""Start-up latency: exec -> first 2xx `GET /ready`, with N busy loops running.

    .venv/bin/python build/measure_start.py [--bin build/out/pm-server] [--serve]
        [--runs 10] [--busy 2] [--interval 0.002]

Each run launches the server like the desktop shell does (no arguments, cwd = a git
repository, PM_SERVER_PORT/HOST, PM_LOG_FILE, PM_IDLE_SHUTDOWN_SECS=120,
PM_AUTH_ENABLED=false, null stdio, new session), polls `/ready` with a raw HTTP/1.1
request every --interval seconds until the first 2xx, then stops it with
POST /admin/shutdown. One unmeasured launch comes first, so every measured run is a
"later launch" (the onefile extraction cache is filled, the database exists).

--busy N starts N CPU-bound processes (`while 1: pass`) for the whole measurement, the
condition of a machine whose cores are all busy; they are killed at the end.
--serve measures `pm-fast serve` from the venv instead of the binary, --cmd any command
(e.g. the unpacked server `~/.cache/pm-fast/pm-server-*/pm-server.bin`: the same
server without the launcher, so without the listener bound before it starts).

--shell polls as the desktop shell's restart path does (spec/server.md §3.3 "Restart"):
`/ready` every 100 ms with a 5 s timeout, giving up after 3 consecutive failures; each
run then also reports how many polls failed, and the summary how many runs the shell
would have given up on.

Prints every run and the median / p90 / max in milliseconds.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
READY_TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def status(port: int, method: str, path: str, timeout: float = 1.0) -> int | None:
    """Status code of one request on a fresh connection; None if nobody answers."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(
                f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n"
                "Connection: close\r\n\r\n".encode()
            )
            head = s.recv(64)
    except OSError:
        return None
    parts = head.split(b" ", 2)
    if len(parts) < 2 or not parts[1].isdigit():
        return None
    return int(parts[1])


def launch(cmd: list[str], repo: Path, port: int) -> subprocess.Popen[bytes]:
    pm = repo / ".pm"
    (pm / "logs").mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PM_")}
    env.update(
        PM_SERVER_PORT=str(port),
        PM_SERVER_HOST="127.0.0.1",
        PM_LOG_LEVEL="info",
        PM_LOG_FILE=str(pm / "logs" / "pm-server.log"),
        PM_IDLE_SHUTDOWN_SECS="120",
        PM_AUTH_ENABLED="false",
    )
    return subprocess.Popen(
        cmd,
        cwd=repo,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def one_run(cmd: list[str], repo: Path, interval: float, timeout: float = 1.0) -> tuple[float, int]:
    """Seconds from exec to the first 2xx /ready, and the longest run of failed polls."""
    port = free_port()
    t0 = time.perf_counter()
    proc = launch(cmd, repo, port)
    failures = worst = 0
    try:
        while True:
            elapsed = time.perf_counter() - t0
            if elapsed > READY_TIMEOUT:
                raise RuntimeError(f"not ready after {READY_TIMEOUT} s")
            if proc.poll() is not None:
                raise RuntimeError(f"exited with {proc.returncode} before it was ready")
            code = status(port, "GET", "/ready", timeout)
            if code is not None and 200 <= code < 300:
                return time.perf_counter() - t0, worst
            failures += 1
            worst = max(worst, failures)
            time.sleep(interval)
    finally:
        status(port, "POST", "/admin/shutdown", timeout=5.0)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q * (len(ordered) - 1))))
    return ordered[k]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--bin", default=os.environ.get("PM_SERVER_BIN", str(ROOT / "build/out/pm-server"))
    )
    ap.add_argument("--serve", action="store_true", help="measure `pm-fast serve` (the venv)")
    ap.add_argument("--cmd", help="measure this command line instead (split on spaces)")
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--busy", type=int, default=0, help="CPU-bound processes to run meanwhile")
    ap.add_argument("--interval", type=float, default=0.002, help="poll interval, seconds")
    ap.add_argument("--shell", action="store_true", help="poll like the shell's restart path")
    args = ap.parse_args()
    if args.cmd:
        cmd = args.cmd.split()
    elif args.serve:
        cmd = [str(ROOT / ".venv/bin/pm-fast"), "serve"]
    else:
        cmd = [str(Path(args.bin).absolute())]
        if not Path(cmd[0]).is_file():
            print(f"measure_start: {cmd[0]} does not exist (run ./build/sidecar)", file=sys.stderr)
            return 1
    busy = [
        subprocess.Popen([sys.executable, "-c", "while 1: pass"], start_new_session=True)
        for _ in range(args.busy)
    ]
    try:
        with tempfile.TemporaryDirectory(prefix="pm-start-") as tmp:
            repo = Path(tmp) / "repo"
            repo.mkdir()
            subprocess.run(["git", "init", "-q", str(repo)], check=True, timeout=30)
            interval, timeout = (0.1, 5.0) if args.shell else (args.interval, 1.0)
            one_run(cmd, repo, interval, timeout)  # unmeasured: fills caches, creates the db
            results = [one_run(cmd, repo, interval, timeout) for _ in range(args.runs)]
    finally:
        for p in busy:
            p.kill()
            p.wait()
    ms = [t * 1000 for t, _ in results]
    print(f"command: {' '.join(cmd)}; busy loops: {args.busy}; runs: {args.runs}")
    print("runs (ms): " + ", ".join(f"{x:.0f}" for x in ms))
    if args.shell:
        failed = [f for _, f in results]
        print("failed polls before the first answer: " + ", ".join(map(str, failed)))
        print(f"the shell would have given up on {sum(f >= 3 for f in failed)} of {len(failed)}")
    print(
        f"median {statistics.median(ms):.0f} ms, p90 {percentile(ms, 0.9):.0f} ms,"
        f" max {max(ms):.0f} ms"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
