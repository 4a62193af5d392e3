"""Query parameters shared by the predict and explain routes."""
from __future__ import annotations

import math

from aiohttp import web

from server.errors import ValidationFailed


def query_threshold(request: web.Request, default: float) -> float:
    """`?threshold=` as a probability in [0, 1]; 400 naming it when malformed."""
    raw = request.query.get("threshold")
    if raw is None:
        return default
    try:
        value = float(raw) if len(raw) <= 32 else math.nan
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise ValidationFailed("threshold must be a number between 0 and 1",
                               fields={"threshold": "expected a number in [0, 1]"})
    return value
