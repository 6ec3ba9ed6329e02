"""The one place that chooses between the Rust extension and its pure-Python twins.

The choice is made once, at import: the Rust functions from ``pm_fast_ext`` when the
extension imports, the twins from ``pm_fast.core.graph`` (graph walks) and
``pm_fast.api.codec_twin`` (protobuf codec) and ``pm_fast.realtime`` (event fan-out:
``Hub`` and ``Outbox``) when it does not or when the environment
sets ``PM_FAST_PURE=1``. The server imports these functions from here only, so both
paths run the same code above this module.
"""

import logging
import os
from collections.abc import Callable

from pm_fast.realtime.hub import HubApi
from pm_fast.realtime.outbox import OutboxApi

__all__ = [
    "USING_RUST",
    "Hub",
    "Outbox",
    "ancestors",
    "descendants",
    "encode_event",
    "encode_work_items_list",
    "is_reachable_parent_cycle",
    "would_cycle",
]

_log = logging.getLogger("pm_fast")


def _rust_available() -> bool:
    if os.environ.get("PM_FAST_PURE") == "1":
        _log.info("PM_FAST_PURE=1: using the pure-Python twins instead of pm_fast_ext")
        return False
    try:
        import pm_fast_ext  # noqa: F401  (imported to find out whether it can be)
    except ImportError as exc:
        _log.warning(
            "pm_fast_ext (the Rust extension) is not importable, using the slower "
            "pure-Python twins: %s",
            exc,
        )
        return False
    _log.info("using the Rust extension pm_fast_ext")
    return True


USING_RUST: bool = _rust_available()

# classes: the Rust ones or the twins (pm_fast/realtime/hub.py, outbox.py)
Hub: Callable[[], HubApi]
Outbox: Callable[[int], OutboxApi]

if USING_RUST:
    from pm_fast_ext import Hub as _RustHub
    from pm_fast_ext import Outbox as _RustOutbox
    from pm_fast_ext import (
        ancestors,
        descendants,
        encode_event,
        encode_work_items_list,
        is_reachable_parent_cycle,
        would_cycle,
    )

    Hub, Outbox = _RustHub, _RustOutbox
else:
    from pm_fast.api.codec_twin import (
        encode_event,
        encode_work_items_list,
    )
    from pm_fast.core.graph import (
        ancestors,
        descendants,
        is_reachable_parent_cycle,
        would_cycle,
    )
    from pm_fast.realtime.hub import Hub as _TwinHub
    from pm_fast.realtime.outbox import Outbox as _TwinOutbox

    Hub, Outbox = _TwinHub, _TwinOutbox
