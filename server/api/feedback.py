"""POST /api/feedback: delayed labels for logged predictions, by id or by flow."""
from __future__ import annotations

from aiohttp import web

from server import keys
from server.api.common import json_response, read_json
from server.api.openapi_spec import documented
from server.errors import ValidationFailed, counted
from server.monitoring.service import record_feedback
from server.schemas.monitoring import FeedbackAnswer, FeedbackBody

routes = web.RouteTableDef()


@routes.post("/api/feedback")
@documented("Delayed labels for logged predictions, by prediction_id or by flow (idempotent; replacements counted)",
            answer=FeedbackAnswer, body=FeedbackBody, errors=(400, 401, 413, 415), tag="monitoring",
            example=[{"prediction_id": "0" * 32, "congestion": 1}],
            answer_example={"accepted": 1, "replaced": 0, "unchanged": 0, "unknown": [], "invalid": []})
async def feedback(request: web.Request) -> web.Response:
    """`[{"prediction_id", "congestion"} | {"source_ip", "dest_ip", "timestamp_seconds", "congestion"}]`."""
    max_batch = request.app[keys.CONFIG].api.max_batch
    body = await read_json(request)
    if not isinstance(body, list) or not body:
        raise ValidationFailed("the body must be a non-empty list of labels",
                               fields={"body": "expected an array of feedback items"})
    if len(body) > max_batch:
        raise ValidationFailed(f"at most {counted(max_batch, 'label')} per request",
                               fields={"body": f"{counted(len(body), 'item')}, at most {max_batch}"})
    return json_response(await record_feedback(request.app[keys.MONITORING], body))
