"""Log output in pm-server's line format (spec/server.md §3.1 "Logging"), or JSON.

``[<RFC 3339 UTC> - <LEVEL>] <message> [<source file>:<line>]`` to stdout or appended to
the file chosen by :func:`pm_fast.config.log_file`. The level is coloured only on
stdout, only when ``logging.colored`` asks for it and stdout is a terminal: a log file
or a redirected stdout never gets escape codes.

With ``PM_FAST_LOG_FORMAT=json`` (read in :mod:`pm_fast.bootstrap`) every record is one
JSON object on one line instead: ``time`` (as above), ``level``, ``message``, ``logger``,
``source``, the ``request_id`` of the HTTP request or the ``connection_id`` of the
WebSocket being served when there is one (:data:`REQUEST_ID`, :data:`CONNECTION_ID`),
the fields the call site passed with ``extra=``, and ``exception`` / ``stack`` when the
record has them. The ids are only set when this format is on (:func:`ids_wanted`).
"""

from __future__ import annotations

import itertools
import logging
import os
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import msgspec

from pm_fast.config import Config, ConfigError, log_file, normalize_log_level

__all__ = [
    "CONNECTION_ID",
    "FORMATS",
    "REQUEST_ID",
    "TRACE",
    "granian_log_options",
    "ids_wanted",
    "level_number",
    "log",
    "new_id",
    "setup_logging",
]

# Values of PM_FAST_LOG_FORMAT: pm-server's line format (the default) or JSON lines.
FORMATS: Final = ("text", "json")

TRACE: Final = 5
logging.addLevelName(TRACE, "TRACE")

log: Final = logging.getLogger("pm_fast")

_OFF: Final = logging.CRITICAL + 10
_LEVEL_NUMBERS: Final = {
    "off": _OFF,
    "error": logging.ERROR,
    "warn": logging.WARNING,
    "info": logging.INFO,
    "debug": logging.DEBUG,
    "trace": TRACE,
}
# pm-server's level names (Rust `log` has no CRITICAL; WARNING is spelled WARN).
_LABELS: Final = {
    logging.CRITICAL: "ERROR",
    logging.ERROR: "ERROR",
    logging.WARNING: "WARN",
    logging.INFO: "INFO",
    logging.DEBUG: "DEBUG",
    TRACE: "TRACE",
}
_COLOURS: Final = {
    "ERROR": "\x1b[31m",
    "WARN": "\x1b[33m",
    "INFO": "\x1b[32m",
    "DEBUG": "\x1b[34m",
    "TRACE": "\x1b[35m",
}
_RESET: Final = "\x1b[0m"

# Chatty libraries stay at WARN unless the operator asked for debug or trace.
NOISY_LOGGERS: Final = ("_granian", "granian", "granian.access", "aiosqlite", "asyncio")

_PACKAGE_PARENT: Final = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def level_number(level: str) -> int:
    """Python logging threshold for a ``logging.level`` value (unknown names: info)."""
    return _LEVEL_NUMBERS[normalize_log_level(level)]


def _label(levelno: int) -> str:
    label = _LABELS.get(levelno)
    if label is not None:
        return label
    # Custom numeric levels take the name of the nearest standard level below them.
    for threshold in (logging.ERROR, logging.WARNING, logging.INFO, logging.DEBUG):
        if levelno >= threshold:
            return _LABELS[threshold]
    return "TRACE"


class _LineFormatter(logging.Formatter):
    def __init__(self, *, colored: bool) -> None:
        super().__init__()
        self._labels: dict[int, str] = {}
        self._colored = colored
        self._sources: dict[str, str] = {}

    def _level_text(self, levelno: int) -> str:
        text = self._labels.get(levelno)
        if text is None:
            label = _label(levelno)
            text = f"{_COLOURS[label]}{label}{_RESET}" if self._colored else label
            self._labels[levelno] = text
        return text

    def _source(self, pathname: str) -> str:
        source = self._sources.get(pathname)
        if source is None:
            source = _display_path(pathname)
            self._sources[pathname] = source
        return source

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            message = f"{message}\n{record.exc_text}"
        if record.stack_info:
            message = f"{message}\n{self.formatStack(record.stack_info)}"
        stamp = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="microseconds")
        return (
            f"[{stamp} - {self._level_text(record.levelno)}] {message} "
            f"[{self._source(record.pathname)}:{record.lineno}]"
        )


# -- ids for JSON lines ---------------------------------------------------------------
# The HTTP request / WebSocket connection being served by the current task (set by
# engines/front.py only when `ids_wanted()`; a log call may also name a connection with
# `extra={"connection_id": ...}`, which wins: e.g. a connection closed by another's task).
REQUEST_ID: Final[ContextVar[str | None]] = ContextVar("pm_fast_request_id", default=None)
CONNECTION_ID: Final[ContextVar[str | None]] = ContextVar("pm_fast_connection_id", default=None)

_ids = {"wanted": False}
_counter = itertools.count(1)


def _tag() -> str:
    # os.urandom, as secrets.token_hex does, without importing `secrets` (its hashlib
    # loads OpenSSL: some 7 ms of start-up and 3.5 MiB of resident memory).
    return os.urandom(4).hex()


_prefix = _tag()


def _new_prefix() -> None:
    # A forked worker gets its own prefix, so ids stay unique across `--workers`.
    global _counter, _prefix
    _prefix = _tag()
    _counter = itertools.count(1)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_prefix)


def new_id() -> str:
    """A request or connection id unique within this log: ``<process tag>-<counter>``."""
    return f"{_prefix}-{next(_counter)}"


def ids_wanted() -> bool:
    """Whether log lines carry request and connection ids (the JSON format is on)."""
    return _ids["wanted"]


# LogRecord attributes that are not fields of the event (anything else came from `extra=`).
_RECORD_KEYS: Final = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
}
# Keys the JSON line sets itself; an `extra=` field of one of these names is dropped.
_OWN_KEYS: Final = frozenset(("time", "level", "message", "logger", "source", "exception", "stack"))


def _unencodable(value: Any) -> str:
    return repr(value)


class _JsonFormatter(_LineFormatter):
    def __init__(self) -> None:
        super().__init__(colored=False)
        self._encoder = msgspec.json.Encoder(enc_hook=_unencodable)

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="microseconds"),
            "level": _label(record.levelno),
            "message": record.getMessage(),
            "logger": record.name,
            "source": f"{self._source(record.pathname)}:{record.lineno}",
        }
        request_id = REQUEST_ID.get()
        if request_id is not None:
            line["request_id"] = request_id
        connection_id = CONNECTION_ID.get()
        if connection_id is not None:
            line["connection_id"] = connection_id
        for key, value in record.__dict__.items():
            if key not in _RECORD_KEYS and key not in _OWN_KEYS:
                line[key] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        try:
            return self._encoder.encode(line).decode()
        except (TypeError, ValueError, OverflowError) as err:  # e.g. a dict with odd keys
            line = {k: v for k, v in line.items() if k in _OWN_KEYS or k.endswith("_id")}
            line["unencodable_fields"] = str(err)
            return self._encoder.encode(line).decode()


def _display_path(pathname: str) -> str:
    """Short source path: ``pm_fast/config.py``, ``granian/server/embed.py``."""
    try:
        full = os.path.abspath(pathname)
    except (OSError, ValueError):
        return pathname
    best = ""
    for root in _source_roots():
        prefix = root.rstrip(os.sep) + os.sep
        if full.startswith(prefix) and len(root) > len(best):
            best = root
    if not best:
        return os.path.basename(full)
    return os.path.relpath(full, best).replace(os.sep, "/")


def _source_roots() -> list[str]:
    # The project checkout plus installed-package and standard-library directories;
    # other sys.path entries (test runners add their own) would shorten our paths.
    roots = [_PACKAGE_PARENT]
    roots += [
        os.path.abspath(p)
        for p in sys.path
        if p and os.path.basename(os.path.normpath(p)) in ("site-packages", "dist-packages")
    ]
    import sysconfig  # first log record only

    stdlib = sysconfig.get_paths().get("stdlib")
    if stdlib:
        roots.append(os.path.abspath(stdlib))
    return roots


# Handlers installed here, so repeated set-ups replace only their own.
_installed: list[logging.Handler] = []


def _remove_installed(root: logging.Logger) -> None:
    while _installed:
        handler = _installed.pop()
        root.removeHandler(handler)
        handler.close()


def _open_target(cfg: Config, pm_dir: Path) -> logging.Handler:
    path = log_file(cfg, pm_dir)
    if path is None:
        stream = sys.stdout
        if stream is None:  # no console at all (Windows GUI launch): nowhere to write
            return logging.NullHandler()
        return logging.StreamHandler(stream)
    try:
        # With an empty name the target is <pm>/<logging.dir> itself: like the original,
        # the directory is created and then refused by the open below.
        directory = path if cfg.logging.file == "" else path.parent
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        # A new log file is owner-only (it names projects and users); an existing one
        # keeps its mode.
        os.close(os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600))
        return logging.FileHandler(path, mode="a", encoding="utf-8")
    except OSError as exc:
        reason = "it is a directory" if path.is_dir() else (exc.strerror or str(exc))
        raise ConfigError(
            f"Cannot open log file {path} (logging.file / PM_LOG_FILE): {reason}"
        ) from exc


def _noisy_threshold(threshold: int) -> int:
    return threshold if threshold <= logging.DEBUG else max(threshold, logging.WARNING)


def _is_terminal(handler: logging.Handler) -> bool:
    if isinstance(handler, logging.FileHandler) or not isinstance(handler, logging.StreamHandler):
        return False
    try:
        return bool(handler.stream.isatty())
    except (AttributeError, OSError, ValueError):
        return False


def setup_logging(cfg: Config, pm_dir: Path, log_format: str = "text") -> None:
    """Route every logger through one handler in pm-server's format (or JSON lines
    with `log_format="json"`).

    Safe to call again (tests): the previous handler is closed and replaced.
    Raises ConfigError when the log file cannot be opened.
    """
    if log_format not in FORMATS:
        raise ValueError(f"log format must be one of {FORMATS} (got {log_format!r})")
    handler = _open_target(cfg, pm_dir)
    threshold = level_number(cfg.logging.level)
    formatter: logging.Formatter
    if log_format == "json":
        formatter = _JsonFormatter()
    else:
        # Colour only on a terminal, and only if asked for: files and pipes stay plain.
        formatter = _LineFormatter(colored=cfg.logging.colored and _is_terminal(handler))
    # Ids cost a little per request and connection: only when a line can show them.
    _ids["wanted"] = log_format == "json" and threshold < _OFF
    handler.setFormatter(formatter)
    # The handler filters too: records of loggers with their own lower level still
    # reach the root's handlers, and "off" must silence everything.
    handler.setLevel(threshold)

    root = logging.getLogger()
    _remove_installed(root)
    root.addHandler(handler)
    _installed.append(handler)
    root.setLevel(threshold)

    noisy = _noisy_threshold(threshold)
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(noisy)


def granian_log_options(cfg: Config) -> dict[str, Any]:
    """Keyword arguments for Granian's server so its loggers join ours.

    Granian applies its own ``dictConfig`` at start; this one gives its loggers no
    handlers of their own and lets them propagate to the root handler installed by
    :func:`setup_logging`, at the same thresholds.
    """
    threshold = level_number(cfg.logging.level)
    noisy = _noisy_threshold(threshold)
    names = {
        logging.DEBUG: "debug",
        logging.INFO: "info",
        logging.WARNING: "warning",
        logging.ERROR: "error",
    }
    level_name = names.get(noisy, "debug" if noisy < logging.DEBUG else "critical")
    loggers = {
        name: {"handlers": [], "level": noisy, "propagate": True}
        for name in ("_granian", "granian.access")
    }
    return {
        "log_enabled": threshold < _OFF,
        "log_level": level_name,
        "log_dictconfig": {"version": 1, "disable_existing_loggers": False, "loggers": loggers},
    }
