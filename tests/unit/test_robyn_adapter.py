"""The Robyn adapter's own pieces (engines/robyn.py); the black-box suite runs the whole
engine with PM_FAST_TEST_ENGINE=robyn."""

from __future__ import annotations

import asyncio
import socket

import pytest

from pm_fast.api.ws_transport import KIND_BINARY, KIND_CLOSE, KIND_TEXT
from pm_fast.engines import robyn
from pm_fast.engines.loop import new_loop


class _Params:
    def __init__(self, items: list[tuple[str, str]]) -> None:
        self.items = items

    def multi_items(self) -> list[tuple[str, str]]:
        return self.items


def test_query_string_is_rebuilt_with_its_escapes() -> None:
    params = _Params([("token", "a%20b"), ("flag", ""), ("x", "1"), ("x", "2")])
    assert robyn._query_string(params) == "token=a%20b&flag&x=1&x=2"
    assert robyn._query_string(_Params([])) == ""


async def test_body_is_bytes_whatever_robyn_decoded() -> None:
    assert await robyn._Body("é").whole() == "é".encode()
    assert [c async for c in robyn._Body(b"\xff").chunks()] == [b"\xff"]


class _Channel:
    def __init__(self, messages: list[object]) -> None:
        self.messages = messages

    async def receive(self) -> object:
        return self.messages.pop(0)


class _Conn:
    id = "c1"

    def __init__(self, messages: list[object]) -> None:
        self.message_channel = _Channel(messages)
        self.closes = 0

    def close(self) -> None:
        self.closes += 1


async def test_socket_frames_and_one_close() -> None:
    conn = _Conn([b"\x01", "hi", None])
    sock = robyn._Socket(conn)
    assert await sock.receive() == (KIND_BINARY, b"\x01")
    assert await sock.receive() == (KIND_TEXT, "hi")
    assert (await sock.receive()).kind == KIND_CLOSE
    sock.close(1001, "bye")
    sock.close(1000, "")
    assert conn.closes == 1


def test_the_policy_hands_out_the_serving_loop() -> None:
    loop = new_loop()
    try:
        policy = robyn._ThisLoop(loop)
        assert policy.new_event_loop() is loop
        assert policy.new_event_loop() is loop
    finally:
        loop.close()


def test_listeners_lists_a_listening_socket_and_its_port() -> None:
    sock = socket.socket()
    try:
        sock.bind(("127.0.0.1", 0))
        before = robyn._listeners()
        assert sock.fileno() not in before
        sock.listen()
        assert robyn._listeners()[sock.fileno()] == sock.getsockname()[1]
    finally:
        sock.close()


@pytest.mark.parametrize("host", ["0.0.0.0", "", "127.0.0.1"])
def test_probe_host(host: str) -> None:
    assert robyn._probe_host(host) == "127.0.0.1"


def test_no_headers_on_upgrades() -> None:
    assert robyn._NoHeaders().get("authorization") is None


def test_asyncio_is_untouched_by_import() -> None:
    assert not isinstance(asyncio.get_event_loop_policy(), robyn._ThisLoop)
