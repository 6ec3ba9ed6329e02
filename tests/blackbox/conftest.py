"""Fixtures of the black-box suite.

* ``server`` / ``api``: one pm-fast process shared by the whole session (route tests use
  unique project keys so they do not interfere).
* ``server_factory``: function-scoped factory for tests that need their own config,
  environment or database; every server it made is stopped at teardown.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness import ServerProcess, create_pg_database, drop_pg_database, fixture_path

FULL_FIXTURE = "original-v0.1.4.db"
EMPTY_FIXTURE = "original-v0.1.4-empty.db"


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp("shared-server")
    srv = ServerProcess(root)
    try:
        srv.start()
        yield srv
    finally:
        srv.close(remove=False)


@pytest.fixture(scope="session")
def api(server: ServerProcess) -> Iterator[httpx.Client]:
    with server.client() as c:
        yield c


ServerFactory = Callable[..., ServerProcess]


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    rep = yield
    setattr(item, "rep_" + rep.when, rep)
    return rep


@pytest.fixture
def server_factory(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[ServerFactory]:
    made: list[ServerProcess] = []
    counter = [0]

    def make(
        *, start: bool = True, root: Path | None = None, fixture: str | None = None, **kwargs: Any
    ) -> ServerProcess:
        if root is None:
            counter[0] += 1
            root = tmp_path / f"repo{counter[0]}"
        if fixture is not None:
            kwargs["database"] = fixture_path(fixture)
        srv = ServerProcess(root, **kwargs)
        made.append(srv)
        if start:
            srv.start()
        return srv

    yield make
    rep = getattr(request.node, "rep_call", None)
    for i, srv in enumerate(made):
        if rep is not None and rep.failed:
            print(f"===== server #{i + 1} output ({srv.root}) =====")
            print(srv.logs()[-20000:])
        srv.close(remove=False)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # run the fast shared-server tests first, process-level tests last
    slow = ("test_lifecycle", "test_config_errors", "test_fixtures")

    def rank(item: pytest.Item) -> int:
        mod = getattr(item, "module", None)
        name = mod.__name__ if mod is not None else ""
        return 1 if any(s in name for s in slow) else 0

    items.sort(key=rank)


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database (needs PM_FAST_PG_URL), dropped after the test."""
    name, url = create_pg_database()
    try:
        yield url
    finally:
        drop_pg_database(name)
