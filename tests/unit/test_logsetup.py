"""Log formats (pm_fast/logsetup.py): JSON lines, ids, and colour only on a terminal."""

from __future__ import annotations

import asyncio
import contextvars
import io
import json
import logging
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from pm_fast import bootstrap, logsetup
from pm_fast.config import Config, load_config

STAMP_RE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00")
ESC = "\x1b["


@pytest.fixture
def pm(tmp_path: Path) -> Path:
    path = tmp_path / ".pm"
    path.mkdir()
    return path


def load(pm_dir: Path, env: dict[str, str]) -> Config:
    return load_config(pm_dir, env)


pytestmark = pytest.mark.usefixtures("restore_logging")


def json_lines(path: Path) -> list[dict[str, Any]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def json_setup(pm: Path, level: str = "trace") -> Path:
    cfg = load(pm, {"PM_LOG_FILE": "j.log", "PM_LOG_LEVEL": level})
    logsetup.setup_logging(cfg, pm, "json")
    return pm / "log" / "j.log"


# --------------------------------------------------------------------------- JSON lines


def test_json_line_has_the_fields(pm: Path) -> None:
    path = json_setup(pm)
    logsetup.log.info("hello %s", "world")
    logsetup.log.warning("careful")
    logsetup.log.critical("worse")
    logsetup.log.log(logsetup.TRACE, "very fine")
    logging.getLogger("some.library").debug("theirs")
    lines = json_lines(path)
    assert [(x["level"], x["message"], x["logger"]) for x in lines] == [
        ("INFO", "hello world", "pm_fast"),
        ("WARN", "careful", "pm_fast"),
        ("ERROR", "worse", "pm_fast"),
        ("TRACE", "very fine", "pm_fast"),
        ("DEBUG", "theirs", "some.library"),
    ]
    first = lines[0]
    assert set(first) == {"time", "level", "message", "logger", "source"}  # nothing invented
    assert STAMP_RE.fullmatch(first["time"]), first["time"]
    assert first["source"].startswith("tests/unit/test_logsetup.py:")


def test_json_extra_fields_and_odd_values(pm: Path) -> None:
    path = json_setup(pm)
    logsetup.log.info(
        "with fields",
        extra={"project_id": "p1", "count": 3, "ratio": 0.5, "flag": True, "obj": object()},
    )
    # an extra named like one of the line's own keys does not replace it
    logsetup.log.info("own keys win", extra={"level": "FAKE", "time": 0})
    logsetup.log.info("multi\nline \x1b[31m text")
    first, second, third = json_lines(path)
    assert first["project_id"] == "p1"
    assert first["count"] == 3
    assert first["ratio"] == 0.5
    assert first["flag"] is True
    assert first["obj"].startswith("<object object")
    assert second["level"] == "INFO"
    assert STAMP_RE.fullmatch(second["time"])
    assert third["message"] == "multi\nline \x1b[31m text"  # escaped inside the JSON string
    assert len(path.read_text(encoding="utf-8").splitlines()) == 3


def test_json_exception_is_one_line(pm: Path) -> None:
    path = json_setup(pm)
    try:
        raise ValueError("boom")
    except ValueError:
        logsetup.log.exception("it failed", extra={"method": "GET", "path": "/x"})
    (line,) = json_lines(path)
    assert line["message"] == "it failed"
    assert line["level"] == "ERROR"
    assert "ValueError: boom" in line["exception"]
    assert "Traceback" in line["exception"]
    assert (line["method"], line["path"]) == ("GET", "/x")


def test_json_request_and_connection_ids(pm: Path) -> None:
    path = json_setup(pm)
    assert logsetup.ids_wanted()
    first, second = logsetup.new_id(), logsetup.new_id()
    assert first != second
    assert re.fullmatch(r"[0-9a-f]{8}-\d+", first)

    def in_request() -> None:
        logsetup.REQUEST_ID.set(first)
        logsetup.log.warning("in a request")

    def in_connection() -> None:
        logsetup.CONNECTION_ID.set(second)
        logsetup.log.info("in a connection")
        # a line about another connection, written from this one's task, names that one
        logsetup.log.warning("closing other", extra={"connection_id": "other-1"})

    contextvars.copy_context().run(in_request)
    contextvars.copy_context().run(in_connection)
    logsetup.log.info("outside")
    request, connection, other, outside = json_lines(path)
    assert request["request_id"] == first
    assert "connection_id" not in request
    assert connection["connection_id"] == second
    assert other["connection_id"] == "other-1"
    assert "request_id" not in outside and "connection_id" not in outside


def test_ids_follow_tasks(pm: Path) -> None:
    path = json_setup(pm)

    async def one(rid: str) -> None:
        token = logsetup.REQUEST_ID.set(rid)
        try:
            await asyncio.sleep(0)
            logsetup.log.info("request %s", rid)
        finally:
            logsetup.REQUEST_ID.reset(token)

    async def both() -> None:
        await asyncio.gather(one("a-1"), one("b-2"))

    asyncio.run(both())
    lines = [x for x in json_lines(path) if x["message"].startswith("request ")]
    assert {(x["message"], x["request_id"]) for x in lines} == {
        ("request a-1", "a-1"),
        ("request b-2", "b-2"),
    }


def test_ids_only_with_json(pm: Path) -> None:
    logsetup.setup_logging(load(pm, {"PM_LOG_FILE": "t.log"}), pm)
    assert not logsetup.ids_wanted()
    json_setup(pm, level="off")  # nothing is written: no ids to make either
    assert not logsetup.ids_wanted()
    json_setup(pm, level="error")
    assert logsetup.ids_wanted()


def test_text_format_unchanged_by_ids(pm: Path) -> None:
    logsetup.setup_logging(load(pm, {"PM_LOG_FILE": "t.log"}), pm)

    def run() -> None:
        logsetup.REQUEST_ID.set("r-1")
        logsetup.log.info("plain", extra={"project_id": "p1"})

    contextvars.copy_context().run(run)
    (line,) = (pm / "log" / "t.log").read_text(encoding="utf-8").splitlines()
    assert re.fullmatch(
        r"\[" + STAMP_RE.pattern + r" - INFO\] plain \[tests/unit/test_logsetup.py:\d+\]", line
    ), line


def test_unknown_format_refused(pm: Path) -> None:
    with pytest.raises(ValueError, match="log format"):
        logsetup.setup_logging(load(pm, {}), pm, "xml")


def test_settings_read_the_format() -> None:
    assert bootstrap.read_settings({}).log_format == "text"
    assert bootstrap.read_settings({"PM_FAST_LOG_FORMAT": "json"}).log_format == "json"
    assert bootstrap.read_settings({"PM_FAST_LOG_FORMAT": " JSON "}).log_format == "json"
    assert bootstrap.read_settings({"PM_FAST_LOG_FORMAT": ""}).log_format == "text"
    with pytest.raises(bootstrap.SettingsError, match="PM_FAST_LOG_FORMAT"):
        bootstrap.read_settings({"PM_FAST_LOG_FORMAT": "logfmt"})


# --------------------------------------------------------------------------- colours


class _Stream(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


@pytest.mark.parametrize(
    ("tty", "colored", "escapes"),
    [(True, "true", True), (True, "false", False), (False, "true", False)],
)
def test_stdout_coloured_only_on_a_terminal_when_asked(
    pm: Path, monkeypatch: pytest.MonkeyPatch, tty: bool, colored: str, escapes: bool
) -> None:
    stream = _Stream(tty)
    monkeypatch.setattr(sys, "stdout", stream)
    logsetup.setup_logging(load(pm, {"PM_LOG_COLORED": colored}), pm)
    logsetup.log.warning("tinted?")
    text = stream.getvalue()
    assert "tinted?" in text
    assert (ESC in text) is escapes, repr(text)
    if escapes:
        assert "\x1b[33mWARN\x1b[0m" in text


def test_json_never_coloured(pm: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stream = _Stream(True)
    monkeypatch.setattr(sys, "stdout", stream)
    logsetup.setup_logging(load(pm, {"PM_LOG_COLORED": "true"}), pm, "json")
    logsetup.log.error("plain")
    (line,) = stream.getvalue().splitlines()
    assert ESC not in line
    assert json.loads(line)["message"] == "plain"


def test_log_file_never_coloured_even_from_a_terminal(
    pm: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdout", _Stream(True))
    logsetup.setup_logging(load(pm, {"PM_LOG_FILE": "c.log", "PM_LOG_COLORED": "true"}), pm)
    logsetup.log.error("to the file")
    text = (pm / "log" / "c.log").read_text(encoding="utf-8")
    assert "to the file" in text
    assert ESC not in text
