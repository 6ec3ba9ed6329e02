"""Config directory discovery, config.toml + PM_* loading, validation, logging set-up."""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest

from pm_fast import logsetup
from pm_fast.config import (
    DEFAULT_LLM_USER_ID,
    Config,
    ConfigError,
    config_summary,
    database_file,
    desktop_user_id,
    llm_user_id,
    load_config,
    log_file,
)
from pm_fast.paths import ensure_pm_dir, find_pm_dir

# --------------------------------------------------------------------------- helpers


@pytest.fixture
def pm(tmp_path: Path) -> Path:
    path = tmp_path / ".pm"
    path.mkdir()
    return path


def write_toml(pm_dir: Path, text: str) -> None:
    (pm_dir / "config.toml").write_text(text, encoding="utf-8")


def load(pm_dir: Path, env: dict[str, str] | None = None, toml: str | None = None) -> Config:
    if toml is not None:
        write_toml(pm_dir, toml)
    return load_config(pm_dir, env or {})


def get(cfg: Config, dotted: str) -> object:
    table, key = dotted.split(".")
    return getattr(getattr(cfg, table), key)


def git_init(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", str(path)], check=True)


# --------------------------------------------------------------------------- discovery


@pytest.fixture
def no_git_above(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Keeps git from finding a repository that happens to enclose the temp directory.
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))


def test_git_repo_gives_toplevel_pm(tmp_path: Path, no_git_above: None) -> None:
    repo = tmp_path / "repo"
    git_init(repo)
    found = find_pm_dir(cwd=repo, exe=tmp_path / "bin" / "pm-server", home=tmp_path / "home")
    assert found == repo.resolve() / ".pm"
    assert not found.exists()  # discovery creates nothing


def test_subdirectory_of_git_repo_gives_toplevel_pm(tmp_path: Path, no_git_above: None) -> None:
    repo = tmp_path / "repo"
    git_init(repo)
    sub = repo / "a" / "b"
    sub.mkdir(parents=True)
    found = find_pm_dir(cwd=sub, exe=tmp_path / "bin" / "pm-server", home=tmp_path / "home")
    assert found == repo.resolve() / ".pm"


def test_git_wins_over_config_json(tmp_path: Path, no_git_above: None) -> None:
    repo = tmp_path / "repo"
    git_init(repo)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "config.json").write_text('{"repo_root": "/elsewhere"}')
    found = find_pm_dir(cwd=repo, exe=bin_dir / "pm-server", home=tmp_path / "home")
    assert found == repo.resolve() / ".pm"


def test_no_git_repo_uses_config_json_beside_exe(tmp_path: Path, no_git_above: None) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    root = tmp_path / "my repo"
    (bin_dir / "config.json").write_text(
        msgspec.json.encode({"repo_root": str(root), "other": 1}).decode()
    )
    found = find_pm_dir(cwd=plain, exe=bin_dir / "pm-server", home=tmp_path / "home")
    assert found == root / ".pm"


def test_git_not_installed_falls_through(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    git_init(repo)
    sub = repo / "sub"  # below the top level only git can tell where the top is
    sub.mkdir()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "config.json").write_text('{"repo_root": "/srv/project"}')
    found = find_pm_dir(
        cwd=sub, exe=bin_dir / "pm-server", home=tmp_path / "home", git=str(tmp_path / "no-git")
    )
    assert found == Path("/srv/project/.pm")


def test_top_level_of_a_repository_is_known_without_git(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Where the desktop shell starts the server (cwd = the repository's top level) no git
    # process is spawned: a missing git changes nothing there (docs/compat.md).
    for name in [n for n in os.environ if n.startswith("GIT_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("GIT_SSL_CAINFO", "/etc/ssl/certs/ca.crt")  # not about discovery
    repo = tmp_path / "repo"
    git_init(repo)
    found = find_pm_dir(
        cwd=repo, exe=tmp_path / "pm-server", home=tmp_path / "home", git=str(tmp_path / "no-git")
    )
    assert found == repo.resolve() / ".pm"


@pytest.mark.parametrize(
    "case",
    ["git-dir", "git-config", "head-missing", "git-file", "worktree", "bare", "other-owner"],
)
def test_unclear_top_levels_are_left_to_git(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    for name in [n for n in os.environ if n.startswith("GIT_")]:
        monkeypatch.delenv(name)
    repo = tmp_path / "repo"
    git_init(repo)
    if case == "git-dir":
        monkeypatch.setenv("GIT_DIR", str(tmp_path / "elsewhere"))
    elif case == "git-config":
        monkeypatch.setenv("GIT_CONFIG_COUNT", "1")
    elif case in ("worktree", "bare"):
        setting = "\tworktree = /elsewhere\n" if case == "worktree" else "\tbare = true\n"
        with (repo / ".git" / "config").open("a") as config:
            config.write("[core]\n" + setting)
    elif case == "head-missing":
        (repo / ".git" / "HEAD").unlink()
    elif case == "git-file":  # a worktree or submodule: .git is a file naming the gitdir
        shutil.rmtree(repo / ".git")
        (repo / ".git").write_text("gitdir: /nowhere\n")
    else:
        if os.geteuid() != 0:
            pytest.skip("changing a directory's owner needs root")
        os.chown(repo / ".git", 12345, 12345)
    home = tmp_path / "home"
    found = find_pm_dir(cwd=repo, exe=tmp_path / "pm-server", home=home, git=str(tmp_path / "no"))
    assert found == home / ".pm"  # git (missing here) was asked, and fell through


def test_neither_git_nor_config_json_uses_home(tmp_path: Path, no_git_above: None) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    home = tmp_path / "home"
    found = find_pm_dir(cwd=plain, exe=tmp_path / "bin" / "pm-server", home=home)
    assert found == home / ".pm"
    assert not home.exists()


@pytest.mark.parametrize(
    "content",
    ["not json", "{}", '{"repo_root": 5}', '{"repo_root": ""}', "[]"],
    ids=["garbage", "no-key", "not-string", "empty", "array"],
)
def test_unusable_config_json_falls_back_to_home(
    tmp_path: Path, no_git_above: None, content: str
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "config.json").write_text(content)
    home = tmp_path / "home"
    assert find_pm_dir(cwd=bin_dir, exe=bin_dir / "pm-server", home=home) == home / ".pm"


def test_ensure_pm_dir_creates_parents(tmp_path: Path) -> None:
    target = tmp_path / "x" / "y" / ".pm"
    assert ensure_pm_dir(target) == target
    assert target.is_dir()
    assert ensure_pm_dir(target) == target  # idempotent


def test_ensure_pm_dir_failure_is_config_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ConfigError, match="Cannot create config directory"):
        ensure_pm_dir(blocker / ".pm")


# --------------------------------------------------------------------------- defaults

DEFAULTS: dict[str, object] = {
    "server.host": "127.0.0.1",
    "server.port": 0,
    "server.max_connections": 10000,
    "server.idle_shutdown_secs": 0,
    "database.path": "data.db",
    "auth.enabled": False,
    "auth.jwt_secret": None,
    "auth.jwt_public_key_path": None,
    "auth.desktop_user_id": "local-user",
    "logging.level": "info",
    "logging.dir": "log",
    "logging.file": None,
    "logging.colored": True,
    "activity_log.retention_days": 90,
    "activity_log.cleanup_interval_hours": 24,
    "websocket.send_buffer_size": 100,
    "websocket.heartbeat_interval_secs": 30,
    "websocket.heartbeat_timeout_secs": 60,
    "rate_limit.max_requests": 100,
    "rate_limit.window_secs": 60,
    "circuit_breaker.failure_threshold": 5,
    "circuit_breaker.open_duration_secs": 30,
    "circuit_breaker.half_open_success_threshold": 3,
    "circuit_breaker.failure_window_secs": 60,
    "retry.max_attempts": 3,
    "retry.initial_delay_ms": 100,
    "retry.max_delay_secs": 5,
    "retry.backoff_multiplier": 2.0,
    "retry.jitter": True,
    "handler.timeout_secs": 30,
    "validation.max_title_length": 200,
    "validation.max_description_length": 10000,
    "validation.max_story_points": 100,
    "validation.max_error_message_length": 200,
    "validation.max_comment_length": 5000,
    "validation.max_sprint_name_length": 100,
    "api.enabled": True,
    "api.llm_user_id": "00000000-0000-0000-0000-000000000001",
    "api.llm_user_name": "LLM Assistant",
}


def test_spec_lists_39_keys() -> None:
    assert len(DEFAULTS) == 39
    assert len({k.split(".")[0] for k in DEFAULTS}) == 12


def test_every_default_without_file_or_env(pm: Path) -> None:
    cfg = load(pm)
    for key, expected in DEFAULTS.items():
        assert get(cfg, key) == expected, key
    assert cfg.database.url is None
    assert cfg == Config()


def test_load_writes_nothing(pm: Path) -> None:
    load(pm, {"PM_LOG_FILE": "x.log"})
    assert list(pm.iterdir()) == []


def test_empty_file_and_empty_tables_give_defaults(pm: Path) -> None:
    assert load(pm, toml="") == Config()
    assert load(pm, toml="[server]\n[auth]\n[api]\n") == Config()


# --------------------------------------------------------------------------- TOML

FULL_TOML = """
[server]
host = "0.0.0.0"
port = 8123
max_connections = 50
idle_shutdown_secs = 2

[database]
path = "sub/pm.db"
url = "postgresql://u@h/db"

[auth]
enabled = false
jwt_secret = "s"
jwt_public_key_path = "keys/pub.pem"
desktop_user_id = "alice"

[logging]
level = "DEBUG"
dir = "logs"
file = "server.log"
colored = false

[activity_log]
retention_days = 7
cleanup_interval_hours = 1

[websocket]
send_buffer_size = 10
heartbeat_interval_secs = 15
heartbeat_timeout_secs = 31

[rate_limit]
max_requests = 1000
window_secs = 30

[circuit_breaker]
failure_threshold = 9
open_duration_secs = 12
half_open_success_threshold = 2
failure_window_secs = 90

[retry]
max_attempts = 4
initial_delay_ms = 50
max_delay_secs = 9
backoff_multiplier = 3
jitter = false

[handler]
timeout_secs = 45

[validation]
max_title_length = 300
max_description_length = 150000
max_story_points = 13
max_error_message_length = 60
max_comment_length = 150000
max_sprint_name_length = 80

[api]
enabled = false
llm_user_id = "11111111-2222-3333-4444-555555555555"
llm_user_name = "Bot"
"""

FULL_EXPECTED: dict[str, object] = {
    "server.host": "0.0.0.0",
    "server.port": 8123,
    "server.max_connections": 50,
    "server.idle_shutdown_secs": 2,
    "database.path": "sub/pm.db",
    "database.url": "postgresql://u@h/db",
    "auth.enabled": False,
    "auth.jwt_secret": "s",
    "auth.jwt_public_key_path": "keys/pub.pem",
    "auth.desktop_user_id": "alice",
    "logging.level": "debug",
    "logging.dir": "logs",
    "logging.file": "server.log",
    "logging.colored": False,
    "activity_log.retention_days": 7,
    "activity_log.cleanup_interval_hours": 1,
    "websocket.send_buffer_size": 10,
    "websocket.heartbeat_interval_secs": 15,
    "websocket.heartbeat_timeout_secs": 31,
    "rate_limit.max_requests": 1000,
    "rate_limit.window_secs": 30,
    "circuit_breaker.failure_threshold": 9,
    "circuit_breaker.open_duration_secs": 12,
    "circuit_breaker.half_open_success_threshold": 2,
    "circuit_breaker.failure_window_secs": 90,
    "retry.max_attempts": 4,
    "retry.initial_delay_ms": 50,
    "retry.max_delay_secs": 9,
    "retry.backoff_multiplier": 3.0,
    "retry.jitter": False,
    "handler.timeout_secs": 45,
    "validation.max_title_length": 300,
    "validation.max_description_length": 150000,
    "validation.max_story_points": 13,
    "validation.max_error_message_length": 60,
    "validation.max_comment_length": 150000,
    "validation.max_sprint_name_length": 80,
    "api.enabled": False,
    "api.llm_user_id": "11111111-2222-3333-4444-555555555555",
    "api.llm_user_name": "Bot",
}


def test_toml_overrides_every_key(pm: Path) -> None:
    cfg = load(pm, toml=FULL_TOML)
    for key, expected in FULL_EXPECTED.items():
        assert get(cfg, key) == expected, key
    assert isinstance(cfg.retry.backoff_multiplier, float)


def test_partial_toml_keeps_other_defaults(pm: Path) -> None:
    cfg = load(pm, toml="[server]\nport = 9000\n")
    assert cfg.server.port == 9000
    assert cfg.server.host == "127.0.0.1"
    assert cfg.websocket == Config().websocket


def test_repository_example_config_is_accepted(pm: Path) -> None:
    cfg = load(
        pm,
        toml=(
            "[server]\nidle_shutdown_secs = 2\n[logging]\ncolored = false\n"
            "[websocket]\nheartbeat_timeout_secs = 31\n[rate_limit]\nmax_requests = 1000\n"
            "[validation]\nmax_description_length = 150000\nmax_comment_length = 150000\n"
        ),
    )
    assert cfg.websocket.heartbeat_timeout_secs == 31


def test_unknown_toml_keys_and_tables_are_ignored(pm: Path) -> None:
    cfg = load(
        pm,
        toml=(
            'top_level = 1\n[server]\nport = 9001\nbogus = "x"\n'
            "[nonexistent]\nanything = [1, 2]\n[server.nested]\nz = 1\n"
        ),
    )
    assert cfg.server.port == 9001


def test_toml_syntax_error_names_the_file(pm: Path) -> None:
    write_toml(pm, "[server\nport = = 1\n")
    with pytest.raises(ConfigError, match="Invalid TOML") as info:
        load_config(pm, {})
    assert str(pm / "config.toml") in str(info.value)


def test_toml_not_utf8_is_rejected(pm: Path) -> None:
    (pm / "config.toml").write_bytes(b'[server]\nhost = "\xff"\n')
    with pytest.raises(ConfigError, match="config.toml"):
        load_config(pm, {})


@pytest.mark.parametrize(
    ("toml", "key"),
    [
        ('[server]\nport = "8080"\n', "server.port"),
        ("[server]\nport = 65536\n", "server.port"),
        ("[server]\nport = -1\n", "server.port"),
        ("[server]\nport = 1.5\n", "server.port"),
        ('[auth]\nenabled = "true"\n', "auth.enabled"),
        ("[auth]\njwt_secret = 5\n", "auth.jwt_secret"),
        ("[server]\nhost = 1\n", "server.host"),
        ("[retry]\nbackoff_multiplier = true\n", "retry.backoff_multiplier"),
        ("[activity_log]\nretention_days = 4294967296\n", "activity_log.retention_days"),
        ("[validation]\nmax_story_points = 2147483648\n", "validation.max_story_points"),
        ("server = 5\n", "server"),
    ],
)
def test_toml_type_error_names_file_and_key(pm: Path, toml: str, key: str) -> None:
    write_toml(pm, toml)
    with pytest.raises(ConfigError) as info:
        load_config(pm, {})
    message = str(info.value)
    assert f"at key {key}:" in message
    assert "config.toml" in message


def test_config_toml_that_is_a_directory_is_an_error(pm: Path) -> None:
    (pm / "config.toml").mkdir()
    with pytest.raises(ConfigError, match="Cannot read config file"):
        load_config(pm, {})


# --------------------------------------------------------------------------- environment

# (variable, key, text, expected value) for every PM_* override.
ENV_CASES: list[tuple[str, str, str, object]] = [
    ("PM_SERVER_HOST", "server.host", "0.0.0.0", "0.0.0.0"),
    ("PM_SERVER_PORT", "server.port", "8080", 8080),
    ("PM_SERVER_MAX_CONNECTIONS", "server.max_connections", "7", 7),
    ("PM_IDLE_SHUTDOWN_SECS", "server.idle_shutdown_secs", "120", 120),
    ("PM_DATABASE_PATH", "database.path", "x/y.db", "x/y.db"),
    ("PM_DATABASE_URL", "database.url", "postgres://h/db", "postgres://h/db"),
    ("PM_AUTH_ENABLED", "auth.enabled", "1", True),
    ("PM_AUTH_JWT_SECRET", "auth.jwt_secret", "abc", "abc"),
    ("PM_AUTH_JWT_PUBLIC_KEY_PATH", "auth.jwt_public_key_path", "k.pem", "k.pem"),
    ("PM_AUTH_DESKTOP_USER_ID", "auth.desktop_user_id", "bob", "bob"),
    ("PM_LOG_LEVEL", "logging.level", "trace", "trace"),
    ("PM_LOG_FILE", "logging.file", "a.log", "a.log"),
    ("PM_LOG_COLORED", "logging.colored", "false", False),
    ("PM_ACTIVITY_LOG_RETENTION_DAYS", "activity_log.retention_days", "4294967295", 2**32 - 1),
    ("PM_ACTIVITY_LOG_CLEANUP_INTERVAL_HOURS", "activity_log.cleanup_interval_hours", "0", 0),
    ("PM_WS_SEND_BUFFER_SIZE", "websocket.send_buffer_size", "5", 5),
    ("PM_WS_HEARTBEAT_INTERVAL_SECS", "websocket.heartbeat_interval_secs", "20", 20),
    ("PM_WS_HEARTBEAT_TIMEOUT_SECS", "websocket.heartbeat_timeout_secs", "90", 90),
    ("PM_RATE_LIMIT_MAX_REQUESTS", "rate_limit.max_requests", "+1000", 1000),
    ("PM_RATE_LIMIT_WINDOW_SECS", "rate_limit.window_secs", "3600", 3600),
    ("PM_CB_FAILURE_THRESHOLD", "circuit_breaker.failure_threshold", "100", 100),
    ("PM_CB_OPEN_DURATION_SECS", "circuit_breaker.open_duration_secs", "1", 1),
    ("PM_CB_HALF_OPEN_SUCCESS_THRESHOLD", "circuit_breaker.half_open_success_threshold", "50", 50),
    ("PM_CB_FAILURE_WINDOW_SECS", "circuit_breaker.failure_window_secs", "600", 600),
    ("PM_RETRY_MAX_ATTEMPTS", "retry.max_attempts", "10", 10),
    ("PM_RETRY_INITIAL_DELAY_MS", "retry.initial_delay_ms", "0010", 10),
    ("PM_RETRY_MAX_DELAY_SECS", "retry.max_delay_secs", "60", 60),
    ("PM_RETRY_BACKOFF_MULTIPLIER", "retry.backoff_multiplier", "1.5", 1.5),
    ("PM_RETRY_JITTER", "retry.jitter", "0", False),
    ("PM_HANDLER_TIMEOUT_SECS", "handler.timeout_secs", "300", 300),
    ("PM_VALIDATION_MAX_TITLE_LENGTH", "validation.max_title_length", "500", 500),
    (
        "PM_VALIDATION_MAX_DESCRIPTION_LENGTH",
        "validation.max_description_length",
        "500000",
        500000,
    ),
    ("PM_VALIDATION_MAX_STORY_POINTS", "validation.max_story_points", "0", 0),
    (
        "PM_VALIDATION_MAX_ERROR_MESSAGE_LENGTH",
        "validation.max_error_message_length",
        "50",
        50,
    ),
    ("PM_VALIDATION_MAX_COMMENT_LENGTH", "validation.max_comment_length", "1", 1),
    ("PM_VALIDATION_MAX_SPRINT_NAME_LENGTH", "validation.max_sprint_name_length", "42", 42),
]

NUMERIC_VARS = [
    var
    for var, key, _text, expected in ENV_CASES
    if isinstance(expected, int | float) and not isinstance(expected, bool)
]
BOOL_VARS = ["PM_AUTH_ENABLED", "PM_LOG_COLORED", "PM_RETRY_JITTER"]


def test_spec_lists_35_environment_variables() -> None:
    # PM_DATABASE_URL is pm-fast's own addition on top of the original 35.
    assert len({var for var, *_ in ENV_CASES} - {"PM_DATABASE_URL"}) == 35
    assert len(NUMERIC_VARS) == 25


@pytest.mark.parametrize(("var", "key", "text", "expected"), ENV_CASES, ids=lambda v: str(v))
def test_each_env_var_overrides_its_key(
    pm: Path, var: str, key: str, text: str, expected: object
) -> None:
    env = {var: text}
    if var == "PM_AUTH_ENABLED":
        env["PM_AUTH_JWT_SECRET"] = "x" * 32
    cfg = load(pm, env)
    assert get(cfg, key) == expected
    assert type(get(cfg, key)) is type(expected)


def test_env_overrides_toml(pm: Path) -> None:
    cfg = load(pm, {"PM_SERVER_PORT": "9100", "PM_LOG_COLORED": "no"}, toml=FULL_TOML)
    assert cfg.server.port == 9100
    assert cfg.logging.colored is False
    assert cfg.server.host == "0.0.0.0"  # untouched keys keep the file's value


@pytest.mark.parametrize("var", NUMERIC_VARS)
def test_unparsable_numeric_env_var_is_named(pm: Path, var: str) -> None:
    with pytest.raises(ConfigError) as info:
        load(pm, {var: "abc"})
    assert str(info.value).startswith(f"Invalid value for {var}: 'abc'")


@pytest.mark.parametrize(
    "text", ["", " 80", "80 ", "8_0", "0x50", "8.0", "1e3", "-1", "+", "８０", "80\n"]
)
def test_integer_env_var_strict_syntax(pm: Path, text: str) -> None:
    with pytest.raises(
        ConfigError, match=r"Invalid value for PM_SERVER_PORT: .*expected an integer"
    ):
        load(pm, {"PM_SERVER_PORT": text})


def test_integer_env_var_outside_its_type_is_rejected(pm: Path) -> None:
    with pytest.raises(ConfigError, match="PM_SERVER_PORT: '65536'.*between 0 and 65535"):
        load(pm, {"PM_SERVER_PORT": "65536"})
    with pytest.raises(ConfigError, match="PM_ACTIVITY_LOG_RETENTION_DAYS"):
        load(pm, {"PM_ACTIVITY_LOG_RETENTION_DAYS": str(2**32)})
    with pytest.raises(ConfigError, match="PM_VALIDATION_MAX_STORY_POINTS"):
        load(pm, {"PM_VALIDATION_MAX_STORY_POINTS": str(2**31)})


def test_signed_env_var_accepts_minus_then_range_check_names_key(pm: Path) -> None:
    with pytest.raises(ConfigError, match=r"validation\.max_story_points .*between 0 and 1000"):
        load(pm, {"PM_VALIDATION_MAX_STORY_POINTS": "-1"})


@pytest.mark.parametrize(
    ("text", "expected"),
    [("2", 2.0), ("2.", 2.0), ("+2.5", 2.5), ("1e1", 10.0), ("10E-1", 1.0), ("3.25", 3.25)],
)
def test_float_env_var_syntax(pm: Path, text: str, expected: float) -> None:
    assert load(pm, {"PM_RETRY_BACKOFF_MULTIPLIER": text}).retry.backoff_multiplier == expected


@pytest.mark.parametrize("text", ["", "abc", " 2", "2_0", "1.2.3", "e5", "."])
def test_float_env_var_unparsable(pm: Path, text: str) -> None:
    with pytest.raises(ConfigError, match=r"Invalid value for PM_RETRY_BACKOFF_MULTIPLIER.*number"):
        load(pm, {"PM_RETRY_BACKOFF_MULTIPLIER": text})


@pytest.mark.parametrize("text", ["NaN", "inf", "-Infinity"])
def test_float_env_var_special_values_parse_but_fail_range(pm: Path, text: str) -> None:
    with pytest.raises(ConfigError, match=r"retry\.backoff_multiplier must be between 1\.0 and"):
        load(pm, {"PM_RETRY_BACKOFF_MULTIPLIER": text})


@pytest.mark.parametrize("var", BOOL_VARS)
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("true", True),
        ("1", True),
        ("TRUE", False),
        ("True", False),
        ("yes", False),
        ("on", False),
        (" true", False),
        ("false", False),
        ("0", False),
        ("", False),
    ],
)
def test_bool_env_vars_true_only_for_true_or_1(
    pm: Path, var: str, text: str, expected: bool
) -> None:
    key = {
        "PM_AUTH_ENABLED": "auth.enabled",
        "PM_LOG_COLORED": "logging.colored",
        "PM_RETRY_JITTER": "retry.jitter",
    }[var]
    # Start from the opposite of the expectation so the override is observable.
    toml_table, toml_key = key.split(".")
    write_toml(pm, f"[{toml_table}]\n{toml_key} = {'false' if expected else 'true'}\n")
    env = {var: text, "PM_AUTH_JWT_SECRET": "k" * 32}
    assert get(load_config(pm, env), key) is expected


def test_string_env_var_replaces_even_with_empty(pm: Path) -> None:
    cfg = load(pm, {"PM_SERVER_HOST": ""}, toml='[server]\nhost = "::1"\n')
    assert cfg.server.host == ""


@pytest.mark.parametrize(
    ("var", "key"),
    [
        ("PM_LOG_FILE", "logging.file"),
        ("PM_AUTH_JWT_SECRET", "auth.jwt_secret"),
        ("PM_AUTH_JWT_PUBLIC_KEY_PATH", "auth.jwt_public_key_path"),
        ("PM_AUTH_DESKTOP_USER_ID", "auth.desktop_user_id"),
    ],
)
def test_empty_optional_string_env_var_is_set(pm: Path, var: str, key: str) -> None:
    assert get(load(pm, {var: ""}), key) == ""


def test_empty_secret_with_auth_enabled_is_rejected(pm: Path) -> None:
    with pytest.raises(ConfigError, match="auth.jwt_secret must be at least 32 bytes"):
        load(pm, {"PM_AUTH_ENABLED": "true", "PM_AUTH_JWT_SECRET": ""})


def test_non_utf8_env_value_counts_as_unset(pm: Path) -> None:
    # os.environ represents undecodable bytes as lone surrogates.
    cfg = load(pm, {"PM_SERVER_PORT": "80\udcff", "PM_SERVER_HOST": "h\udcff"})
    assert cfg.server.port == 0
    assert cfg.server.host == "127.0.0.1"


def test_unrelated_env_vars_are_ignored(pm: Path) -> None:
    assert load(pm, {"PM_CONFIG_DIR": "/x", "RUST_LOG": "trace", "PM_PORT": "1"}) == Config()


# --------------------------------------------------------------------------- validation

# (key, low, high): the inclusive range checked at start-up.
RANGES: list[tuple[str, float, float]] = [
    ("server.max_connections", 1, 100000),
    ("websocket.send_buffer_size", 1, 10000),
    ("websocket.heartbeat_interval_secs", 5, 300),
    ("websocket.heartbeat_timeout_secs", 10, 600),
    ("rate_limit.max_requests", 1, 10000),
    ("rate_limit.window_secs", 1, 3600),
    ("circuit_breaker.failure_threshold", 1, 100),
    ("circuit_breaker.open_duration_secs", 1, 300),
    ("circuit_breaker.half_open_success_threshold", 1, 50),
    ("circuit_breaker.failure_window_secs", 1, 600),
    ("retry.max_attempts", 1, 10),
    ("retry.initial_delay_ms", 10, 10000),
    ("retry.max_delay_secs", 1, 60),
    ("retry.backoff_multiplier", 1.0, 10.0),
    ("handler.timeout_secs", 1, 300),
    ("validation.max_title_length", 1, 500),
    ("validation.max_description_length", 0, 500000),
    ("validation.max_story_points", 0, 1000),
    ("validation.max_error_message_length", 50, 1000),
    ("validation.max_comment_length", 1, 500000),
    ("validation.max_sprint_name_length", 1, 500),
]


def toml_for(key: str, value: float) -> str:
    table, name = key.split(".")
    extra = ""
    # Keep the heartbeat pair consistent so only the value under test can fail.
    if key == "websocket.heartbeat_interval_secs":
        extra = "heartbeat_timeout_secs = 600\n"
    elif key == "websocket.heartbeat_timeout_secs":
        extra = "heartbeat_interval_secs = 5\n"
    return f"[{table}]\n{name} = {value!r}\n{extra}"


def step(low: float) -> float:
    return 0.01 if isinstance(low, float) else 1


@pytest.mark.parametrize(("key", "low", "high"), RANGES, ids=[r[0] for r in RANGES])
def test_range_edges_accepted(pm: Path, key: str, low: float, high: float) -> None:
    assert get(load(pm, toml=toml_for(key, low)), key) == low
    assert get(load(pm, toml=toml_for(key, high)), key) == high


@pytest.mark.parametrize(("key", "low", "high"), RANGES, ids=[r[0] for r in RANGES])
def test_range_just_outside_rejected(pm: Path, key: str, low: float, high: float) -> None:
    with pytest.raises(ConfigError) as above:
        load(pm, toml=toml_for(key, high + step(low)))
    assert str(above.value).startswith(f"{key} must be between {low} and {high} (got ")

    with pytest.raises(ConfigError) as below:
        load(pm, toml=toml_for(key, low - step(low)))
    if low == 0 and key != "validation.max_story_points":
        # Below zero an unsigned field fails as a type error, still naming the key.
        assert f"at key {key}:" in str(below.value)
    else:
        assert str(below.value).startswith(f"{key} must be between {low} and {high} (got ")


def test_range_violation_from_env_names_key(pm: Path) -> None:
    with pytest.raises(
        ConfigError, match=r"^rate_limit\.window_secs must be between 1 and 3600 \(got 3601\)$"
    ):
        load(pm, {"PM_RATE_LIMIT_WINDOW_SECS": "3601"})


@pytest.mark.parametrize("port", [0, 1024, 8080, 65535])
def test_port_accepted(pm: Path, port: int) -> None:
    assert load(pm, {"PM_SERVER_PORT": str(port)}).server.port == port


@pytest.mark.parametrize("port", [1, 80, 1023])
def test_port_below_1024_rejected(pm: Path, port: int) -> None:
    with pytest.raises(ConfigError) as info:
        load(pm, {"PM_SERVER_PORT": str(port)})
    assert str(info.value) == (f"server.port must be 0 or between 1024 and 65535 (got {port})")


def test_heartbeat_timeout_must_exceed_interval(pm: Path) -> None:
    ok = load(pm, {"PM_WS_HEARTBEAT_INTERVAL_SECS": "30", "PM_WS_HEARTBEAT_TIMEOUT_SECS": "31"})
    assert ok.websocket.heartbeat_timeout_secs == 31
    with pytest.raises(ConfigError) as info:
        load(pm, {"PM_WS_HEARTBEAT_INTERVAL_SECS": "30", "PM_WS_HEARTBEAT_TIMEOUT_SECS": "30"})
    message = str(info.value)
    assert "websocket.heartbeat_timeout_secs must be greater than" in message
    assert "websocket.heartbeat_interval_secs" in message


def test_heartbeat_default_interval_with_small_timeout_rejected(pm: Path) -> None:
    with pytest.raises(ConfigError, match="greater than"):
        load(pm, {"PM_WS_HEARTBEAT_TIMEOUT_SECS": "20"})  # interval stays 30


def test_unvalidated_keys_accept_anything_in_type(pm: Path) -> None:
    cfg = load(
        pm,
        {
            "PM_IDLE_SHUTDOWN_SECS": str(2**64 - 1),
            "PM_ACTIVITY_LOG_RETENTION_DAYS": "0",
            "PM_ACTIVITY_LOG_CLEANUP_INTERVAL_HOURS": "0",
            "PM_SERVER_HOST": "not a host",
        },
    )
    assert cfg.server.idle_shutdown_secs == 2**64 - 1


@pytest.mark.parametrize("path", ["data.db", "sub/dir/x.db", "./x.db", "x.db-alt"])
def test_database_path_relative_accepted(pm: Path, path: str) -> None:
    assert load(pm, {"PM_DATABASE_PATH": path}).database.path == path


@pytest.mark.parametrize("path", ["/abs/data.db", "/", "../data.db", "a/../b.db", "a..b.db"])
def test_database_path_rejected(pm: Path, path: str) -> None:
    with pytest.raises(ConfigError, match=r"^database\.path must be a relative path"):
        load(pm, {"PM_DATABASE_PATH": path})


def test_auth_disabled_ignores_bad_auth_values(pm: Path) -> None:
    cfg = load(pm, {"PM_AUTH_JWT_SECRET": "short", "PM_AUTH_JWT_PUBLIC_KEY_PATH": "/etc/x"})
    assert cfg.auth.enabled is False


def test_auth_enabled_without_secret_or_key_rejected(pm: Path) -> None:
    with pytest.raises(ConfigError, match="auth.jwt_secret or auth.jwt_public_key_path"):
        load(pm, {"PM_AUTH_ENABLED": "true"})


def test_auth_secret_length_edges(pm: Path) -> None:
    base = {"PM_AUTH_ENABLED": "true"}
    assert load(pm, {**base, "PM_AUTH_JWT_SECRET": "x" * 32}).auth.enabled
    assert load(pm, {**base, "PM_AUTH_JWT_SECRET": "é" * 16}).auth.enabled  # 32 bytes
    with pytest.raises(ConfigError, match=r"at least 32 bytes .*\(got 31 bytes\)"):
        load(pm, {**base, "PM_AUTH_JWT_SECRET": "x" * 31})


def test_auth_secret_wins_over_key_path(pm: Path) -> None:
    cfg = load(
        pm,
        {
            "PM_AUTH_ENABLED": "true",
            "PM_AUTH_JWT_SECRET": "x" * 32,
            "PM_AUTH_JWT_PUBLIC_KEY_PATH": "/not/checked.pem",
        },
    )
    assert cfg.auth.jwt_public_key_path == "/not/checked.pem"


def test_auth_public_key_path_rules(pm: Path) -> None:
    (pm / "keys").mkdir()
    (pm / "keys" / "pub.pem").write_text("-----BEGIN PUBLIC KEY-----\n")
    base = {"PM_AUTH_ENABLED": "true"}
    cfg = load(pm, {**base, "PM_AUTH_JWT_PUBLIC_KEY_PATH": "keys/pub.pem"})
    assert cfg.auth.jwt_public_key_path == "keys/pub.pem"
    with pytest.raises(ConfigError, match=r"auth\.jwt_public_key_path must be relative"):
        load(pm, {**base, "PM_AUTH_JWT_PUBLIC_KEY_PATH": str(pm / "keys" / "pub.pem")})
    with pytest.raises(ConfigError, match=r"auth\.jwt_public_key_path must not contain '\.\.'"):
        load(pm, {**base, "PM_AUTH_JWT_PUBLIC_KEY_PATH": "keys/../keys/pub.pem"})
    with pytest.raises(ConfigError, match=r"'missing\.pem' does not exist"):
        load(pm, {**base, "PM_AUTH_JWT_PUBLIC_KEY_PATH": "missing.pem"})
    with pytest.raises(ConfigError, match="does not exist"):
        load(pm, {**base, "PM_AUTH_JWT_PUBLIC_KEY_PATH": "keys"})  # a directory is no key


def test_auth_key_path_is_relative_to_pm_dir_not_cwd(
    pm: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pub.pem").write_text("k")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="does not exist"):
        load(pm, {"PM_AUTH_ENABLED": "1", "PM_AUTH_JWT_PUBLIC_KEY_PATH": "pub.pem"})


@pytest.mark.parametrize("url", ["postgresql://u:p@db:5432/pm", "postgres://localhost/pm"])
def test_database_url_accepted(pm: Path, url: str) -> None:
    assert load(pm, {"PM_DATABASE_URL": url}).database.url == url
    assert load(pm, toml=f'[database]\nurl = "{url}"\n').database.url == url


@pytest.mark.parametrize("url", ["mysql://x/y", "sqlite:///x.db", "POSTGRES://x/y", "x"])
def test_database_url_rejected(pm: Path, url: str) -> None:
    with pytest.raises(ConfigError, match=r"database\.url \(PM_DATABASE_URL\) must start with"):
        load(pm, {"PM_DATABASE_URL": url})


def test_database_url_empty_means_unset(pm: Path) -> None:
    assert load(pm, {"PM_DATABASE_URL": ""}).database.url is None


def test_secret_not_in_error_or_summary(pm: Path) -> None:
    secret = "super-secret-value-that-is-long-enough!"
    cfg = load(pm, {"PM_AUTH_ENABLED": "true", "PM_AUTH_JWT_SECRET": secret})
    summary = "\n".join(config_summary(cfg))
    assert secret not in summary
    assert "auth: enabled (HS256)" in summary
    assert "retry: attempts=3, initial=100ms, max=5s, backoff=2x" in summary


# --------------------------------------------------------------------------- logging level


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("off", "off"),
        ("ERROR", "error"),
        ("Warn", "warn"),
        ("info", "info"),
        ("DeBuG", "debug"),
        ("TRACE", "trace"),
        ("warning", "info"),
        ("verbose", "info"),
        ("", "info"),
        (" debug", "info"),
    ],
)
def test_log_level_case_insensitive_with_silent_fallback(
    pm: Path, text: str, expected: str
) -> None:
    assert load(pm, {"PM_LOG_LEVEL": text}).logging.level == expected
    assert load(pm, toml=f'[logging]\nlevel = "{text}"\n').logging.level == expected


def test_log_level_of_wrong_toml_type_becomes_info(pm: Path) -> None:
    assert load(pm, toml="[logging]\nlevel = 3\n").logging.level == "info"


# --------------------------------------------------------------------------- derived values


def test_database_file(pm: Path) -> None:
    assert database_file(load(pm), pm) == pm / "data.db"
    assert database_file(load(pm, {"PM_DATABASE_PATH": "d/x.db"}), pm) == pm / "d" / "x.db"


def test_log_file_rules(pm: Path, tmp_path: Path) -> None:
    assert log_file(load(pm), pm) is None
    assert log_file(load(pm, {"PM_LOG_FILE": "s.log"}), pm) == pm / "log" / "s.log"
    absolute = tmp_path / "elsewhere" / "pm-server.log"
    assert log_file(load(pm, {"PM_LOG_FILE": str(absolute)}), pm) == absolute
    assert log_file(load(pm, {"PM_LOG_FILE": ""}), pm) == pm / "log"
    cfg = load(pm, toml='[logging]\ndir = "logs"\nfile = "a/b.log"\n')
    assert log_file(cfg, pm) == pm / "logs" / "a" / "b.log"


@pytest.mark.parametrize(
    ("configured", "expected"),
    [
        ("00000000-0000-0000-0000-000000000001", "00000000-0000-0000-0000-000000000001"),
        ("6F9619FF-8B86-D011-B42D-00C04FC964FF", "6f9619ff-8b86-d011-b42d-00c04fc964ff"),
        ("{6f9619ff-8b86-d011-b42d-00c04fc964ff}", "6f9619ff-8b86-d011-b42d-00c04fc964ff"),
        ("urn:uuid:6f9619ff-8b86-d011-b42d-00c04fc964ff", "6f9619ff-8b86-d011-b42d-00c04fc964ff"),
        ("6f9619ff8b86d011b42d00c04fc964ff", "6f9619ff-8b86-d011-b42d-00c04fc964ff"),
        ("llm", DEFAULT_LLM_USER_ID),
        ("", DEFAULT_LLM_USER_ID),
        ("6f9619ff-8b86-d011-b42d-00c04fc964f", DEFAULT_LLM_USER_ID),
        ("6f9619f-f8b86-d011-b42d-00c04fc964ff", DEFAULT_LLM_USER_ID),
        ("{6f9619ff8b86d011b42d00c04fc964ff}", DEFAULT_LLM_USER_ID),
        ("6f9619ff-8b86-d011-b42d-00c04fc964fg", DEFAULT_LLM_USER_ID),
    ],
)
def test_llm_user_id_falls_back_to_default(pm: Path, configured: str, expected: str) -> None:
    cfg = load(pm, toml=f'[api]\nllm_user_id = "{configured}"\n')
    assert cfg.api.llm_user_id == configured  # the raw value is kept for the users row
    assert llm_user_id(cfg) == expected


def test_desktop_user_id(pm: Path) -> None:
    assert desktop_user_id(load(pm)) == "local-user"
    assert desktop_user_id(load(pm, {"PM_AUTH_DESKTOP_USER_ID": "carol"})) == "carol"
    empty = load(pm, {"PM_AUTH_DESKTOP_USER_ID": ""})
    first, second = desktop_user_id(empty), desktop_user_id(empty)
    pattern = r"session-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
    assert re.fullmatch(pattern, first)
    assert first != second  # a fresh id per start, so the server calls it once


# --------------------------------------------------------------------------- logging set-up

LINE_RE = re.compile(
    r"\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00 - (?P<level>[A-Z]+)\] "
    r"(?P<message>.*) \[(?P<source>[^\]]+):(?P<line>\d+)\]"
)


def file_lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def test_log_lines_to_file_have_pm_server_format(pm: Path, restore_logging: None) -> None:
    cfg = load(pm, {"PM_LOG_FILE": "server.log", "PM_LOG_LEVEL": "trace"})
    logsetup.setup_logging(cfg, pm)
    logsetup.log.info("hello %s", "world")
    logsetup.log.warning("careful")
    logsetup.log.error("bad")
    logsetup.log.critical("worse")
    logsetup.log.debug("details")
    logsetup.log.log(logsetup.TRACE, "very fine")
    path = pm / "log" / "server.log"
    lines = file_lines(path)
    matches = [LINE_RE.fullmatch(line) for line in lines]
    assert all(matches), lines
    got = [(m["level"], m["message"]) for m in matches if m]
    assert got == [
        ("INFO", "hello world"),
        ("WARN", "careful"),
        ("ERROR", "bad"),
        ("ERROR", "worse"),
        ("DEBUG", "details"),
        ("TRACE", "very fine"),
    ]
    first = matches[0]
    assert first is not None
    assert first["source"] == "tests/unit/test_config.py"
    assert "\x1b[" not in path.read_text(encoding="utf-8")  # files are never coloured


def test_log_file_appends_and_setup_does_not_duplicate(pm: Path, restore_logging: None) -> None:
    cfg = load(pm, {"PM_LOG_FILE": "a.log"})
    logsetup.setup_logging(cfg, pm)
    logsetup.log.info("one")
    logsetup.setup_logging(cfg, pm)
    logsetup.setup_logging(cfg, pm)
    logsetup.log.info("two")
    messages = [m["message"] for m in map(LINE_RE.fullmatch, file_lines(pm / "log" / "a.log")) if m]
    assert messages == ["one", "two"]


def test_level_filter(pm: Path, restore_logging: None) -> None:
    logsetup.setup_logging(load(pm, {"PM_LOG_FILE": "w.log", "PM_LOG_LEVEL": "warn"}), pm)
    logsetup.log.info("hidden")
    logsetup.log.warning("shown")
    logging.getLogger("granian.access").info("access line")
    assert [
        m["message"] for m in map(LINE_RE.fullmatch, file_lines(pm / "log" / "w.log")) if m
    ] == ["shown"]


def test_level_off_writes_nothing(pm: Path, restore_logging: None) -> None:
    logsetup.setup_logging(load(pm, {"PM_LOG_FILE": "off.log", "PM_LOG_LEVEL": "off"}), pm)
    logsetup.log.critical("nothing")
    logging.getLogger("some.library").error("nothing either")
    assert (pm / "log" / "off.log").read_text() == ""


def test_granian_quiet_unless_debug(pm: Path, restore_logging: None) -> None:
    logsetup.setup_logging(load(pm, {"PM_LOG_FILE": "g.log"}), pm)
    assert logging.getLogger("granian.access").getEffectiveLevel() == logging.WARNING
    logsetup.setup_logging(load(pm, {"PM_LOG_FILE": "g.log", "PM_LOG_LEVEL": "debug"}), pm)
    assert logging.getLogger("granian.access").getEffectiveLevel() == logging.DEBUG
    options = logsetup.granian_log_options(load(pm, {"PM_LOG_LEVEL": "info"}))
    assert options["log_level"] == "warning"
    assert options["log_enabled"] is True


def test_absolute_log_file_creates_parents(pm: Path, tmp_path: Path, restore_logging: None) -> None:
    target = tmp_path / "deep" / "er" / "pm-server.log"
    logsetup.setup_logging(load(pm, {"PM_LOG_FILE": str(target)}), pm)
    logsetup.log.info("absolute")
    assert "absolute" in target.read_text(encoding="utf-8")
    assert not (pm / "log").exists()


def test_empty_log_file_fails_to_open(pm: Path, restore_logging: None) -> None:
    cfg = load(pm, {"PM_LOG_FILE": ""})
    with pytest.raises(ConfigError, match=r"Cannot open log file .*directory"):
        logsetup.setup_logging(cfg, pm)


def test_unopenable_log_file_is_config_error(
    pm: Path, tmp_path: Path, restore_logging: None
) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    cfg = load(pm, {"PM_LOG_FILE": str(blocker / "x.log")})
    with pytest.raises(ConfigError, match="Cannot open log file"):
        logsetup.setup_logging(cfg, pm)


def test_stdout_coloured_and_plain(
    pm: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    restore_logging: None,
) -> None:
    # colour needs a terminal (tests/unit/test_logsetup.py has the other cases)
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    logsetup.setup_logging(load(pm), pm)
    logsetup.log.warning("coloured")
    out = capsys.readouterr().out
    assert " - \x1b[33mWARN\x1b[0m] coloured [tests/unit/test_config.py:" in out

    logsetup.setup_logging(load(pm, {"PM_LOG_COLORED": "false"}), pm)
    logsetup.log.warning("plain")
    out = capsys.readouterr().out
    line = out.strip()
    match = LINE_RE.fullmatch(line)
    assert match is not None, line
    assert (match["level"], match["message"]) == ("WARN", "plain")


def test_exception_traceback_follows_message(pm: Path, restore_logging: None) -> None:
    logsetup.setup_logging(load(pm, {"PM_LOG_FILE": "e.log"}), pm)
    try:
        raise ValueError("boom")
    except ValueError:
        logsetup.log.exception("failed")
    text = (pm / "log" / "e.log").read_text(encoding="utf-8")
    assert "failed\nTraceback" in text
    assert "ValueError: boom" in text
