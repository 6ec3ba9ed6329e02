"""pm-fast's Rust extension: hot paths with pure-Python twins in ``pm_fast``.

Import through ``pm_fast.accel``, which falls back to the twins when this is missing.
"""

from pm_fast_ext._native import (
    Hub,
    Outbox,
    ancestors,
    decode_envelope,
    decode_work_items_list,
    descendants,
    encode_event,
    encode_work_items_list,
    is_reachable_parent_cycle,
    would_cycle,
)

__all__ = [
    "Hub",
    "Outbox",
    "ancestors",
    "decode_envelope",
    "decode_work_items_list",
    "descendants",
    "encode_event",
    "encode_work_items_list",
    "is_reachable_parent_cycle",
    "would_cycle",
]
