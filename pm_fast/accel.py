"""The one place that chooses between the Rust extension and its pure-Python twins.

The choice is an explicit call, `select`, made once at start-up by the composition root
(`pm_fast.bootstrap.start`, from `PM_FAST_PURE`) or by a test: the Rust functions from
``pm_fast_ext`` when the extension imports, otherwise (or with ``pure=True``) the twins
from ``pm_fast.core.graph`` (graph walks), ``pm_fast.api.codec_twin`` (protobuf codec)
and ``pm_fast.realtime`` (event fan-out: ``Hub`` and ``SendQueue``). The server reaches
these names through this module only (``accel.name`` at call time), so both paths run
the same code above it. Before `select`, using a name raises RuntimeError.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pm_fast.realtime.hub import HubApi
from pm_fast.realtime.send_queue import SendQueueApi

if TYPE_CHECKING:  # the signatures, from the extension's checked stubs
    from pm_fast_ext import (
        ancestors,
        descendants,
        encode_event,
        encode_work_items_list,
        is_reachable_parent_cycle,
        would_cycle,
    )

__all__ = [
    "USING_RUST",
    "Hub",
    "SendQueue",
    "ancestors",
    "descendants",
    "encode_event",
    "encode_work_items_list",
    "is_reachable_parent_cycle",
    "select",
    "would_cycle",
]

_log = logging.getLogger("pm_fast")

# Set by `select`. Classes: the Rust ones or the twins (realtime/hub.py, send_queue.py).
USING_RUST: bool
Hub: Callable[[], HubApi]
SendQueue: Callable[[int], SendQueueApi]


def _rust() -> dict[str, Any] | None:
    try:
        import pm_fast_ext
    except ImportError as exc:
        _log.warning(
            "pm_fast_ext (the Rust extension) is not importable, using the slower "
            "pure-Python twins: %s",
            exc,
        )
        return None
    return {name: getattr(pm_fast_ext, name) for name in _NATIVE}


def _twins() -> dict[str, Any]:
    from pm_fast.api import codec_twin
    from pm_fast.core import graph
    from pm_fast.realtime import hub, send_queue

    found: dict[str, Any] = {}
    for module in (codec_twin, graph, hub, send_queue):
        found.update((n, getattr(module, n)) for n in _NATIVE if hasattr(module, n))
    return found


_NATIVE = [name for name in __all__ if name not in ("USING_RUST", "select")]


def select(pure: bool) -> bool:
    """Bind this module's names: the twins when `pure` or when the extension does not
    import (logged once, as a warning), else the Rust ones. Returns whether Rust is used.
    Calling it again switches (tests do)."""
    names = None
    if pure:
        _log.info("PM_FAST_PURE=1: using the pure-Python twins instead of pm_fast_ext")
    else:
        names = _rust()
        if names is not None:
            _log.info("using the Rust extension pm_fast_ext")
    using_rust = names is not None
    if names is None:
        names = _twins()
    missing = sorted(set(_NATIVE) - set(names))
    if missing:  # a twin or an export lost its name
        raise RuntimeError(f"pm_fast.accel: nothing provides {', '.join(missing)}")
    globals().update(names, USING_RUST=using_rust)
    return using_rust


if not TYPE_CHECKING:  # hidden from mypy, which then still rejects unknown names

    def __getattr__(name: str) -> Any:
        if name in __all__:
            raise RuntimeError(
                f"pm_fast.accel.{name} is not chosen yet: call pm_fast.accel.select() first"
                " (pm_fast.bootstrap.start does, from PM_FAST_PURE)"
            )
        raise AttributeError(f"module 'pm_fast.accel' has no attribute {name!r}")
