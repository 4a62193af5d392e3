"""Training runs: start (async or sync), cancel, list and inspect."""
from __future__ import annotations

from aiohttp import web

from server import keys
from server.api.common import json_response, plain, query_bool, query_int, read_json
from server.api.openapi_spec import documented
from server.api.parameters import GENERATE_DATA, LIMIT, RUN_ID
from server.errors import ValidationFailed
from server.schemas.answers import Cancelled, Run, RunList, TrainStarted
from server.schemas.requests import TrainBody
from server.security import may_see_internals, redact_run
from server.services.training import TrainRequest
from server.store import repo

routes = web.RouteTableDef()


async def _start(request: web.Request, trigger: str) -> int:
    body = await read_json(request, optional=True)
    train_request = TrainRequest.parse(body, generate_data=query_bool(request, "generate_data"))
    return await request.app[keys.TRAINING].start(train_request, trigger=trigger)


def _run_id(request: web.Request) -> int:
    raw = request.match_info["run_id"]
    if not raw.isdigit() or len(raw) > 12:
        raise ValidationFailed("run id must be a positive integer", fields={"run_id": "expected an integer"})
    return int(raw)


def _shown(request: web.Request, run) -> dict:
    """A run as this client may see it (internals only with the token, when one is set)."""
    body = plain(run)
    return body if may_see_internals(request) else redact_run(body)


async def _run_body(request: web.Request, run_id: int) -> dict:
    async with request.app[keys.SESSIONS]() as session:
        run = await repo.get_run(session, run_id)
    return _shown(request, run)


@routes.post("/api/train/async")
@documented("Start a training run; answers at once", answer=TrainStarted, status=202, body=TrainBody,
            body_required=False, errors=(400, 409, 415, 429), tag="training", params=[GENERATE_DATA],
            example={}, answer_example={"status": "started", "run_id": 7, "events": "/ws", "run": "/api/train/runs/7"})
async def train_async(request: web.Request) -> web.Response:
    """Start a run and answer at once with its id (202); 409 while another run is active."""
    run_id = await _start(request, "api")
    return json_response({"status": "started", "run_id": run_id,
                              "events": "/ws", "run": f"/api/train/runs/{run_id}"}, status=202)


@routes.post("/api/train")
@documented("Train and wait for the outcome", answer=Run, body=TrainBody, body_required=False,
            errors=(400, 409, 415, 429), tag="training", params=[GENERATE_DATA])
async def train_sync(request: web.Request) -> web.Response:
    """Start a run and answer when it has ended, with its outcome."""
    training = request.app[keys.TRAINING]
    run_id = await _start(request, "api_sync")
    await training.wait(run_id)
    body = await _run_body(request, run_id)
    return json_response(body)


@routes.post("/api/train/{run_id}/cancel")
@documented("Cancel the active run", answer=Cancelled, errors=(400, 404, 409), tag="training",
            params=[RUN_ID])
async def cancel(request: web.Request) -> web.Response:
    """Stop the active run (its worker is killed; the run is recorded as cancelled)."""
    run_id = _run_id(request)
    stopped = await request.app[keys.TRAINING].cancel(run_id)
    return json_response({"run_id": run_id, "cancelled": stopped,
                              "run": await _run_body(request, run_id)})


@routes.get("/api/train/runs")
@documented("Recent training runs", answer=RunList, errors=(400,), tag="training", params=[LIMIT])
async def list_runs(request: web.Request) -> web.Response:
    """Recent runs, newest first."""
    limit = query_int(request, "limit", 50, 1, 500)
    async with request.app[keys.SESSIONS]() as session:
        runs = await repo.list_runs(session, limit=limit)
    active = request.app[keys.TRAINING].active
    return json_response({"active_run_id": active.run_id if active else None,
                              "runs": [_shown(request, r) for r in runs]})


@routes.get("/api/train/runs/{run_id}")
@documented("One training run with its phases", answer=Run, errors=(400, 404), tag="training",
            params=[RUN_ID])
async def get_run(request: web.Request) -> web.Response:
    """One run with its phases."""
    return json_response(await _run_body(request, _run_id(request)))
