"""Locate and run the original ``pm-server`` and ``pm`` CLI (release builds of
blazor-agile-board v0.1.4) for comparison tests.

Where the binaries are looked for, in order:

1. ``$PM_FAST_ORIGINAL_DIR`` (a directory holding ``pm`` and/or ``pm-server``);
2. ``<repo>/../shared/original``.

A test that needs a binary calls ``need_pm()`` / ``need_pm_server()``, which skip it
(with the places searched in the reason) when the binary is absent.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness import REPO_ROOT, ServerProcess

CLI_TIMEOUT = 30.0


def candidate_dirs() -> list[Path]:
    dirs = []
    env = os.environ.get("PM_FAST_ORIGINAL_DIR")
    if env:
        dirs.append(Path(env))
    dirs.append(REPO_ROOT.parent / "shared" / "original")
    return dirs


def find_binary(name: str) -> Path | None:
    for d in candidate_dirs():
        p = d / name
        if p.is_file() and os.access(p, os.X_OK):
            return p
    return None


def _need(name: str) -> Path:
    path = find_binary(name)
    if path is None:
        where = ", ".join(str(d) for d in candidate_dirs())
        reason = (
            f"original `{name}` binary not found (looked in: {where}; set PM_FAST_ORIGINAL_DIR)"
        )
        print(f"SKIP: {reason}")
        pytest.skip(reason)
    return path


def need_pm() -> Path:
    """Path of the original ``pm`` CLI, or skip the running test."""
    return _need("pm")


def need_pm_server() -> Path:
    """Path of the original ``pm-server``, or skip the running test."""
    return _need("pm-server")


class OriginalServer(ServerProcess):
    """The original ``pm-server`` run under the same contract as pm-fast (git-init'ed
    root as working directory, port file ``.pm/server.json``, ``/ready``,
    ``POST /admin/shutdown``). It always uses SQLite ``<root>/.pm/data.db``, whatever
    store the suite runs pm-fast on."""

    def __init__(self, root: Path | str | None = None, **kwargs: Any) -> None:
        self.binary = need_pm_server()
        super().__init__(root, **kwargs)

    def command(self) -> list[str]:
        return [str(self.binary)]

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PM_")}
        env.update(
            {
                "PM_SERVER_PORT": str(self.requested_port),
                "PM_SERVER_HOST": self.host,
                "PM_LOG_COLORED": "false",
                "PM_IDLE_SHUTDOWN_SECS": "0",
                "PM_AUTH_ENABLED": "false",
            }
        )
        for k, v in self.extra_env.items():
            if v is None:
                env.pop(k, None)
            else:
                env[k] = v
        return env

    @property
    def sqlite_file(self) -> Path:
        return self.pm_dir / "data.db"

    def sql(self, query: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        con = sqlite3.connect(str(self.sqlite_file), timeout=10)
        try:
            rows = con.execute(query, tuple(params)).fetchall()
            con.commit()
            return [tuple(r) for r in rows]
        finally:
            con.close()


# --------------------------------------------------------------------------- the CLI
ERROR_RE = re.compile(r"^Error: API error: (?P<message>.*) \(code: (?P<code>[A-Z_]+)\)", re.S)


@dataclass
class CliResult:
    args: list[str]
    rc: int
    out: str
    err: str
    data: Any = field(default=None)

    @property
    def api_error(self) -> tuple[str, str] | None:
        """(code, message) of an ``Error: API error: …`` line on stderr."""
        m = ERROR_RE.match(self.err.strip())
        if m is None:
            return None
        message = re.sub(r" \[\S+:\d+:\d+\]$", "", m.group("message"))
        return m.group("code"), message

    def describe(self) -> str:
        return (
            f"pm {' '.join(self.args)} -> rc {self.rc}\n"
            f"stdout: {self.out[:3000]}\nstderr: {self.err[:3000]}"
        )


class Cli:
    """Runs the original ``pm`` CLI against one server.

    By default the CLI runs with the server's repository as working directory, so it
    discovers the server through ``.pm/server.json``; ``via_flag=True`` runs it from
    ``elsewhere`` with ``--server <url>`` instead.
    """

    def __init__(self, srv: ServerProcess, elsewhere: Path | None = None) -> None:
        self.binary = need_pm()
        self.srv = srv
        self.elsewhere = elsewhere

    def run(
        self,
        *args: str,
        user: str | None = None,
        via_flag: bool = False,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
    ) -> CliResult:
        argv: list[str] = []
        if via_flag:
            argv += ["--server", self.srv.url]
        if user is not None:
            argv += ["--user-id", user]
        argv += list(args)
        if cwd is None:
            cwd = (self.elsewhere or Path("/")) if via_flag else self.srv.root
        run_env = {k: v for k, v in os.environ.items() if not k.startswith("PM_")}
        run_env.update(env or {})
        proc = subprocess.run(
            [str(self.binary), *argv],
            cwd=cwd,
            env=run_env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=CLI_TIMEOUT,
        )
        res = CliResult(
            argv, proc.returncode, proc.stdout.decode("utf-8"), proc.stderr.decode("utf-8")
        )
        if proc.returncode == 0 and res.out.strip():
            try:
                res.data = json.loads(res.out)
            except ValueError:
                res.data = None
        return res

    def ok(self, *args: str, **kwargs: Any) -> Any:
        res = self.run(*args, **kwargs)
        assert res.rc == 0, res.describe()
        assert res.data is not None, res.describe()
        return res.data

    def fails(self, *args: str, code: str | None = None, rc: int = 1, **kwargs: Any) -> CliResult:
        res = self.run(*args, **kwargs)
        assert res.rc == rc, res.describe()
        assert res.out == "", res.describe()
        if code is not None:
            err = res.api_error
            assert err is not None and err[0] == code, res.describe()
        return res


def args_list(args: Sequence[str]) -> list[str]:
    return [str(a) for a in args]


# --------------------------------------------------------------------------- comparing
TS_KEYS = frozenset({"created_at", "updated_at", "started_at", "ended_at", "exported_at"})
#: lists whose order is unspecified or tie-prone: compared as multisets
UNORDERED = frozenset({"dependencies", "time_entries", "work_items", "comments"})
UUID_IN_TEXT = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def normalize(
    obj: Any, ids: dict[str, str], keep: frozenset[str] = frozenset(), ts_keys: Any = TS_KEYS
) -> Any:
    """JSON with every UUID (except those in ``keep``) replaced by ``<idN>`` in order of
    first appearance (``ids`` carries the numbering across calls), timestamps (keys in
    ``ts_keys``) by ``<ts>``, durations by ``<seconds>``, and the lists named in
    ``UNORDERED`` sorted."""
    if isinstance(obj, dict):
        out: dict[str, Any] = {}
        for k, v in obj.items():
            if k in ts_keys and v is not None:
                assert isinstance(v, (int, str)) and not isinstance(v, bool), (k, v)
                out[k] = "<ts>"
            elif k == "duration_seconds" and isinstance(v, int):
                assert v >= 0, v
                out[k] = "<seconds>"
            else:
                out[k] = normalize(v, ids, keep, ts_keys)
                if k in UNORDERED and isinstance(out[k], list):
                    out[k] = sorted(out[k], key=lambda x: json.dumps(x, sort_keys=True))
        return out
    if isinstance(obj, (list, tuple)):
        return [normalize(v, ids, keep, ts_keys) for v in obj]
    if isinstance(obj, str):
        return UUID_IN_TEXT.sub(
            lambda m: (
                m.group(0)
                if m.group(0) in keep
                else ids.setdefault(m.group(0), f"<id{len(ids) + 1}>")
            ),
            obj,
        )
    return obj


def diff_paths(a: Any, b: Any, path: str) -> list[str]:
    """Where two normalized JSON values differ, as ``path: a != b`` lines."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                out.append(f"{path}.{k}: {a.get(k, '<absent>')!r} != {b.get(k, '<absent>')!r}")
            else:
                out += diff_paths(a[k], b[k], f"{path}.{k}")
        return out
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) and len(a) == len(b):
        return [
            d
            for i, (x, y) in enumerate(zip(a, b, strict=True))
            for d in diff_paths(x, y, f"{path}[{i}]")
        ]
    if a != b:
        return [f"{path or '.'}: {json.dumps(a)[:400]} != {json.dumps(b)[:400]}"]
    return []
