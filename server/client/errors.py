"""ApiError: a failed call, carrying the server's JSON error envelope."""
from __future__ import annotations

import json
from typing import Any, Mapping


class ApiError(Exception):
    """The server answered 4xx/5xx; `code`, `message` and `fields` come from its error envelope.

    `fields` maps each bad input (a body field such as ``[3].packet_size``, a query parameter,
    a header) to what is wrong with it; `error` is the whole envelope's inner object, extra keys
    included (e.g. the readiness body of a 503 from /readyz).
    """

    def __init__(self, status: int, code: str, message: str, fields: Mapping[str, str] | None = None,
                 error: Mapping[str, Any] | None = None, retry_after: float | None = None) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.fields = dict(fields or {})
        self.error = dict(error or {"code": code, "message": message, "fields": self.fields})
        self.retry_after = retry_after
        super().__init__(str(self))

    def __str__(self) -> str:
        named = "; ".join(f"{k}: {v}" for k, v in self.fields.items())
        return f"{self.status} {self.code}: {self.message}" + (f" ({named})" if named else "")

    @classmethod
    def from_response(cls, status: int, raw: bytes, headers: Mapping[str, str] | None = None) -> "ApiError":
        """Build from an answer's status, body and headers (a non-envelope body becomes `http_error`)."""
        retry_after = _retry_after((headers or {}).get("Retry-After"))
        try:
            body = json.loads(raw.decode("utf-8"))
            error = body["error"]
            return cls(status, str(error["code"]), str(error["message"]), error.get("fields") or {},
                       error=error, retry_after=retry_after)
        except (ValueError, KeyError, TypeError, AttributeError):
            text = raw[:200].decode("utf-8", "replace").strip()
            return cls(status, "http_error", text or f"HTTP {status}", retry_after=retry_after)


def _retry_after(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
