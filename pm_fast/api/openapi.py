"""The OpenAPI 3.1 document of the REST API (`GET /api/v1/openapi.json`).

Built from the route table (`rest.ROUTES`: every method and path the router serves)
and the msgspec types: request bodies are the types the handlers decode, responses the
return types of the service programs they run (`Program[T]`, `Program[Outcome[T]]`),
wrapped as the handlers wrap them. Schemas come from `msgspec.json.schema_components`
(JSON Schema 2020-12, which OpenAPI 3.1 uses). Handlers that are not made by
`rest.reader` / `rest.writer` / `rest.deleter` / `rest.probe` are described in
`_CUSTOM`; a route that is in neither raises at build time, so no route goes
undocumented (tests/unit/test_openapi.py checks that both ways).

Not described: HEAD (answered for every GET route, without a body) and OPTIONS (CORS
preflights, answered for every path), which the router serves for every route.
"""

from __future__ import annotations

import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import msgspec

from ..app import COMPAT_VERSION
from ..service import events, sync, work_items
from ..service.common import Outcome
from ..store.base import Program
from . import probes, rest

REF = "#/components/schemas/{name}"
JSON_TYPE = "application/json"

# the name of a path parameter, from the collection it follows
_PARAM_NAMES = {
    "projects": "project_id",
    "sprints": "sprint_id",
    "work-items": "work_item_id",
    "comments": "comment_id",
    "dependencies": "dependency_id",
    "time-entries": "time_entry_id",
}
_PARAM_TEXT = {
    "project_id": "the project's id (UUID) or its key",
}

_ERROR_STATUS = {
    400: "BAD_REQUEST or VALIDATION_ERROR: malformed input or a rule it breaks",
    401: "UNAUTHORIZED: auth is enabled and the bearer token is missing or invalid",
    403: "UNAUTHORIZED: the caller may not do this (auth enabled), or the request was"
    " refused by the browser guard",
    404: "NOT_FOUND: no such entity (or no such route)",
    405: "METHOD_NOT_ALLOWED",
    408: "REQUEST_TIMEOUT: the body did not arrive in time",
    409: "CONFLICT: expected_version is not the current version, or a duplicate key",
    410: "RESYNC_REQUIRED: the position is older than the event log keeps",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE: the body must be `Content-Type: application/json`",
    422: "VALIDATION_ERROR: the body does not have the request's shape",
    500: "INTERNAL_ERROR",
    503: "SERVICE_UNAVAILABLE: the database is unavailable or the server is shutting down",
}


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    schema: dict[str, Any]
    description: str = ""


@dataclass(frozen=True, slots=True)
class Op:
    """What the document says about one route beyond its method and path."""

    summary: str
    response: Any = None  # a type; None: no JSON body
    status: int = 200
    body: Any = None  # the request body's type
    query: tuple[Param, ...] = ()
    errors: tuple[int, ...] = ()
    raw_response: dict[str, Any] | None = None  # a schema given directly
    media: str = JSON_TYPE  # the success body's media type
    extra_responses: dict[int, str] = field(default_factory=dict)


def _bool_param(name: str, text: str) -> Param:
    return Param(name, {"type": "boolean", "default": False}, text)


def _handlers() -> dict[Callable[..., Any], Op]:
    health = {
        "type": "object",
        "properties": {"status": {"type": "string"}, "version": {"type": "string"}},
        "required": ["status", "version"],
    }
    ready = {
        "type": "object",
        "properties": {
            "status": {"enum": ["healthy", "unhealthy"]},
            "version": {"type": "string"},
            "database": {
                "type": "object",
                "properties": {
                    "status": {"enum": ["healthy", "unhealthy"]},
                    "latency_ms": {"type": "integer"},
                },
                "required": ["status", "latency_ms"],
            },
            "circuit_breaker": {
                "type": "object",
                "properties": {"state": {"enum": ["Closed", "Open", "HalfOpen"]}},
                "required": ["state"],
            },
        },
        "required": ["status", "version", "database", "circuit_breaker"],
    }
    checkpoint = {
        "type": "object",
        "properties": {"status": {"type": "string"}, "message": {"type": "string"}},
        "required": ["status", "message"],
    }
    text = {"type": "string"}
    return {
        probes.health: Op("Liveness with the version", raw_response=health),
        probes.live: Op("Liveness (empty body)"),
        probes.ready: Op(
            "Readiness: the database answers and the circuit breaker is not open",
            raw_response=ready,
            extra_responses={503: "not ready (same body, status unhealthy)"},
        ),
        rest.checkpoint: Op(
            "Fold the SQLite write-ahead log into the database file",
            raw_response=checkpoint,
            errors=(500,),
        ),
        rest.shutdown: Op("Shut the server down gracefully", status=202),
        rest.list_work_items: Op(
            "A project's work items, filtered",
            response=_wrapper("work_items", _result_type(work_items.list_work_items)),
            query=(
                Param("type", text, "epic, story or task"),
                Param("status", text),
                Param("sprint_id", text),
                Param("parent_id", text),
                _bool_param("orphaned", "only items without a parent"),
                Param("descendants_of", text, "a work item id"),
                Param("ancestors_of", text, "a work item id"),
                _bool_param("include_done", "also items whose status is done"),
            ),
            errors=(400, 404),
        ),
        rest.export: Op(
            "Export the database (or one work item's subtree) as JSON",
            response=sync.ExportData,
            query=(
                Param("work_item", text, "export only this work item and what it names"),
                Param(
                    "descendant_levels",
                    {"type": "integer", "minimum": 0, "maximum": 2**32 - 1, "default": 0},
                ),
                _bool_param("comments", "with the work item's comments"),
                _bool_param("sprints", "with its sprint"),
                _bool_param("dependencies", "with its dependencies"),
                _bool_param("time_entries", "with its time entries"),
            ),
            errors=(400, 404),
        ),
        rest.project_events: Op(
            "A project's numbered events after `since` (docs/events.md)",
            response=events.EventPage,
            query=(
                Param(
                    "since",
                    {"type": "integer", "minimum": 0, "maximum": 2**63 - 1, "default": 0},
                ),
                Param(
                    "limit",
                    {
                        "type": "integer",
                        "minimum": 1,
                        "maximum": events.MAX_PAGE,
                        "default": events.PAGE,
                    },
                ),
            ),
            errors=(400, 404, 410),
        ),
        rest.import_: Op(
            "Import an export: create or update every entity it holds",
            response=sync.ImportResult,
            body=sync.ImportData,
            errors=(400, 413, 415, 422),
        ),
        rest.openapi_document: Op("This document", raw_response={"type": "object"}),
        rest.metrics_text: Op(
            "Metrics in the Prometheus text format (docs/metrics.md); 404 when metrics are off",
            raw_response={"type": "string"},
            media="text/plain; version=0.0.4",
            errors=(401, 404),
        ),
    }


def _wrapped(key: str, kind: Any) -> Any:
    """The type of `{"<key>": kind}` (a struct named after the key)."""
    name = "".join(part.capitalize() for part in key.split("_")) + "Reply"
    return msgspec.defstruct(name, [(key, kind)])


_WRAPPERS: dict[tuple[str, Any], Any] = {}


def _wrapper(key: str, kind: Any) -> Any:
    found = _WRAPPERS.get((key, kind))
    if found is None:
        found = _WRAPPERS[(key, kind)] = _wrapped(key, kind)
    return found


def _result_type(program: Callable[..., Any]) -> Any:
    """T of a service program returning `Program[T]` or `Program[Outcome[T]]`."""
    # Only the return annotation: the parameters' may name types imported for checking.
    ret = program.__annotations__["return"]
    if isinstance(ret, str):
        ret = eval(ret, program.__globals__)  # our own source's annotation
    if typing.get_origin(ret) is not typing.get_origin(Program[Any]):
        raise TypeError(f"{program.__qualname__} does not return a Program")
    value = typing.get_args(ret)[2]
    if typing.get_origin(value) is Outcome:
        value = typing.get_args(value)[0]
    return value


def _made_op(method: str, pattern: str, handler: rest.Handler) -> Op | None:
    shape = rest.SHAPES.get(handler)
    if shape is None:
        return None
    name = shape.program.__name__.replace("_", " ").removesuffix(" for")
    if shape.kind == "read":
        kind = _result_type(shape.program)
        # 403: auth enabled and the caller may not view it
        errors: tuple[int, ...] = (403, 404) if "{}" in pattern else ()
        return Op(name.capitalize(), response=_wrapper(shape.key or "", kind), errors=errors)
    if shape.kind == "write":
        kind = _result_type(shape.program)
        response = kind if shape.key is None else _wrapper(shape.key, kind)
        errors = (400, 403, 404, 409, 413, 415, 422)
        return Op(name.capitalize(), response=response, body=shape.body, errors=errors)
    if shape.kind == "delete":
        return Op(name.capitalize(), response=_DELETED, errors=(400, 403, 404, 409))
    raise ValueError(f"unknown handler kind {shape.kind!r} for {method}")


_DELETED = msgspec.defstruct("Deleted", [("deleted_id", str)])


def _path(pattern: str) -> tuple[str, list[dict[str, Any]]]:
    parts = pattern.strip("/").split("/")
    params: list[dict[str, Any]] = []
    for i, part in enumerate(parts):
        if part == "{}":
            name = _PARAM_NAMES[parts[i - 1]]
            parts[i] = "{" + name + "}"
            param: dict[str, Any] = {
                "name": name,
                "in": "path",
                "required": True,
                "schema": {"type": "string", "minLength": 1},
            }
            if name in _PARAM_TEXT:
                param["description"] = _PARAM_TEXT[name]
            params.append(param)
    return "/" + "/".join(parts), params


def _error_response(status: int) -> dict[str, Any]:
    return {
        "description": _ERROR_STATUS[status],
        "content": {JSON_TYPE: {"schema": {"$ref": REF.format(name="Error")}}},
    }


_ERROR_SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "description": "The error envelope of every JSON error answer",
        "properties": {"error": {"$ref": REF.format(name="ErrorDetail")}},
        "required": ["error"],
    },
    "ErrorDetail": {
        "type": "object",
        "properties": {
            "code": {"type": "string", "examples": ["NOT_FOUND", "VALIDATION_ERROR"]},
            "message": {"type": "string"},
            "field": {"type": "string", "description": "the offending field, if one"},
        },
        "required": ["code", "message"],
    },
}


def build() -> dict[str, Any]:
    """The document, as a dict."""
    custom = _handlers()
    types: list[Any] = []
    ops: list[tuple[str, str, Op]] = []
    for method, pattern, handler in rest.ROUTES:
        shape = rest.SHAPES.get(handler)
        if shape is not None and shape.kind == "probe":
            op = custom.get(shape.program)
        else:
            op = _made_op(method, pattern, handler) or custom.get(handler)
        if op is None:
            raise LookupError(f"{method} {pattern} has no OpenAPI description")
        ops.append((method, pattern, op))
        for kind in (op.response, op.body):
            if kind is not None:
                types.append(kind)
    schemas_of, components = msgspec.json.schema_components(types, ref_template=REF)
    schema_map = dict(zip((id(t) for t in types), schemas_of, strict=True))
    components = {**components, **_ERROR_SCHEMAS}

    paths: dict[str, dict[str, Any]] = {}
    for method, pattern, op in ops:
        path, path_params = _path(pattern)
        api = pattern.startswith("/api/")
        operation: dict[str, Any] = {
            "operationId": _operation_id(method, path),
            "summary": op.summary,
            "tags": [_tag(pattern)],
        }
        params = [*path_params]
        for q in op.query:
            entry: dict[str, Any] = {"name": q.name, "in": "query", "schema": q.schema}
            if q.description:
                entry["description"] = q.description
            params.append(entry)
        if api and method in ("POST", "PUT", "DELETE"):
            params.append(
                {
                    "name": "X-User-Id",
                    "in": "header",
                    "required": False,
                    "schema": {"type": "string", "format": "uuid"},
                    "description": "who the change is made as when auth is disabled"
                    " (else the LLM user); ignored when auth is enabled",
                }
            )
        if params:
            operation["parameters"] = params
        if op.body is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {JSON_TYPE: {"schema": schema_map[id(op.body)]}},
            }
        responses: dict[str, Any] = {}
        success: dict[str, Any] = {"description": "OK" if op.status < 300 else "Accepted"}
        if op.response is not None:
            success["content"] = {JSON_TYPE: {"schema": schema_map[id(op.response)]}}
        elif op.raw_response is not None:
            success["content"] = {op.media: {"schema": op.raw_response}}
        responses[str(op.status)] = success
        for status, text in op.extra_responses.items():
            responses[str(status)] = {"description": text, "content": success.get("content", {})}
        statuses = set(op.errors)
        if api:
            statuses |= {401, 500, 503}
        if op.body is not None:
            statuses.add(408)
        for status in sorted(statuses):
            responses[str(status)] = _error_response(status)
        responses["default"] = {
            "description": "any other error, in the same envelope",
            "content": {JSON_TYPE: {"schema": {"$ref": REF.format(name="Error")}}},
        }
        operation["responses"] = responses
        if api or pattern == "/metrics":  # the bearer token when auth is enabled
            operation["security"] = [{}, {"bearer": []}]
        paths.setdefault(path, {})[method.lower()] = operation

    return {
        "openapi": "3.1.0",
        "info": {
            "title": "pm-fast REST API",
            "version": COMPAT_VERSION,
            "description": "The REST API of pm-fast (pm-server "
            f"{COMPAT_VERSION} compatible). Every GET route also answers HEAD, every"
            " path answers OPTIONS (CORS preflight). Real-time updates are on the"
            " WebSocket `/ws` (protobuf), not described here. With `auth.enabled`"
            " every /api/v1 request needs `Authorization: Bearer <JWT>` (on the /docs"
            " page: Authorize); with auth off, the default, no token is needed.",
        },
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "required on /api/v1 and /metrics when auth.enabled is true",
                }
            },
        },
    }


def _operation_id(method: str, path: str) -> str:
    words = [
        w.strip("{}").replace("-", "_")
        for w in path.strip("/").split("/")
        if w not in ("api", "v1")
    ]
    return method.lower() + "_" + "_".join(words).replace(".", "_")


def _tag(pattern: str) -> str:
    parts = pattern.strip("/").split("/")
    if parts[0] != "api":
        return "admin" if parts[0] == "admin" else "probes"
    return parts[2] if len(parts) > 2 else "api"


@cache
def document_bytes() -> bytes:
    """The document as served (built once per process, on first request)."""
    return msgspec.json.encode(build())
