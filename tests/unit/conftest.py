"""Fixtures shared by the unit tests."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from pm_fast import logsetup


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """Undo what a test's logging set-up did: handlers, levels, the ids switch."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    noisy = {name: logging.getLogger(name).level for name in logsetup.NOISY_LOGGERS}
    wanted = logsetup.ids_wanted()
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)
    for name, old in noisy.items():
        logging.getLogger(name).setLevel(old)
    logsetup._ids["wanted"] = wanted
