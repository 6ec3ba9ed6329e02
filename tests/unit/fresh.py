"""Run a test script in a fresh interpreter (for what only a new process shows: which
modules start-up imports, the state it starts in)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def run_fresh(script: str, cwd: Path) -> str:
    """Run `script` with `python -c` in `cwd`, without PM_* variables; assert it exits 0
    and return its standard output."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PM_")}
    res = subprocess.run(
        [sys.executable, "-c", script],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 0, res.stderr
    return res.stdout
