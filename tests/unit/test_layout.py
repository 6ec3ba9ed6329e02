"""The repository root does not shadow the installed extension.

After `pip install .` (not editable), `python -c "import pm_fast_ext"` run from the
repository root imports the source folder `pm_fast_ext/` (the current directory comes
first on sys.path), which holds no compiled `_native`. Its `__init__` then looks for
`_native` in the other `pm_fast_ext` folders on sys.path, i.e. the installed one.
Reproduced here with a copy of the source folder as the "repository root" and a copy
of the installed package (with the compiled module) as "site-packages".
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def native_file() -> Path:
    try:
        import pm_fast_ext._native as native
    except ImportError:
        pytest.skip("the Rust extension is not built in this environment")
    return Path(native.__file__)


def run(cwd: Path, pythonpath: Path | None, code: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    return subprocess.run(
        # -S: no site-packages, so neither the venv's editable install (a .pth naming
        # this checkout) nor anything else finds a pm_fast_ext but the two folders here.
        [sys.executable, "-S", "-c", code],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_source_folder_defers_to_the_installed_extension(tmp_path: Path) -> None:
    native = native_file()
    repo = tmp_path / "repo" / "pm_fast_ext"
    site = tmp_path / "site" / "pm_fast_ext"
    repo.mkdir(parents=True)
    site.mkdir(parents=True)
    for name in ("__init__.py", "_native.pyi", "py.typed"):
        shutil.copy(ROOT / "pm_fast_ext" / name, repo / name)
        shutil.copy(ROOT / "pm_fast_ext" / name, site / name)
    shutil.copy(native, site / native.name)

    got = run(
        repo.parent,
        site.parent,
        "import pm_fast_ext, pm_fast_ext._native as n;"
        "print(pm_fast_ext.would_cycle.__module__, n.__file__)",
    )
    assert got.returncode == 0, got.stderr
    module, where = got.stdout.split()
    assert module == "pm_fast_ext._native"
    assert Path(where).parent == site


def test_without_any_compiled_module_the_import_still_fails_plainly(tmp_path: Path) -> None:
    """pm_fast.accel falls back to the twins on ImportError: that must stay so."""
    repo = tmp_path / "repo" / "pm_fast_ext"
    repo.mkdir(parents=True)
    shutil.copy(ROOT / "pm_fast_ext" / "__init__.py", repo / "__init__.py")
    got = run(repo.parent, None, "import pm_fast_ext")
    assert got.returncode == 1
    assert "ModuleNotFoundError: No module named 'pm_fast_ext._native'" in got.stderr
