"""The threshold as an audited, cost-aware setting: curve, change, use, and servers that follow."""

import json

import numpy as np
import pytest

from server import keys
from server.app import create_app
from server.ml.threshold import threshold_curve
from tests.backends import execute_sql
from tests.conftest import check_error, check_json

RECORD = {"packet_size": 600, "bytes_sent": 2400, "source_ip": "192.168.1.10", "dest_ip": "10.0.0.50",
          "protocol": "TCP", "timestamp_seconds": 1700000000}


async def _active(client) -> dict:
    versions = (await check_json(await client.get("/api/versions/detail"), 200))["versions"]
    return next(v for v in versions if v["active"])


async def test_curve_equals_the_stored_holdout_and_recommends_the_cost_minimum(client):
    active = await _active(client)
    curve = await check_json(await client.get("/api/threshold/curve?cost_fn=8&cost_fp=1"), 200)
    holdout_name = next(a["name"] for a in active["artifacts"] if a["kind"] == "holdout")
    holdout = json.loads(await (await client.get(f"/download/version/{holdout_name}")).read())
    expected = threshold_curve(np.array(holdout["y"]), np.array(holdout["proba"]), 8.0, 1.0)
    assert curve["version"] == active["timestamp"] and curve["source"] == "holdout"
    assert curve["points"] == expected["points"]
    assert curve["recommended"]["cost"] == min(p["cost"] for p in curve["points"])
    assert curve["rows"] == active["metrics"]["test_samples"]
    assert curve["live_threshold"] == 0.5


@pytest.mark.parametrize("query,field", [("cost_fn=-1", "cost_fn"), ("cost_fp=nan", "cost_fp"),
                                         ("cost_fn=abc", "cost_fn"), ("version=latest", "version")])
async def test_curve_rejects_bad_parameters_naming_them(client, query, field):
    error = await check_error(await client.get(f"/api/threshold/curve?{query}"), 400, field=field)
    assert "timestamp" not in error["fields"], error


async def test_curve_names_every_bad_parameter_at_once(client):
    error = await check_error(await client.get("/api/threshold/curve?cost_fn=-1&cost_fp=nan&version=latest"), 400)
    assert set(error["fields"]) == {"cost_fn", "cost_fp", "version"}, error


@pytest.mark.parametrize("path", ["/api/threshold", "/api/threshold/curve"])
async def test_a_malformed_version_query_is_named_version(client, path):
    error = await check_error(await client.get(f"{path}?version=latest"), 400, "validation_error", "version")
    assert "timestamp" not in error["fields"] and "timestamp" not in error["message"], error


@pytest.mark.parametrize("path", ["/api/threshold", "/api/threshold/curve"])
async def test_an_unknown_version_query_is_a_404_naming_version(client, path):
    error = await check_error(await client.get(f"{path}?version=20000101_000000"), 404, "not_found", "version")
    assert "20000101_000000" in error["message"], error


async def test_curve_of_an_unknown_version_is_404(client):
    await check_error(await client.get("/api/threshold/curve?version=20000101_000000"), 404)


async def test_a_threshold_change_is_audited_and_used_by_predictions(client, trained_config):
    active = await _active(client)
    changed = await check_json(await client.post(
        "/api/threshold", json={"threshold": 0.3, "reason": "misses cost more than alarms", "cost_fn": 8}), 200)
    assert changed["previous"] == 0.5 and changed["threshold"] == 0.3 and changed["version"] == active["timestamp"]
    assert changed["cost_new"] != changed["cost_old"]

    answer = await check_json(await client.post("/api/predict?observe=false", json=RECORD), 200)
    assert answer["threshold"] == 0.3 and answer["prediction"] == int(answer["probability"] >= 0.3)
    explicit = await check_json(await client.post("/api/predict?observe=false&threshold=0.9", json=RECORD), 200)
    assert explicit["threshold"] == 0.9

    history = await check_json(await client.get("/api/threshold"), 200)
    assert history["threshold"] == 0.3 and history["changes"][0]["old"] == 0.5
    assert history["changes"][0]["reason"] == "misses cost more than alarms"
    rows = execute_sql(trained_config.storage.database_url, "SELECT kind, actor, evidence FROM model_events "
                             "WHERE kind = 'threshold_changed'")
    assert len(rows) == 1 and rows[0][1] == "api"
    evidence = rows[0][2] if isinstance(rows[0][2], dict) else json.loads(rows[0][2])
    assert evidence["old"] == 0.5 and evidence["new"] == 0.3 and evidence["cost_fn"] == 8


async def test_another_server_on_the_same_database_follows_the_change(client, aiohttp_client, trained_config):
    other = await aiohttp_client(create_app(trained_config))
    await check_json(await client.post("/api/threshold", json={"threshold": 0.25, "reason": "tuned"}), 200)
    await other.app[keys.REGISTRY].follow_database()
    answer = await check_json(await other.post("/api/predict?observe=false", json=RECORD), 200)
    assert answer["threshold"] == 0.25


@pytest.mark.parametrize("body,field", [
    ({"threshold": 1.5, "reason": "x"}, "threshold"),
    ({"threshold": True, "reason": "x"}, "threshold"),
    ({"threshold": 0.4}, "reason"),
    ({"threshold": 0.4, "reason": "   "}, "reason"),
    ({"threshold": 0.4, "reason": "x" * 501}, "reason"),
    ({"threshold": 0.4, "reason": "x", "colour": "red"}, "colour"),
    ({"threshold": 0.4, "reason": "x", "cost_fp": -2}, "cost_fp"),
    ({"threshold": 0.4, "reason": "x", "version": 7}, "version"),
])
async def test_bad_threshold_changes_are_400_naming_the_field(client, body, field):
    await check_error(await client.post("/api/threshold", json=body), 400, field=field)
    history = await check_json(await client.get("/api/threshold"), 200)
    assert history["changes"] == [] and history["threshold"] == 0.5


async def test_a_bad_version_in_the_body_is_named_version(client):
    body = {"threshold": 0.4, "reason": "x"}
    error = await check_error(await client.post("/api/threshold", json={**body, "version": "latest"}), 400,
                              "validation_error", "version")
    assert "timestamp" not in error["fields"] and "timestamp" not in error["message"], error
    await check_error(await client.post("/api/threshold", json={**body, "version": "20000101_000000"}), 404,
                      "not_found", "version")


async def test_a_threshold_change_with_several_bad_fields_names_them_all_at_once(client):
    body = {"threshold": 1.5, "reason": " ", "version": "latest", "cost_fn": -1, "cost_fp": "abc", "colour": "red"}
    error = await check_error(await client.post("/api/threshold", json=body), 400, "validation_error")
    assert set(error["fields"]) == {"threshold", "reason", "version", "cost_fn", "cost_fp", "colour"}, error
    history = await check_json(await client.get("/api/threshold"), 200)
    assert history["changes"] == [] and history["threshold"] == 0.5


async def test_no_active_version_is_404(empty_client):
    await check_error(await empty_client.get("/api/threshold/curve"), 404)
    await check_error(await empty_client.post("/api/threshold", json={"threshold": 0.4, "reason": "x"}), 404)
