"""A small keep-alive HTTP/1.1 load generator on asyncio streams.

Cheaper per request than a full client library, so on a 2-core machine more of the CPU
is left to the server under test. Loopback only; every run is bounded in count and time.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Result:
    name: str
    clients: int
    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float] = field(repr=False, default_factory=list)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def pct(self, q: float) -> float:
        if not self.latencies_ms:
            return 0.0
        data = sorted(self.latencies_ms)
        return data[min(len(data) - 1, int(q * len(data)))]

    def row(self) -> dict[str, float | int | str]:
        return {
            "name": self.name,
            "clients": self.clients,
            "requests": self.requests,
            "errors": self.errors,
            "rps": round(self.rps, 1),
            "p50_ms": round(self.pct(0.50), 3),
            "p99_ms": round(self.pct(0.99), 3),
            "mean_ms": round(statistics.fmean(self.latencies_ms), 3) if self.latencies_ms else 0,
        }


class Connection:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def request(
        self, method: str, path: str, body: bytes = b"", headers: tuple[tuple[str, str], ...] = ()
    ) -> tuple[int, bytes]:
        assert self.reader is not None and self.writer is not None
        head = [f"{method} {path} HTTP/1.1", f"host: {self.host}:{self.port}"]
        if body:
            head += ["content-type: application/json", f"content-length: {len(body)}"]
        head += [f"{k}: {v}" for k, v in headers]
        self.writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        status_line = await self.reader.readline()
        status = int(status_line.split(b" ", 2)[1])
        length = 0
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        data = await self.reader.readexactly(length) if length else b""
        return status, data

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()


# A request factory gets (client index, sequence number) and returns method, path, body.
RequestFactory = Callable[[int, int], tuple[str, str, bytes]]


async def run(
    name: str,
    host: str,
    port: int,
    clients: int,
    factory: RequestFactory,
    total: int,
    max_seconds: float,
    expect: int = 200,
) -> Result:
    """`clients` connections share `total` requests; stops early after `max_seconds`."""
    conns = [Connection(host, port) for _ in range(clients)]
    await asyncio.gather(*(c.open() for c in conns))
    latencies: list[float] = []
    errors = 0
    remaining = total
    deadline = time.perf_counter() + max_seconds

    async def worker(index: int, conn: Connection) -> None:
        nonlocal remaining, errors
        seq = 0
        while remaining > 0 and time.perf_counter() < deadline:
            remaining -= 1
            method, path, body = factory(index, seq)
            seq += 1
            t0 = time.perf_counter()
            status, _ = await conn.request(method, path, body)
            latencies.append((time.perf_counter() - t0) * 1000.0)
            if status != expect:
                errors += 1

    start = time.perf_counter()
    await asyncio.gather(*(worker(i, c) for i, c in enumerate(conns)))
    elapsed = time.perf_counter() - start
    await asyncio.gather(*(c.close() for c in conns))
    return Result(name, clients, len(latencies), errors, elapsed, latencies)
