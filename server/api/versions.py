"""Model versions: the detailed list, rollback and pruning."""
from __future__ import annotations

from aiohttp import web

from server import keys
from server.api.common import json_response, read_json
from server.api.openapi_spec import documented
from server.api.parameters import TAG
from server.errors import ValidationFailed
from server.schemas.answers import Pruned, Rollback, VersionList
from server.schemas.requests import RollbackBody
from server.services import views
from server.services.registry import check_tag

routes = web.RouteTableDef()


@routes.get("/api/versions/detail")
@documented("Every model version with metrics and flags", answer=VersionList, tag="versions")
async def versions_detail(request: web.Request) -> web.Response:
    """Every version with metrics, top SHAP features, phase durations, active and pruned flags."""
    return json_response({"versions": await views.version_details(request.app)})


@routes.post("/api/versions/rollback/{timestamp}")
@documented("Activate an older version", answer=Rollback, body=RollbackBody, body_required=False,
            errors=(400, 404, 409, 410, 415), tag="versions", params=[TAG], example={"reason": "F1 dropped"})
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
@documented("Apply the retention policy now", answer=Pruned, errors=(400, 415), tag="versions")
async def prune(request: web.Request) -> web.Response:
    """Apply the retention policy now."""
    await read_json(request, optional=True)
    pruned = await request.app[keys.REGISTRY].apply_retention(actor="api")
    return json_response({"pruned": pruned})
