"""Both stores implement the one interface of store operations (pm_fast/store/base.py).

mypy checks `SqliteTx` against `Tx` and `PgTx` against `AsyncTx` where the drivers take
them; this checks that the two protocols list the same operations with the same
parameters and results, that each store class has every operation in its form (plain
or coroutine), and that mypy --strict refuses a misspelled operation, wrong arguments,
a wrong result type and a store transaction that lacks operations.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import pytest

from pm_fast.store import sql
from pm_fast.store.base import AsyncTx, Tx
from pm_fast.store.postgres import PgTx
from pm_fast.store.sqlite import SqliteTx

from .typecheck import mypy_errors


def _operations(protocol: type) -> dict[str, Any]:
    return {
        name: value
        for name, value in vars(protocol).items()
        if not name.startswith("_") and inspect.isfunction(value)
    }


def _shape(fn: Any) -> tuple[list[tuple[str, Any, Any]], Any]:
    signature = inspect.signature(fn)
    params = [(p.name, p.kind, p.annotation) for p in signature.parameters.values()]
    return params, signature.return_annotation


SYNC = _operations(Tx)
ASYNC = _operations(AsyncTx)


def test_the_protocols_list_the_same_operations_in_the_same_order() -> None:
    assert list(SYNC) == list(ASYNC)
    assert len(SYNC) > 60


@pytest.mark.parametrize("name", list(SYNC))
def test_an_operation_has_the_same_parameters_and_result_in_both_forms(name: str) -> None:
    assert not inspect.iscoroutinefunction(SYNC[name])
    assert inspect.iscoroutinefunction(ASYNC[name])
    assert _shape(SYNC[name]) == _shape(ASYNC[name])


def _lookup(cls: type, name: str) -> Any:
    for klass in cls.__mro__:
        if name in vars(klass):
            return vars(klass)[name]
    raise AssertionError(f"{cls.__name__} has no operation {name}")


@pytest.mark.parametrize("name", list(SYNC))
def test_each_store_has_every_operation(name: str) -> None:
    wanted = [p.name for p in inspect.signature(SYNC[name]).parameters.values()][1:]
    for cls, coroutine in ((SqliteTx, False), (PgTx, True)):
        found = _lookup(cls, name)
        if isinstance(found, sql.QueryOp):
            continue  # one query: `SyncQueries._run` / `AsyncQueries._run` (typed by mypy)
        assert inspect.iscoroutinefunction(found) is coroutine, (cls.__name__, name)
        params = list(inspect.signature(found).parameters.values())[1:]  # without self
        assert [p.name for p in params] == wanted, (cls.__name__, name)


def test_every_query_operation_is_an_operation_of_the_interface() -> None:
    queries = [n for n, v in vars(sql.Queries).items() if isinstance(v, sql.QueryOp)]
    assert queries and set(queries) <= set(SYNC)


def test_a_missing_operation_is_found() -> None:
    class Partial(sql.SyncQueries):
        pass

    with pytest.raises(AssertionError, match="no operation emit"):
        _lookup(Partial, "emit")


# What mypy --strict says about programs and stores (the guarantee of the design).
_CHECKED = '''
from pm_fast.core.model import WorkItem
from pm_fast.store import sql
from pm_fast.store.base import Program, drive, op


def good(wid: str) -> Program[WorkItem | None]:
    item = yield from op(lambda tx: tx.item_get(wid))
    return item


def misspelled(wid: str) -> Program[None]:
    yield from op(lambda tx: tx.item_gte(wid))


def wrong_arguments(wid: str) -> Program[None]:
    yield from op(lambda tx: tx.item_get(wid, 1))


def wrong_result(wid: str) -> Program[str]:
    item = yield from op(lambda tx: tx.item_get(wid))
    return item


class NoEvents(sql.SyncQueries):
    """A store transaction without `emit` and the other hand-written operations."""


def run_on_incomplete_store() -> None:
    drive(good("w"), NoEvents())
'''


def test_mypy_rejects_a_misspelled_operation_wrong_arguments_and_an_incomplete_store(
    tmp_path: Path,
) -> None:
    status, errors, out = mypy_errors(tmp_path, "programs.py", _CHECKED)
    assert status == 1
    assert [line for line, _ in errors] == [13, 17, 22, 30], out
    assert '"Tx" has no attribute "item_gte"' in errors[0][1]
    assert 'Too many arguments for "item_get" of "Tx"' in errors[1][1]
    assert 'got "WorkItem | None", expected "str"' in errors[2][1]
    assert '"NoEvents"; expected "Tx"' in errors[3][1]
