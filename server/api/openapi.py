"""GET /api/openapi.json and GET /api/docs (rendered on the server from the same document)."""
from __future__ import annotations

import json

import aiohttp_jinja2
from aiohttp import web

from server import keys
from server.api import docs_page
from server.api.common import json_response
from server.api.openapi_doc import document
from server.api.openapi_spec import HTML, documented

routes = web.RouteTableDef()


@routes.get("/api/openapi.json")
@documented("This document", tag="docs", content={"application/json": {"schema": {"type": "object"}}})
async def openapi_json(request: web.Request) -> web.Response:
    """The OpenAPI 3 document."""
    return json_response(document())


def _tables(schema: dict | None, components: dict) -> list[dict]:
    """The tables of the models a schema names (a union or array shows each of its models)."""
    return [{"name": name, "rows": docs_page.rows(components[name])}
            for name in docs_page.models_in(schema) if components.get(name, {}).get("properties")]


def _pretty(value) -> str:
    return json.dumps(value, indent=2, default=str)


def _operations(doc: dict, base: str) -> list[dict]:
    """Each operation flattened for the docs template: tables, a curl line and a sample answer."""
    components = doc["components"]["schemas"]
    operations = []
    for path, methods in doc["paths"].items():
        for method, op in methods.items():
            media = op.get("requestBody", {}).get("content", {}).get("application/json")
            body = None
            if media is not None:
                example = media.get("example", docs_page.sample(media["schema"], components))
                body = {"required": op["requestBody"].get("required", False), "example": example,
                        "type": docs_page.type_html(media["schema"]), "tables": _tables(media["schema"], components)}
            status, ok = next((code, r) for code, r in op["responses"].items() if code.startswith(("1", "2")))
            content = ok.get("content", {})
            answer = content.get("application/json")
            sample = None
            if answer is not None and answer.get("schema"):
                sample = _pretty(answer.get("example", docs_page.sample(answer["schema"], components)))
            operations.append({
                "method": method.upper(), "path": path, "summary": docs_page.inline_code(op["summary"]), "tag": op["tags"][0],
                "anchor": docs_page.anchor(method, path),
                "parameters": [{"in": p["in"], "row": docs_page.Row(
                    p["name"], docs_page.type_html(p["schema"]), p.get("required", False),
                    docs_page.constraints(p["schema"]), docs_page.inline_code(p.get("description", "")))} for p in op.get("parameters", [])],
                "body": body and {**body, "example": _pretty(body["example"])},
                "status": status, "ok_description": ok.get("description", ""),
                "ok_type": docs_page.type_html(answer["schema"]) if answer and answer.get("schema") else None,
                "ok_tables": _tables(answer.get("schema") if answer else None, components),
                "media_types": [m for m in content if m != "application/json" or not sample],
                "sample": sample,
                "errors": sorted(code for code in op["responses"] if code != status),
                "curl": docs_page.curl(method.upper(), path, base, body["example"] if body else None,
                                       body is not None, {}),
            })
    return operations


def _schemas(doc: dict) -> list[dict]:
    """Every component as a table (objects) or a list of the models it may be (unions)."""
    out = []
    for name, schema in doc["components"]["schemas"].items():
        out.append({"name": name, "description": schema.get("description", ""), "rows": docs_page.rows(schema),
                    "type": None if schema.get("properties") else docs_page.type_html(schema)})
    return out


@routes.get("/api/docs")
@documented("Readable API documentation", content=HTML, tag="docs")
@aiohttp_jinja2.template("api_docs.html")
async def docs(request: web.Request) -> dict:
    """Readable documentation rendered from the same document, in the site's layout."""
    doc = document()
    return {"page": "docs", "default_threshold": request.app[keys.CONFIG].api.default_threshold,
            "doc": doc, "operations": _operations(doc, str(request.url.origin())), "schemas": _schemas(doc),
            "error_schema": docs_page.rows(doc["components"]["schemas"]["ErrorDetail"])}
