"""The one domain error type. Edges map `code` to an HTTP status or a WebSocket Error."""

from __future__ import annotations


class DomainError(Exception):
    """A refusal with a stable machine code, a human message and optionally the field at fault."""

    __slots__ = ("code", "field", "message")

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field

    def __repr__(self) -> str:
        return f"DomainError({self.code!r}, {self.message!r}, {self.field!r})"


def not_found(message: str) -> DomainError:
    return DomainError("NOT_FOUND", message)


def invalid(message: str, field: str | None = None) -> DomainError:
    return DomainError("VALIDATION_ERROR", message, field)


def bad_request(message: str) -> DomainError:
    return DomainError("BAD_REQUEST", message)


def conflict(message: str, current_version: int) -> DomainError:
    return DomainError("CONFLICT", f"{message} (current version: {current_version})")


def delete_blocked(message: str) -> DomainError:
    return DomainError("DELETE_BLOCKED", message)


def forbidden(message: str) -> DomainError:
    return DomainError("UNAUTHORIZED", message)


def internal(message: str = "Database operation failed") -> DomainError:
    return DomainError("INTERNAL_ERROR", message)
