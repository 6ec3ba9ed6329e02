"""Cross-process fan-out over PostgreSQL: a transactional outbox read through LISTEN/NOTIFY.

Writing (inside the mutation's own transaction, `OutboxWriter.append`): the events a mutation
emits (`tx.emit`, see store/base.py) are encoded into one `pm_fast_events` row per
project and announced with `NOTIFY pm_fast_events, '<seq>'`. The row commits or rolls
back with the mutation, so an event can never be announced for a rolled-back change nor
lost between commit and notify; the notification payload is only the sequence number
(far below PostgreSQL's 8000-byte limit), the events themselves are read from the table.

Ordering: before its row is inserted, a transaction takes an advisory lock on each of
its projects, held until commit. A later mutation of the same project therefore
receives a higher `seq` *and* commits later: per project, `seq` order is commit order.
Across projects, rows may commit out of `seq` order; a reader that sees seq 12 but not
yet 11 records 11 as a gap and asks for it again until it appears (or, after
`GAP_GRACE` seconds, accepts that its transaction rolled back).

Reading (`Bus`, one per process): a dedicated connection LISTENs; on each notification,
on a timer (a safety net), and after every reconnection, it fetches the rows it has not
seen yet in `seq` order and hands the events of other processes to `publish` (the local
hub). A process's own rows are only marked as seen: its events were published locally
right after its commit. The same rows may also reach `Bus.absorb` from a writer of this
process (rows of the same project that committed just before its own, fetched inside
its transaction), so that local subscribers get them before the writer's own events;
each row is handled once whichever path sees it first.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import re
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import msgspec

from ..core.model import (
    ActivityEntry,
    Comment,
    Dependency,
    Event,
    LlmContextEntry,
    Project,
    Sprint,
    SwimLane,
    TimeEntry,
    WorkItem,
    event_type,
)

log = logging.getLogger("pm_fast")

CHANNEL = "pm_fast_events"
# A seq still missing this long after a higher one appeared belongs to a rolled-back
# transaction (the row is the last statement before COMMIT, so a live one shows within
# a commit's latency).
GAP_GRACE = 30.0
# Polling interval of the safety net (notifications are the fast path).
POLL_INTERVAL = 2.0
# Outbox rows older than this are deleted (every PRUNE_INTERVAL seconds).
RETENTION_SECS = 3600
PRUNE_INTERVAL = 300.0
RECONNECT_DELAYS = (0.1, 0.25, 0.5, 1.0, 2.0)
# Track at most this many missing seqs individually (a huge jump is logged instead).
MAX_GAPS = 100_000

_TYPES: dict[str, type[msgspec.Struct]] = {
    t.__name__: t
    for t in (
        Project,
        Sprint,
        WorkItem,
        Comment,
        Dependency,
        SwimLane,
        TimeEntry,
        ActivityEntry,
        LlmContextEntry,
    )
}
_TAG = "$t"
_VAL = "$v"
_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder()


# -- encoding --------------------------------------------------------------------------
# Every type above has scalar fields only (tests/unit/test_bus.py checks it): its values
# need no tagging, so a C-level `astuple` packs it.
_FLAT = {t: name for name, t in _TYPES.items()}
_astuple = msgspec.structs.astuple


def _pack(value: Any) -> Any:
    name = _FLAT.get(type(value))
    if name is not None:
        return {_TAG: name, _VAL: _astuple(value)}
    if isinstance(value, msgspec.Struct):
        name = type(value).__name__
        if name not in _TYPES:
            raise TypeError(f"cannot send a {name} over the bus")
        return {_TAG: name, _VAL: [_pack(v) for v in msgspec.structs.astuple(value)]}
    if isinstance(value, dict):
        return {k: _pack(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_pack(v) for v in value]
    return value


def _unpack(value: Any) -> Any:
    if isinstance(value, dict):
        name = value.get(_TAG)
        if name is not None and _VAL in value and len(value) == 2:
            return _TYPES[name](*(_unpack(v) for v in value[_VAL]))
        return {k: _unpack(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unpack(v) for v in value]
    return value


def encode_events(events: Sequence[Event]) -> bytes:
    """Events (with their entities and extras tagged by type) as one msgpack document."""
    return _encoder.encode(
        [[e.kind, e.project_id, _pack(e.entity), e.actor, _pack(e.extra)] for e in events]
    )


def decode_events(payload: bytes, first_seq: int | None = None) -> list[Event]:
    """The inverse of `encode_events`: the same Event and entity types; numbered from
    `first_seq` in their project's log when it is given (realtime/eventlog.py)."""
    events = [
        event_type(kind)(project_id, _unpack(entity), actor, _unpack(extra))
        for kind, project_id, entity, actor, extra in _decoder.decode(payload)
    ]
    if first_seq:
        for i, event in enumerate(events):
            event.seq = first_seq + i
    return events


# -- writing -----------------------------------------------------------------------------
# (seq, origin, payload or None for own rows, first number of its events in their
# project's log or None)
Row = tuple[int, str, bytes | None, int | None]


class OutboxWriter:
    """Appends a mutation's events to the outbox inside its transaction."""

    def __init__(self, origin: str) -> None:
        self.origin = origin

    async def append(
        self,
        conn: Any,
        events: Sequence[Event],
        floor: int,
        gaps: list[int],
        now: int,
        before: Sequence[tuple[str, tuple[Any, ...]]] = (),
    ) -> tuple[list[int], list[Row]]:
        """Write the rows; return their seqs and the earlier rows of the same projects
        that this process may not have handled yet (seq > floor or in gaps).

        `before`: writes of the same transaction (statements and parameters) to send in
        the same round trip, as data-modifying WITHs (they must not read the outbox).
        """
        groups: dict[str, list[Event]] = {}
        for event in events:
            groups.setdefault(event.project_id or "", []).append(event)
        own: list[int] = []
        earlier: list[Row] = []
        # Projects in a fixed order: two writers never wait for each other's locks.
        for pid in sorted(groups):
            mine = groups[pid]
            count = len(mine) if pid else 0  # events of no project are not numbered
            args = (self.origin, pid, encode_events(mine), now, floor, gaps, count)
            if before:
                text, params = chained(before, _APPEND)
                before = ()
                rows = await conn.fetch(text, *params, *args)
            else:
                rows = await conn.fetch(_APPEND, *args)
            for r in rows:
                if r["mine"]:
                    own.append(int(r["seq"]))
                    first = r["first_seq"]
                    if first is not None:
                        for i, event in enumerate(mine):
                            event.seq = int(first) + i
                else:
                    earlier.append(_row(r, self.origin))
        earlier.sort()
        return own, earlier


# Lock the project's outbox, insert, notify, and read the project's committed rows this
# process may not have handled: one round trip (schema migration 3).
_APPEND = """
SELECT r_seq AS seq, r_origin AS origin, r_payload AS payload, r_mine AS mine,
       r_first AS first_seq
FROM pm_fast_outbox_append_seq($1, $2, $3, $4, $5, $6::bigint[], $7::integer)
"""


def chained(
    writes: Sequence[tuple[str, tuple[Any, ...]]], last: str
) -> tuple[str, tuple[Any, ...]]:
    """One statement for several of a transaction: `writes` (statements that return
    nothing a caller needs, with their parameters) as data-modifying WITHs before
    `last`, whose parameters follow theirs. PostgreSQL runs every one of them, once."""
    texts = tuple(text for text, _ in writes)
    counts = tuple(len(params) for _, params in writes)
    params = tuple(p for _, ps in writes for p in ps)
    return _chained_text(texts, counts, last), params


@functools.cache
def _chained_text(texts: tuple[str, ...], counts: tuple[int, ...], last: str) -> str:
    parts: list[str] = []
    shift = 0
    for i, (text, count) in enumerate(zip(texts, counts, strict=True)):
        parts.append(f"w{i} AS ({_shifted(text, shift)})")
        shift += count
    return f"WITH {', '.join(parts)} {_shifted(last, shift)}"


def _shifted(text: str, shift: int) -> str:
    """`text` with its parameter numbers raised by `shift`."""
    if not shift:
        return text
    return re.sub(r"\$(\d+)", lambda m: f"${int(m[1]) + shift}", text)


def _row(r: Any, origin: str) -> Row:
    payload = r["payload"]
    first = r["first_seq"]
    return (
        int(r["seq"]),
        str(r["origin"]),
        None if r["origin"] == origin else bytes(payload),
        None if first is None else int(first),
    )


# -- reading -----------------------------------------------------------------------------
_FETCH = """
SELECT seq, origin, CASE WHEN origin = $1 THEN NULL ELSE payload END AS payload, first_seq
FROM pm_fast_events WHERE seq > $2 OR seq = ANY($3::bigint[]) ORDER BY seq LIMIT 5000
"""


_START = """
SELECT (SELECT COALESCE(MAX(seq), 0) FROM pm_fast_events) AS high, s.pids, s.lasts
FROM (SELECT array_agg(project_id) AS pids, array_agg(last_seq) AS lasts
      FROM pm_fast_event_seq) s
"""


class Bus:
    """This process's view of the outbox: what it has handled, and the listener task."""

    def __init__(
        self,
        connect: Callable[[], Any],
        publish: Callable[[list[Event]], None],
        origin: str | None = None,
        retention: int = RETENTION_SECS,
    ) -> None:
        self.origin = origin or str(uuid.uuid4())
        self.outbox = OutboxWriter(self.origin)
        self._connect = connect
        self._publish = publish
        self.high = 0  # every seq <= high is handled, except those in `gaps`
        self.gaps: dict[int, float] = {}  # missing seq -> when it was first missed
        # project -> seq of a committed local row whose events the writer has not yet
        # published; foreign rows of that project after it wait (order per project).
        self._holds: dict[str | None, list[int]] = {}
        self._turns: list[asyncio.Future[None]] = []  # writers waiting in wait_turn
        self._own: set[int] = set()  # seqs of local writes not yet marked or released
        self._stalled = False  # a poll stopped at a row held back by a local write
        self._polling = asyncio.Lock()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._conn: Any = None
        self._stopping = False
        self.connected = asyncio.Event()
        self.delivered = 0  # foreign events handed to `publish` (for tests and logs)
        # outbox rows live this long (at least RETENTION_SECS: other processes read them)
        self.retention = max(retention, RETENTION_SECS)
        # last event number per project when this process started listening (the
        # event log's starting point: later events reach `publish`)
        self.positions: dict[str, int] = {}

    # -- life cycle ------------------------------------------------------------------
    async def start(self, timeout: float = 10.0) -> None:
        """Connect and LISTEN, take the current end of the outbox as the starting point."""
        await asyncio.wait_for(self._open(initial=True), timeout)
        self._task = asyncio.create_task(self._run(), name="pm-fast-bus")

    async def stop(self) -> None:
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        await self._close_conn()

    async def _open(self, initial: bool) -> None:
        conn = await self._connect()
        try:
            await conn.add_listener(CHANNEL, self._on_notify)
            conn.add_termination_listener(self._on_terminated)
            if initial:
                # LISTEN first, then read the end: nothing committed after this is missed.
                # One statement, one snapshot: the event numbers committed by then.
                row = await conn.fetchrow(_START)
                self.high = int(row["high"])
                self.positions = dict(zip(row["pids"] or (), row["lasts"] or (), strict=True))
        except BaseException:
            await conn.close()
            raise
        self._conn = conn
        self.connected.set()
        self._wake.set()

    async def _close_conn(self) -> None:
        conn, self._conn = self._conn, None
        self.connected.clear()
        if conn is not None and not conn.is_closed():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), 2.0)

    def _on_notify(self, conn: Any, pid: int, channel: str, payload: str) -> None:
        # Own rows are marked by their writer after its commit (the notification often
        # arrives first): no query for those.
        try:
            seq = int(payload)
            if seq in self._own or self.handled(seq):
                return
        except ValueError:
            pass
        self._wake.set()

    def _on_terminated(self, *args: Any) -> None:
        self.connected.clear()
        self._wake.set()

    async def _run(self) -> None:
        last_prune = 0.0
        failures = 0
        while not self._stopping:
            try:
                if self._conn is None or self._conn.is_closed():
                    await self._close_conn()
                    await asyncio.wait_for(self._open(initial=False), 10.0)
                    log.info("event bus: listening again; catching up after seq %d", self.high)
                    failures = 0
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), POLL_INTERVAL)
                self._wake.clear()
                await self.poll()
                if time.monotonic() - last_prune > PRUNE_INTERVAL:
                    last_prune = time.monotonic()
                    async with self._polling:
                        await self._conn.execute(
                            "DELETE FROM pm_fast_events WHERE created_at < $1",
                            int(time.time()) - self.retention,
                        )
            except asyncio.CancelledError:
                raise
            except Exception as err:  # noqa: BLE001 - any failure: reconnect after a pause
                delay = RECONNECT_DELAYS[min(failures, len(RECONNECT_DELAYS) - 1)]
                if failures == 0:
                    log.warning("event bus: %s; reconnecting", err)
                failures += 1
                await self._close_conn()
                await asyncio.sleep(delay)

    async def poll(self) -> None:
        """Fetch and handle every row not handled yet (in seq order)."""
        async with self._polling:  # one query at a time on the listening connection
            await self._poll()

    async def _poll(self) -> None:
        conn = self._conn
        if conn is None:
            return
        while True:
            self._expire_gaps()
            rows = await conn.fetch(_FETCH, self.origin, self.high, list(self.gaps))
            batch = [_row(r, self.origin) for r in rows]
            complete = self.absorb(batch)
            if len(rows) < 5000 or not complete:
                return

    # -- handling rows ------------------------------------------------------------------
    def floor(self) -> tuple[int, list[int]]:
        """What a writer asks for: rows above `high`, and the gaps."""
        return self.high, list(self.gaps)

    def handled(self, seq: int) -> bool:
        return seq <= self.high and seq not in self.gaps

    def absorb(self, rows: Iterable[Row]) -> bool:
        """Handle rows (sorted by seq): mark them seen, publish those of other processes.

        A row of a project with an unpublished local write before it is skipped (with
        every later row of that project, which is held the same way) and left unseen:
        a gap that the next fetch asks for again. Rows of other projects go on. Returns
        False when a row was skipped.
        """
        complete = True
        for seq, origin, payload, first in rows:
            if self.handled(seq):
                continue
            events: list[Event] = []
            if payload is not None and origin != self.origin:
                try:
                    events = decode_events(payload, first)
                except Exception:
                    log.exception("event bus: undecodable row %d skipped", seq)
                if events and self._held(events[0].project_id, seq):
                    self._stalled = True
                    complete = False
                    continue
            self._mark(seq)
            if events:
                self.delivered += len(events)
                try:
                    self._publish(events)
                except Exception:
                    log.exception("event bus: publishing row %d failed", seq)
        return complete

    def _held(self, project_id: str | None, seq: int) -> bool:
        held = self._holds.get(project_id)
        return bool(held) and any(seq > h for h in held)  # type: ignore[union-attr]

    def _mark(self, seq: int) -> None:
        if seq > self.high:
            if seq - self.high - 1 > MAX_GAPS:
                log.warning("event bus: seq jumped from %d to %d", self.high, seq)
            else:
                now = time.monotonic()
                for missing in range(self.high + 1, seq):
                    self.gaps[missing] = now
            self.high = seq
        else:
            self.gaps.pop(seq, None)

    def _expire_gaps(self) -> None:
        if not self.gaps:
            return
        limit = time.monotonic() - GAP_GRACE
        for seq in [s for s, t in self.gaps.items() if t < limit]:
            del self.gaps[seq]

    # -- the writer's side ----------------------------------------------------------------
    def hold(self, project_ids: Iterable[str | None], seq: int, own: Iterable[int] = ()) -> None:
        """A local write appended rows (`own`, highest `seq`): until `release`, foreign
        rows of its projects after it wait, and notifications of `own` wake nobody."""
        for pid in project_ids:
            self._holds.setdefault(pid, []).append(seq)
        self._own.update(own)

    def release(self, project_ids: Iterable[str | None], seq: int, own: Iterable[int] = ()) -> None:
        for pid in project_ids:
            held = self._holds.get(pid)
            if held is not None:
                with contextlib.suppress(ValueError):
                    held.remove(seq)
                if not held:
                    del self._holds[pid]
        self._own.difference_update(own)
        if self._stalled:  # rows held back for this write can go now
            self._stalled = False
            self._wake.set()
        waiters, self._turns = self._turns, []
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)

    async def wait_turn(self, project_ids: Iterable[str | None], seq: int) -> None:
        """Wait until the local writes of these projects committed before `seq` have
        published their events (their writers resume in any order after commit)."""
        projects = list(project_ids)
        while any(h < seq for p in projects for h in self._holds.get(p, ())):
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._turns.append(fut)
            await fut

    def committed(self, own: list[int], earlier: list[Row]) -> None:
        """After a local commit: handle the earlier rows first, then mark our own."""
        self.absorb(earlier)
        for seq in own:
            if not self.handled(seq):
                self._mark(seq)
