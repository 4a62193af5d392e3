"""The active version's metrics snapshot and the metric history."""
from __future__ import annotations

from aiohttp import web

from server.api.common import json_response, query_int
from server.api.openapi_spec import documented
from server.api.parameters import HISTORY_LIMIT
from server.errors import NotFound
from server.schemas.answers import ActiveMetrics, MetricsHistory
from server.services import views

routes = web.RouteTableDef()


@routes.get("/api/metrics")
@documented("Metrics of the active version", answer=ActiveMetrics, errors=(404,), tag="versions")
async def metrics(request: web.Request) -> web.Response:
    """The active version's metrics with the seed's field names; 404 when no model is active."""
    snapshot = await views.active_metrics(request.app)
    if snapshot is None:
        raise NotFound("no active model version yet: train one with POST /api/train/async")
    return json_response(snapshot)


@routes.get("/api/metrics/history")
@documented("Metrics of every version over time", answer=MetricsHistory, errors=(400,), tag="versions",
            params=[HISTORY_LIMIT])
async def history(request: web.Request) -> web.Response:
    """Recent versions' metrics and rollback events, oldest first, capped by ?limit."""
    limit = query_int(request, "limit", 50, 1, 500)
    return json_response({"history": await views.metrics_history(request.app, limit)})
