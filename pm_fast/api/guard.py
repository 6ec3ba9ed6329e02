"""Who may reach the server from a browser: the gate every HTTP request and WebSocket
upgrade passes before any handler runs, in the single-process and the `--workers`
engines alike (docs/compat.md "Browsers and origins").

* `Host` must name this server: `localhost`, an IP address, `server.host`, or a name in
  `server.allowed_hosts` (the port is not compared). A web page that rebinds its own DNS
  name to 127.0.0.1 still sends its own name, and is refused with 421.
* `Origin`, when a request carries one (only browsers do), must be in
  `server.allowed_origins`; the reply then names that origin in
  `Access-Control-Allow-Origin`. Any other origin is refused with 403 before the route
  runs, preflights included, unless it is the server's own origin (`http(s)://` and
  the request's `Host`, see `same_origin`). A request without `Origin` that a browser
  marks as cross-site (`Sec-Fetch-Site`: an image, a script, a link) is refused as well.
* `/admin/...` takes no browser request at all, and no body a form could send; with
  `auth.enabled` it needs `Authorization: Bearer <the token in <pm>/admin.token>`.

A request without `Origin` and without browser headers (the desktop shell, the `pm` CLI,
agents, curl) costs two header look-ups and a dictionary hit here.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
import time
from pathlib import Path
from typing import Any, Final

from ..config import Config
from .http import Response, error_body

log = logging.getLogger("pm_fast")

ADMIN_TOKEN_FILE: Final = "admin.token"
_TOKEN_BYTES: Final = 32
_NO_HEADERS: Final[tuple[tuple[str, str], ...]] = ()
_CACHE_LIMIT: Final = 256
_WILDCARD_HOSTS: Final = frozenset(("", "0.0.0.0", "::", "[::]"))

Verdict = Response | tuple[tuple[str, str], ...]


def _refusal(status: int, code: str, message: str, extra: list[tuple[str, str]]) -> Response:
    return Response(status, error_body(code, message), headers=extra)


_MISDIRECTED: Final = _refusal(
    421,
    "MISDIRECTED_REQUEST",
    "The Host header does not name this server (see server.allowed_hosts)",
    [],
)
_BAD_ORIGIN: Final = _refusal(
    403,
    "FORBIDDEN",
    "Requests from this origin are not allowed (see server.allowed_origins)",
    [("vary", "origin")],
)
_CROSS_SITE: Final = _refusal(403, "FORBIDDEN", "Cross-site browser requests are not allowed", [])
_ADMIN_BROWSER: Final = _refusal(
    403, "FORBIDDEN", "Admin endpoints do not accept requests from browsers", []
)
_ADMIN_FORM: Final = _refusal(403, "FORBIDDEN", "Admin endpoints take no body, or a JSON one", [])
_ADMIN_AUTH: Final = _refusal(
    401,
    "UNAUTHORIZED",
    f"Admin endpoints need Authorization: Bearer <the token in .pm/{ADMIN_TOKEN_FILE}>",
    [("www-authenticate", 'Bearer realm="pm-server admin"')],
)


def _origin_rule(entry: str) -> tuple[str, bool]:
    """A configured origin as (origin, any port): "http://localhost:*" -> (.., True)."""
    entry = entry.strip().lower().rstrip("/")
    if entry.endswith(":*"):
        return entry[:-2], True
    return entry, False


def split_host(host: str) -> str | None:
    """The name part of a `Host` value, lowercased ("[::1]" keeps its brackets); None
    when the value is not `name[:port]`."""
    if host.startswith("["):
        end = host.find("]")
        if end < 0:
            return None
        name, rest = host[: end + 1], host[end + 1 :]
        if rest and not (rest[0] == ":" and rest[1:].isdigit()):
            return None
        return name.lower()
    name, sep, port = host.rpartition(":")
    if not sep:
        name = host
    elif not port.isdigit():
        return None
    if not name or ":" in name:
        return None
    return name.lower()


def is_ip_literal(name: str) -> bool:
    """A dotted IPv4 address or a bracketed IPv6 address, as a `Host` names them."""
    try:
        if name.startswith("[") and name.endswith("]"):
            ipaddress.IPv6Address(name[1:-1])
        else:
            ipaddress.IPv4Address(name)
    except ValueError:
        return False
    return True


def _mime(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def load_admin_token(pm_dir: Path) -> str:
    """The admin token in `<pm>/admin.token` (owner-only), created on first use.

    Several worker processes may start at once: the token is written to a private
    temporary file and linked into place, so every process reads the same complete one.
    """
    import secrets  # with its hashlib/OpenSSL: only when auth is enabled (start-up time)

    path = pm_dir / ADMIN_TOKEN_FILE
    for _ in range(3):
        try:
            token = path.read_text(encoding="ascii").strip()
        except FileNotFoundError:
            token = ""
        except (OSError, UnicodeDecodeError) as err:
            log.warning("cannot read %s (%s); writing a new admin token", path, err)
            token = ""
        if len(token) >= _TOKEN_BYTES:
            if path.stat().st_mode & 0o077:
                path.chmod(0o600)
            return token
        tmp = pm_dir / f".{ADMIN_TOKEN_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, (secrets.token_urlsafe(_TOKEN_BYTES) + "\n").encode("ascii"))
        finally:
            os.close(fd)
        try:
            if token:  # present but unusable: replace it
                os.replace(tmp, path)
            else:
                # Another process may have been first: then its token is read next.
                with contextlib.suppress(FileExistsError):
                    os.link(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
    raise RuntimeError(f"cannot create a usable admin token in {path}")


class _Quiet:
    """One log line per kind of refusal per minute, with the offending value bounded."""

    def __init__(self) -> None:
        self._last: dict[str, float] = {}

    def note(self, kind: str, value: str | None) -> None:
        now = time.monotonic()
        if now - self._last.get(kind, -1e9) < 60.0:
            return
        self._last[kind] = now
        shown = repr(value)
        if len(shown) > 80:
            shown = shown[:80] + "..."
        log.warning("refused a request: %s %s (logged once a minute)", kind, shown)


class Guard:
    """The checks of one server process, built once from the configuration."""

    def __init__(self, cfg: Config, pm_dir: Path) -> None:
        server = cfg.server
        exact: set[str] = set()
        any_port: set[str] = set()
        for entry in server.allowed_origins:
            origin, wildcard = _origin_rule(entry)
            (any_port if wildcard else exact).add(origin)
        self.any_origin = "*" in exact
        self._origins = frozenset(exact)
        self._origins_any_port = frozenset(any_port)
        names = {"localhost"}
        bound = server.host.strip().lower()
        if bound not in _WILDCARD_HOSTS:
            names.add(f"[{bound}]" if ":" in bound and not bound.startswith("[") else bound)
        names.update(h.strip().lower() for h in server.allowed_hosts)
        self.any_host = "*" in names
        self._names = frozenset(names)
        self._origin_ok: dict[str, bool] = {}
        self._host_ok: dict[str, bool] = {}
        self.admin_token = load_admin_token(pm_dir) if cfg.auth.enabled else None
        self._quiet = _Quiet()

    # -- the rules ------------------------------------------------------------------
    def origin_allowed(self, origin: str) -> bool:
        known = self._origin_ok.get(origin)
        if known is None:
            known = self._origin_rule(origin)
            if len(self._origin_ok) >= _CACHE_LIMIT:
                self._origin_ok.clear()
            self._origin_ok[origin] = known
        return known

    def _origin_rule(self, origin: str) -> bool:
        if self.any_origin:
            return True
        if origin in self._origins or origin in self._origins_any_port:
            return True
        head, sep, port = origin.rpartition(":")
        # "scheme://host:port": the colon after the scheme is not a port separator.
        return bool(sep) and port.isdigit() and "://" in head and head in self._origins_any_port

    def host_allowed(self, host: str) -> bool:
        known = self._host_ok.get(host)
        if known is None:
            known = self._host_rule(host)
            if len(self._host_ok) >= _CACHE_LIMIT:
                self._host_ok.clear()
            self._host_ok[host] = known
        return known

    def _host_rule(self, host: str) -> bool:
        name = split_host(host)
        if name is None:
            return False
        return self.any_host or name in self._names or is_ip_literal(name)

    def same_origin(self, origin: str, host: str) -> bool:
        """The request comes from a page this server served (`/docs`): its `Origin` is
        `http(s)://` + the request's own `Host`, and that name is accepted on its own
        merits (this server's name, `server.allowed_hosts`, an IP address) — not only
        through `allowed_hosts = ["*"]`, under which a rebinding page's own name would
        pass. Browsers send `Origin` on a same-origin POST, PUT or DELETE."""
        scheme, sep, rest = origin.partition("://")
        if not sep or scheme not in ("http", "https") or rest.lower() != host.lower():
            return False
        name = split_host(host)
        return name is not None and (name in self._names or is_ip_literal(name))

    # -- the edges ------------------------------------------------------------------
    def http(self, scope: Any) -> Verdict:
        """A refusal to send instead of the route's answer, or the CORS headers to add
        to it (none for a request without `Origin`). The common case (a known `Host`, no
        `Origin`, not `/admin`) is three header look-ups and one dictionary hit."""
        get = scope.headers.get
        host = get("host")
        if host is not None and not (self._host_ok.get(host) or self.host_allowed(host)):
            self._quiet.note("Host", host)
            return _MISDIRECTED
        origin: str | None = get("origin")
        path: str = scope.path
        if path.startswith("/admin") and (len(path) == 6 or path[6] == "/"):
            return self._admin(origin, get) or _NO_HEADERS
        if origin is None:
            if get("sec-fetch-site") == "cross-site":
                self._quiet.note("cross-site request without Origin to", path)
                return _CROSS_SITE
            return _NO_HEADERS
        if not (
            self._origin_ok.get(origin)
            or self.origin_allowed(origin)
            or (host is not None and self.same_origin(origin, host))
        ):
            self._quiet.note("Origin", origin)
            return _BAD_ORIGIN
        return (("access-control-allow-origin", origin), ("vary", "origin"))

    def _admin(self, origin: str | None, get: Any) -> Response | None:
        browser = get("sec-fetch-site") is not None or get("sec-fetch-mode") is not None
        if origin is not None or browser:
            self._quiet.note("browser request to /admin from", origin)
            return _ADMIN_BROWSER
        content_type = get("content-type")
        # Anything but JSON is refused, so also every type an HTML form or a no-cors
        # fetch can send without a preflight (text/plain, urlencoded, multipart/form-data).
        if content_type and content_type.strip() and _mime(content_type) != "application/json":
            self._quiet.note("/admin request with content type", content_type)
            return _ADMIN_FORM
        if self.admin_token is not None:
            import hmac  # imported once auth is in use (start-up time)

            given = get("authorization") or ""
            scheme, _, token = given.partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(
                token.strip().encode(), self.admin_token.encode()
            ):
                self._quiet.note("/admin request without the admin token", None)
                return _ADMIN_AUTH
        return None

    def ws(self, scope: Any) -> int | None:
        """The HTTP status refusing a WebSocket upgrade, or None to go on."""
        headers = scope.headers
        host = headers.get("host")
        if host is not None and not self.host_allowed(host):
            self._quiet.note("Host (WebSocket)", host)
            return 421
        origin = headers.get("origin")
        if origin is not None and not self.origin_allowed(origin):
            self._quiet.note("Origin (WebSocket)", origin)
            return 403
        return None
