"""The raw-capacity baseline for the fan-out benchmark: a bare Granian broadcast.

    python benches/baseline_rsgi.py PORT_FILE [rsgi|asgi] [sized] [get=FILE] [post=FILE]

Granian's RSGI interface by default; `asgi` serves the same broadcast through its ASGI
interface (the one pm-fast serves by default), with one dictionary per frame sent and
received as ASGI has it.

Serves WebSocket on an OS-chosen loopback port (written to PORT_FILE) with Granian's
embedded server in one process, one event loop, as pm-fast runs. No protobuf decoding,
no database, no rules: a connection whose URL says ``role=writer`` is a writer, every
other connection is a subscriber once it has sent its first frame (the subscribe
request, echoed back as its reply). For each frame a writer sends, every subscriber
gets two frames: a fixed 60-byte frame (standing in for pm-fast's ActivityLogCreated)
and the writer's bytes (standing in for the entity event); then the writer gets its own
bytes back as the reply. That is the same frame count and the same per-connection
machinery (a bounded queue and one writer task per connection, since Granian allows
one sender at a time) as pm-fast, with nothing else: what pm-fast cannot beat. A writer
that runs ahead of a subscriber's queue (5,000 pairs of frames) waits for room, so the
baseline measures delivery capacity.

`sized` pads both frames to the sizes of pm-fast's frames for the same mutation (234 and
330 bytes: a WorkItemCreated and its ActivityLogCreated, measured from a pm-fast server
with the load client's requests), with an unknown field that a protobuf reader skips, so
the load client reads as many bytes from the baseline as from pm-fast; without it the
frames are 60 and 87 bytes.

`get=FILE` and `post=FILE` make it the REST floor of benches/load_reads.py: every HTTP
GET is answered 200 with FILE's bytes (pm-fast's JSON for the work item it reads) and
every POST, once its body is read, 201 with the other file's bytes, with pm-fast's
response headers (`content-type: application/json`, `content-length`); nothing else
(no routing, no JSON, no database): what pm-fast's REST cannot beat on this engine.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# The same embedded server class pm-fast runs on (listener bound once, port read back).
from pm_fast.engines.granian import EmbeddedServer  # noqa: E402

# Stands in for the ActivityLogCreated frame; never decoded by the load client.
ACTIVITY = b"\x0a\x24" + b"0" * 36 + b"\xca\x01\x14" + b"a" * 20
# pm-fast's frame sizes for the load client's CreateWorkItemRequest (see `sized`)
SIZED_ACTIVITY, SIZED_ENTITY = 234, 330


def _varint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def padded(frame: bytes, size: int) -> bytes:
    """`frame` with an unknown length-delimited field (number 999) appended so that the
    whole is `size` bytes (or a little more when a length needs a second byte)."""
    tag = _varint(999 << 3 | 2)
    room = size - len(frame) - len(tag)
    n = max(0, room - len(_varint(max(0, room - 1))))
    return frame + tag + _varint(n) + b"p" * n


class Peer:
    __slots__ = ("queue", "send_bytes")

    def __init__(self, send_bytes: Any) -> None:
        self.send_bytes = send_bytes
        self.queue: asyncio.Queue[tuple[bytes, ...] | None] = asyncio.Queue(5000)

    async def writer(self) -> None:
        send = self.send_bytes
        get = self.queue.get
        try:
            while (frames := await get()) is not None:
                for frame in frames:
                    await send(frame)
        except (RuntimeError, OSError):
            return


JSON = [("content-type", "application/json")]


class Broadcast:
    def __init__(
        self, sized: bool = False, get_body: bytes | None = None, post_body: bytes | None = None
    ) -> None:
        self.subscribers: list[Peer] = []
        self.sized = sized
        self.activity = padded(ACTIVITY, SIZED_ACTIVITY) if sized else ACTIVITY
        self.get_body = get_body if get_body is not None else b"baseline\n"
        self.post_body = post_body if post_body is not None else self.get_body

    async def __call__(self, scope: Any, proto: Any) -> None:
        """RSGI."""
        if scope.proto != "ws":
            if scope.method == "POST":
                await proto()  # the request body
                proto.response_bytes(201, JSON, self.post_body)
            else:
                proto.response_bytes(200, JSON, self.get_body)
            return
        transport = await proto.accept()

        async def receive() -> bytes | None:
            msg = await transport.receive()
            return None if int(msg.kind) == 0 else bytes(msg.data)

        writer_role = "role=writer" in (scope.query_string or "")
        await self.peer(writer_role, receive, transport.send_bytes)
        proto.close(None)

    async def asgi(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "websocket":
            status, body = 200, self.get_body
            if scope["method"] == "POST":
                while (await receive()).get("more_body"):
                    pass
                status, body = 201, self.post_body
            headers = [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ]
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})

        async def frame() -> bytes | None:
            msg = await receive()
            if msg["type"] != "websocket.receive":
                return None
            return msg.get("bytes") or (msg.get("text") or "").encode()

        def send_bytes(data: bytes) -> Any:
            return send({"type": "websocket.send", "bytes": data})

        writer_role = b"role=writer" in scope["query_string"]
        await self.peer(writer_role, frame, send_bytes)
        await send({"type": "websocket.close", "code": 1000})

    async def peer(self, writer_role: bool, receive: Any, send_bytes: Any) -> None:
        peer = Peer(send_bytes)
        task = asyncio.create_task(peer.writer())
        subscribed = False
        try:
            while True:
                data = await receive()
                if data is None:
                    break
                if writer_role:
                    event = padded(data, SIZED_ENTITY) if self.sized else data
                    pair = (self.activity, event)
                    for sub in self.subscribers:
                        await sub.queue.put(pair)  # waits for room if full
                elif not subscribed:
                    subscribed = True
                    self.subscribers.append(peer)
                await peer.queue.put((data,))
        except (RuntimeError, OSError):
            pass
        finally:
            if subscribed:
                self.subscribers.remove(peer)
            peer.queue.put_nowait(None)
            await asyncio.gather(task, return_exceptions=True)


async def main(
    port_file: Path,
    interface: str,
    sized: bool,
    get_body: bytes | None = None,
    post_body: bytes | None = None,
) -> None:
    broadcast = Broadcast(sized, get_body, post_body)
    target = broadcast.asgi if interface == "asgi" else broadcast
    server = EmbeddedServer(target, "127.0.0.1", 0, interface=interface)
    server.on_bound = lambda port: port_file.write_text(str(port))
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    serving = asyncio.create_task(server.serve())
    await stop.wait()
    server.signal_handler_interrupt()
    await asyncio.wait_for(serving, 10)


if __name__ == "__main__":
    interface = sys.argv[2] if len(sys.argv) > 2 else "rsgi"
    files = dict(a.split("=", 1) for a in sys.argv[3:] if "=" in a)
    bodies = [Path(files[k]).read_bytes() if k in files else None for k in ("get", "post")]
    asyncio.run(main(Path(sys.argv[1]), interface, "sized" in sys.argv[3:], *bodies))
