"""pm-fast's Rust extension: hot paths with pure-Python twins in ``pm_fast``.

Import through ``pm_fast.accel``, which falls back to the twins when this is missing.

Run from the repository root, this source folder comes first on ``sys.path`` and is
imported instead of the installed package (after ``pip install .``), but holds no
compiled ``_native`` unless the extension was built in place (``maturin develop``,
``pip install -e``). Then every other ``pm_fast_ext`` folder on ``sys.path`` joins this
package's path, so ``_native`` is found in the installed one either way (what
``pkgutil.extend_path`` does, without importing ``pkgutil`` on every start).
"""

import os as _os
import sys as _sys

try:
    from pm_fast_ext import _native  # noqa: F401
except ImportError:  # not here; a broken one fails again below with its own error
    _seen = {_os.path.realpath(p) for p in __path__}
    for _entry in _sys.path:
        _folder = _os.path.join(_entry or _os.getcwd(), "pm_fast_ext")
        if _os.path.isdir(_folder) and _os.path.realpath(_folder) not in _seen:
            _seen.add(_os.path.realpath(_folder))
            __path__.append(_folder)

from pm_fast_ext._native import (
    Hub,
    SendQueue,
    ancestors,
    descendants,
    encode_event,
    encode_work_items_list,
    is_reachable_parent_cycle,
    would_cycle,
)

__all__ = [
    "Hub",
    "SendQueue",
    "ancestors",
    "descendants",
    "encode_event",
    "encode_work_items_list",
    "is_reachable_parent_cycle",
    "would_cycle",
]
