"""pm-server configuration: ``<pm>/config.toml``, ``PM_*`` overrides, start-up validation.

The contract is spec/server.md §3.1-3.2: 39 keys in 12 tables, 35 environment
variables, and the ranges checked before the server starts. Loading never writes
anything; the caller decides where ``<pm>`` is (see :mod:`pm_fast.paths`).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Final

import msgspec

from .core.rules import try_uuid

__all__ = [
    "DEFAULT_ALLOWED_ORIGINS",
    "DEFAULT_DESKTOP_USER_ID",
    "DEFAULT_LLM_USER_ID",
    "LOG_LEVELS",
    "ActivityLogConfig",
    "ApiConfig",
    "AuthConfig",
    "CircuitBreakerConfig",
    "Config",
    "ConfigError",
    "DatabaseConfig",
    "HandlerConfig",
    "LoggingConfig",
    "RateLimitConfig",
    "RetryConfig",
    "ServerConfig",
    "ValidationConfig",
    "WebSocketConfig",
    "config_summary",
    "database_file",
    "desktop_user_id",
    "llm_user_id",
    "load_config",
    "log_file",
    "normalize_log_level",
    "validate_config",
]

CONFIG_FILE_NAME: Final = "config.toml"
DEFAULT_LLM_USER_ID: Final = "00000000-0000-0000-0000-000000000001"
DEFAULT_DESKTOP_USER_ID: Final = "local-user"
# Browser origins allowed to call the server (pm-fast only; docs/compat.md "Browsers and
# origins"): the desktop app's web view (Tauri 2: tauri://localhost, or
# http(s)://tauri.localhost on Windows) and development servers on loopback, any port
# (":*" also matches no port).
DEFAULT_ALLOWED_ORIGINS: Final = (
    "tauri://localhost",
    "http://tauri.localhost",
    "https://tauri.localhost",
    "http://localhost:*",
    "http://127.0.0.1:*",
    "http://[::1]:*",
    "https://localhost:*",
    "https://127.0.0.1:*",
    "https://[::1]:*",
)
MIN_JWT_SECRET_BYTES: Final = 32
# Accepted spellings of logging.level, least to most verbose.
LOG_LEVELS: Final = ("off", "error", "warn", "info", "debug", "trace")
POSTGRES_URL_PREFIXES: Final = ("postgresql://", "postgres://")

# Rust integer widths of the original fields: a TOML value outside them is a type error.
_U16_MAX: Final = 2**16 - 1
_U32_MAX: Final = 2**32 - 1
_U64_MAX: Final = 2**64 - 1
_I32_MIN: Final = -(2**31)
_I32_MAX: Final = 2**31 - 1

# TOML integers are 64-bit signed (Rust's toml crate rejects larger ones), and msgspec
# bounds must fit in an int64, so a u64 key from the file tops out at 2**63 - 1; the
# environment still accepts the full u64 range, as the original does.
_TOML_INT_MAX: Final = 2**63 - 1

U16 = Annotated[int, msgspec.Meta(ge=0, le=_U16_MAX)]
U32 = Annotated[int, msgspec.Meta(ge=0, le=_U32_MAX)]
U64 = Annotated[int, msgspec.Meta(ge=0, le=_TOML_INT_MAX)]
USize = U64  # usize on the 64-bit targets the original ships for
I32 = Annotated[int, msgspec.Meta(ge=_I32_MIN, le=_I32_MAX)]


class ConfigError(Exception):
    """Configuration cannot be used; the message names the key or variable at fault."""


# --------------------------------------------------------------------------- tables


class ServerConfig(msgspec.Struct, kw_only=True, frozen=True):
    host: str = "127.0.0.1"
    port: U16 = 0
    max_connections: USize = 10000
    idle_shutdown_secs: U64 = 0
    # pm-fast only: which browser origins and Host names are served (pm_fast/api/guard.py).
    allowed_origins: tuple[str, ...] = DEFAULT_ALLOWED_ORIGINS
    allowed_hosts: tuple[str, ...] = ()
    # pm-fast only: how long a client may take to send a request's line and headers (also
    # the idle time allowed between two requests on one connection), and its whole body.
    header_read_timeout_secs: U64 = 15
    body_read_timeout_secs: U64 = 30
    # pm-fast only: `GET /metrics` and the counting behind it (PM_FAST_METRICS wins).
    metrics: bool = True


class DatabaseConfig(msgspec.Struct, kw_only=True, frozen=True):
    path: str = "data.db"
    # pm-fast only: a PostgreSQL URL selects the PostgreSQL store instead of SQLite.
    url: str | None = None


class AuthConfig(msgspec.Struct, kw_only=True, frozen=True):
    enabled: bool = False
    jwt_secret: str | None = None
    jwt_public_key_path: str | None = None
    desktop_user_id: str | None = DEFAULT_DESKTOP_USER_ID


class LoggingConfig(msgspec.Struct, kw_only=True, frozen=True):
    level: str = "info"  # always one of LOG_LEVELS after load_config
    dir: str = "log"
    file: str | None = None
    colored: bool = True


class ActivityLogConfig(msgspec.Struct, kw_only=True, frozen=True):
    retention_days: U32 = 90
    cleanup_interval_hours: U32 = 24


class WebSocketConfig(msgspec.Struct, kw_only=True, frozen=True):
    send_buffer_size: USize = 100
    heartbeat_interval_secs: U64 = 30
    heartbeat_timeout_secs: U64 = 60
    # pm-fast: a subscriber with frames pending and no send completed for this long is
    # closed (docs/delivery.md)
    stuck_client_secs: U64 = 30
    # pm-fast: mutations wait while a subscriber that is reading has more than this
    # many frames queued (flow control, docs/delivery.md); the latency bound
    flow_control_frames: USize = 8
    # pm-fast: how long committed events stay in the event log for exact resume
    # (docs/events.md)
    event_retention_secs: U64 = 86400


class RateLimitConfig(msgspec.Struct, kw_only=True, frozen=True):
    max_requests: U32 = 100
    window_secs: U64 = 60


class CircuitBreakerConfig(msgspec.Struct, kw_only=True, frozen=True):
    failure_threshold: U32 = 5
    open_duration_secs: U64 = 30
    half_open_success_threshold: U32 = 3
    failure_window_secs: U64 = 60


class RetryConfig(msgspec.Struct, kw_only=True, frozen=True):
    max_attempts: U32 = 3
    initial_delay_ms: U64 = 100
    max_delay_secs: U64 = 5
    backoff_multiplier: float = 2.0
    jitter: bool = True


class HandlerConfig(msgspec.Struct, kw_only=True, frozen=True):
    timeout_secs: U64 = 30


class ValidationConfig(msgspec.Struct, kw_only=True, frozen=True):
    max_title_length: USize = 200
    max_description_length: USize = 10000
    max_story_points: I32 = 100
    max_error_message_length: USize = 200
    max_comment_length: USize = 5000
    max_sprint_name_length: USize = 100


class ApiConfig(msgspec.Struct, kw_only=True, frozen=True):
    enabled: bool = True
    llm_user_id: str = DEFAULT_LLM_USER_ID
    llm_user_name: str = "LLM Assistant"


class Config(msgspec.Struct, kw_only=True, frozen=True):
    server: ServerConfig = msgspec.field(default_factory=ServerConfig)
    database: DatabaseConfig = msgspec.field(default_factory=DatabaseConfig)
    auth: AuthConfig = msgspec.field(default_factory=AuthConfig)
    logging: LoggingConfig = msgspec.field(default_factory=LoggingConfig)
    activity_log: ActivityLogConfig = msgspec.field(default_factory=ActivityLogConfig)
    websocket: WebSocketConfig = msgspec.field(default_factory=WebSocketConfig)
    rate_limit: RateLimitConfig = msgspec.field(default_factory=RateLimitConfig)
    circuit_breaker: CircuitBreakerConfig = msgspec.field(default_factory=CircuitBreakerConfig)
    retry: RetryConfig = msgspec.field(default_factory=RetryConfig)
    handler: HandlerConfig = msgspec.field(default_factory=HandlerConfig)
    validation: ValidationConfig = msgspec.field(default_factory=ValidationConfig)
    api: ApiConfig = msgspec.field(default_factory=ApiConfig)


# --------------------------------------------------------------------------- TOML


def _read_toml(path: Path) -> Config:
    try:
        raw_bytes = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"Cannot read config file {path}: {exc.strerror or exc}") from exc
    try:
        raw: object = msgspec.toml.decode(raw_bytes)
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"Invalid TOML in config file {path}: {exc}") from exc
    if isinstance(raw, dict):
        logging_table = raw.get("logging")
        # The original's level parser swallows any non-string value and uses "info".
        if isinstance(logging_table, dict) and not isinstance(logging_table.get("level", ""), str):
            logging_table["level"] = "info"
    try:
        return msgspec.convert(raw, Config)
    except msgspec.ValidationError as exc:
        detail, key = _split_validation_error(str(exc))
        where = f" at key {key}" if key else ""
        raise ConfigError(f"Invalid value in config file {path}{where}: {detail}") from exc


def _split_validation_error(message: str) -> tuple[str, str]:
    """Turn msgspec's "Expected `int`, got `str` - at `$.server.port`" into parts."""
    detail, sep, location = message.rpartition(" - at `")
    if not sep:
        return message, ""
    key = location.rstrip("`").removeprefix("$").removeprefix(".")
    # TOML has no null, so "str | null" only confuses the reader.
    return detail.replace(" | null", ""), key


# --------------------------------------------------------------------------- environment

_UNSIGNED_RE: Final = re.compile(r"\+?[0-9]+")
_SIGNED_RE: Final = re.compile(r"[+-]?[0-9]+")
# Rust's f64 grammar: no whitespace, no underscores, inf/infinity/nan in any case.
_FLOAT_RE: Final = re.compile(
    r"[+-]?(?:inf|infinity|nan|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:e[+-]?[0-9]+)?)",
    re.IGNORECASE,
)

_Parser = Callable[[str, str], object]


def _int_parser(lo: int, hi: int) -> _Parser:
    pattern = _SIGNED_RE if lo < 0 else _UNSIGNED_RE

    def parse(var: str, text: str) -> object:
        if pattern.fullmatch(text) is None:
            raise ConfigError(f"Invalid value for {var}: {text!r} (expected an integer)")
        value = int(text)
        if not lo <= value <= hi:
            raise ConfigError(
                f"Invalid value for {var}: {text!r} (expected an integer between {lo} and {hi})"
            )
        return value

    return parse


def _parse_float(var: str, text: str) -> object:
    if _FLOAT_RE.fullmatch(text) is None:
        raise ConfigError(f"Invalid value for {var}: {text!r} (expected a number)")
    return float(text)


def _parse_bool(var: str, text: str) -> object:
    return text in ("true", "1")


def _parse_str(var: str, text: str) -> object:
    return text


def _parse_list(var: str, text: str) -> object:
    """A comma-separated list; blanks around items are dropped, "" is the empty list."""
    return tuple(item.strip() for item in text.split(",") if item.strip())


_u16 = _int_parser(0, _U16_MAX)
_u32 = _int_parser(0, _U32_MAX)
_u64 = _int_parser(0, _U64_MAX)
_i32 = _int_parser(_I32_MIN, _I32_MAX)

# (variable, table, key, parser). Optional strings use _parse_str too: the variable
# being present sets the value, even to "".
_ENV_OVERRIDES: Final[tuple[tuple[str, str, str, _Parser], ...]] = (
    ("PM_SERVER_HOST", "server", "host", _parse_str),
    ("PM_SERVER_PORT", "server", "port", _u16),
    ("PM_SERVER_MAX_CONNECTIONS", "server", "max_connections", _u64),
    ("PM_IDLE_SHUTDOWN_SECS", "server", "idle_shutdown_secs", _u64),
    ("PM_ALLOWED_ORIGINS", "server", "allowed_origins", _parse_list),
    ("PM_ALLOWED_HOSTS", "server", "allowed_hosts", _parse_list),
    ("PM_HEADER_READ_TIMEOUT_SECS", "server", "header_read_timeout_secs", _u64),
    ("PM_BODY_READ_TIMEOUT_SECS", "server", "body_read_timeout_secs", _u64),
    ("PM_DATABASE_PATH", "database", "path", _parse_str),
    ("PM_DATABASE_URL", "database", "url", _parse_str),
    ("PM_AUTH_ENABLED", "auth", "enabled", _parse_bool),
    ("PM_AUTH_JWT_SECRET", "auth", "jwt_secret", _parse_str),
    ("PM_AUTH_JWT_PUBLIC_KEY_PATH", "auth", "jwt_public_key_path", _parse_str),
    ("PM_AUTH_DESKTOP_USER_ID", "auth", "desktop_user_id", _parse_str),
    ("PM_LOG_LEVEL", "logging", "level", _parse_str),
    ("PM_LOG_FILE", "logging", "file", _parse_str),
    ("PM_LOG_COLORED", "logging", "colored", _parse_bool),
    ("PM_ACTIVITY_LOG_RETENTION_DAYS", "activity_log", "retention_days", _u32),
    ("PM_ACTIVITY_LOG_CLEANUP_INTERVAL_HOURS", "activity_log", "cleanup_interval_hours", _u32),
    ("PM_WS_SEND_BUFFER_SIZE", "websocket", "send_buffer_size", _u64),
    ("PM_WS_HEARTBEAT_INTERVAL_SECS", "websocket", "heartbeat_interval_secs", _u64),
    ("PM_WS_HEARTBEAT_TIMEOUT_SECS", "websocket", "heartbeat_timeout_secs", _u64),
    ("PM_WS_STUCK_CLIENT_SECS", "websocket", "stuck_client_secs", _u64),
    ("PM_WS_FLOW_CONTROL_FRAMES", "websocket", "flow_control_frames", _u64),
    ("PM_WS_EVENT_RETENTION_SECS", "websocket", "event_retention_secs", _u64),
    ("PM_RATE_LIMIT_MAX_REQUESTS", "rate_limit", "max_requests", _u32),
    ("PM_RATE_LIMIT_WINDOW_SECS", "rate_limit", "window_secs", _u64),
    ("PM_CB_FAILURE_THRESHOLD", "circuit_breaker", "failure_threshold", _u32),
    ("PM_CB_OPEN_DURATION_SECS", "circuit_breaker", "open_duration_secs", _u64),
    ("PM_CB_HALF_OPEN_SUCCESS_THRESHOLD", "circuit_breaker", "half_open_success_threshold", _u32),
    ("PM_CB_FAILURE_WINDOW_SECS", "circuit_breaker", "failure_window_secs", _u64),
    ("PM_RETRY_MAX_ATTEMPTS", "retry", "max_attempts", _u32),
    ("PM_RETRY_INITIAL_DELAY_MS", "retry", "initial_delay_ms", _u64),
    ("PM_RETRY_MAX_DELAY_SECS", "retry", "max_delay_secs", _u64),
    ("PM_RETRY_BACKOFF_MULTIPLIER", "retry", "backoff_multiplier", _parse_float),
    ("PM_RETRY_JITTER", "retry", "jitter", _parse_bool),
    ("PM_HANDLER_TIMEOUT_SECS", "handler", "timeout_secs", _u64),
    ("PM_VALIDATION_MAX_TITLE_LENGTH", "validation", "max_title_length", _u64),
    ("PM_VALIDATION_MAX_DESCRIPTION_LENGTH", "validation", "max_description_length", _u64),
    ("PM_VALIDATION_MAX_STORY_POINTS", "validation", "max_story_points", _i32),
    ("PM_VALIDATION_MAX_ERROR_MESSAGE_LENGTH", "validation", "max_error_message_length", _u64),
    ("PM_VALIDATION_MAX_COMMENT_LENGTH", "validation", "max_comment_length", _u64),
    ("PM_VALIDATION_MAX_SPRINT_NAME_LENGTH", "validation", "max_sprint_name_length", _u64),
)

ENV_VARS: Final = tuple(entry[0] for entry in _ENV_OVERRIDES)


def _apply_env(cfg: Config, environ: Mapping[str, str]) -> Config:
    changes: dict[str, dict[str, object]] = {}
    for var, table, key, parse in _ENV_OVERRIDES:
        text = environ.get(var)
        if text is None or not _is_unicode(text):
            continue  # like Rust's env::var, a non-UTF-8 value counts as unset
        changes.setdefault(table, {})[key] = parse(var, text)
    if not changes:
        return cfg
    tables = {
        table: msgspec.structs.replace(getattr(cfg, table), **values)
        for table, values in changes.items()
    }
    return msgspec.structs.replace(cfg, **tables)


def _is_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # os.environ keeps undecodable bytes as surrogates
        return False
    return True


# --------------------------------------------------------------------------- validation


def normalize_log_level(value: str) -> str:
    """Case-insensitive level name; anything unknown silently becomes ``info``."""
    lowered = value.lower()
    return lowered if lowered in LOG_LEVELS else "info"


def _check_range(key: str, value: float, lo: float, hi: float) -> None:
    # Written as "not in range" so a NaN float is rejected too.
    if not lo <= value <= hi:
        raise ConfigError(f"{key} must be between {lo} and {hi} (got {value})")


_RANGES: Final[tuple[tuple[str, str, float, float], ...]] = (
    ("server", "max_connections", 1, 100000),
    ("server", "header_read_timeout_secs", 1, 300),
    ("server", "body_read_timeout_secs", 1, 3600),
    ("websocket", "send_buffer_size", 1, 10000),
    ("websocket", "heartbeat_interval_secs", 5, 300),
    ("websocket", "heartbeat_timeout_secs", 10, 600),
    ("websocket", "stuck_client_secs", 1, 3600),
    ("websocket", "flow_control_frames", 2, 10000),
    ("websocket", "event_retention_secs", 60, 31_536_000),
    ("rate_limit", "max_requests", 1, 10000),
    ("rate_limit", "window_secs", 1, 3600),
    ("circuit_breaker", "failure_threshold", 1, 100),
    ("circuit_breaker", "open_duration_secs", 1, 300),
    ("circuit_breaker", "half_open_success_threshold", 1, 50),
    ("circuit_breaker", "failure_window_secs", 1, 600),
    ("retry", "max_attempts", 1, 10),
    ("retry", "initial_delay_ms", 10, 10000),
    ("retry", "max_delay_secs", 1, 60),
    ("retry", "backoff_multiplier", 1.0, 10.0),
    ("handler", "timeout_secs", 1, 300),
    ("validation", "max_title_length", 1, 500),
    ("validation", "max_description_length", 0, 500000),
    ("validation", "max_story_points", 0, 1000),
    ("validation", "max_error_message_length", 50, 1000),
    ("validation", "max_comment_length", 1, 500000),
    ("validation", "max_sprint_name_length", 1, 500),
)


def _is_rooted(path: str) -> bool:
    # Path.is_absolute() misses "/x" on Windows, so the leading slash is checked as well.
    return path.startswith("/") or Path(path).is_absolute()


def _validate_auth(auth: AuthConfig, pm_dir: Path) -> None:
    if not auth.enabled:
        return
    if auth.jwt_secret is not None:  # HS256 wins over a key path; the key is not checked
        size = len(auth.jwt_secret.encode("utf-8"))
        if size < MIN_JWT_SECRET_BYTES:
            raise ConfigError(
                f"auth.jwt_secret must be at least {MIN_JWT_SECRET_BYTES} bytes long "
                f"when auth.enabled is true (got {size} bytes)"
            )
        return
    key_path = auth.jwt_public_key_path
    if key_path is None:
        raise ConfigError(
            "auth.enabled=true requires auth.jwt_secret or auth.jwt_public_key_path "
            "(set auth.enabled=false for desktop mode)"
        )
    if _is_rooted(key_path):
        raise ConfigError(
            f"auth.jwt_public_key_path must be relative to the config directory (got {key_path!r})"
        )
    if ".." in key_path:
        raise ConfigError(f"auth.jwt_public_key_path must not contain '..' (got {key_path!r})")
    full = pm_dir / key_path
    if not full.is_file():
        raise ConfigError(
            f"auth.jwt_public_key_path {key_path!r} does not exist (looked for {full})"
        )


# An allowed origin: "*" (any), or scheme://host with an optional :port or :* (any port,
# or none). An allowed host: "*" (any) or a name or IP address, without a port.
_ORIGIN_RE: Final = re.compile(
    r"\*|[a-z][a-z0-9+.-]*://(?:\[[0-9a-f:.]+\]|[a-z0-9._~-]+)(?::(?:[0-9]{1,5}|\*))?/?",
    re.IGNORECASE,
)
_HOST_RE: Final = re.compile(r"\*|\[[0-9a-f:.]+\]|[a-z0-9._-]+", re.IGNORECASE)


def _validate_browser_keys(server: ServerConfig) -> None:
    for origin in server.allowed_origins:
        if _ORIGIN_RE.fullmatch(origin) is None:
            raise ConfigError(
                "server.allowed_origins (PM_ALLOWED_ORIGINS) takes origins such as "
                f"'http://localhost:8080', 'http://localhost:*' or '*' (got {origin!r})"
            )
    for host in server.allowed_hosts:
        if _HOST_RE.fullmatch(host) is None:
            raise ConfigError(
                "server.allowed_hosts (PM_ALLOWED_HOSTS) takes host names or IP addresses "
                f"without a port, or '*' (got {host!r})"
            )


def validate_config(cfg: Config, pm_dir: Path) -> None:
    """Raise ConfigError for the first value outside its allowed range."""
    port = cfg.server.port
    if port != 0 and not 1024 <= port <= _U16_MAX:
        raise ConfigError(f"server.port must be 0 or between 1024 and {_U16_MAX} (got {port})")
    _validate_browser_keys(cfg.server)
    _check_range("server.max_connections", cfg.server.max_connections, 1, 100000)
    _validate_auth(cfg.auth, pm_dir)
    for table, key, lo, hi in _RANGES:
        value: float = getattr(getattr(cfg, table), key)
        _check_range(f"{table}.{key}", value, lo, hi)
        if key == "heartbeat_timeout_secs":
            ws = cfg.websocket
            if ws.heartbeat_timeout_secs <= ws.heartbeat_interval_secs:
                raise ConfigError(
                    "websocket.heartbeat_timeout_secs must be greater than "
                    f"websocket.heartbeat_interval_secs (got {ws.heartbeat_timeout_secs} "
                    f"<= {ws.heartbeat_interval_secs})"
                )
    db_path = cfg.database.path
    if _is_rooted(db_path) or ".." in db_path:
        raise ConfigError(
            "database.path must be a relative path without a leading '/' and without '..' "
            f"(got {db_path!r})"
        )
    url = cfg.database.url
    if url is not None and not url.startswith(POSTGRES_URL_PREFIXES):
        raise ConfigError(
            "database.url (PM_DATABASE_URL) must start with 'postgresql://' or 'postgres://'"
        )


# --------------------------------------------------------------------------- entry point


def load_config(pm_dir: Path, environ: Mapping[str, str]) -> Config:
    """Defaults, then ``<pm_dir>/config.toml`` if present, then ``PM_*``, then validation."""
    path = pm_dir / CONFIG_FILE_NAME
    cfg = _read_toml(path) if path.exists() else Config()
    cfg = _apply_env(cfg, environ)
    cfg = _normalize(cfg)
    validate_config(cfg, pm_dir)
    return cfg


def _normalize(cfg: Config) -> Config:
    level = normalize_log_level(cfg.logging.level)
    url = cfg.database.url or None  # pm-fast choice: an empty URL means "not set"
    if level == cfg.logging.level and url == cfg.database.url:
        return cfg
    return msgspec.structs.replace(
        cfg,
        logging=msgspec.structs.replace(cfg.logging, level=level),
        database=msgspec.structs.replace(cfg.database, url=url),
    )


# --------------------------------------------------------------------------- derived values


def database_file(cfg: Config, pm_dir: Path) -> Path:
    """The SQLite file: ``<pm>/<database.path>``."""
    return pm_dir / cfg.database.path


def log_file(cfg: Config, pm_dir: Path) -> Path | None:
    """Where log lines go; None means stdout.

    An absolute ``logging.file`` is used as is; a relative one lives in
    ``<pm>/<logging.dir>/``. An empty name (``PM_LOG_FILE=``) yields the log directory
    itself, which the log opener then refuses, as the original does.
    """
    name = cfg.logging.file
    if name is None:
        return None
    if _is_rooted(name):
        return Path(name)
    return pm_dir / cfg.logging.dir / name


def parse_uuid(text: str) -> str | None:
    """Canonical lowercase hyphenated form of a UUID string, or None if it is not one."""
    return try_uuid(text)


def llm_user_id(cfg: Config) -> str:
    """The REST caller used when ``X-User-Id`` is missing or invalid."""
    return parse_uuid(cfg.api.llm_user_id) or DEFAULT_LLM_USER_ID


def desktop_user_id(cfg: Config) -> str:
    """The WebSocket user when auth is off; call once at start-up and keep the result.

    An empty ``auth.desktop_user_id`` asks for a fresh ``session-<uuid4>`` every start.
    """
    configured = cfg.auth.desktop_user_id
    if configured:
        return configured
    return f"session-{uuid.uuid4()}"


def config_summary(cfg: Config) -> list[str]:
    """Human-readable start-up summary lines; secrets are never included."""
    auth = cfg.auth
    if auth.jwt_secret is not None:
        scheme = "HS256"
    elif auth.jwt_public_key_path is not None:
        scheme = "RS256"
    else:
        scheme = "none"
    s, ws, rl, cb, rt, v = (
        cfg.server,
        cfg.websocket,
        cfg.rate_limit,
        cfg.circuit_breaker,
        cfg.retry,
        cfg.validation,
    )
    store = "postgresql" if cfg.database.url else f"sqlite {cfg.database.path}"
    activity = (
        f"retention={cfg.activity_log.retention_days}d, "
        f"cleanup={cfg.activity_log.cleanup_interval_hours}h"
    )
    heartbeat = f"{ws.heartbeat_interval_secs}s/{ws.heartbeat_timeout_secs}s"
    breaker = (
        f"threshold={cb.failure_threshold}, open={cb.open_duration_secs}s, "
        f"window={cb.failure_window_secs}s"
    )
    retry = (
        f"attempts={rt.max_attempts}, initial={rt.initial_delay_ms}ms, "
        f"max={rt.max_delay_secs}s, backoff={rt.backoff_multiplier:g}x"
    )
    limits = (
        f"title={v.max_title_length}, desc={v.max_description_length}, points={v.max_story_points}"
    )
    return [
        "Configuration loaded:",
        f"  server: {s.host}:{s.port} (max {s.max_connections} connections)",
        f"  database: {store}",
        f"  auth: {'enabled' if auth.enabled else 'disabled'} ({scheme})",
        f"  activity_log: {activity}",
        f"  logging: {cfg.logging.level} (colored: {str(cfg.logging.colored).lower()})",
        f"  websocket: buffer={ws.send_buffer_size}, heartbeat={heartbeat}",
        f"  rate_limit: {rl.max_requests}/{rl.window_secs}s",
        f"  circuit_breaker: {breaker}",
        f"  retry: {retry}",
        f"  handler: timeout={cfg.handler.timeout_secs}s",
        f"  validation: {limits}",
    ]
