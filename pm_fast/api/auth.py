"""Who a WebSocket connection is (spec/ws-protocol.md §1.2), decided before the upgrade."""

from __future__ import annotations

import logging
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from ..config import Config
from ..core.rules import try_uuid

log = logging.getLogger("pm_fast")

# Identities that are not UUIDs map to a stable UUID (docs/compat.md), not a fresh
# random one per connection as in the original.
_NAMESPACE = uuid.UUID("6d9f6e3e-0c55-4a4f-9d6c-2f1b7c1e5a10")
LEEWAY_SECONDS = 30


def user_uuid(identity: str) -> str:
    return try_uuid(identity) or str(uuid.uuid5(_NAMESPACE, identity))


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
        """The connection's user UUID, or None when the request must get 401."""
        query = dict(parse_qsl(query_string, keep_blank_values=True))
        if not self.enabled:
            return user_uuid(query.get("user_id") or self.desktop_user)
        token = None
        if authorization is not None:
            if not authorization.startswith("Bearer "):
                return None
            token = authorization[len("Bearer ") :]
        elif query.get("token"):
            token = query["token"]
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
            log.info("refused a WebSocket token: %s", err)
            return None
        sub = claims.get("sub")
        if not isinstance(sub, str) or not sub:
            return None
        return user_uuid(sub)
