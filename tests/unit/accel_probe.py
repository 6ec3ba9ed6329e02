"""Run a snippet in a fresh interpreter that starts as the server does
(`pm_fast.bootstrap.start` with the settings read from the environment), so that
`pm_fast.accel` has made its choice.

`mode` "hide-extension" makes `pm_fast_ext` unimportable first; `pure` sets (or, when
None, removes) PM_FAST_PURE. Returns (stdout, stderr lines).
"""

from __future__ import annotations

import os
import subprocess
import sys

_PRELUDE = """
import logging, sys
logging.basicConfig(level=logging.DEBUG, format="%(levelname)s %(name)s %(message)s")
if sys.argv[1] == "hide-extension":
    sys.modules["pm_fast_ext"] = None  # the import system then refuses to import it
import os
import pm_fast.accel as accel
from pm_fast import bootstrap
bootstrap.start(bootstrap.read_settings(os.environ))
"""


def probe_accel(body: str, mode: str, pure: str | None) -> tuple[str, list[str]]:
    env = {k: v for k, v in os.environ.items() if k != "PM_FAST_PURE"}
    if pure is not None:
        env["PM_FAST_PURE"] = pure
    done = subprocess.run(
        [sys.executable, "-c", _PRELUDE + body, mode],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.strip(), done.stderr.strip().splitlines()
