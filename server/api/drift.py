"""GET /api/drift (per-window drift reports), alerts: list, acknowledge, delivery log."""
from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from aiohttp import web
from pydantic import Field

from server import keys
from server.api.common import json_response, plain, query_int, read_json
from server.api.openapi_spec import Param, documented
from server.errors import NotFound, ValidationFailed
from server.schemas.oversight import AckBody, AlertList, DeliveryList, DriftReport
from server.schemas.threshold import Tag
from server.store import repo_alerts
from server.store.errors import NotFound as StoreNotFound

routes = web.RouteTableDef()
VERSION = Param("version", Tag, "Only this version's windows.")
DRIFT_LIMIT = Param("limit", Annotated[int, Field(ge=1, le=1000)], "How many windows.", default=24)
STATUS = Param("status", Literal["open", "acknowledged", "resolved", "all"], "Only alerts in this state.", default="all")
ALERTS_LIMIT = Param("limit", Annotated[int, Field(ge=1, le=1000)], "How many alerts.", default=100)
ALERT_ID = Param("alert_id", Annotated[int, Field(ge=1, lt=2**31)], "Alert id.", where="path")

TAG = re.compile(r"^\d{8}_\d{6}$")
STATUSES = ("open", "acknowledged", "resolved", "all")


def _version(request: web.Request) -> str | None:
    version = request.query.get("version")
    if version is not None and not TAG.fullmatch(version):
        raise ValidationFailed("query parameter version must be a version tag",
                               fields={"version": "expected YYYYMMDD_HHMMSS"})
    return version


def _alert_id(request: web.Request) -> int:
    raw = request.match_info["alert_id"]
    if not raw.isdigit() or not 0 < int(raw) < 2**31:
        raise ValidationFailed("alert id must be a positive integer", fields={"alert_id": "expected an integer"})
    return int(raw)


@routes.get("/api/drift")
@documented("Drift per monitoring window, newest first: each column's test, statistic, threshold and verdict; "
            "dataset verdict; prediction and attribution drift; named segments", answer=DriftReport, errors=(400,),
            tag="monitoring", params=[VERSION, DRIFT_LIMIT])
async def drift_windows(request: web.Request) -> web.Response:
    """Newest windows first: column tests, dataset verdict, prediction/attribution drift, segments."""
    version = _version(request)
    limit = query_int(request, "limit", 24, 1, 1000)
    async with request.app[keys.SESSIONS]() as session:
        windows = await repo_alerts.list_drift_windows(session, version, limit)
    return json_response({**request.app[keys.DRIFT].status(), "windows": windows})


@routes.get("/api/alerts")
@documented("Alerts, newest first", answer=AlertList, errors=(400,), tag="monitoring", params=[STATUS, ALERTS_LIMIT])
async def alerts(request: web.Request) -> web.Response:
    """Alerts, newest first; `?status=open|acknowledged|resolved|all`."""
    status = request.query.get("status", "all")
    if status not in STATUSES:
        raise ValidationFailed("query parameter status is not a known status",
                               fields={"status": f"one of {', '.join(STATUSES)}"})
    limit = query_int(request, "limit", 100, 1, 1000)
    async with request.app[keys.SESSIONS]() as session:
        found = await repo_alerts.list_alerts(session, None if status == "all" else status, limit)
    return json_response({"alerts": [plain(a) for a in found]})


@routes.post("/api/alerts/{alert_id}/ack")
@documented("Acknowledge an alert", answer=dict[str, Any], body=AckBody, body_required=False,
            errors=(400, 401, 404, 415), tag="monitoring", params=[ALERT_ID])
async def acknowledge(request: web.Request) -> web.Response:
    """Acknowledge an alert; optional body `{"by": "name"}` (default `api`)."""
    alert_id = _alert_id(request)
    body = await read_json(request, optional=True) or {}
    if not isinstance(body, dict):
        raise ValidationFailed("the body must be a JSON object", fields={"body": "expected an object"})
    by = body.get("by", "api")
    if not isinstance(by, str) or not 0 < len(by) <= 128:
        raise ValidationFailed("by must be a name of 1 to 128 characters", fields={"by": "expected a short string"})
    try:
        async with request.app[keys.SESSIONS].begin() as session:
            alert = await repo_alerts.acknowledge_alert(session, alert_id, by)
    except StoreNotFound:
        raise NotFound(f"alert {alert_id} does not exist", fields={"alert_id": "unknown"}) from None
    request.app[keys.EVENTS].publish({"type": "alert_acknowledged", "alert": plain(alert)})
    return json_response(plain(alert))


@routes.get("/api/alerts/{alert_id}/deliveries")
@documented("Webhook delivery attempts of an alert", answer=DeliveryList, errors=(400,), tag="monitoring",
            params=[ALERT_ID])
async def deliveries(request: web.Request) -> web.Response:
    """The webhook delivery log of one alert, attempt by attempt."""
    alert_id = _alert_id(request)
    async with request.app[keys.SESSIONS]() as session:
        found = await repo_alerts.list_deliveries(session, alert_id)
    return json_response({"deliveries": [plain(d) for d in found]})
