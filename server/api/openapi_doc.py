"""The OpenAPI 3.1 document, generated from the route tables and each handler's `@documented` entry.

Schemas come from the pydantic models in server.schemas; nothing here is hand-written JSON schema.
tests/api/test_openapi.py keeps the document and the router in step, in both directions.
"""
from __future__ import annotations

import functools
import re
from typing import Any

from aiohttp import web
from pydantic import TypeAdapter

from server.api.openapi_spec import Operation, Param, operation_of
from server.schemas.answers import ErrorBody
from server.schemas.events import EVENTS

REF = "#/components/schemas/{model}"
ERROR = {"$ref": "#/components/responses/Error"}
_PATH_PATTERN = re.compile(r"\{(\w+):[^}]*\}")  # aiohttp's {name:regex} -> {name}


def canonical(path: str) -> str:
    """/download/{what:model|scaler} -> /download/{what}."""
    return _PATH_PATTERN.sub(r"{\1}", path)


def routes() -> list[tuple[str, str, Operation | None]]:
    """(method, path, operation) of every route in the app's route tables."""
    from server.api import ROUTE_TABLES  # the route modules import this one

    return [(route.method.lower(), canonical(route.path), operation_of(route.handler))
            for table in ROUTE_TABLES for route in table if isinstance(route, web.RouteDef)]


def _param(param: Param) -> dict[str, Any]:
    schema = TypeAdapter(param.type).json_schema()
    schema.pop("title", None)
    if param.default is not None:
        schema["default"] = param.default
    return {"name": param.name, "in": param.where, "required": param.where == "path",
            "description": param.description, "schema": schema}


def _json(schema: dict[str, Any], description: str, example: Any = None) -> dict[str, Any]:
    media: dict[str, Any] = {"schema": schema}
    if example is not None:
        media["example"] = example
    return {"description": description, "content": {"application/json": media}}


def _operation(op: Operation, schemas: dict[tuple[Any, str], dict[str, Any]], key: Any) -> dict[str, Any]:
    if op.content is not None:
        ok: dict[str, Any] = {"description": op.description or "OK", "content": op.content}
    elif op.answer is None:
        ok = {"description": op.description or "OK"}
    else:
        ok = _json(schemas[(("answer", key), "serialization")], op.description or "OK", op.answer_example)
    out: dict[str, Any] = {"summary": op.summary, "tags": [op.tag],
                           "responses": {str(op.status): ok, **{str(code): ERROR for code in op.errors}}}
    if op.params:
        out["parameters"] = [_param(p) for p in op.params]
    if op.body is not None:
        body = _json(schemas[(("body", key), "validation")], "", op.example)
        out["requestBody"] = {"required": op.body_required, "content": body["content"]}
    return {**out, **op.extra}


@functools.cache
def document() -> dict[str, Any]:
    """The whole OpenAPI document (built once per process)."""
    documented = [(m, p, op) for m, p, op in routes() if op is not None]
    inputs = [(("error", None), "serialization", TypeAdapter(ErrorBody)), (("event", None), "serialization", EVENTS)]
    for method, path, op in documented:
        if op.answer is not None and op.content is None:
            inputs.append((("answer", (method, path)), "serialization", TypeAdapter(op.answer)))
        if op.body is not None:
            inputs.append((("body", (method, path)), "validation", TypeAdapter(op.body)))
    schemas, definitions = TypeAdapter.json_schemas(inputs, ref_template=REF)
    paths: dict[str, dict[str, Any]] = {}
    for method, path, op in documented:
        paths.setdefault(path, {})[method] = _operation(op, schemas, (method, path))
    return {
        "openapi": "3.1.0",
        "info": {"title": "Congestion monitor API", "version": "0.1.0",
                 "description": "Network-traffic congestion prediction, explanation, training and model versions."},
        "paths": paths,
        "components": {
            # Event: what /ws frames and /api/train/events `data:` lines carry, one model per type.
            "schemas": {**definitions.get("$defs", {}), "Event": schemas[(("event", None), "serialization")]},
            "responses": {"Error": _json(schemas[(("error", None), "serialization")],
                                         "Error in the common envelope; `fields` names each bad input")},
        },
    }
