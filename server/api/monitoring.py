"""GET /api/monitoring/windows and /api/monitoring/summary: live performance per window."""
from __future__ import annotations

import re
from typing import Annotated

from aiohttp import web
from pydantic import Field

from server import keys
from server.api.common import json_response, query_int
from server.api.openapi_spec import Param, documented
from server.errors import ValidationFailed
from server.lifecycle import challenge
from server.monitoring import store
from server.schemas.monitoring import ModelChange, MonitoringSummary, Tag, Window
from server.store import repo
from server.store.tables import ACTIVATION_KINDS

routes = web.RouteTableDef()
VERSION = Param("version", Tag, "Version tag YYYYMMDD_HHMMSS (default: the active version).")
WINDOWS_LIMIT = Param("limit", Annotated[int, Field(ge=1, le=1000)], "How many windows (the newest).", default=24)
EVENTS_LIMIT = Param("limit", Annotated[int, Field(ge=1, le=200)], "How many changes (the newest).", default=20)
TAG = re.compile(r"\d{8}_\d{6}")


def _version(request: web.Request) -> str | None:
    version = request.query.get("version") or None
    if version is not None and not TAG.fullmatch(version):
        raise ValidationFailed("version must be a version timestamp",
                               fields={"version": "expected YYYYMMDD_HHMMSS"})
    return version


@routes.get("/api/monitoring/windows")
@documented("Monitoring windows (event time) per version, newest first: realised and CBPE-estimated metrics",
            answer=list[Window], errors=(400,), tag="monitoring", params=[VERSION, WINDOWS_LIMIT])
async def windows(request: web.Request) -> web.Response:
    """The newest windows (per version), newest first: `?version=`, `?limit=` (24, at most 1000)."""
    version = _version(request)
    limit = query_int(request, "limit", 24, 1, 1000)
    windows = await request.app[keys.MONITORING].windows(version, limit)
    return json_response(await challenge.attach_to_windows(request.app[keys.SESSIONS], request.app[keys.CONFIG],
                                                           windows))


@routes.get("/api/monitoring/summary")
@documented("The latest window of a version (default: the active one) beside its training-time baseline",
            answer=MonitoringSummary, errors=(400,), tag="monitoring", params=[VERSION])
async def summary(request: web.Request) -> web.Response:
    """The latest window of a version (default: the active one) beside its training-time baseline."""
    version = _version(request) or request.app[keys.INFERENCE].version
    if version is None:
        return json_response({"version": None, "latest": None, "baseline": None})
    service = request.app[keys.MONITORING]
    latest = await service.windows(version, 1)
    async with service.engine.connect() as conn:
        baseline = await store.baseline(conn, version)
    return json_response({"version": version, "latest": latest[0] if latest else None, "baseline": baseline})


@routes.get("/api/monitoring/events")
@documented("Model changes (activations, rollbacks, promotions) newest first, placed on the windows' event time",
            answer=list[ModelChange], errors=(400,), tag="monitoring", params=[EVENTS_LIMIT])
async def model_changes(request: web.Request) -> web.Response:
    """The newest changes of the serving version, each with `event_timestamp`: the event time of the
    first flow the new version served (null until it served one), so replayed traffic marks them too."""
    limit = query_int(request, "limit", 20, 1, 200)
    async with request.app[keys.SESSIONS]() as session:
        events = await repo.list_events(session, limit=limit, kinds=ACTIVATION_KINDS)
    async with request.app[keys.MONITORING].engine.connect() as conn:
        # events are newest first: each change's flows end where the next (newer) change begins
        ends = [None] + [e.created_at for e in events[:-1]]
        placed = [await store.first_flow_after(conn, e.created_at, e.version_tag, end) for e, end in zip(events, ends)]
    return json_response([{"kind": e.kind, "version": e.version_tag, "from_version": e.from_version_tag,
                           "time": e.created_at, "actor": e.actor, "reason": e.reason, "event_timestamp": at}
                          for e, at in zip(events, placed)])
