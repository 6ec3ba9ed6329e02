"""A listening socket bound before the server starts (PM_FAST_LISTEN_FD).

The sidecar's launcher (build/launcher.c) binds PM_SERVER_HOST:PM_SERVER_PORT within a
millisecond of exec and hands the socket over, so the desktop shell's readiness polls
wait in the backlog instead of being refused while the interpreter starts. Here the
test plays the launcher: it binds, passes the descriptor, closes its own copy, and
connects before the server can have bound anything itself.
"""

from __future__ import annotations

import socket
import time

import httpx
import pytest
from harness import not_on_robyn

from .conftest import ServerFactory

READ_TIMEOUT = 60.0


def listener(port: int = 0) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(64)
    sock.set_inheritable(True)
    return sock


def raw_get(port: int, path: str) -> bytes:
    """One GET on a connection made now; the whole response (the server closes)."""
    with socket.create_connection(("127.0.0.1", port), timeout=READ_TIMEOUT) as conn:
        conn.sendall(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode()
        )
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


@not_on_robyn("an inherited listener")
def test_connection_made_before_the_server_is_up_is_answered(
    server_factory: ServerFactory,
) -> None:
    sock = listener()
    port = sock.getsockname()[1]
    srv = server_factory(start=False, port=port, env={"PM_FAST_LISTEN_FD": str(sock.fileno())})
    srv.pass_fds = (sock.fileno(),)
    srv.spawn()
    sock.close()  # from now on only the server holds the listener
    # Connected at once: accepted by the kernel into the backlog, answered once serving.
    response = raw_get(port, "/ready")
    assert response.startswith(b"HTTP/1.1 200"), response[:300]
    info = srv.wait_port_file(time.monotonic() + READ_TIMEOUT)
    assert info["port"] == port
    srv._port = port
    srv.stop()


@pytest.mark.parametrize("case", ["other-port", "not-listening", "not-a-socket", "garbage"])
def test_a_listener_that_does_not_match_the_configuration_is_closed(
    server_factory: ServerFactory, case: str
) -> None:
    configured = listener()
    port = configured.getsockname()[1]
    configured.close()  # a free port for the server to bind itself
    stray: socket.socket | None = None
    if case == "other-port":
        stray = listener()
        fd = str(stray.fileno())
    elif case == "not-listening":
        stray = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        stray.bind(("127.0.0.1", 0))
        stray.set_inheritable(True)
        fd = str(stray.fileno())
    elif case == "not-a-socket":
        fd = "0"  # stdin: /dev/null
    else:
        fd = "x9"
    srv = server_factory(start=False, port=port, env={"PM_FAST_LISTEN_FD": fd})
    if stray is not None:
        srv.pass_fds = (stray.fileno(),)
    srv.start()
    assert srv.port == port
    with httpx.Client(trust_env=False, timeout=10) as c:
        assert c.get(f"http://127.0.0.1:{port}/ready").status_code == 200
    if stray is not None and case == "other-port":
        stray_port = stray.getsockname()[1]
        stray.close()  # the server closed its copy: nobody listens there any more
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", stray_port), timeout=5).close()
        assert "ignoring the inherited listener" in srv.logs()
    elif stray is not None:
        stray.close()
    srv.stop()


def test_host_given_as_a_name_is_resolved_and_bound(server_factory: ServerFactory) -> None:
    # The desktop shell allows server.host = "localhost" and passes it as PM_SERVER_HOST;
    # the server binds an address of that name (IPv4 first: the shell polls 127.0.0.1)
    # and the port file keeps the name, as the original's does.
    srv = server_factory(host="localhost")
    assert srv.port_file_info is not None and srv.port_file_info["host"] == "localhost"
    with httpx.Client(trust_env=False, timeout=10) as c:
        assert c.get(f"http://127.0.0.1:{srv.port}/ready").status_code == 200
    srv.stop()


@not_on_robyn("an inherited listener")
def test_inherited_listener_for_a_host_name(server_factory: ServerFactory) -> None:
    sock = listener()
    port = sock.getsockname()[1]
    srv = server_factory(
        start=False, port=port, host="localhost", env={"PM_FAST_LISTEN_FD": str(sock.fileno())}
    )
    srv.pass_fds = (sock.fileno(),)
    srv.spawn()
    sock.close()
    response = raw_get(port, "/ready")
    assert response.startswith(b"HTTP/1.1 200"), response[:300]
    srv._port = port
    srv.stop()
