"""Where ``<pm>`` (the ``.pm`` config directory) is: spec/server.md §3.1.

1. ``git -C <cwd> rev-parse --show-toplevel`` succeeds -> ``<toplevel>/.pm`` (when
   ``<cwd>`` is plainly a repository's top level, as where the desktop shell starts the
   server, that is known without running git);
2. else ``config.json`` next to the executable with ``{"repo_root": ...}`` ->
   ``<repo_root>/.pm``;
3. else ``~/.pm``.

There is deliberately no environment variable: launchers choose through the
working directory, as with the original.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Final

import msgspec

from pm_fast.config import ConfigError

__all__ = ["PM_DIR_NAME", "default_executable", "ensure_pm_dir", "find_pm_dir"]

PM_DIR_NAME: Final = ".pm"
_GIT_TIMEOUT_SECS: Final = 10.0
# Variables that change which repository and work tree git finds (git help environment).
_DISCOVERY_VARIABLES: Final = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_COMMON_DIR",
    "GIT_CEILING_DIRECTORIES",
    "GIT_DISCOVERY_ACROSS_FILESYSTEM",
    "GIT_CONFIG",
)


class _ExeConfig(msgspec.Struct):
    repo_root: str


_exe_config_decoder: Final = msgspec.json.Decoder(_ExeConfig)


def default_executable() -> Path:
    """The running program's path.

    ``sys.argv[0]`` rather than ``sys.executable``: under the interpreter the latter
    is python itself, and a Nuitka onefile build reports the original binary in
    ``argv[0]`` (``sys.executable`` is the unpacked copy in a temp directory).
    """
    return Path(sys.argv[0]).resolve()


def _git_toplevel(cwd: Path, git: str) -> Path | None:
    try:
        done = subprocess.run(
            [git, "-C", str(cwd), "rev-parse", "--show-toplevel"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            timeout=_GIT_TIMEOUT_SECS,
            check=False,
            # No console window flashes up when the sidecar runs on Windows.
            creationflags=getattr(subprocess, "CREATE_NO_WINDOW", 0),
        )
    except (OSError, subprocess.SubprocessError):  # git missing, cwd unusable, hang
        return None
    if done.returncode != 0:
        return None
    top = os.fsdecode(done.stdout).strip()
    return Path(top) if top else None


def _plain_toplevel(cwd: Path) -> Path | None:
    """``cwd`` itself when it is plainly the top level of a repository git would accept,
    found without running git (a process spawn is a good part of the sidecar's start-up).

    Only the unambiguous case: ``cwd/.git`` is a directory with a ``HEAD`` file, both
    owned by this user (git refuses repositories of other users), its config sets no
    ``core.worktree`` and no ``core.bare = true``, and no variable that steers git's
    discovery (``GIT_DIR``, ``GIT_WORK_TREE``, ``GIT_CONFIG_*``, ...) is set. Everything
    else asks git.
    """
    if any(name.startswith(_DISCOVERY_VARIABLES) for name in os.environ):
        return None
    try:
        top = cwd.resolve()
        gitdir = top / ".git"
        if not gitdir.is_dir() or not (gitdir / "HEAD").is_file():
            return None
        config = (gitdir / "config").read_text(encoding="utf-8", errors="replace")
        settings = "".join(config.lower().split())
        if "worktree=" in settings or "bare=true" in settings:
            return None  # the work tree is elsewhere, or there is none
        geteuid = getattr(os, "geteuid", None)  # POSIX; git checks ownership there
        if geteuid is not None:
            uid = geteuid()
            for path in (top, gitdir, gitdir / "HEAD"):
                if path.stat().st_uid != uid:
                    return None
    except OSError:
        return None
    return top


def _repo_root_beside(exe: Path) -> Path | None:
    try:
        data = (exe.parent / "config.json").read_bytes()
        root = _exe_config_decoder.decode(data).repo_root
    except (OSError, msgspec.DecodeError):
        return None
    return Path(root) if root else None


def find_pm_dir(
    cwd: Path | None = None,
    exe: Path | None = None,
    home: Path | None = None,
    *,
    git: str = "git",
) -> Path:
    """Locate ``<pm>`` without creating it. ``git`` names the git executable (tests)."""
    here = cwd if cwd is not None else Path.cwd()
    top = _plain_toplevel(here) or _git_toplevel(here, git)
    if top is not None:
        return top / PM_DIR_NAME
    root = _repo_root_beside(exe if exe is not None else default_executable())
    if root is not None:
        return root / PM_DIR_NAME
    if home is None:
        try:
            home = Path.home()
        except RuntimeError as exc:
            raise ConfigError(
                "Cannot locate the .pm directory: not in a git repository, no config.json "
                "next to the executable, and no home directory"
            ) from exc
    return home / PM_DIR_NAME


def ensure_pm_dir(path: Path) -> Path:
    """Create ``<pm>`` (and missing parents) if needed and return it. A ``<pm>`` made
    here is owner-only (0700); an existing one is left as it is."""
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"Cannot create config directory {path}: {exc.strerror or exc}") from exc
    return path
