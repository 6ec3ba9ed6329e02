"""The REST edge: decode, call one service function, encode. No rules and no SQL here."""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, NamedTuple, TypeVar
from urllib.parse import parse_qsl

import msgspec

from ..app import App
from ..core import commands as cmd
from ..core.errors import DomainError
from ..core.rules import trim, try_uuid
from ..service import (
    comments,
    dependencies,
    events,
    projects,
    sprints,
    swim_lanes,
    sync,
    time_entries,
    work_items,
)
from ..service.common import Ctx
from ..store.base import Program
from . import probes
from .auth import authenticator, quiet
from .http import Response, domain_error, error_body, fail, ok, wrapped, wrapper

log = logging.getLogger("pm_fast")
T = TypeVar("T")

BODY_LIMIT = 2 * 1024 * 1024
# Sync imports carry whole databases; the original's 2 MiB limit rejected its own exports.
IMPORT_BODY_LIMIT = 64 * 1024 * 1024


class BodyTooLarge(Exception):
    pass


@dataclass(slots=True)
class Request:
    """What an engine hands the edge: it reads the body only when a handler asks.

    `path` is already percent-decoded (Granian decodes it); decoding it again would turn
    `%2541` into `A` where the original finds the key `%41`."""

    method: str
    path: str
    query_string: str
    header: Callable[[str], str | None]
    read_body: Callable[[int], Awaitable[bytes]]
    # The caller's user once its bearer token is verified (auth enabled, `/api/` only).
    user: str | None = None
    # The template of the route that matched (metrics label; never the raw path).
    route: str = "unmatched"

    def query(self, fields: tuple[str, ...]) -> dict[str, str]:
        """The route's query `fields` that are present; others are ignored, and a field
        given twice is refused, as the original's deserializer does."""
        try:
            pairs = parse_qsl(self.query_string, keep_blank_values=True, errors="strict")
        except UnicodeDecodeError:
            raise BadInput(fail("BAD_REQUEST", "Invalid query string: invalid UTF-8")) from None
        found: dict[str, str] = {}
        for name, value in pairs:
            if name not in fields:
                continue
            if name in found:
                raise BadInput(
                    fail(
                        "BAD_REQUEST",
                        f"Failed to deserialize query string: duplicate field `{name}`",
                    )
                )
            found[name] = value
        return found


Handler = Callable[[App, Request, list[str]], Awaitable[Response]]


# -- request decoding ---------------------------------------------------------------
class BadInput(Exception):
    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


_decoders: dict[type, msgspec.json.Decoder[Any]] = {}


def _decoder(kind: type[T]) -> msgspec.json.Decoder[T]:
    dec = _decoders.get(kind)
    if dec is None:
        dec = _decoders[kind] = msgspec.json.Decoder(kind)
    return dec


def _json_type(content_type: str | None) -> bool:
    if not content_type:
        return False
    mime = content_type.split(";", 1)[0].strip().lower()
    return mime == "application/json" or (
        mime.startswith("application/") and mime.endswith("+json")
    )


async def body(req: Request, kind: type[T], limit: int = BODY_LIMIT) -> T:
    if not _json_type(req.header("content-type")):
        raise BadInput(
            fail(
                "UNSUPPORTED_MEDIA_TYPE",
                "Expected request with `Content-Type: application/json`",
            )
        )
    try:
        raw = await req.read_body(limit)
    except BodyTooLarge:
        raise BadInput(
            fail("PAYLOAD_TOO_LARGE", f"Request body exceeds the limit of {limit} bytes")
        ) from None
    try:
        return _decoder(kind).decode(raw)
    except msgspec.ValidationError as err:
        message = str(err)
        field = None
        if " - at `$." in message:
            field = message.rsplit(" - at `$.", 1)[1].rstrip("`").split("[", 1)[0].split(".")[0]
        elif "missing required field `" in message:
            field = message.split("missing required field `", 1)[1].split("`", 1)[0]
        raise BadInput(fail("UNPROCESSABLE", f"Invalid request body: {message}", field)) from None
    except msgspec.DecodeError as err:
        raise BadInput(fail("BAD_REQUEST", f"Malformed JSON in request body: {err}")) from None
    except UnicodeDecodeError as err:  # msgspec checks UTF-8 as it decodes strings
        raise BadInput(
            fail(
                "BAD_REQUEST", f"Malformed JSON in request body: invalid UTF-8 at byte {err.start}"
            )
        ) from None
    except RecursionError:  # nesting beyond msgspec's depth limit, even in an unknown field
        raise BadInput(
            fail("BAD_REQUEST", "Malformed JSON in request body: nested too deeply")
        ) from None


def _bool(query: dict[str, str], name: str) -> bool:
    value = query.get(name)
    if value is None:
        return False
    if value in ("true", "false"):
        return value == "true"
    raise BadInput(
        fail("BAD_REQUEST", f"Invalid query string: {name} must be true or false, got '{value}'")
    )


def _u32(query: dict[str, str], name: str) -> int:
    value = query.get(name)
    if value is None:
        return 0
    if value.isascii() and value.isdigit() and int(value) <= 2**32 - 1:
        return int(value)
    raise BadInput(
        fail(
            "BAD_REQUEST",
            f"Invalid query string: {name} must be an unsigned integer, got '{value}'",
        )
    )


def _count(query: dict[str, str], name: str, default: int, low: int, high: int) -> int:
    """A decimal query parameter in [low, high], `default` when absent."""
    value = query.get(name)
    if value is None:
        return default
    if value.isascii() and value.isdigit() and len(value) <= 19 and low <= int(value) <= high:
        return int(value)
    raise BadInput(
        fail(
            "BAD_REQUEST",
            f"Invalid query string: {name} must be an integer from {low} to {high}, got '{value}'",
        )
    )


def actor(app: App, req: Request) -> str:
    """Who a write acts as with auth disabled: the `X-User-Id` header, else the LLM user.
    An invalid header is logged bounded and at most once a minute (a client repeating a
    large one must not fill the log)."""
    raw = req.header("x-user-id")
    if raw is None:
        return app.llm_user
    user = try_uuid(trim(raw))
    if user is None:
        quiet.warning(
            "x-user-id",
            "ignoring invalid X-User-Id header %s; acting as the LLM user",
            quiet.bounded(raw),
        )
        return app.llm_user
    return user


def caller(app: App, req: Request, reads: bool = False) -> Ctx:
    """The service context of an `/api/v1` request. With auth enabled it is the bearer
    token's user, authenticated, so the services enforce project membership exactly as
    for a WebSocket connection, and `X-User-Id` is never read. With auth disabled it is
    the unauthenticated caller of the original: `X-User-Id` (writes) or nobody (reads)."""
    if req.user is not None:
        return Ctx(
            actor=req.user,
            now=int(time.time()),
            limits=app.limits,
            authenticated=True,
            llm_user=app.llm_user,
        )
    return app.ctx(app.llm_user if reads else actor(app, req))


def unauthenticated() -> Response:
    """401: auth is enabled and the request has no valid bearer token (docs/compat.md)."""
    return Response(
        401,
        error_body("UNAUTHORIZED", "Missing or invalid bearer token (Authorization: Bearer <jwt>)"),
        headers=[("www-authenticate", 'Bearer realm="pm"')],
    )


# -- handlers ---------------------------------------------------------------------
class Shape(NamedTuple):
    """What a handler made by `reader`, `writer`, `deleter` or `probe` runs, for the
    API document (api/openapi.py)."""

    kind: str  # read, write, delete, probe
    key: str | None  # the reply's wrapping key
    program: Callable[..., Any]  # the service program (or the probe)
    body: type | None = None  # the request body's type


SHAPES: dict[Handler, Shape] = {}


def reader(key: str, program: Callable[..., Program[Any]], point: bool = False) -> Handler:
    """GET: run a read program on the path parameters, answer `{"<key>": result}`.
    `point`: the program looks up one entity by index (Store.read)."""

    if point:
        encode = wrapper(key)

        async def handle_point(app: App, req: Request, p: list[str]) -> Response:
            # The answer depends on the route, its parameters, the caller (with auth
            # enabled, whose membership is in the database) and the database alone.
            ctx = caller(app, req, reads=True)
            cache_key = (handle_point, req.user, *p)
            body = await app.store.read_cached(cache_key, program(ctx, *p), encode)
            return Response(200, body, cached_as=cache_key)

        SHAPES[handle_point] = Shape("read", key, program)
        return handle_point

    async def handle_read(app: App, req: Request, p: list[str]) -> Response:
        found = await app.store.read(program(caller(app, req, reads=True), *p))
        return wrapped(key, found)

    SHAPES[handle_read] = Shape("read", key, program)
    return handle_read


def writer(key: str | None, program: Callable[..., Program[Any]], kind: type | None) -> Handler:
    """POST/PUT: decode the body as `kind`, run the mutation as the caller.

    `key` None answers with the bare entity (only `POST /dependencies` does that).
    """

    async def handle_write(app: App, req: Request, p: list[str]) -> Response:
        args: list[Any] = list(p)
        if kind is not None:
            args.append(await body(req, kind))
        value = await app.commit(program(caller(app, req), *args))
        return ok(value) if key is None else wrapped(key, value)

    SHAPES[handle_write] = Shape("write", key, program, kind)
    return handle_write


def deleter(program: Callable[..., Program[Any]], echo_path: bool = False) -> Handler:
    """DELETE: answer `{"deleted_id": <uuid>}` (the path text itself for dependencies)."""

    async def handle_delete(app: App, req: Request, p: list[str]) -> Response:
        entity = await app.commit(program(caller(app, req), *p))
        return ok({"deleted_id": p[0] if echo_path else entity.id})

    SHAPES[handle_delete] = Shape("delete", None, program)
    return handle_delete


_LIST_FIELDS = (
    "type",
    "status",
    "sprint_id",
    "parent_id",
    "orphaned",
    "descendants_of",
    "ancestors_of",
    "include_done",
)
_EXPORT_FIELDS = (
    "work_item",
    "descendant_levels",
    "comments",
    "sprints",
    "dependencies",
    "time_entries",
)


async def list_work_items(app: App, req: Request, p: list[str]) -> Response:
    q = req.query(_LIST_FIELDS)
    flt = cmd.WorkItemFilter(
        item_type=q.get("type"),
        status=q.get("status"),
        sprint_id=q.get("sprint_id"),
        parent_id=q.get("parent_id"),
        orphaned=_bool(q, "orphaned"),
        descendants_of=q.get("descendants_of"),
        ancestors_of=q.get("ancestors_of"),
        include_done=_bool(q, "include_done"),
    )
    ctx = caller(app, req, reads=True)
    return wrapped("work_items", await app.store.read(work_items.list_work_items(ctx, p[0], flt)))


async def export(app: App, req: Request, p: list[str]) -> Response:
    q = req.query(_EXPORT_FIELDS)
    scope = cmd.ExportScope(
        work_item=q.get("work_item"),
        descendant_levels=_u32(q, "descendant_levels"),
        comments=_bool(q, "comments"),
        sprints=_bool(q, "sprints"),
        dependencies=_bool(q, "dependencies"),
        time_entries=_bool(q, "time_entries"),
    )
    return ok(await app.store.read(sync.export(caller(app, req, reads=True), scope)))


async def project_events(app: App, req: Request, p: list[str]) -> Response:
    """The project's event log after `since` (docs/events.md)."""
    q = req.query(("since", "limit"))
    since = _count(q, "since", 0, 0, 2**63 - 1)
    limit = _count(q, "limit", events.PAGE, 1, events.MAX_PAGE)
    ctx = caller(app, req, reads=True)
    return ok(await app.store.read(events.events_since(ctx, p[0], since, limit)))


async def import_(app: App, req: Request, p: list[str]) -> Response:
    data = await body(req, sync.ImportData, IMPORT_BODY_LIMIT)
    return ok(await app.store.write(sync.import_data(caller(app, req), data)))


def probe(check: Callable[[App], Awaitable[Response]]) -> Handler:
    """A monitoring probe (api/probes.py) in the route table, so the router still
    answers its OPTIONS and refused methods; engines answer its GET and HEAD with
    `probes.answer` without importing this module."""

    async def handle_probe(app: App, req: Request, p: list[str]) -> Response:
        return await check(app)

    SHAPES[handle_probe] = Shape("probe", None, check)
    return handle_probe


async def checkpoint(app: App, req: Request, p: list[str]) -> Response:
    try:
        await app.store.checkpoint()
    except sqlite3.Error as err:
        log.error("checkpoint failed: %s", err)
        return fail("INTERNAL_ERROR", f"Checkpoint failed: {err}")
    return ok({"status": "ok", "message": "Database checkpoint completed"})


async def openapi_document(app: App, req: Request, p: list[str]) -> Response:
    """The OpenAPI 3.1 document of these routes (api/openapi.py, built on first use)."""
    from . import openapi

    return Response(200, openapi.document_bytes())


async def metrics_text(app: App, req: Request, p: list[str]) -> Response:
    """The Prometheus text of this process (and of every worker under `--workers`):
    pm_fast/metrics.py, docs/metrics.md. 404 when metrics are off."""
    from .. import metrics

    if not metrics.STATS.on:
        return fail("NOT_FOUND", f"No route for {req.path}")
    return Response(200, metrics.render(app), metrics.CONTENT_TYPE)


async def docs(app: App, req: Request, p: list[str]) -> Response:
    """The page that browses and tries this API (api/docs_page.py, imported on first use)."""
    from . import docs_page

    return docs_page.page(req.header("if-none-match"))


async def docs_file(app: App, req: Request, p: list[str]) -> Response:
    """A file the page loads (only the allow-list in api/docs_page.py)."""
    from . import docs_page

    return docs_page.asset(p[0], req.header("if-none-match"))


async def shutdown(app: App, req: Request, p: list[str]) -> Response:
    log.info("shutdown requested over HTTP")
    app.shutdown.set()
    return Response(202, b"", None)


# -- routing ------------------------------------------------------------------------
ROUTES: list[tuple[str, str, Handler]] = [
    ("GET", "/health", probe(probes.health)),
    ("GET", "/live", probe(probes.live)),
    ("GET", "/ready", probe(probes.ready)),
    ("GET", "/metrics", metrics_text),
    ("POST", "/admin/checkpoint", checkpoint),
    ("POST", "/admin/shutdown", shutdown),
    ("GET", "/api/v1/projects", reader("projects", projects.list_projects_for)),
    ("POST", "/api/v1/projects", writer("project", projects.create_project, cmd.CreateProject)),
    ("GET", "/api/v1/projects/{}", reader("project", projects.get_project, point=True)),
    ("PUT", "/api/v1/projects/{}", writer("project", projects.update_project, cmd.UpdateProject)),
    ("DELETE", "/api/v1/projects/{}", deleter(projects.delete_project)),
    ("GET", "/api/v1/projects/{}/sprints", reader("sprints", sprints.list_sprints)),
    ("GET", "/api/v1/projects/{}/events", project_events),
    ("POST", "/api/v1/sprints", writer("sprint", sprints.create_sprint, cmd.CreateSprint)),
    ("GET", "/api/v1/sprints/{}", reader("sprint", sprints.get_sprint, point=True)),
    ("PUT", "/api/v1/sprints/{}", writer("sprint", sprints.update_sprint, cmd.UpdateSprint)),
    ("DELETE", "/api/v1/sprints/{}", deleter(sprints.delete_sprint)),
    ("GET", "/api/v1/projects/{}/work-items", list_work_items),
    (
        "POST",
        "/api/v1/work-items",
        writer("work_item", work_items.create_work_item, cmd.CreateWorkItem),
    ),
    ("GET", "/api/v1/work-items/{}", reader("work_item", work_items.get_work_item, point=True)),
    (
        "PUT",
        "/api/v1/work-items/{}",
        writer("work_item", work_items.update_work_item, cmd.UpdateWorkItem),
    ),
    ("DELETE", "/api/v1/work-items/{}", deleter(work_items.delete_work_item)),
    ("GET", "/api/v1/work-items/{}/comments", reader("comments", comments.list_comments)),
    (
        "POST",
        "/api/v1/work-items/{}/comments",
        writer("comment", comments.create_comment, cmd.CreateComment),
    ),
    ("PUT", "/api/v1/comments/{}", writer("comment", comments.update_comment, cmd.UpdateComment)),
    ("DELETE", "/api/v1/comments/{}", deleter(comments.delete_comment)),
    (
        "GET",
        "/api/v1/work-items/{}/dependencies",
        reader("dependencies", dependencies.list_dependencies),
    ),
    # The one create whose reply is the bare entity (as in the original).
    (
        "POST",
        "/api/v1/dependencies",
        writer(None, dependencies.create_dependency, cmd.CreateDependency),
    ),
    ("DELETE", "/api/v1/dependencies/{}", deleter(dependencies.delete_dependency, echo_path=True)),
    ("GET", "/api/v1/projects/{}/swim-lanes", reader("swim_lanes", swim_lanes.list_swim_lanes)),
    (
        "GET",
        "/api/v1/work-items/{}/time-entries",
        reader("time_entries", time_entries.list_time_entries),
    ),
    (
        "POST",
        "/api/v1/time-entries",
        writer("time_entry", time_entries.create_time_entry, cmd.CreateTimeEntry),
    ),
    (
        "GET",
        "/api/v1/time-entries/{}",
        reader("time_entry", time_entries.get_time_entry, point=True),
    ),
    (
        "PUT",
        "/api/v1/time-entries/{}",
        writer("time_entry", time_entries.update_time_entry, cmd.UpdateTimeEntry),
    ),
    ("DELETE", "/api/v1/time-entries/{}", deleter(time_entries.delete_time_entry)),
    ("GET", "/api/v1/sync/export", export),
    ("POST", "/api/v1/sync/import", import_),
    ("GET", "/api/v1/openapi.json", openapi_document),
]

# Not part of the API (and not in its document): the page that shows it, `GET /docs`.
PAGES: list[tuple[str, str, Handler]] = [
    ("GET", "/docs", docs),
    ("GET", "/docs/{}", docs_file),
]


class Router:
    """Exact segment matching: `{}` matches one non-empty segment; nothing else is fuzzy."""

    def __init__(self, routes: list[tuple[str, str, Handler]]) -> None:
        self._table: dict[int, list[tuple[tuple[str, ...], dict[str, Handler], str]]] = {}
        for method, pattern, handler in routes:
            segments = tuple(pattern.strip("/").split("/"))
            bucket = self._table.setdefault(len(segments), [])
            for existing, methods, _ in bucket:
                if existing == segments:
                    methods[method] = handler
                    break
            else:
                bucket.append((segments, {method: handler}, pattern))

    def match(self, path: str) -> tuple[dict[str, Handler], list[str], str] | None:
        """The handlers by method, the path parameters and the route's pattern."""
        parts = path[1:].split("/") if path.startswith("/") else [path]
        for segments, methods, pattern in self._table.get(len(parts), ()):
            params: list[str] = []
            for want, got in zip(segments, parts, strict=True):
                if want == "{}":
                    if not got:
                        break
                    params.append(got)
                elif want != got:
                    break
            else:
                return methods, params, pattern
        return None


ROUTER = Router(ROUTES + PAGES)
_PREFLIGHT = (
    ("access-control-allow-methods", "*"),
    ("access-control-allow-headers", "*, authorization"),
    ("access-control-max-age", "600"),
)


async def handle(app: App, req: Request) -> Response:
    """Answer one HTTP request. Never raises."""
    app.touch(req.path)
    found = ROUTER.match(req.path)
    if found is None:
        return fail("NOT_FOUND", f"No route for {req.path}")
    methods, params, req.route = found
    handler = methods.get(req.method)
    head = req.method == "HEAD"
    if head:
        handler = methods.get("GET")
    if handler is None:
        if req.method == "OPTIONS":
            # A preflight: the engine's guard has already refused origins that are not
            # allowed and adds Access-Control-Allow-Origin for the allowed ones.
            # `Authorization` is named because a wildcard does not cover it.
            return Response(200, b"", None, list(_PREFLIGHT))
        return fail("METHOD_NOT_ALLOWED", f"Method {req.method} is not allowed for {req.path}")
    if req.path.startswith("/api/") or req.path == "/metrics":
        auth = authenticator(app)
        if auth.enabled:
            req.user = auth.bearer(req.header("authorization"))
            if req.user is None:
                return unauthenticated()
    try:
        resp = await handler(app, req, params)
        if head:
            resp.body = b""
        return resp
    except BadInput as bad:
        return bad.response
    except DomainError as err:
        return domain_error(err)
    except Exception:
        log.exception(
            "%s %s failed", req.method, req.path, extra={"method": req.method, "path": req.path}
        )
        return fail("INTERNAL_ERROR", "Database operation failed")
