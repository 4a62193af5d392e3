"""Middlewares: one JSON error envelope for every failure, and security headers."""
from __future__ import annotations

import logging

from aiohttp import web

from server.errors import AppError, status_for
from server.store.errors import StoreError

log = logging.getLogger(__name__)

CSP = (
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


def error_body(code: str, message: str, fields: dict[str, str] | None = None, **extra) -> dict:
    """The one error envelope: {"error": {"code", "message", "fields", ...}}."""
    return {"error": {"code": code, "message": message, "fields": fields or {}, **extra}}


def error_response(status: int, code: str, message: str, fields=None, **extra) -> web.Response:
    """A JSON error response in the common envelope."""
    return web.json_response(error_body(code, message, fields, **extra), status=status)


_HTTP_CODES = {400: "bad_request", 404: "not_found", 405: "method_not_allowed",
               413: "payload_too_large", 415: "unsupported_media_type"}


@web.middleware
async def errors_middleware(request: web.Request, handler) -> web.StreamResponse:
    """Turn domain errors, HTTP errors and crashes into the JSON envelope; never leak a traceback."""
    try:
        return await handler(request)
    except AppError as exc:
        headers = {"Retry-After": str(exc.extra.pop("retry_after"))} if "retry_after" in exc.extra else None
        response = error_response(status_for(exc.code), exc.code, exc.message, exc.fields, **exc.extra)
        if headers:
            response.headers.update(headers)
        if request.get("close_connection"):  # set by read_json when the body stream is unusable
            response.force_close()
        return response
    except StoreError as exc:
        # Store errors carry stable codes too (not_found, conflict, blob_integrity...).
        return error_response(status_for(exc.code), exc.code, exc.message)
    except web.HTTPException as exc:
        if exc.status < 400 or exc.content_type == "application/json":
            raise
        code = _HTTP_CODES.get(exc.status, "http_error")
        response = error_response(exc.status, code, exc.reason)
        for name in ("Allow", "Retry-After"):
            if name in exc.headers:
                response.headers[name] = exc.headers[name]
        return response
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.rel_url.path)
        return error_response(500, "internal_error", "internal server error")


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare hook: headers every response carries, and no version in Server."""
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CSP)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "no-referrer")
    headers.setdefault("X-Frame-Options", "DENY")
    headers["Server"] = "congestion-monitor"
