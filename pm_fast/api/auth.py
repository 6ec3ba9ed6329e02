"""Who a caller is: a WebSocket connection before the upgrade (spec/ws-protocol.md §1.2),
and, with auth enabled, a REST request (docs/compat.md). Both edges validate a token
with the same `Authenticator.verify`."""

from __future__ import annotations

import logging
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from ..config import Config, desktop_user_id
from ..core.rules import try_uuid

if TYPE_CHECKING:
    from ..app import App

log = logging.getLogger("pm_fast")

# Identities that are not UUIDs map to a stable UUID (docs/compat.md), not a fresh
# random one per connection as in the original.
_NAMESPACE = uuid.UUID("6d9f6e3e-0c55-4a4f-9d6c-2f1b7c1e5a10")
LEEWAY_SECONDS = 30
BEARER = "Bearer "


def user_uuid(identity: str) -> str:
    return try_uuid(identity) or str(uuid.uuid5(_NAMESPACE, identity))


class QuietLog:
    """Log one line per `kind` at most once per `interval` seconds, with the value shown
    bounded: a client repeating a bad header or token cannot flood the log. The lines
    left out are counted and the count is given with the next line of that kind."""

    def __init__(self, interval: float = 60.0, shown: int = 80) -> None:
        self.interval = interval
        self.shown = shown
        self._last: dict[str, float] = {}
        self._dropped: dict[str, int] = {}

    def bounded(self, value: object) -> str:
        text = repr(value)
        if len(text) > self.shown:
            return f"{text[: self.shown]}... ({len(text)} characters)"
        return text

    def warning(self, kind: str, message: str, *args: object) -> None:
        self._emit(logging.WARNING, kind, message, args)

    def info(self, kind: str, message: str, *args: object) -> None:
        self._emit(logging.INFO, kind, message, args)

    def _emit(self, level: int, kind: str, message: str, args: tuple[object, ...]) -> None:
        now = time.monotonic()
        last = self._last.get(kind)
        if last is not None and now - last < self.interval:
            self._dropped[kind] = self._dropped.get(kind, 0) + 1
            return
        self._last[kind] = now
        dropped = self._dropped.pop(kind, 0)
        if dropped:
            message += f" ({dropped} more like this in the last {self.interval:.0f} s)"
        log.log(level, message, *args, stacklevel=3)  # the line names the caller


quiet = QuietLog()


class Authenticator:
    def __init__(self, cfg: Config, pm_dir: Path, desktop_user: str) -> None:
        self.enabled = cfg.auth.enabled
        self.desktop_user = desktop_user
        self.key: Any = None
        self.algorithm = "HS256"
        if self.enabled:
            if cfg.auth.jwt_secret:
                self.key = cfg.auth.jwt_secret
            elif cfg.auth.jwt_public_key_path:
                self.algorithm = "RS256"
                self.key = (pm_dir / cfg.auth.jwt_public_key_path).read_bytes()

    def identify(self, query_string: str, authorization: str | None) -> str | None:
        """The WebSocket connection's user UUID, or None when it must get 401."""
        query = dict(parse_qsl(query_string, keep_blank_values=True))
        if not self.enabled:
            return user_uuid(query.get("user_id") or self.desktop_user)
        if authorization is not None:
            return self.bearer(authorization)
        return self.verify(query.get("token") or "")

    def bearer(self, authorization: str | None) -> str | None:
        """The user of an `Authorization: Bearer <jwt>` header, or None (missing header,
        another scheme, or a token `verify` refuses)."""
        if authorization is None or not authorization.startswith(BEARER):
            return None
        return self.verify(authorization[len(BEARER) :])

    def verify(self, token: str) -> str | None:
        """The user UUID of a valid token (signature, algorithm, `exp`/`iat`/`sub`), else
        None. The one check both edges use."""
        if not token:
            return None
        # Imported here: PyJWT pulls in cryptography (~11 MiB), which desktop mode
        # (auth disabled) never needs.
        import jwt

        try:
            claims = jwt.decode(
                token,
                self.key,
                algorithms=[self.algorithm],
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iat", "sub"]},
            )
        except jwt.PyJWTError as err:
            quiet.info(
                f"token:{type(err).__name__}", "refused a token: %s", quiet.bounded(str(err))
            )
            return None
        sub = claims.get("sub")
        if not isinstance(sub, str) or not sub:
            return None
        return user_uuid(sub)


_by_app: dict[int, tuple[App, Authenticator]] = {}


def authenticator(app: App) -> Authenticator:
    """The authenticator of `app`'s configuration, made once per App."""
    found = _by_app.get(id(app))
    if found is None or found[0] is not app:
        found = _by_app[id(app)] = (
            app,
            Authenticator(app.cfg, app.pm_dir, desktop_user_id(app.cfg)),
        )
    return found[1]
