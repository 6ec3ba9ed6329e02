"""§3.1/§3.2 configuration: invalid values abort start-up before any database is created;
valid values are applied (env overrides the file)."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

from .conftest import ServerFactory
from .helpers import (
    assert_error,
    create_comment,
    create_item,
    create_project,
    db_query,
    ok,
    uniq_key,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from harness import free_port, git_init, run_to_exit


def fail_start(
    tmp_path: Path, *, config: str | None = None, env: Mapping[str, str | None] | None = None
) -> str:
    root = tmp_path / "repo"
    root.mkdir()
    git_init(root)
    if env is None:
        # the harness sets PM_SERVER_PORT/HOST, which would override the file's values
        env = {"PM_SERVER_PORT": None, "PM_SERVER_HOST": None}
    rc, out, err = run_to_exit(root, env=env, config_toml=config, timeout=20)
    assert rc != 0, f"server exited with {rc}; expected a start-up failure\n{out}\n{err}"
    assert not (root / ".pm" / "data.db").exists(), "database created despite bad config"
    assert not (root / ".pm" / "server.json").exists()
    return out + "\n" + err


# (config.toml text, words that must appear in the output: key and range)
BAD_FILE_VALUES = [
    ("[server]\nport = 80\n", ["port", "1024"]),
    ("[server]\nmax_connections = 0\n", ["max_connections", "100000"]),
    ('[database]\npath = "../outside.db"\n', ["path"]),
    ('[database]\npath = "/abs/data.db"\n', ["path"]),
    (
        "[websocket]\nheartbeat_interval_secs = 30\nheartbeat_timeout_secs = 20\n",
        ["heartbeat_timeout_secs"],
    ),
    ("[websocket]\nsend_buffer_size = 0\n", ["send_buffer_size", "10000"]),
    ("[rate_limit]\nmax_requests = 0\n", ["max_requests", "10000"]),
    ("[retry]\nbackoff_multiplier = 0.5\n", ["backoff_multiplier", "10"]),
    ("[circuit_breaker]\nfailure_threshold = 101\n", ["failure_threshold", "100"]),
    ("[validation]\nmax_title_length = 501\n", ["max_title_length", "500"]),
    ("[validation]\nmax_error_message_length = 10\n", ["max_error_message_length", "50"]),
    ("[auth]\nenabled = true\n", ["jwt"]),
    ('[auth]\nenabled = true\njwt_secret = "too-short"\n', ["jwt_secret", "32"]),
]


@pytest.mark.parametrize(
    ("config", "words"),
    BAD_FILE_VALUES,
    ids=[
        c.split("\n")[1].split("=")[0].strip() + ("-" + str(i))
        for i, (c, _) in enumerate(BAD_FILE_VALUES)
    ],
)
def test_invalid_config_file_value(tmp_path: Path, config: str, words: list[str]) -> None:
    out = fail_start(tmp_path, config=config)
    for w in words:
        assert w.lower() in out.lower(), f"{w!r} not named in:\n{out}"


@pytest.mark.parametrize(
    "config",
    [
        "[server\nport = 1\n",
        '[server]\nport = "abc"\n',
        "[server]\nport = 99999999\n",
        "[logging]\ncolored = maybe\n",
    ],
    ids=["syntax", "type-str", "overflow", "bare-word"],
)
def test_unparseable_config_file(tmp_path: Path, config: str) -> None:
    out = fail_start(tmp_path, config=config)
    assert (
        "config.toml" in out
        or "toml" in out.lower()
        or "port" in out.lower()
        or "colored" in out.lower()
    ), out


BAD_ENV = [
    ({"PM_SERVER_PORT": "abc"}, ["PM_SERVER_PORT"]),
    ({"PM_SERVER_PORT": "80"}, ["port", "1024"]),
    ({"PM_IDLE_SHUTDOWN_SECS": "-1"}, ["PM_IDLE_SHUTDOWN_SECS"]),
    ({"PM_RETRY_BACKOFF_MULTIPLIER": "fast"}, ["PM_RETRY_BACKOFF_MULTIPLIER"]),
    ({"PM_VALIDATION_MAX_TITLE_LENGTH": "0"}, ["max_title_length", "500"]),
    ({"PM_VALIDATION_MAX_COMMENT_LENGTH": "500001"}, ["max_comment_length", "500000"]),
    ({"PM_WS_HEARTBEAT_TIMEOUT_SECS": "5"}, ["heartbeat_timeout_secs"]),
    ({"PM_DATABASE_PATH": "../escape.db"}, ["path"]),
    ({"PM_AUTH_ENABLED": "true"}, ["jwt"]),
    ({"PM_FAST_SQLITE_SYNCHRONOUS": "off"}, ["PM_FAST_SQLITE_SYNCHRONOUS", "normal or full"]),
]


@pytest.mark.parametrize(
    ("env", "words"), BAD_ENV, ids=[f"{k}={v}" for e, _ in BAD_ENV for k, v in e.items()]
)
def test_invalid_environment_value(tmp_path: Path, env: dict[str, str], words: list[str]) -> None:
    out = fail_start(tmp_path, env=env)
    for w in words:
        assert w.lower() in out.lower(), f"{w!r} not named in:\n{out}"


def test_empty_log_file_variable_aborts(tmp_path: Path) -> None:
    fail_start(tmp_path, env={"PM_LOG_FILE": ""})


def test_env_overrides_file_and_limits_apply(server_factory: ServerFactory) -> None:
    config = (
        "[validation]\nmax_title_length = 12\nmax_comment_length = 50\n"
        "[server]\nunknown_key = 1\n"
        '[nonexistent_table]\nx = "y"\n'
        '[logging]\nlevel = "verbose"\n'
    )
    srv = server_factory(
        config_toml=config,
        env={
            "PM_VALIDATION_MAX_TITLE_LENGTH": "10",
            "PM_VALIDATION_MAX_DESCRIPTION_LENGTH": "5",
            "PM_VALIDATION_MAX_COMMENT_LENGTH": "4",
            "PM_LOG_COLORED": "yes",  # anything but true/1 is false, never an error
        },
    )
    with srv.client() as c:
        p = create_project(c, title="P")
        assert create_item(c, p["id"], "task", "t" * 10)["title"] == "t" * 10
        r = c.post(
            "/api/v1/work-items",
            json={"project_id": p["id"], "item_type": "task", "title": "t" * 11},
        )
        assert_error(r, 400, "VALIDATION_ERROR", field="title")
        w = create_item(c, p["id"], "task", "d", description="12345")
        r = c.post(
            "/api/v1/work-items",
            json={
                "project_id": p["id"],
                "item_type": "task",
                "title": "x",
                "description": "123456",
            },
        )
        assert_error(r, 400, "VALIDATION_ERROR", field="description")
        r = c.put(f"/api/v1/work-items/{w['id']}", json={"title": "u" * 11, "expected_version": 1})
        assert_error(r, 400, "VALIDATION_ERROR", field="title")
        r = c.put(
            f"/api/v1/work-items/{w['id']}", json={"description": "123456", "expected_version": 1}
        )
        assert_error(
            r,
            400,
            "VALIDATION_ERROR",
            "Description exceeds maximum length (5 characters)",
            field="description",
        )
        assert create_comment(c, w["id"], "four")["content"] == "four"
        r = c.post(f"/api/v1/work-items/{w['id']}/comments", json={"content": "fives"})
        assert_error(r, 400, "VALIDATION_ERROR", field="content")
    srv.stop()


def test_config_file_port_and_llm_user(server_factory: ServerFactory) -> None:
    port = free_port()
    bot = "0f0f0f0f-1111-2222-3333-444444444444"
    config = f'[server]\nport = {port}\n[api]\nllm_user_id = "{bot}"\nllm_user_name = "Robot"\n'
    srv = server_factory(config_toml=config, env={"PM_SERVER_PORT": None})
    assert srv.port == port
    with srv.client() as c:
        p = create_project(c)
        assert p["created_by"] == bot
        r = c.post(
            "/api/v1/projects",
            json={"title": "t", "key": uniq_key()},
            headers={"X-User-Id": "garbage"},
        )
        assert ok(r)["project"]["created_by"] == bot
    srv.stop()
    users = db_query(srv.db_path, "SELECT id, email, name FROM users WHERE id = ?", (bot,))
    assert users == [(bot, f"{bot}@system.local", "Robot")]
