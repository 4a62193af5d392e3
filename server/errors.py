"""Domain errors: each carries a code; one table maps codes to HTTP status."""
from __future__ import annotations

from typing import Any


class AppError(Exception):
    """An error the client may see: a stable code, a message, optional per-field details."""

    code = "error"

    def __init__(self, message: str, *, fields: dict[str, str] | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields or {}
        self.extra = extra


class ValidationFailed(AppError):
    code = "validation_error"


class NotFound(AppError):
    code = "not_found"


class Gone(AppError):
    code = "gone"


class Conflict(AppError):
    code = "conflict"


class IntegrityFailure(AppError):
    code = "integrity_error"


class Unavailable(AppError):
    code = "unavailable"


class StorageFailure(AppError):
    code = "storage_error"


class Forbidden(AppError):
    code = "forbidden"


class Unauthorized(AppError):
    code = "unauthorized"


class PayloadTooLarge(AppError):
    code = "payload_too_large"


class UnsupportedMediaType(AppError):
    code = "unsupported_media_type"


class RateLimited(AppError):
    code = "rate_limited"


HTTP_STATUS: dict[str, int] = {
    "validation_error": 400,
    "bad_request": 400,
    "unauthorized": 401,
    "forbidden": 403,
    "not_found": 404,
    "method_not_allowed": 405,
    "conflict": 409,
    "integrity_error": 409,
    "gone": 410,
    "payload_too_large": 413,
    "unsupported_media_type": 415,
    "rate_limited": 429,
    "invalid_value": 400,
    "blob_integrity": 409,
    "blob_not_found": 409,
    "internal_error": 500,
    "storage_error": 507,
    "schema_error": 503,
    "schema_outdated": 503,
    "schema_unknown_revision": 503,
    "schema_unmanaged": 503,
    "unavailable": 503,
}


def counted(n: int, noun: str) -> str:
    """A count with its noun in the right number, for messages: "1 record", "2 records"."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def status_for(code: str) -> int:
    """HTTP status for an error code (500 for codes nobody mapped)."""
    return HTTP_STATUS.get(code, 500)
