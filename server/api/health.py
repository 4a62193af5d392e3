"""Liveness and readiness."""
from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from server import keys
from server.store import db

routes = web.RouteTableDef()


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    """Alive: the process answers."""
    return web.json_response({"status": "ok"})


@routes.get("/readyz")
async def readyz(request: web.Request) -> web.Response:
    """Ready: the DB is at head and a model is loaded (or explicitly none); degraded says why."""
    app = request.app
    current = await db.current_revision(app[keys.ENGINE])
    head = db.head_revision()
    inference = app[keys.INFERENCE]
    schema_ok = current == head
    body = {
        "status": "ok",
        "database": {"revision": current, "head": head, "ok": schema_ok},
        "model": {"version": inference.version, "loaded": inference.bundle is not None},
        "degraded": inference.degraded,
    }
    if not schema_ok:
        body["status"] = "unavailable"
        return web.json_response(body, status=503)
    if inference.degraded:
        body["status"] = "degraded"
    return web.json_response(body)


@routes.get("/metrics")
async def prometheus_metrics(request: web.Request) -> web.Response:
    """Prometheus text exposition of the server's metrics."""
    body = generate_latest(request.app[keys.METRICS].registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
