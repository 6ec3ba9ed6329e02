"""Process life cycle: the `.pm/server.json` port file, signals, idle shutdown."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import time
from datetime import UTC, datetime
from pathlib import Path

from .app import COMPAT_VERSION, App

log = logging.getLogger("pm_fast")

PORT_FILE = "server.json"


def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    # A killed process whose parent has not reaped it yet still answers kill(pid, 0).
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True  # no /proc (macOS, Windows): kill() answered, so it lives
    return state != "Z"


def launched_pid() -> int:
    """The pid whoever started this server knows it by.

    The sidecar binary is a Nuitka onefile executable: the process the desktop shell
    spawns is a bootstrap that runs this server as its child and passes its own pid in
    NUITKA_ONEFILE_PARENT. The port file names the bootstrap, as the original names the
    process the shell started: it lives exactly as long as the server (the server dies
    with it, and it exits when the server does), so `kill(pid, 0)` liveness checks by the
    `pm` CLI and by a second server hold, and a signal sent to that pid reaches the
    server (SIGINT/SIGTERM are forwarded). Without a bootstrap: our own pid.
    """
    parent = os.environ.get("NUITKA_ONEFILE_PARENT", "")
    if parent.isdigit() and int(parent) == os.getppid():
        return int(parent)
    return os.getpid()


class PortFile:
    """Writes the port file after binding and removes it on exit, if it is ours."""

    def __init__(self, pm_dir: Path) -> None:
        self.path = pm_dir / PORT_FILE
        self.owned = False
        self.pid = launched_pid()

    def write(self, host: str, port: int) -> bool:
        if self.path.exists():
            other = _read_pid(self.path)
            if other is not None and other != self.pid and pid_alive(other):
                log.warning(
                    "port file %s belongs to running process %d; not overwriting it"
                    " (this server keeps running on port %d without a port file)",
                    self.path,
                    other,
                    port,
                )
                return False
            log.info("removing stale port file %s", self.path)
            self.path.unlink(missing_ok=True)
        info = {
            "pid": self.pid,
            "port": port,
            "host": host,
            "started_at": datetime.now(UTC).isoformat(timespec="microseconds"),
            "version": COMPAT_VERSION,
        }
        # Owner-only from the start (written to a fresh temporary file, then renamed), as
        # every file pm-fast keeps in <pm> (docs/compat.md).
        tmp = self.path.with_suffix(".json.tmp")
        tmp.unlink(missing_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(json.dumps(info, indent=2) + "\n")
        os.replace(tmp, self.path)
        self.owned = True
        return True

    def remove(self) -> None:
        if not self.owned:
            return
        try:
            if _read_pid(self.path) == self.pid:
                self.path.unlink()
        except OSError as err:
            log.warning("could not remove port file %s: %s", self.path, err)
        self.owned = False


def _read_pid(path: Path) -> int | None:
    try:
        pid = json.loads(path.read_text()).get("pid")
    except (OSError, ValueError, AttributeError):
        return None
    return pid if isinstance(pid, int) else None


def install_signal_handlers(app: App) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, _on_signal, app, sig)


def _on_signal(app: App, sig: signal.Signals) -> None:
    log.info("received %s, shutting down", sig.name)
    app.shutdown.set()


async def idle_monitor(app: App, idle_secs: int) -> None:
    """Shut down after two quiet samples in a row (spec §3.1 timing).

    Quiet means no WebSocket connection and no `/api/v1` request since the previous
    sample. Health, readiness and admin requests never count: the desktop shell polls
    `/ready` every 5 s. (The original counts WebSocket connections only; pm-fast also
    counts REST API use, docs/compat.md.)
    """
    grace = min(idle_secs, 60)
    interval = max(idle_secs / 2, 10)
    await asyncio.sleep(grace)
    quiet = 0
    while not app.shutdown.is_set():
        sample_start = time.monotonic()
        idle = app.ws_connections == 0 and sample_start - app.last_activity >= interval
        quiet = quiet + 1 if idle else 0
        if quiet >= 2:
            log.info("no activity for %ss, shutting down", int(sample_start - app.last_activity))
            app.shutdown.set()
            return
        await asyncio.sleep(interval)
