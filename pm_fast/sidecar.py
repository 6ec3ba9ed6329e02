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


class PortFile:
    """Writes the port file after binding and removes it on exit, if it is ours."""

    def __init__(self, pm_dir: Path) -> None:
        self.path = pm_dir / PORT_FILE
        self.owned = False

    def write(self, host: str, port: int) -> bool:
        if self.path.exists():
            other = _read_pid(self.path)
            if other is not None and other != os.getpid() and pid_alive(other):
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
            "pid": os.getpid(),
            "port": port,
            "host": host,
            "started_at": datetime.now(UTC).isoformat(timespec="microseconds"),
            "version": COMPAT_VERSION,
        }
        tmp = self.path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(info, indent=2) + "\n")
        os.replace(tmp, self.path)
        self.owned = True
        return True

    def remove(self) -> None:
        if not self.owned:
            return
        try:
            if _read_pid(self.path) == os.getpid():
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

    Quiet means no WebSocket connection and no HTTP request since the previous sample
    (the original counted WebSocket connections only; docs/compat.md).
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
