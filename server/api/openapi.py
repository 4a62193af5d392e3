"""GET /api/openapi.json and GET /api/docs (rendered on the server from the same document)."""
from __future__ import annotations

import json
import re

import aiohttp_jinja2
from aiohttp import web

from server import keys
from server.api.common import json_response
from server.api.openapi_doc import document
from server.api.openapi_spec import HTML, documented

routes = web.RouteTableDef()


@routes.get("/api/openapi.json")
@documented("This document", tag="docs", content={"application/json": {"schema": {"type": "object"}}})
async def openapi_json(request: web.Request) -> web.Response:
    """The OpenAPI 3 document."""
    return json_response(document())


def _operations(doc: dict) -> list[dict]:
    """Each operation flattened for the docs template (JSON snippets pre-rendered)."""
    operations = []
    for path, methods in doc["paths"].items():
        for method, op in methods.items():
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            operations.append({
                "method": method.upper(), "path": path, "summary": op["summary"],
                "anchor": re.sub(r"[^a-z0-9]+", "-", f"{method} {path}".lower()).strip("-"),
                "parameters": [{**p, "schema_json": json.dumps(p["schema"])} for p in op.get("parameters", [])],
                "body": json.dumps(body) if body else None,
                "responses": ", ".join(sorted(op["responses"])),
            })
    return operations


@routes.get("/api/docs")
@documented("Readable API documentation", content=HTML, tag="docs")
@aiohttp_jinja2.template("api_docs.html")
async def docs(request: web.Request) -> dict:
    """Readable documentation rendered from the same document, in the site's layout."""
    doc = document()
    return {"page": "docs", "default_threshold": request.app[keys.CONFIG].api.default_threshold,
            "doc": doc, "operations": _operations(doc),
            "schemas": [(name, json.dumps(schema, indent=2)) for name, schema in doc["components"]["schemas"].items()]}
