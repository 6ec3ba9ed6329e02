"""Start-up helpers for the entry points (`python -m pm_fast`, the sidecar binary).

asyncio imports `ssl` when it is imported, and `ssl` loads OpenSSL (libssl, libcrypto):
some 15-30 ms of a start-up that the desktop shell times. pm-fast serves plain HTTP and
opens TLS connections only to PostgreSQL, so the entry points import asyncio without
`ssl`, and whoever needs TLS calls `enable_asyncio_tls` first (the PostgreSQL store
and `pm-fast migrate` do). A SQLite server never loads OpenSSL: nothing it does needs
TLS (its warm-up after the first request does not enable it either).
"""

from __future__ import annotations

import sys

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
