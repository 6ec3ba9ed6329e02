"""Transport-neutral HTTP request/response types and JSON error helpers for the edges."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

import msgspec

from ..core.errors import DomainError

JSON = "application/json"
_encoder = msgspec.json.Encoder()

# Domain code -> (HTTP status, code shown to REST clients).
_REST_STATUS: dict[str, tuple[int, str]] = {
    "NOT_FOUND": (404, "NOT_FOUND"),
    "VALIDATION_ERROR": (400, "VALIDATION_ERROR"),
    "INVALID_MESSAGE": (400, "VALIDATION_ERROR"),
    "BAD_REQUEST": (400, "BAD_REQUEST"),
    "CONFLICT": (409, "CONFLICT"),
    "DUPLICATE_KEY": (409, "CONFLICT"),
    "DUPLICATE": (400, "VALIDATION_ERROR"),
    # The original REST API answers "delete an item with children" with 400
    # VALIDATION_ERROR; every delete refusal uses that shape on REST.
    "DELETE_BLOCKED": (400, "VALIDATION_ERROR"),
    "UNAUTHORIZED": (403, "UNAUTHORIZED"),
    "INTERNAL_ERROR": (500, "INTERNAL_ERROR"),
    "SERVICE_UNAVAILABLE": (503, "SERVICE_UNAVAILABLE"),
    # pm-fast: an event-log position older than what is kept (docs/events.md)
    "RESYNC_REQUIRED": (410, "RESYNC_REQUIRED"),
    "UNSUPPORTED_MEDIA_TYPE": (415, "UNSUPPORTED_MEDIA_TYPE"),
    "PAYLOAD_TOO_LARGE": (413, "PAYLOAD_TOO_LARGE"),
    "METHOD_NOT_ALLOWED": (405, "METHOD_NOT_ALLOWED"),
    "UNPROCESSABLE": (422, "VALIDATION_ERROR"),
}


@dataclass(slots=True)
class Response:
    status: int
    body: bytes = b""
    content_type: str | None = JSON
    headers: list[tuple[str, str]] = field(default_factory=list)
    # A point read's answer: the key the store keeps its body under
    # (`Store.read_cached`); an engine may answer the same request again from it
    # while `Store.still_cached` says the body is current (engines/front.py, `Replays`).
    cached_as: Hashable | None = None


def encode(value: Any) -> bytes:
    return _encoder.encode(value)


def ok(value: Any, status: int = 200) -> Response:
    return Response(status, _encoder.encode(value))


def wrapped(key: str, value: Any) -> Response:
    """`{"<key>": value}` without building an intermediate dict."""
    return Response(200, b'{"' + key.encode() + b'":' + _encoder.encode(value) + b"}")


def wrapper(key: str) -> Callable[[Any], bytes]:
    """The encoder of `wrapped(key, value)`'s body."""
    head = b'{"' + key.encode() + b'":'
    encode = _encoder.encode

    def wrap(value: Any) -> bytes:
        return head + encode(value) + b"}"

    return wrap


def error_body(code: str, message: str, field: str | None = None) -> bytes:
    err: dict[str, str] = {"code": code, "message": message}
    if field is not None:
        err["field"] = field
    return _encoder.encode({"error": err})


def domain_error(err: DomainError) -> Response:
    status, code = _REST_STATUS.get(err.code, (500, err.code))
    message, field = err.message, err.field
    if code != "VALIDATION_ERROR" or err.code == "DUPLICATE":
        field = None  # as in the original, REST names a field only for validation errors
    if err.code == "INVALID_MESSAGE":
        message = f"Invalid message: {message}"
    return Response(status, error_body(code, message, field))


def fail(code: str, message: str, field: str | None = None) -> Response:
    return domain_error(DomainError(code, message, field))
