"""`--engine` / `PM_FAST_ENGINE`: what serves HTTP and WebSockets (docs/compat.md "Close
codes"). The default (Granian's ASGI interface) is what every other test runs on; here:
the option's parsing, and that `granian-rsgi` serves the same app with Close frames that
carry no code."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from harness import run_to_exit

from .wsclient import WsClient, case_of, running_server


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (("serve", "--engine", "nginx"), {}),
        (("serve", "--engine=Granian"), {}),
        (("serve",), {"PM_FAST_ENGINE": "robin"}),
    ],
)
def test_unknown_engines_are_refused(
    tmp_path: Path, args: tuple[str, ...], env: dict[str, str]
) -> None:
    rc, _, err = run_to_exit(tmp_path, args=args, env=env)
    assert rc == 2, err
    assert "the engine must be one of granian, granian-rsgi" in err, err


def test_an_option_without_its_value_is_refused(tmp_path: Path) -> None:
    rc, _, err = run_to_exit(tmp_path, args=("serve", "--engine"))
    assert rc == 2 and "unknown option '--engine'" in err, err


def test_workers_serve_through_granian_only(tmp_path: Path) -> None:
    rc, _, err = run_to_exit(tmp_path, args=("serve", "--workers", "2", "--engine", "granian-rsgi"))
    assert rc == 2 and "--workers serves through the granian engine only" in err, err


def test_the_rsgi_interface_serves_the_same_app_without_close_codes(tmp_path: Path) -> None:
    async def scenario(port: int) -> tuple[str, WsClient]:
        client = await WsClient.connect(port, "new")
        project = await client.project(subscribe=True)
        item = await client.item(project.id)
        assert item.project_id == project.id
        reply, _ = await client.request("ping", timestamp=7)
        assert case_of(reply) == "pong" and reply.pong.timestamp == 7
        return project.id, client

    with running_server(tmp_path, args=("serve", "--engine", "granian-rsgi")) as srv:
        with srv.client() as http:
            assert http.get("/ready").status_code == 200
        assert "(Granian RSGI, one worker)" in srv.logs()
        loop = asyncio.new_event_loop()
        try:
            pid, client = loop.run_until_complete(scenario(srv.port))
            with srv.client() as http:
                r = http.get(f"/api/v1/projects/{pid}")
                assert r.status_code == 200, r.text
            assert srv.request_shutdown().status_code == 202
            loop.run_until_complete(client.wait_closed(timeout=15))
            # a Close frame, without a status code (the interface cannot send one)
            assert client.ws.close_code == 1005
        finally:
            loop.close()
        assert srv.wait_exit(15) == 0
