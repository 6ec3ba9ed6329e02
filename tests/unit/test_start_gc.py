"""The sidecar's entry point starts without the cyclic garbage collector (start-up
time, build/pm_server_main.py); the server turns it back on once it listens, so a
long-running server collects cycles as usual. Run in a fresh interpreter."""

from __future__ import annotations

from pathlib import Path

from .fresh import run_fresh

SCRIPT = r"""
import gc, json, sys, tempfile
from pathlib import Path

gc.disable()  # as build/pm_server_main.py does
from pm_fast.boot import import_asyncio_without_ssl

import_asyncio_without_ssl()
import asyncio

from pm_fast import bootstrap, cli

seen = {}


async def main():
    pm = Path(tempfile.mkdtemp()) / ".pm"
    pm.mkdir()
    settings = bootstrap.read_settings({})
    bootstrap.start(settings)
    serving = asyncio.create_task(cli.serve(pm, {"PM_SERVER_PORT": "0"}, settings))
    port_file = pm / "server.json"
    for _ in range(500):
        if port_file.exists():
            break
        assert not serving.done(), serving.exception()
        await asyncio.sleep(0.01)
    seen["listening"] = gc.isenabled()
    import signal, os

    os.kill(os.getpid(), signal.SIGTERM)  # graceful stop
    return await serving


assert not gc.isenabled()
code = asyncio.run(main())
assert seen["listening"], "the collector is still off while serving"
print("ok", code)
"""


def test_collector_on_once_listening(tmp_path: Path) -> None:
    stdout = run_fresh(SCRIPT, tmp_path)
    assert stdout.strip().splitlines()[-1] == "ok 0", stdout
