"""The pydantic models are the interface: real answers and events parse with them, and record rules
live in one place (validation, bulk scoring and the OpenAPI document all read FlowRecord)."""
from __future__ import annotations

import asyncio

import pytest
from pydantic import TypeAdapter

from server.api.openapi_doc import document
from server.errors import ValidationFailed
from server.schemas import NUMBER_RULES, REQUIRED_FIELDS, check_records
from server.schemas import answers as a
from server.schemas.events import EVENTS
from server.scoring import rows
from tests.api.test_predict import SEED
from tests.api.test_training import collect_until, next_event
from tests.conftest import check_json

HOSTILE = [{**SEED, "packet_size": "600"}, {**SEED, "hour": 23.5}, {**SEED, "source_ip": 5}, 7,
           {**SEED, "protocol": "\x00"}, {**SEED, "dest_ip": "1" * 500}, {"packet_size": 1e999}, [],
           {**SEED, "timestamp_seconds": -1}, {**SEED, "bytes_sent": None}]


def test_the_record_rules_live_in_the_model():
    schema = document()["components"]["schemas"]["FlowRecord"]
    assert tuple(schema["required"]) == REQUIRED_FIELDS
    for name, (low, high, whole) in NUMBER_RULES.items():
        prop = schema["properties"][name]
        assert (prop["minimum"], prop["maximum"], prop["type"] == "integer") == (low, high, whole)
    assert rows.NUMBER_RULES is NUMBER_RULES and set(REQUIRED_FIELDS) < set(rows.REQUIRED)


@pytest.mark.parametrize("body", HOSTILE)
def test_field_errors_are_in_the_projects_words(body):
    with pytest.raises(ValidationFailed) as info:
        check_records([SEED, body], 10)
    assert info.value.fields and all(k.startswith(("[1]", "body")) for k in info.value.fields)
    for message in info.value.fields.values():
        assert "Input should" not in message and "pydantic" not in message.lower(), message


async def test_answers_parse_with_their_models(client):
    one = await check_json(await client.post("/api/predict", json=SEED), 200)
    a.Prediction.model_validate(one)
    many = await check_json(await client.post("/api/predict", json=[SEED, SEED]), 200)
    TypeAdapter(list[a.Prediction]).validate_python(many)
    a.Explanation.model_validate(await check_json(await client.post("/api/explain?n=3", json=SEED), 200))
    a.GlobalExplanation.model_validate(await check_json(await client.get("/api/explain/global"), 200))
    versions = a.VersionList.model_validate(await check_json(await client.get("/api/versions/detail"), 200))
    assert versions.versions and isinstance(versions.versions[0].metrics, a.Metrics)
    a.ActiveMetrics.model_validate(await check_json(await client.get("/api/metrics"), 200))
    a.MetricsHistory.model_validate(await check_json(await client.get("/api/metrics/history"), 200))
    runs = a.RunList.model_validate(await check_json(await client.get("/api/train/runs"), 200))
    a.Run.model_validate(await check_json(await client.get(f"/api/train/runs/{runs.runs[0].id}"), 200))
    a.Readiness.model_validate(await check_json(await client.get("/readyz"), 200))
    error = await client.post("/api/predict", json={**SEED, "hour": 99})
    body = a.ErrorBody.model_validate(await error.json())
    assert body.error.fields == {"hour": "must be between 0 and 23"}


@pytest.mark.slow
async def test_every_event_of_a_run_parses_with_its_model(client):
    ws = await client.ws_connect("/ws")
    sse = await client.get("/api/train/events")
    frames = [await ws.receive_json()]
    await check_json(await client.post("/api/train/async", json={}), 202)
    frames += await collect_until(ws, {"run_finished", "run_failed"})
    frames.append(await next_event(ws, "version_activated"))
    await ws.close()
    kinds = {type(EVENTS.validate_python(frame)).__name__ for frame in frames}
    assert {"Hello", "RunStarted", "PhaseStarted", "PhaseFinished", "Progress", "RunFinished",
            "VersionActivated"} <= kinds
    sse_events = 0
    while sse_events < len(frames) - 1:  # the same events, minus the WebSocket's hello
        line = await asyncio.wait_for(sse.content.readline(), 30)
        if line.startswith(b"data: "):
            EVENTS.validate_json(line[6:])
            sse_events += 1
    sse.close()
