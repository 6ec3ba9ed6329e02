"""The API page: `GET /docs` browses and tries the REST API (Swagger UI reading
`/api/v1/openapi.json`), with every file it loads served by pm-fast itself under
`/docs/<name>`, so it works offline.

Swagger UI comes from the `swagger-ui-py` package (Swagger UI 5.24.2, Apache-2.0; the
first release line that renders OpenAPI 3.1 — `swagger-ui-bundle` 1.1.0 ships 4.15.5,
which refuses a 3.1 document). Only its static files are used: the package's Python
module (which imports jinja2 and PyYAML) is never imported. Only the names in `FILES`
are served, read from disk on first request and kept; any other name is 404, so no
path reaches the file system. The page's own start-up script is a served file too
(`docs.js`), so the Content-Security-Policy allows no inline script or style.

Where the files are looked for: the package as Python finds it (an installed wheel or a
venv), then a `swagger_ui/` folder beside the `pm_fast` package (where the sidecar build
puts them, build/sidecar). When neither has them, `/docs` answers 404 saying so.
"""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path
from typing import Final

from .http import Response, fail

PACKAGE: Final = "swagger_ui"
REQUIREMENT: Final = "swagger-ui-py==25.7.1"
PAGE_PATH: Final = "/docs"

# Everything the page may load from anywhere: this server, no inline code, no frames.
# Swagger UI sets styles through the DOM (allowed) and draws icons from data: URLs in
# its stylesheet; "Try it out" fetches from this origin only.
CSP: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
    " font-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none';"
    " frame-ancestors 'none'"
)
_HEADERS: Final = (
    ("content-security-policy", CSP),
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
    ("cross-origin-opener-policy", "same-origin"),
    ("cross-origin-resource-policy", "same-origin"),
    # Revalidated on every load (304 when unchanged), so an upgrade of the package or
    # of pm-fast is seen at once.
    ("cache-control", "no-cache"),
)

HTML: Final = "text/html; charset=utf-8"
JS: Final = "text/javascript; charset=utf-8"
CSS: Final = "text/css; charset=utf-8"
PNG: Final = "image/png"

# served name -> content type: the files of the package's static/ folder the page uses
FILES: Final[dict[str, str]] = {
    "swagger-ui.css": CSS,
    "swagger-ui-bundle.js": JS,
    "favicon-32x32.png": PNG,
}

_PAGE = b"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>pm-fast REST API</title>
<link rel="stylesheet" href="/docs/swagger-ui.css">
<link rel="icon" type="image/png" href="/docs/favicon-32x32.png">
</head>
<body>
<noscript>This page needs JavaScript. The API document is at
<a href="/api/v1/openapi.json">/api/v1/openapi.json</a>.</noscript>
<div id="swagger-ui"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script src="/docs/docs.js"></script>
</body>
</html>
"""

# Swagger UI on this server's document. `queryConfigEnabled` stays off: a link with
# `?url=` or `?configUrl=` cannot make the page load another document.
_INIT = b""""use strict";
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "/api/v1/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    queryConfigEnabled: false,
    validatorUrl: null,
    persistAuthorization: false,
    displayRequestDuration: true
  });
});
"""

_OWN: Final[dict[str, tuple[bytes, str]]] = {"docs.js": (_INIT, JS)}

_MISSING: Final = (
    "The API page's files are not installed (the Python package "
    f"{REQUIREMENT}); the API document is at /api/v1/openapi.json"
)


class _Files:
    """The allow-listed files, each read once on first request."""

    def __init__(self) -> None:
        self._dir: Path | None = None
        self._searched = False
        self._cache: dict[str, tuple[bytes, str, str]] = {}

    def folder(self) -> Path | None:
        if not self._searched:
            self._dir = find_static()
            self._searched = True
        return self._dir

    def get(self, name: str) -> tuple[bytes, str, str] | None:
        """(content, content type, ETag) of a served name; None if not served."""
        found = self._cache.get(name)
        if found is not None:
            return found
        if name in _OWN:
            data, kind = _OWN[name]
        elif name in FILES:
            folder = self.folder()
            if folder is None:
                return None
            data, kind = (folder / name).read_bytes(), FILES[name]
        else:
            return None
        found = self._cache[name] = (data, kind, _etag(data))
        return found


def _etag(data: bytes) -> str:
    import hashlib  # only when the page is used (start-up time)

    return '"' + hashlib.sha256(data).hexdigest()[:32] + '"'


def find_static() -> Path | None:
    """The folder holding Swagger UI's files, or None when they are not installed."""
    roots: list[Path] = []
    try:
        spec = importlib.util.find_spec(PACKAGE)  # locates it without running it
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.submodule_search_locations:
        roots.extend(Path(p) for p in spec.submodule_search_locations)
    roots.append(Path(__file__).resolve().parents[2] / PACKAGE)
    for root in roots:
        folder = root / "static"
        if all((folder / name).is_file() for name in FILES):
            return folder
    return None


_FILES = _Files()


@cache
def _page_etag() -> str:
    return _etag(_PAGE)


def _answer(data: bytes, kind: str, etag: str, if_none_match: str | None) -> Response:
    headers = [*_HEADERS, ("etag", etag)]
    if if_none_match is not None and etag in (t.strip() for t in if_none_match.split(",")):
        return Response(304, b"", None, headers)
    return Response(200, data, kind, headers)


def page(if_none_match: str | None) -> Response:
    """`GET /docs`."""
    if _FILES.folder() is None:
        return fail("NOT_FOUND", _MISSING)
    return _answer(_PAGE, HTML, _page_etag(), if_none_match)


def asset(name: str, if_none_match: str | None) -> Response:
    """`GET /docs/<name>`: a name of the allow-list, else 404."""
    try:
        found = _FILES.get(name)
    except OSError:
        found = None
    if found is None:
        if name in FILES:
            return fail("NOT_FOUND", _MISSING)
        return fail("NOT_FOUND", f"No file {PAGE_PATH}/{name}")
    data, kind, etag = found
    return _answer(data, kind, etag, if_none_match)
