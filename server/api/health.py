"""Liveness and readiness."""
from __future__ import annotations

import asyncio

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from server import keys
from server.api.openapi_spec import documented
from server.errors import Unavailable
from server.schemas.answers import Health, Readiness
from server.store import db

routes = web.RouteTableDef()


@routes.get("/healthz")
@documented("Liveness", answer=Health, tag="health")
async def healthz(request: web.Request) -> web.Response:
    """Alive: the process answers."""
    return web.json_response({"status": "ok"})


DB_PROBE_TIMEOUT_S = 5.0


async def _revision(app: web.Application) -> tuple[str | None, str | None]:
    """(revision stamped in the database, None) or (None, why the database cannot be read)."""
    try:
        return await asyncio.wait_for(db.current_revision(app[keys.ENGINE]), DB_PROBE_TIMEOUT_S), None
    except asyncio.TimeoutError:
        return None, "the database did not answer in time"
    except Exception as exc:  # noqa: BLE001 - any driver error means "not ready", never a 500
        return None, f"the database cannot be reached ({type(exc).__name__})"


@routes.get("/readyz")
@documented("Readiness: schema at head, model loaded, degraded reason", answer=Readiness, errors=(503,),
            tag="health")
async def readyz(request: web.Request) -> web.Response:
    """Ready: the DB is at head and a model is loaded (or explicitly none); degraded says why.

    Not ready is a 503 in the one error envelope, code `unavailable`, whose `readiness` member
    holds the same body a ready server answers (with `status: "unavailable"`).
    """
    app = request.app
    current, db_problem = await _revision(app)
    head = db.head_revision()
    inference = app[keys.INFERENCE]
    schema_ok = current == head
    blob_problem = await _blob_store_problem(app)
    body = {
        "status": "ok",
        "database": {"revision": current, "head": head, "ok": schema_ok, "error": db_problem},
        "model": {"version": inference.version, "loaded": inference.bundle is not None},
        "blobs": {"ok": blob_problem is None, "error": blob_problem},
        "degraded": "; ".join(filter(None, (inference.degraded, blob_problem and f"blob store: {blob_problem}"))) or None,
    }
    if not schema_ok:
        body["status"] = "unavailable"
        reason = db_problem or f"the database schema is at {current}, this server needs {head}"
        raise Unavailable(f"not ready: {reason}", fields={"database": reason}, readiness=body)
    if body["degraded"]:  # the loaded model still serves; saves and loads would fail
        body["status"] = "degraded"
    return web.json_response(body)


BLOB_PROBE_TIMEOUT_S = 5.0


async def _blob_store_problem(app: web.Application) -> str | None:
    """Why the blob store cannot be reached (an S3 bucket that does not answer), or None."""
    try:
        return await asyncio.wait_for(asyncio.to_thread(app[keys.BLOBS].health), BLOB_PROBE_TIMEOUT_S)
    except asyncio.TimeoutError:
        return "the blob store did not answer in time"


@routes.get("/metrics")
@documented("Prometheus metrics (text exposition format)", tag="health",
            content={"text/plain": {"schema": {"type": "string"}}})
async def prometheus_metrics(request: web.Request) -> web.Response:
    """Prometheus text exposition of the server's metrics."""
    body = generate_latest(request.app[keys.METRICS].registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
