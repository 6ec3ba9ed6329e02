"""A SQLite server never loads OpenSSL, nor `platform` and `typing_extensions`: not
before the first `/ready` (start-up time) nor after the warm-up (resident memory).
Nothing it does needs TLS; the PostgreSQL store enables asyncio's TLS itself
(pm_fast/boot.py).

Imports show only in a fresh interpreter: the script does what `python -m pm_fast
serve` does up to serving (Granian's package as the embedded server imports it, the
store, the App) and then what the warm-up imports.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from .fresh import run_fresh

SCRIPT = r"""
import sys

from pm_fast.boot import import_asyncio_without_ssl, import_msgspec_lean

import_asyncio_without_ssl()  # first, as `python -m pm_fast` does
import_msgspec_lean()
import asyncio, tempfile
from pathlib import Path

from pm_fast import bootstrap, cli
from pm_fast.config import load_config
from pm_fast.engines.granian import AsgiApp, import_granian_core

OPENSSL = ("ssl", "_ssl", "hashlib", "_hashlib", "secrets", "uvloop")
# and two modules only msgspec would import (pm_fast/boot.py, `import_msgspec_lean`)
OPENSSL += ("platform", "typing_extensions")


def none_loaded(when):
    loaded = [m for m in OPENSSL if sys.modules.get(m) is not None]
    assert not loaded, f"{when}: {loaded} imported"


async def main():
    import_granian_core()
    import granian._granian
    none_loaded("after the imports of the embedded server")
    pm = Path(tempfile.mkdtemp()) / ".pm"
    pm.mkdir()
    settings = bootstrap.read_settings({})
    bootstrap.start(settings)
    cfg = bootstrap.load(pm, {"PM_SERVER_PORT": "0"})
    app = await bootstrap.open_app(cfg, pm, settings)
    try:
        engine = AsgiApp(app)
        none_loaded("at start-up")
        engine.warm_up()
        assert "pm_fast.api.rest" in sys.modules and "pm_fast.api.ws" in sys.modules
        none_loaded("after the warm-up")
    finally:
        await app.store.close()
    # Kept out only while msgspec was imported: importable as usual.
    import platform
    import typing_extensions

    assert platform.python_implementation() == "CPython" and typing_extensions.Required
    # Kept out only while Granian's package initialised: importable as usual.
    for name in ("uvloop", "winloop", "rloop"):
        assert name not in sys.modules, name
    print("ok")


asyncio.run(main())
"""


def test_sqlite_server_does_not_load_openssl(tmp_path: Path) -> None:
    stdout = run_fresh(SCRIPT, tmp_path)
    assert stdout.strip().endswith("ok"), stdout


def test_optional_loops_importable_after_granian(tmp_path: Path) -> None:
    if importlib.util.find_spec("uvloop") is None:
        return  # nothing to check: uvloop is not installed here
    script = (
        "from pm_fast.engines.granian import import_granian_core\n"
        "import_granian_core()\n"
        "import uvloop\n"
        "print('ok' if uvloop.new_event_loop() is not None else 'no loop')\n"
    )
    assert run_fresh(script, tmp_path).strip() == "ok"
