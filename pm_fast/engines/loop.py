"""The event loop pm-fast serves on: asyncio's selector loop, with the wake-ups that
other threads send it coalesced.

Every frame Granian sends on a WebSocket and every request it hands over completes on
one of its Rust threads, which resumes the waiting coroutine with
`loop.call_soon_threadsafe`; the SQLite threads do the same once per batch. asyncio
then writes one byte to the loop's self-pipe per call, a system call each (tens of
thousands a second under a WebSocket fan-out), although one pending byte is enough to
wake the loop. Here a call writes only when no wake-up is pending since the loop last
drained the pipe.

Why no wake-up is lost: a caller appends its callback to the ready queue *before* it
looks at the flag. If it sees a wake-up pending, the flag is cleared later, by
`_read_from_self` (a callback of the loop) once it has drained the pipe; after that the
loop computes its next select timeout, sees the caller's callback in the ready queue
and does not block. A caller that finds the flag clear writes a byte that nothing
drains before the next select. Clearing before draining would lose wake-ups: a byte
written in between would be drained while the flag stayed set.

Signals wake the loop through `signal.set_wakeup_fd`, which writes to the same socket
directly and is not affected. The two methods overridden are private to asyncio's
selector loop (CPython 3.11); tests/unit/test_loop.py fails if they change meaning.
"""

from __future__ import annotations

import asyncio


class CoalescingLoop(asyncio.SelectorEventLoop):
    _wake_pending = False

    def _write_to_self(self) -> None:
        if self._wake_pending:
            return
        self._wake_pending = True
        super()._write_to_self()  # type: ignore[misc]

    def _read_from_self(self) -> None:
        super()._read_from_self()  # type: ignore[misc]
        # Only now: a byte written after this line stays in the pipe and wakes the next
        # select; one written while the pipe was drained was read with the others.
        self._wake_pending = False


def new_loop() -> asyncio.AbstractEventLoop:
    return CoalescingLoop()
