"""Log output of a real server: JSON lines (`PM_FAST_LOG_FORMAT=json`) and no colour
escapes where no terminal reads them."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import websockets
from harness import ON_ROBYN

from .wsclient import ServerProcess, new_id, running_server

STAMP_RE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00")
ID_RE = re.compile(r"[0-9a-f]{8}-\d+")
HEARTBEAT_TIMEOUT = 10  # the smallest websocket.heartbeat_timeout_secs allowed
SLACK = 20.0
ESC = "\x1b["


def parse_all(text: str, where: str) -> list[dict[str, Any]]:
    """Every line of `text` as a JSON object with the fields every line has."""
    out = []
    for line in text.splitlines():
        try:
            obj = json.loads(line)
        except ValueError:
            raise AssertionError(f"{where}: not JSON: {line!r}") from None
        assert isinstance(obj, dict), line
        for key in ("time", "level", "message", "logger", "source"):
            assert isinstance(obj.get(key), str), (key, line)
        assert STAMP_RE.fullmatch(obj["time"]), line
        assert obj["level"] in ("ERROR", "WARN", "INFO", "DEBUG", "TRACE"), line
        out.append(obj)
    return out


async def idle_websocket(port: int) -> str:
    """Open a WebSocket, send nothing, wait for the server's heartbeat to close it."""
    async with websockets.connect(
        f"ws://127.0.0.1:{port}/ws?user_id={new_id()}", ping_interval=None, open_timeout=10
    ) as ws:
        try:
            while True:
                await asyncio.wait_for(ws.recv(), HEARTBEAT_TIMEOUT + SLACK)
        except websockets.ConnectionClosed as closed:
            return closed.rcvd.reason if closed.rcvd is not None else ""


def test_json_logs_with_request_and_connection_ids(tmp_path: Path) -> None:
    env = {
        "PM_FAST_LOG_FORMAT": "json",
        "PM_LOG_FILE": "server.log",
        "PM_LOG_LEVEL": "debug",  # library lines too (granian, aiosqlite)
        "PM_LOG_COLORED": "true",
        "PM_WS_HEARTBEAT_INTERVAL_SECS": "5",
        "PM_WS_HEARTBEAT_TIMEOUT_SECS": str(HEARTBEAT_TIMEOUT),
    }
    with running_server(tmp_path, env=env) as srv:
        with srv.client() as c:
            # refused by the browser guard: a REST error with a log line
            refused = c.get("/api/v1/projects", headers={"Host": "evil.example"})
            assert refused.status_code >= 400, refused.text
            assert c.get("/api/v1/projects").status_code == 200
        started = time.monotonic()

        async def two() -> list[str]:
            return list(await asyncio.gather(idle_websocket(srv.port), idle_websocket(srv.port)))

        reasons = asyncio.run(two())
        assert time.monotonic() - started < HEARTBEAT_TIMEOUT + SLACK
        if not ON_ROBYN:  # Robyn sends Close frames without a code or reason (docs/compat.md)
            assert all("nothing received" in r.lower() for r in reasons), reasons
        srv.stop()
        log_text = (srv.pm_dir / "log" / "server.log").read_text(encoding="utf-8")
        assert ESC not in log_text
        lines = parse_all(log_text, "server.log")
        parse_all(srv.stderr_text(), "stderr")
        parse_all(srv.stdout_text(), "stdout")

    assert any(x["logger"] == "pm_fast" for x in lines)
    assert any(x["logger"] != "pm_fast" for x in lines)  # library lines are JSON too
    (refusal,) = [x for x in lines if x["message"].startswith("refused a request: Host")]
    assert ID_RE.fullmatch(refusal["request_id"]), refusal
    assert "connection_id" not in refusal
    closes = [x for x in lines if x["message"].startswith("closing WebSocket of user")]
    assert len(closes) == 2, closes
    ids = {x["connection_id"] for x in closes}
    assert len(ids) == 2 and all(ID_RE.fullmatch(i) for i in ids), closes
    assert all(x["close_code"] == 1008 and "request_id" not in x for x in closes), closes
    assert refusal["request_id"] not in ids
    # lines written outside any request or connection carry neither id
    (listening,) = [x for x in lines if "listening on http" in x["message"]]
    assert "request_id" not in listening and "connection_id" not in listening


def test_text_logs_stay_the_line_format(tmp_path: Path) -> None:
    env = {"PM_LOG_FILE": "server.log", "PM_FAST_LOG_FORMAT": "text"}
    with running_server(tmp_path, env=env) as srv:
        with srv.client() as c:
            c.get("/api/v1/projects", headers={"Host": "evil.example"})
        srv.stop()
        text = (srv.pm_dir / "log" / "server.log").read_text(encoding="utf-8")
    lines = text.splitlines()
    assert lines
    line_re = re.compile(r"\[" + STAMP_RE.pattern + r" - [A-Z]+\] .* \[[^\]]+:\d+\]")
    assert all(line_re.fullmatch(ln) for ln in lines), lines
    assert "request_id" not in text


def test_bad_log_format_is_refused(tmp_path: Path) -> None:
    srv = ServerProcess(tmp_path, env={"PM_FAST_LOG_FORMAT": "xml"})
    try:
        proc = srv.spawn()
        assert proc.wait(timeout=60) == 2
        assert "PM_FAST_LOG_FORMAT" in srv.stderr_text()
    finally:
        srv.close(remove=False)


class PipedServer(ServerProcess):
    """A server whose stdout and stderr are pipes (as under a process supervisor)."""

    def outputs(self) -> tuple[Any, Any]:
        return subprocess.PIPE, subprocess.PIPE


def test_no_colour_escapes_into_a_pipe(tmp_path: Path) -> None:
    # logging.colored = true (the default) asks for colour; a pipe is no terminal
    srv = PipedServer(tmp_path, env={"PM_LOG_COLORED": "true", "PM_LOG_LEVEL": "debug"})
    try:
        srv.start()
        with httpx.Client(base_url=srv.url, timeout=10.0, trust_env=False) as c:
            c.get("/api/v1/projects", headers={"Host": "evil.example"})  # a WARN line
        srv.stop()
        assert srv.proc is not None
        out, err = (b.decode("utf-8", "replace") for b in srv.proc.communicate(timeout=30))
    finally:
        srv.close(remove=False)
    assert "] refused a request: Host" in out, out[-2000:]
    assert " - WARN] " in out
    assert ESC not in out
    assert ESC not in err
