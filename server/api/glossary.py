"""GET /api/glossary: what the dashboard's feature names and terms mean, for the active version."""
from __future__ import annotations

from aiohttp import web

from server.schemas.answers import Glossary
from server.api.openapi_spec import documented
from server import keys
from server.api.common import json_response
from server.errors import NotFound
from server.ml.glossary import pipeline_glossary

routes = web.RouteTableDef()


@routes.get("/api/glossary")
@documented("What each feature of the active version and each explanation term means (the dashboard's tooltips)",
            answer=Glossary, errors=(404,), tag="predict")
async def glossary(request: web.Request) -> web.Response:
    """Each feature of the active version described by the transformer that computes it, plus terms."""
    bundle = request.app[keys.INFERENCE].bundle
    if bundle is None:
        raise NotFound("no glossary: no model version is active")
    return json_response({"version": bundle.version, **pipeline_glossary(bundle.pipeline)})
