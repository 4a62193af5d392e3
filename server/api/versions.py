"""Model versions: the detailed list, rollback and pruning."""
from __future__ import annotations

from aiohttp import web

from server import keys
from server.api.common import json_response, read_json
from server.errors import ValidationFailed
from server.services.registry import check_tag
from server.services import views

routes = web.RouteTableDef()


@routes.get("/api/versions/detail")
async def versions_detail(request: web.Request) -> web.Response:
    """Every version with metrics, top SHAP features, phase durations, active and pruned flags."""
    return json_response({"versions": await views.version_details(request.app)})


@routes.post("/api/versions/rollback/{timestamp}")
async def rollback(request: web.Request) -> web.Response:
    """Activate an older version; rolling back to the active one changes nothing (200, changed=false)."""
    tag = check_tag(request.match_info["timestamp"])
    body = await read_json(request, optional=True) or {}
    if not isinstance(body, dict):
        raise ValidationFailed("the body must be a JSON object", fields={"body": "expected an object"})
    reason = body.get("reason")
    if reason is not None and (not isinstance(reason, str) or len(reason) > 500):
        raise ValidationFailed("reason must be a string of at most 500 characters", fields={"reason": "invalid"})
    result = await request.app[keys.REGISTRY].rollback(tag, actor="api", reason=reason)
    return json_response({"status": "ok", **result})


@routes.post("/api/versions/prune")
async def prune(request: web.Request) -> web.Response:
    """Apply the retention policy now."""
    await read_json(request, optional=True)
    pruned = await request.app[keys.REGISTRY].apply_retention(actor="api")
    return json_response({"pruned": pruned})
