"""Black-box harness: run pm-fast as a real child process and talk to it over HTTP.

The contract between this harness and the server:

* command ``[sys.executable, "-m", "pm_fast", "serve"]``;
* cwd = a fresh temporary directory on which ``git init -q`` was run, so the server's
  config directory is ``<tmp>/.pm``;
* environment = ``os.environ`` + ``PM_SERVER_PORT=0``, ``PM_SERVER_HOST=127.0.0.1``,
  ``PM_LOG_COLORED=false`` + whatever a test adds;
* readiness = ``<tmp>/.pm/server.json`` exists, holds the child's pid, and ``GET /ready``
  answers 200;
* stop = ``POST /admin/shutdown`` (202) and the process exits with status 0.

Engine switch: with ``PM_FAST_TEST_ENGINE=robyn`` (or another engine name) every
``ServerProcess`` gets ``PM_FAST_ENGINE`` set to it, unless the test sets it itself.
Tests that cannot pass because of a documented limit of Robyn are marked
``@not_on_robyn("<docs/compat.md entry>")``.

Store switch: with ``PM_FAST_TEST_STORE=postgres`` and ``PM_FAST_PG_URL`` (printed by
``build/pg.sh``) set, every ``ServerProcess`` runs on PostgreSQL: it gets
``PM_DATABASE_URL`` pointing to a fresh database ``pmfast_<random>`` created on first
start and dropped on ``close`` (unless the test sets ``PM_DATABASE_URL`` itself, e.g. to
share one database between processes). A test that is inherently about the SQLite file
is skipped there, with its reason: it starts from a fixture ``.db`` (``database=``),
touches ``srv.db_path``, or is listed in ``SQLITE_ONLY``.

``ServerProcess`` is reusable by benchmarks::

    with ServerProcess() as srv:
        with srv.client() as c:
            c.get("/health")
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------------- store switch
def store_kind() -> str:
    """``"postgres"`` when the suite runs on PostgreSQL, else ``"sqlite"``."""
    if os.environ.get("PM_FAST_TEST_STORE") == "postgres":
        if not os.environ.get("PM_FAST_PG_URL"):
            raise RuntimeError("PM_FAST_TEST_STORE=postgres needs PM_FAST_PG_URL (build/pg.sh)")
        return "postgres"
    return "sqlite"


ON_POSTGRES = store_kind() == "postgres"


# ---------------------------------------------------------------------- engine switch
def engine_kind() -> str:
    """The engine the servers run on: ``PM_FAST_TEST_ENGINE`` (``robyn``, ``granian``,
    ``granian-rsgi``), else the server's default."""
    return os.environ.get("PM_FAST_TEST_ENGINE", "") or "granian"


ON_ROBYN = engine_kind() == "robyn"


def not_on_robyn(compat: str) -> pytest.MarkDecorator:
    """Skip a test on the Robyn engine only, for a limit of Robyn that docs/compat.md
    lists under "Robyn engine": ``compat`` names the entry."""
    import pytest

    return pytest.mark.skipif(ON_ROBYN, reason=_robyn_reason(compat))


def skip_on_robyn(compat: str) -> None:
    """In-test form of `not_on_robyn` (for some cases of a parametrized test)."""
    if ON_ROBYN:
        import pytest

        pytest.skip(_robyn_reason(compat))


def _robyn_reason(compat: str) -> str:
    return f'a limit of the Robyn engine: docs/compat.md "Robyn engine", {compat}'


# Tests about the SQLite file itself that neither pass `database=` nor touch
# `srv.db_path` (those are skipped automatically): test name -> reason.
SQLITE_ONLY: dict[str, str] = {
    "test_lifecycle.py::test_pm_dir_is_git_toplevel": "checks that .pm/data.db is created",
    "test_lifecycle.py::test_pm_dir_falls_back_to_home": "checks that ~/.pm/data.db is created",
    "test_lifecycle.py::test_database_path_setting": "database.path names the SQLite file",
}


def skip_sqlite_only(reason: str) -> None:
    """Skip the running test on PostgreSQL (no-op on SQLite)."""
    if ON_POSTGRES:
        import pytest

        test = os.environ.get("PYTEST_CURRENT_TEST", "").split(" ")[0].rpartition("/")[2]
        pytest.skip(f"SQLite-only ({test}): {reason}" if test else f"SQLite-only: {reason}")


# How a server ends when a test ends it: exit 0, or killed by SIGKILL / SIGTERM / SIGINT.
_ASKED_ENDS = (0, -signal.SIGKILL, -signal.SIGTERM, -signal.SIGINT)


def sqlite_only(reason: str) -> pytest.MarkDecorator:
    """Decorator form: ``@sqlite_only("reads the WAL file")``."""
    import pytest

    return pytest.mark.skipif(ON_POSTGRES, reason=f"SQLite-only: {reason}")


def _skip_listed() -> None:
    current = os.environ.get("PYTEST_CURRENT_TEST", "").split(" ")[0]
    for name, reason in SQLITE_ONLY.items():
        if current.endswith(name) or f"/{name}[" in current or current.endswith(name + "]"):
            skip_sqlite_only(reason)


def pg_fetch(
    url: str, sql: str, params: Sequence[Any] = (), timeout: float = 30.0, simple: bool = False
) -> list[tuple[Any, ...]]:
    """Run one statement on PostgreSQL and return its rows (own thread and loop:
    callers may be async tests)."""
    import asyncio
    import threading

    import asyncpg  # type: ignore[import-untyped]

    result: list[tuple[Any, ...]] = []
    failure: list[BaseException] = []

    async def go() -> None:
        conn = await asyncpg.connect(url, timeout=10)
        try:
            if simple:  # simple protocol: also statements that cannot be prepared
                await conn.execute(sql)
            else:
                result.extend(tuple(r) for r in await conn.fetch(sql, *params))
        finally:
            await conn.close()

    def run() -> None:
        try:
            asyncio.run(go())
        except BaseException as err:  # noqa: BLE001 - reported to the caller
            failure.append(err)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise TimeoutError(f"PostgreSQL did not answer within {timeout} s: {sql}")
    if failure:
        raise failure[0]
    return result


def pg_admin(sql: str, url: str | None = None, timeout: float = 30.0) -> None:
    """Run one statement (CREATE/DROP DATABASE) on the PM_FAST_PG_URL database."""
    pg_fetch(url or os.environ["PM_FAST_PG_URL"], sql, (), timeout, simple=True)


def pg_database_url(name: str) -> str:
    base = os.environ["PM_FAST_PG_URL"]
    head, _, _ = base.rpartition("/")
    return f"{head}/{name}"


def create_pg_database() -> tuple[str, str]:
    """A fresh empty database: (name, url)."""
    import uuid

    name = f"pmfast_{uuid.uuid4().hex[:12]}"
    pg_admin(f'CREATE DATABASE "{name}"')
    return name, pg_database_url(name)


def drop_pg_database(name: str) -> None:
    with contextlib.suppress(Exception):
        pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# One database per repository root, as one .pm/data.db per root on SQLite: a second
# ServerProcess on the same root (a restart) finds the first one's data. Dropped when
# the last ServerProcess on that root closes. root -> [name, url, users]
_PG_BY_ROOT: dict[str, list[Any]] = {}


def _pg_acquire(root: Path) -> str:
    key = str(root.resolve())
    entry = _PG_BY_ROOT.get(key)
    if entry is None:
        name, url = create_pg_database()
        entry = _PG_BY_ROOT[key] = [name, url, 0]
    entry[2] += 1
    return str(entry[1])


def _pg_release(root: Path) -> None:
    key = str(root.resolve())
    entry = _PG_BY_ROOT.get(key)
    if entry is None:
        return
    entry[2] -= 1
    if entry[2] <= 0:
        del _PG_BY_ROOT[key]
        drop_pg_database(entry[0])


DEFAULT_STARTUP_TIMEOUT = 20.0
DEFAULT_STOP_TIMEOUT = 15.0


def fixtures_dir() -> Path:
    """Directory holding ``original-v0.1.4.db`` and ``original-v0.1.4-empty.db``.

    ``PM_FAST_FIXTURES`` overrides; otherwise the copies in ``tests/fixtures``.
    """
    override = os.environ.get("PM_FAST_FIXTURES")
    if override:
        return Path(override)
    return REPO_ROOT / "tests" / "fixtures"


def fixture_path(name: str) -> Path:
    return fixtures_dir() / name


def free_port(host: str = "127.0.0.1") -> int:
    """A port that was free a moment ago (small race, acceptable in tests)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def git_init(path: Path) -> None:
    subprocess.run(
        ["git", "init", "-q", str(path)],
        check=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


class ServerError(AssertionError):
    """The server did not start, stop or answer as the contract says."""


class ServerProcess:
    """One pm-fast server process in its own temporary repository.

    Parameters
    ----------
    root:
        Repository directory (git-initialised unless ``git=False``). A fresh temporary
        directory is created (and removed on ``close``) when omitted.
    cwd:
        Working directory of the child (default: ``root``).
    env:
        Extra environment variables (``None`` values remove a variable).
    config_toml:
        Text written to ``<root>/.pm/config.toml`` before start.
    database:
        A database file copied to ``<root>/.pm/data.db`` before start (never opened in
        place).
    args:
        Arguments after ``-m pm_fast`` (default ``("serve",)``).
    port:
        Value of ``PM_SERVER_PORT`` (default 0 = any free port).
    """

    def __init__(
        self,
        root: Path | str | None = None,
        *,
        cwd: Path | str | None = None,
        env: Mapping[str, str | None] | None = None,
        config_toml: str | None = None,
        database: Path | str | None = None,
        args: Sequence[str] = ("serve",),
        port: int = 0,
        host: str = "127.0.0.1",
        git: bool = True,
        python: str = sys.executable,
    ) -> None:
        self._own_root = root is None
        self.root = Path(tempfile.mkdtemp(prefix="pmfast-")) if root is None else Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.cwd = Path(cwd) if cwd is not None else self.root
        self.extra_env = dict(env or {})
        self.config_toml = config_toml
        self.database = Path(database) if database is not None else None
        self.args = list(args)
        self.requested_port = port
        self.host = host
        self.git = git
        self.python = python
        self.proc: subprocess.Popen[bytes] | None = None
        # Descriptors the child inherits (e.g. a listener bound before it starts).
        self.pass_fds: tuple[int, ...] = ()
        self._port: int | None = None
        self._log_dir = Path(tempfile.mkdtemp(prefix="pmfast-logs-"))
        self._stdout_path = self._log_dir / "stdout.log"
        self._stderr_path = self._log_dir / "stderr.log"
        self._stdout: Any = None
        self._stderr: Any = None
        self.port_file_info: dict[str, Any] | None = None
        self._prepared = False
        # PostgreSQL mode: the database of this root (created on first start).
        self.pg_url: str | None = None
        if ON_POSTGRES:
            if self.database is not None:
                skip_sqlite_only("starts from a fixture SQLite database file")
            _skip_listed()

    # ------------------------------------------------------------------ paths
    @property
    def pm_dir(self) -> Path:
        return self.root / ".pm"

    @property
    def port_file(self) -> Path:
        return self.pm_dir / "server.json"

    @property
    def db_path(self) -> Path:
        skip_sqlite_only("reads or writes .pm/data.db directly")
        return self.pm_dir / "data.db"

    def sql(self, query: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one statement on this server's database, whichever the store, and commit.

        ``?`` placeholders; portable SQL only (e.g. ``INSERT ... ON CONFLICT DO
        NOTHING``). Returns the rows (empty for statements that return none).
        """
        url = (
            self.pg_url
            or self.extra_env.get("PM_DATABASE_URL")
            or (self.environment()["PM_DATABASE_URL"] if ON_POSTGRES else None)
        )
        if url is None:
            import sqlite3

            con = sqlite3.connect(str(self.pm_dir / "data.db"), timeout=10)
            try:
                rows = con.execute(query, tuple(params)).fetchall()
                con.commit()
                return [tuple(r) for r in rows]
            finally:
                con.close()
        parts = query.split("?")
        pg_query = parts[0] + "".join(f"${i}{p}" for i, p in enumerate(parts[1:], 1))
        return pg_fetch(str(url), pg_query, tuple(params))

    @property
    def port(self) -> int:
        if self._port is None:
            raise ServerError("server port unknown (not started?)")
        return self._port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int:
        if self.proc is None:
            raise ServerError("server not started")
        return self.proc.pid

    # ------------------------------------------------------------------ setup
    def prepare(self) -> None:
        """Create the repository, config file and database copy (idempotent)."""
        if self._prepared:
            return
        if self.git and not (self.root / ".git").exists():
            git_init(self.root)
        if self.config_toml is not None or self.database is not None:
            self.pm_dir.mkdir(parents=True, exist_ok=True)
        if self.config_toml is not None:
            (self.pm_dir / "config.toml").write_text(self.config_toml, encoding="utf-8")
        if self.database is not None:
            # copyfile: content only, so the copy is writable even if the source is not
            shutil.copyfile(self.database, self.db_path)
        self._prepared = True

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            {
                "PM_SERVER_PORT": str(self.requested_port),
                "PM_SERVER_HOST": self.host,
                "PM_LOG_COLORED": "false",
            }
        )
        if "PM_FAST_TEST_ENGINE" in os.environ and "PM_FAST_ENGINE" not in self.extra_env:
            env["PM_FAST_ENGINE"] = engine_kind()
        if ON_POSTGRES and "PM_DATABASE_URL" not in self.extra_env:
            if self.pg_url is None:
                self.pg_url = _pg_acquire(self.root)
            env["PM_DATABASE_URL"] = self.pg_url
        for k, v in self.extra_env.items():
            if v is None:
                env.pop(k, None)
            else:
                env[k] = v
        return env

    def command(self) -> list[str]:
        return [self.python, "-m", "pm_fast", *self.args]

    # ------------------------------------------------------------------ start
    def spawn(self) -> subprocess.Popen[bytes]:
        """Start the child without waiting for anything."""
        if self.proc is not None and self.proc.poll() is None:
            raise ServerError("server already running")
        self.prepare()
        stdout, stderr = self.outputs()
        env = self.environment()
        # make `python -m pm_fast` find the package when it is not installed
        pp = env.get("PYTHONPATH")
        env["PYTHONPATH"] = str(REPO_ROOT) + (os.pathsep + pp if pp else "")
        self.proc = subprocess.Popen(
            self.command(),
            cwd=self.cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,
            pass_fds=self.pass_fds,
        )
        self._port = None
        self.port_file_info = None
        return self.proc

    def outputs(self) -> tuple[Any, Any]:
        """Where the child's stdout and stderr go: the log files `logs()` reads."""
        self._close_logs()
        self._stdout = open(self._stdout_path, "ab")  # noqa: SIM115
        self._stderr = open(self._stderr_path, "ab")  # noqa: SIM115
        return self._stdout, self._stderr

    def start(
        self, timeout: float = DEFAULT_STARTUP_TIMEOUT, *, expect_port_file: bool = True
    ) -> ServerProcess:
        """Spawn and wait until ready.

        With ``expect_port_file`` the port comes from ``server.json`` (whose pid must be
        the child's); otherwise the requested fixed port is used.
        """
        self.spawn()
        deadline = time.monotonic() + timeout
        if expect_port_file:
            info = self.wait_port_file(deadline)
            self._port = int(info["port"])
        else:
            if not self.requested_port:
                raise ServerError("expect_port_file=False needs a fixed port")
            self._port = self.requested_port
        self.wait_ready(deadline)
        return self

    def _fail(self, what: str) -> ServerError:
        return ServerError(f"{what}\n--- server output ---\n{self.logs()}")

    def _check_alive(self) -> None:
        assert self.proc is not None
        rc = self.proc.poll()
        if rc is not None:
            raise self._fail(f"server exited early with status {rc}")

    def wait_port_file(self, deadline: float) -> dict[str, Any]:
        while True:
            self._check_alive()
            if self.port_file.exists():
                try:
                    info = json.loads(self.port_file.read_text(encoding="utf-8"))
                except (OSError, ValueError):
                    info = None  # being written; retry
                if isinstance(info, dict) and info.get("pid") == self.pid:
                    self.port_file_info = info
                    return info
            if time.monotonic() > deadline:
                raise self._fail(f"no port file with pid {self.pid} at {self.port_file}")
            time.sleep(0.02)

    def wait_ready(self, deadline: float) -> None:
        last: str = ""
        with httpx.Client(timeout=2.0, trust_env=False) as c:
            while True:
                self._check_alive()
                try:
                    r = c.get(self.url + "/ready")
                    if r.status_code == 200:
                        return
                    last = f"/ready -> {r.status_code} {r.text[:200]}"
                except httpx.HTTPError as e:
                    last = repr(e)
                if time.monotonic() > deadline:
                    raise self._fail(f"server not ready in time ({last})")
                time.sleep(0.02)

    # ------------------------------------------------------------------ use
    def client(self, **kwargs: Any) -> httpx.Client:
        kwargs.setdefault("timeout", 30.0)
        kwargs.setdefault("trust_env", False)
        return httpx.Client(base_url=self.url, **kwargs)

    def is_alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def logs(self) -> str:
        out = []
        for name, p in (("stdout", self._stdout_path), ("stderr", self._stderr_path)):
            try:
                for f in (self._stdout, self._stderr):
                    if f is not None:
                        f.flush()
                text = p.read_text(encoding="utf-8", errors="replace")
            except OSError:
                text = ""
            out.append(f"[{name}]\n{text}")
        return "\n".join(out)

    def stdout_text(self) -> str:
        try:
            return self._stdout_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    def stderr_text(self) -> str:
        try:
            return self._stderr_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    # ------------------------------------------------------------------ stop
    def wait_exit(self, timeout: float = DEFAULT_STOP_TIMEOUT) -> int:
        assert self.proc is not None
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise self._fail(f"server did not exit within {timeout} s") from None

    def send_signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def admin_headers(self) -> dict[str, str]:
        """With auth enabled the admin routes need the token in ``.pm/admin.token``."""
        token_file = self.pm_dir / "admin.token"
        if not token_file.exists():
            return {}
        return {"Authorization": "Bearer " + token_file.read_text().strip()}

    def request_shutdown(self) -> httpx.Response:
        with httpx.Client(timeout=10.0, trust_env=False) as c:
            return c.post(self.url + "/admin/shutdown", headers=self.admin_headers())

    def stop(self, timeout: float = DEFAULT_STOP_TIMEOUT) -> int:
        """Graceful stop through ``POST /admin/shutdown``; asserts 202 and exit 0."""
        if not self.is_alive():
            raise self._fail("stop() on a server that is not running")
        r = self.request_shutdown()
        if r.status_code != 202:
            raise self._fail(f"/admin/shutdown answered {r.status_code} {r.text[:200]!r}")
        rc = self.wait_exit(timeout)
        if rc != 0:
            raise self._fail(f"server exited with status {rc} after /admin/shutdown")
        return rc

    def kill(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                self.proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=10)

    def _close_logs(self) -> None:
        for f in (self._stdout, self._stderr):
            if f is not None:
                f.close()
        self._stdout = self._stderr = None

    def close(self, *, remove: bool = True) -> None:
        """Stop (gracefully if possible, else kill) and clean up.

        The captured output is deleted; the repository too if the harness created it and
        ``remove`` is true.
        """
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.request_shutdown()
                self.proc.wait(timeout=5)
            except (httpx.HTTPError, ServerError, subprocess.TimeoutExpired):
                pass
            self.kill()
        elif self.proc is not None:
            rc = self.proc.wait()
            if rc not in _ASKED_ENDS:
                # it ended before this close, not by a kill or a stop signal (a crash,
                # a fatal error): what it printed is the only trace of why; shown with
                # the test that failed because of it
                print(f"===== {self.root}: server exited by itself with status {rc} =====")
                print(self.logs()[-20000:])
        self._close_logs()
        if self.pg_url is not None:
            _pg_release(self.root)
            self.pg_url = None
        if remove and self._own_root:
            shutil.rmtree(self.root, ignore_errors=True)
        shutil.rmtree(self._log_dir, ignore_errors=True)

    def __enter__(self) -> ServerProcess:
        if self.proc is None:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def run_to_exit(
    root: Path | str,
    *,
    env: Mapping[str, str | None] | None = None,
    config_toml: str | None = None,
    timeout: float = DEFAULT_STARTUP_TIMEOUT,
    args: Sequence[str] = ("serve",),
) -> tuple[int, str, str]:
    """Start a server that is expected to fail at start-up; return (rc, stdout, stderr).

    Raises ``ServerError`` as soon as the server shows it started instead (its port file
    appears), or if it is still running after ``timeout``.
    """
    srv = ServerProcess(root, env=env, config_toml=config_toml, args=args)
    srv._own_root = False
    try:
        proc = srv.spawn()
        deadline = time.monotonic() + timeout
        while True:
            rc = proc.poll()
            if rc is not None:
                return rc, srv.stdout_text(), srv.stderr_text()
            if srv.port_file.exists():
                try:
                    started = json.loads(srv.port_file.read_text()).get("pid") == proc.pid
                except (OSError, ValueError):
                    started = False
                if started:
                    raise srv._fail("server started; expected a start-up failure")
            if time.monotonic() > deadline:
                raise srv._fail(f"server kept running for {timeout} s; expected a start-up failure")
            time.sleep(0.02)
    finally:
        srv.close(remove=False)
