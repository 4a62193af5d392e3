"""Retraining from the field: exactly the labelled rows of the range, and the version shadows."""

import asyncio

import pytest

from server import keys
from server.app import create_app
from server.ml.generator import generate_flows
from server.ml.schema import FLOW_COLUMNS
from tests.backends import execute_sql
from tests.conftest import check_error, check_json, tiny_config

SMALL = {"CONGESTION_VERSIONING__FOLLOW_INTERVAL_S": "0", "CONGESTION_MONITORING__FLUSH_INTERVAL_S": "0.1"}


async def _serve_and_label(client, config, n: int = 400, seed: int = 21) -> tuple[list[dict], list[int]]:
    flows = generate_flows(n, seed)
    records = [{k: (int(v) if k == "timestamp_seconds" else v) for k, v in r.items()}
               for r in flows[list(FLOW_COLUMNS)].to_dict("records")]
    answers = []
    for start in range(0, n, 200):
        answers += await check_json(await client.post("/api/predict", json=records[start:start + 200]), 200)
    for _ in range(100):  # the log writer flushes every 0.1 s here
        (count,), = execute_sql(config.storage.database_url, "SELECT count(*) FROM predictions")
        if count >= n:
            break
        await asyncio.sleep(0.1)
    labels = [int(v) for v in flows["congestion"]]
    body = [{"prediction_id": a["prediction_id"], "congestion": y} for a, y in zip(answers, labels)]
    result = await check_json(await client.post("/api/feedback", json=body), 200)
    assert result["accepted"] == n
    return records, labels


@pytest.mark.slow
async def test_a_feedback_retrain_uses_exactly_the_labelled_rows_in_range_and_shadows(aiohttp_client, trained_workdir):
    config = tiny_config(trained_workdir, **SMALL)
    client = await aiohttp_client(create_app(config))
    records, _ = await _serve_and_label(client, config)
    times = sorted(r["timestamp_seconds"] for r in records)
    since, until = times[40], times[-40]  # a range that leaves rows out at both ends
    expected = sum(since <= t < until for t in times)

    run = await check_json(await client.post("/api/train", json={
        "source": "feedback", "since": since, "until": until, "shadow": True}), 200)
    assert run["status"] == "succeeded", run
    assert run["config_snapshot"]["feedback"]["labelled_rows"] == expected
    versions = (await check_json(await client.get("/api/versions/detail"), 200))["versions"]
    newest = versions[0]
    assert newest["timestamp"] != next(v["timestamp"] for v in versions if v["active"])  # not serving
    assert client.app[keys.SHADOWS].versions == [newest["timestamp"]]
    rows = execute_sql(config.storage.database_url,
                       "SELECT data_summary FROM model_versions ORDER BY id DESC LIMIT 1")
    summary = rows[0][0] if isinstance(rows[0][0], dict) else __import__("json").loads(rows[0][0])
    assert summary["rows"] == expected
    assert since <= summary["start_timestamp"] and summary["end_timestamp"] < until


async def test_feedback_training_requests_are_checked(client):
    await check_error(await client.post("/api/train", json={"source": "feedback", "since": "yesterday"}),
                      400, field="since")
    await check_error(await client.post("/api/train", json={"since": 1700000000}), 400, field="source")
    await check_error(await client.post("/api/train", json={"source": "logs"}), 400, field="source")
    await check_error(await client.post("/api/train", json={"source": "feedback", "shadow": "yes"}),
                      400, field="shadow")
    await check_error(await client.post("/api/train", json={"source": "feedback", "since": 20, "until": 10}),
                      400, field="until")
    # Nothing is labelled in this store yet: 409 before any run is created.
    await check_error(await client.post("/api/train", json={"source": "feedback"}), 409)
    runs = await check_json(await client.get("/api/train/runs"), 200)
    assert runs["active_run_id"] is None


@pytest.mark.slow
async def test_the_schedule_trigger_waits_for_labels_then_retrains_into_shadow(aiohttp_client, trained_workdir):
    config = tiny_config(trained_workdir, **SMALL, CONGESTION_RETRAIN__SCHEDULE="1s",
                         CONGESTION_RETRAIN__DEBOUNCE_S="0", CONGESTION_RETRAIN__MIN_NEW_LABELS="100")
    client = await aiohttp_client(create_app(config))
    triggers = client.app[keys.TRIGGERS]
    import time

    assert await triggers.check(now=time.time() + 5) is None  # schedule due, but no labels yet
    await _serve_and_label(client, config, n=300, seed=23)
    run_id = await triggers.check(now=time.time() + 5)
    assert run_id is not None and "schedule" in triggers.last_reason
    await client.app[keys.TRAINING].wait(run_id)
    (status,), = execute_sql(config.storage.database_url, f"SELECT status FROM training_runs WHERE id = {run_id}")
    assert status == "succeeded"
    assert len(client.app[keys.SHADOWS].versions) == 1
    assert await triggers.check(now=time.time() + 5) is None  # the labels were used: none new


async def test_a_due_retrain_waits_while_the_lookback_range_holds_too_few_labels(aiohttp_client, trained_workdir):
    """Enough new labels, but spread over more flow time than retrain.lookback_s: no doomed run."""
    config = tiny_config(trained_workdir, **SMALL, CONGESTION_RETRAIN__SCHEDULE="1s",
                         CONGESTION_RETRAIN__DEBOUNCE_S="0", CONGESTION_RETRAIN__MIN_NEW_LABELS="100",
                         CONGESTION_RETRAIN__LOOKBACK_S="60")
    client = await aiohttp_client(create_app(config))
    triggers = client.app[keys.TRIGGERS]
    records, _ = await _serve_and_label(client, config, n=300, seed=23)
    newest = max(r["timestamp_seconds"] for r in records)
    in_last_minute = sum(r["timestamp_seconds"] >= newest - 60 for r in records)
    assert in_last_minute < 100  # the premise: 300 labels, but not 100 within the range

    import time

    runs_before = execute_sql(config.storage.database_url, "SELECT count(*) FROM training_runs")
    assert await triggers.check(now=time.time() + 5) is None
    assert f"holds {in_last_minute} labelled predictions" in triggers.waiting_for
    assert execute_sql(config.storage.database_url, "SELECT count(*) FROM training_runs") == runs_before
