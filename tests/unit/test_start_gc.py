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


def test_python_m_pm_fast_serves_like_the_sidecar_and_migrate_collects(tmp_path: Path) -> None:
    """`python -m pm_fast` starts without the collector too (pm_fast/__main__.py); a
    command other than `serve` turns it back on before it does anything."""
    main_py = (Path(__file__).parents[2] / "pm_fast" / "__main__.py").read_text()
    assert main_py.index("gc.disable()") < main_py.index("from .cli import")
    script = r"""
import gc
gc.disable()  # as pm_fast/__main__.py does
from pm_fast import cli, migrate
seen = []
migrate.main = lambda args: seen.append(gc.isenabled()) or 0
assert cli.main(["migrate", "x"]) == 0 and seen == [True], seen
print("ok")
"""
    assert run_fresh(script, tmp_path).strip().splitlines()[-1] == "ok"
