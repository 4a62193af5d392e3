"""The OpenAPI document covers exactly the app's routes, and the docs page renders it."""
from __future__ import annotations

import re

from server.api.openapi_doc import document
from server.app import create_app
from tests.conftest import check_json

# Routes deliberately outside the document: static files (HEAD is implied by GET).
EXCLUDED_PREFIXES = ("/static",)


def app_routes(app) -> set[tuple[str, str]]:
    """(method, canonical path) of every route registered in the app."""
    found = set()
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter") or info.get("prefix")
        if route.method in ("HEAD", "OPTIONS") or path.startswith(EXCLUDED_PREFIXES):
            continue
        found.add((route.method.lower(), path))
    return found


def documented_routes(doc: dict) -> set[tuple[str, str]]:
    """(method, path) of every operation in the document."""
    return {(method, path) for path, ops in doc["paths"].items() for method in ops}


def test_document_and_router_agree(empty_config):
    """A route missing from the document, or a documented route that does not exist, fails."""
    routes, documented = app_routes(create_app(empty_config)), documented_routes(document())
    assert routes - documented == set(), "routes missing from the OpenAPI document"
    assert documented - routes == set(), "documented routes that do not exist"


def test_expected_routes_are_all_there(empty_config):
    """Guard against both sides silently shrinking together."""
    must = {("post", "/api/predict"), ("post", "/api/explain"), ("get", "/api/explain/global"),
            ("get", "/healthz"), ("get", "/readyz"), ("post", "/api/train"), ("post", "/api/train/async"),
            ("post", "/api/train/{run_id}/cancel"), ("get", "/api/train/runs"), ("get", "/api/train/runs/{run_id}"),
            ("get", "/api/train/events"), ("get", "/ws"), ("get", "/api/versions/detail"),
            ("post", "/api/versions/rollback/{timestamp}"), ("post", "/api/versions/prune"),
            ("get", "/api/metrics"), ("get", "/api/metrics/history"), ("get", "/download/{what}"),
            ("get", "/download/version/{file}"), ("get", "/"), ("get", "/dashboard"), ("get", "/predict"),
            ("get", "/api/openapi.json"), ("get", "/api/docs")}
    assert must <= app_routes(create_app(empty_config))


def test_path_parameters_are_declared():
    """Every {param} in a path has a matching path parameter."""
    for path, ops in document()["paths"].items():
        names = {part[1:-1] for part in path.split("/") if part.startswith("{")}
        for op in ops.values():
            declared = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
            assert declared == names, path


async def test_served_document_and_docs_page(empty_client):
    """Both are served; the page names every path and loads nothing from elsewhere (works offline)."""
    doc = await check_json(await empty_client.get("/api/openapi.json"), 200)
    assert doc["openapi"].startswith("3.") and doc == document()
    page = await empty_client.get("/api/docs")
    text = await page.text()
    assert page.status == 200 and page.content_type == "text/html"
    sources = re.findall(r"""<(?:script|link)[^>]+(?:src|href)=["']([^"']+)""", text)
    assert sources and all(src.startswith("/static/") for src in sources), sources
    for path in doc["paths"]:
        assert path in text
