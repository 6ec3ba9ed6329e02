"""Start-up helpers for the entry points (`python -m pm_fast`, the sidecar binary).

asyncio imports `ssl` when it is imported, and `ssl` loads OpenSSL (libssl, libcrypto):
some 15-30 ms of a start-up that the desktop shell times. pm-fast serves plain HTTP and
opens TLS connections only to PostgreSQL, so the entry points import asyncio without
`ssl`, and whoever needs TLS calls `enable_asyncio_tls` first (the PostgreSQL store
and `pm-fast migrate` do). A SQLite server never loads OpenSSL: nothing it does needs
TLS (its warm-up after the first request does not enable it either).

msgspec pulls in two modules that nothing else in pm-fast imports, ~4 ms of start-up:
`typing_extensions` (msgspec uses it, when present, for `get_type_hints` and the
`Required`/`NotRequired` markers of TypedDicts; pm-fast's types use neither, and
Python 3.11's `typing` has both) and `platform` (which `uuid` imports only to ask the
system's name, once). `import_msgspec_lean` imports msgspec without them.
"""

from __future__ import annotations

import os
import sys
import types

_without_ssl = False


def import_asyncio_without_ssl() -> None:
    """Import asyncio with `ssl` unavailable for the length of that import. Does nothing
    if asyncio or ssl is already imported. `import ssl` works as usual afterwards."""
    global _without_ssl
    if "asyncio" in sys.modules or "ssl" in sys.modules:
        return
    sys.modules["ssl"] = None  # type: ignore[assignment]  # `import ssl` fails
    try:
        import asyncio  # noqa: F401
    finally:
        del sys.modules["ssl"]
    _without_ssl = True


def enable_asyncio_tls() -> None:
    """Give asyncio the `ssl` module it went without (3.11: base_events, selector_events
    and sslproto test it when they are imported or called)."""
    global _without_ssl
    if not _without_ssl:
        return
    import asyncio.base_events
    import asyncio.selector_events
    import asyncio.sslproto
    import importlib
    import ssl

    asyncio.base_events.ssl = ssl  # type: ignore[attr-defined]
    asyncio.selector_events.ssl = ssl  # type: ignore[attr-defined]
    importlib.reload(asyncio.sslproto)  # defines its SSL error tuple when ssl exists
    _without_ssl = False


def _system_only() -> types.ModuleType:
    """A stand-in for `platform` with the one function `uuid` calls when it is imported
    (`platform.system()` is `os.uname().sysname` on POSIX systems)."""
    stand_in = types.ModuleType("platform")
    stand_in.system = lambda: os.uname().sysname  # type: ignore[attr-defined]
    return stand_in


def import_msgspec_lean() -> None:
    """Import msgspec with `typing_extensions` unavailable and `platform` stood in for,
    for the length of that import (see the module's docstring). Does nothing if msgspec
    is already imported, or on a system without `os.uname`. Both import as usual
    afterwards."""
    if "msgspec" in sys.modules or not hasattr(os, "uname"):
        return
    kept = {name: sys.modules.get(name) for name in ("platform", "typing_extensions")}
    if kept["platform"] is None:
        sys.modules["platform"] = _system_only()
    if kept["typing_extensions"] is None:
        sys.modules["typing_extensions"] = None  # type: ignore[assignment]  # import fails
    try:
        import msgspec  # noqa: F401
    finally:
        for name, module in kept.items():
            if module is None:
                del sys.modules[name]
