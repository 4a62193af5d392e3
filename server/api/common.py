"""Helpers shared by the JSON handlers: strict body parsing and query parameters."""
from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import json
from typing import Any

import orjson
from aiohttp import web

from server.errors import PayloadTooLarge, UnsupportedMediaType, ValidationFailed

MAX_JSON_DEPTH = 32
CLOSE_CONNECTION = "close_connection"  # request key: answer with Connection: close


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _depth(value: Any, limit: int) -> int:
    """Nesting depth, stopping early once past the limit."""
    stack = [(value, 1)]
    deepest = 0
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        if deepest > limit:
            return deepest
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node)
    return deepest


def parse_json_text(text: str) -> Any:
    """Strict JSON: no NaN/Infinity, no absurd numbers, no deep nesting; 400 otherwise."""
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        message = str(exc) if "not valid JSON" in str(exc) else "the body is not valid JSON"
        raise ValidationFailed(message, fields={"body": "invalid JSON"}) from None
    if _depth(value, MAX_JSON_DEPTH) > MAX_JSON_DEPTH:
        raise ValidationFailed("the body is nested too deeply", fields={"body": "too deep"})
    return value


def parse_json_body(raw: bytes) -> Any:
    """`parse_json_text` of a raw body, decoded by orjson when it accepts it (~4x faster).

    orjson is strict where it matters here (no NaN/Infinity, UTF-8 only) and has no depth limit
    we can set, so the depth walk runs whenever the body has enough brackets to be too deep. A
    body orjson refuses goes through `parse_json_text`, which gives the same answer or error as
    before, so error messages do not depend on the codec.
    """
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ValidationFailed("the body is not UTF-8", fields={"body": "not UTF-8"}) from None
        return parse_json_text(text)
    if raw.count(b"[") + raw.count(b"{") > MAX_JSON_DEPTH and _depth(value, MAX_JSON_DEPTH) > MAX_JSON_DEPTH:
        raise ValidationFailed("the body is nested too deeply", fields={"body": "too deep"})
    return value


async def read_json(request: web.Request, *, optional: bool = False) -> Any:
    """Read a JSON body: 415 for another content type, 413 past the size limit, 400 if malformed."""
    if optional and not request.body_exists:
        return None
    if request.content_type != "application/json":
        raise UnsupportedMediaType("the body must be application/json",
                                   fields={"Content-Type": f"got {request.content_type or 'none'}"})
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise PayloadTooLarge(f"the body is larger than {request.client_max_size} bytes") from None
    except web.RequestPayloadError:  # a corrupt Content-Encoding stream, or a truncated chunked body
        request[CLOSE_CONNECTION] = True  # the rest of the stream cannot be parsed: no keep-alive
        raise ValidationFailed("the body could not be decoded",
                               fields={"body": "malformed or truncated (check Content-Encoding)"}) from None
    if optional and not raw.strip():
        return None
    return parse_json_body(raw)


def query_bool(request: web.Request, name: str, default: bool = False) -> bool:
    """A true/false query parameter; 400 naming it for anything else."""
    raw = request.query.get(name)
    if raw is None:
        return default
    lowered = raw.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ValidationFailed(f"query parameter {name} must be true or false", fields={name: "expected true or false"})


def query_int(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    """A bounded integer query parameter; 400 naming it when malformed or out of range."""
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValidationFailed(f"query parameter {name} must be an integer",
                               fields={name: "expected an integer"}) from None
    if not low <= value <= high:
        raise ValidationFailed(f"query parameter {name} must be between {low} and {high}",
                               fields={name: f"expected {low}..{high}"})
    return value


def _default(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return value.isoformat().replace("+00:00", "Z")
    if dataclasses.is_dataclass(value):
        return dataclasses.asdict(value)
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


dumps = functools.partial(json.dumps, default=_default, allow_nan=False)

# Answers are encoded by orjson (~5x faster than json.dumps for a predict answer); datetimes go
# through `_default` so they keep the "Z" suffix, and floats keep their shortest round-trip form,
# so a client parses the same numbers as before to the last bit.
_ORJSON_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_SERIALIZE_NUMPY


def encode(data: Any) -> bytes:
    """A JSON answer body. A NaN or infinity is written as null (json.dumps raised: a 500)."""
    return orjson.dumps(data, default=_default, option=_ORJSON_OPTIONS)


def plain(record: Any) -> dict[str, Any]:
    """A store record (frozen dataclass) as a dict for a JSON body."""
    return dataclasses.asdict(record)


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """A JSON answer that also understands datetimes, dataclasses and numpy scalars."""
    return web.Response(body=encode(data), status=status, headers=headers, content_type="application/json",
                        charset="utf-8")
