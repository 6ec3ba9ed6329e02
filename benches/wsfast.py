"""A lean WebSocket client for the load benchmarks (asyncio protocol, RFC 6455 subset).

With 100 subscribers the load generator has to take in 100 times the frames the server
sends per event, on the same 2 cores as the server. A general-purpose client spends far
more per frame than the server does, which would make every server look alike. This one
does the least per frame: it splits the byte stream into frames, stamps each batch with
one clock read and keeps the payloads only where asked. Loopback benchmarks only: it
sends with a zero mask key, speaks no extensions and answers pings with pongs.
"""

from __future__ import annotations

import asyncio
import base64
import os
import struct
import time
from collections.abc import Callable
from typing import cast

_ZERO_MASK = b"\x00\x00\x00\x00"


def _frame(opcode: int, payload: bytes) -> bytes:
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
    elif n < 65536:
        head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
    return head + _ZERO_MASK + payload  # XOR with a zero key leaves the payload as is


class Client(asyncio.Protocol):
    """One connection. `on_frames(payloads, t)` gets each batch of binary frames."""

    def __init__(self, request: bytes, on_frames: Callable[[list[bytes], float], None]) -> None:
        self.request = request
        self.on_frames = on_frames
        self.buf = bytearray()
        self.upgraded = asyncio.get_running_loop().create_future()
        self.closed = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream connection's transport has asyncio.Transport's methods (uvloop's is not a
        # subclass of it, hence a cast rather than an isinstance check).
        stream = cast(asyncio.Transport, transport)
        self.transport = stream
        stream.write(self.request)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.upgraded.done():
            self.upgraded.set_exception(ConnectionError("closed during the handshake"))
        if not self.closed.done():
            self.closed.set_result(None)

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        if not self.upgraded.done():
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            status = bytes(buf[: buf.find(b"\r\n")])
            del buf[: end + 4]
            if b" 101 " not in status:
                self.upgraded.set_exception(ConnectionError(status.decode(errors="replace")))
                return
            self.upgraded.set_result(None)
        frames: list[bytes] = []
        pos = 0
        size = len(buf)
        while size - pos >= 2:
            b0 = buf[pos]
            n = buf[pos + 1] & 0x7F
            head = 2
            if n == 126:
                if size - pos < 4:
                    break
                n = (buf[pos + 2] << 8) | buf[pos + 3]
                head = 4
            elif n == 127:
                if size - pos < 10:
                    break
                n = int.from_bytes(buf[pos + 2 : pos + 10], "big")
                head = 10
            if size - pos < head + n:
                break
            opcode = b0 & 0x0F
            start = pos + head
            if opcode == 2:
                frames.append(bytes(buf[start : start + n]))
            elif opcode == 9 and self.transport is not None:
                self.transport.write(_frame(10, bytes(buf[start : start + n])))
            elif opcode == 8 and self.transport is not None:
                self.transport.close()
            pos = start + n
        if pos:
            del buf[:pos]
        if frames:
            self.on_frames(frames, time.perf_counter())

    def send(self, payload: bytes) -> None:
        assert self.transport is not None
        self.transport.write(_frame(2, payload))

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(_frame(8, b"\x03\xe8"))
            self.transport.close()


async def connect(
    host: str, port: int, path: str, on_frames: Callable[[list[bytes], float], None]
) -> Client:
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    ).encode()
    loop = asyncio.get_running_loop()
    _, client = await loop.create_connection(lambda: Client(request, on_frames), host, port)
    await asyncio.wait_for(client.upgraded, 10)
    return client
