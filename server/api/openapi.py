"""GET /api/openapi.json and GET /api/docs (server-rendered, no scripts: works offline under the CSP)."""
from __future__ import annotations

import html
import json

from aiohttp import web

from server.api.common import json_response
from server.api.openapi_doc import document

routes = web.RouteTableDef()


@routes.get("/api/openapi.json")
async def openapi_json(request: web.Request) -> web.Response:
    """The OpenAPI 3 document."""
    return json_response(document())


def _render(doc: dict) -> str:
    """A plain HTML page listing every operation with its parameters, body and responses."""
    esc = html.escape
    parts = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{esc(doc['info']['title'])}</title>",
             "</head><body>",
             f"<h1>{esc(doc['info']['title'])}</h1><p>{esc(doc['info']['description'])}</p>",
             "<p>Machine-readable: <a href='/api/openapi.json'>/api/openapi.json</a></p>"]
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            parts.append(f"<section><h2><code>{method.upper()} {esc(path)}</code></h2><p>{esc(op['summary'])}</p>")
            params = op.get("parameters", [])
            if params:
                parts.append("<table><tr><th>parameter</th><th>in</th><th>schema</th><th>description</th></tr>")
                for p in params:
                    parts.append(f"<tr><td><code>{esc(p['name'])}</code></td><td>{esc(p['in'])}</td>"
                                 f"<td><code>{esc(json.dumps(p['schema']))}</code></td>"
                                 f"<td>{esc(p.get('description', ''))}</td></tr>")
                parts.append("</table>")
            if "requestBody" in op:
                schema = op["requestBody"]["content"]["application/json"]["schema"]
                parts.append(f"<p>Body (application/json): <code>{esc(json.dumps(schema))}</code></p>")
            codes = ", ".join(esc(code) for code in op["responses"])
            parts.append(f"<p>Responses: {codes}</p></section>")
    parts.append("<h2>Schemas</h2>")
    for name, schema in doc["components"]["schemas"].items():
        parts.append(f"<h3 id='{esc(name)}'>{esc(name)}</h3><pre>{esc(json.dumps(schema, indent=2))}</pre>")
    parts.append("</body></html>")
    return "".join(parts)


@routes.get("/api/docs")
async def docs(request: web.Request) -> web.Response:
    """Readable documentation rendered from the same document."""
    return web.Response(text=_render(document()), content_type="text/html")
