"""The store interface.

Services are written as generator *programs*: each step yields an operation
(`db.<name>(*args)`) and receives its result. A store runs a whole program inside one
transaction. The SQLite store runs it start to finish on its database thread, so one
mutation costs one hop to that thread whatever number of statements it issues; an
async store (PostgreSQL) awaits each step on its own connection. Services therefore
hold every rule once and never see SQL, threads or awaits.

Events: a write program hands the events of its change to the store with
`yield db.emit(events)` (any number of times, in order; the result is None). They
belong to the program's transaction: a store that fans events out to other processes
(PostgreSQL's outbox) writes them in that transaction, and a program that fails emits
nothing. Stores never look into a program's return value. Publishing to this process's
subscribers stays with the caller, after `write` returns (the program also returns its
events, e.g. in an `Outcome`): on both stores that is after commit, in commit order.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any, Protocol, TypeVar

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)

Op = tuple[str, tuple[Any, ...]]
Program = Generator[Op, Any, T]


class _OpBuilder:
    """`db.project_get(x)` builds the operation ("project_get", (x,))."""

    __slots__ = ()

    def __getattr__(self, name: str) -> Callable[..., Op]:
        def build(*args: Any) -> Op:
            return (name, args)

        build.__name__ = name
        return build


db: Any = _OpBuilder()


def drive(program: Program[T], target: object) -> T:
    """Run `program` synchronously, dispatching each operation to `target`'s method."""
    try:
        op = next(program)
        while True:
            name, args = op
            op = program.send(getattr(target, name)(*args))
    except StopIteration as stop:
        result: T = stop.value
        return result


class Store(Protocol):
    """What the service layer and the edges need from a database."""

    async def write(self, program: Program[T]) -> T:
        """Run a mutating program in one transaction; roll back if it raises. Events the
        program emits (`db.emit`) are committed with it where the store shares them."""
        ...

    async def read(self, program: Program[T]) -> T:
        """Run a read-only program on a consistent snapshot."""
        ...

    async def ping(self) -> float:
        """Round trip to the database (`SELECT 1`); returns latency in milliseconds."""
        ...

    async def checkpoint(self) -> None: ...

    async def close(self) -> None: ...
