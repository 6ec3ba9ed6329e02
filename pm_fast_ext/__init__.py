"""pm-fast's Rust extension: hot paths with pure-Python twins in ``pm_fast``.

Import through ``pm_fast.accel``, which falls back to the twins when this is missing.
"""

from pm_fast_ext._native import (
    ancestors,
    descendants,
    is_reachable_parent_cycle,
    would_cycle,
)

__all__ = ["ancestors", "descendants", "is_reachable_parent_cycle", "would_cycle"]
