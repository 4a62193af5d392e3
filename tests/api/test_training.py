"""Training through the API with the real process pool, a real metadata DB and a real WebSocket."""
from __future__ import annotations

import asyncio
import os
import signal

import pytest

from server import keys
from server.app import create_app
from tests.backends import execute_sql
from tests.conftest import check_error, check_json

PHASES = ["data", "features", "training", "scoring", "shap", "plots", "save"]
JSON = {"Content-Type": "application/json"}


async def next_event(ws, kind: str, timeout: float = 120.0) -> dict:
    """Read WebSocket events until one of the given type arrives."""
    async def _read():
        while True:
            event = await ws.receive_json()
            if event["type"] == kind:
                return event
    return await asyncio.wait_for(_read(), timeout)


async def collect_until(ws, final: set[str], timeout: float = 180.0) -> list[dict]:
    """All events up to and including the first whose type is in `final`."""
    events: list[dict] = []

    async def _read():
        while True:
            event = await ws.receive_json()
            events.append(event)
            if event["type"] in final:
                return
    await asyncio.wait_for(_read(), timeout)
    return events


@pytest.mark.slow
async def test_a_run_streams_every_phase_in_order_and_registers_a_version(client, trained_config):
    ws = await client.ws_connect("/ws")
    hello = await ws.receive_json()
    assert hello["type"] == "hello"
    started = await check_json(await client.post("/api/train/async", json={}), 202)
    run_id = started["run_id"]

    second = await check_error(await client.post("/api/train/async", json={}), 409, "conflict")
    assert second["run_id"] == run_id

    events = await collect_until(ws, {"run_finished", "run_failed"})
    assert events[-1]["type"] == "run_finished", events[-1]
    finished = [e["phase"] for e in events if e["type"] == "phase_finished"]
    assert finished == PHASES
    assert all(e["duration_s"] >= 0 for e in events if e["type"] == "phase_finished")
    assert [e["phase"] for e in events if e["type"] == "phase_started"] == PHASES
    progress = [e for e in events if e["type"] == "progress"]
    assert progress and progress[-1]["done"] == progress[-1]["total"]
    activated = await next_event(ws, "version_activated")
    assert activated["version"] == events[-1]["version"]
    await ws.close()

    run = await check_json(await client.get(f"/api/train/runs/{run_id}"), 200)
    assert run["status"] == "succeeded" and run["version_id"] is not None
    assert [p["name"] for p in run["phases"]] == PHASES
    versions = (await check_json(await client.get("/api/versions/detail"), 200))["versions"]
    newest = versions[0]
    assert newest["timestamp"] == activated["version"] and newest["active"]
    assert set(newest["phase_durations"]) == set(PHASES)
    metrics = await check_json(await client.get("/api/metrics"), 200)
    assert metrics["version"] == newest["timestamp"]


@pytest.mark.slow
async def test_killing_the_worker_fails_the_run_and_the_next_run_succeeds(client):
    ws = await client.ws_connect("/ws")
    await ws.receive_json()
    run_id = (await check_json(await client.post("/api/train/async", json={}), 202))["run_id"]
    await next_event(ws, "phase_started")
    pool = client.app[keys.TRAINING].pool
    pids = pool.worker_pids()
    assert pids
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    failed = await next_event(ws, "run_failed")
    assert failed["run_id"] == run_id
    assert "died" in failed["error"]
    run = await check_json(await client.get(f"/api/train/runs/{run_id}"), 200)
    assert run["status"] == "failed" and "died" in run["error"]

    second = (await check_json(await client.post("/api/train/async", json={}), 202))["run_id"]
    done = await next_event(ws, "run_finished")
    assert done["run_id"] == second
    await ws.close()


@pytest.mark.slow
async def test_cancel_stops_the_run_and_records_it(client):
    ws = await client.ws_connect("/ws")
    await ws.receive_json()
    run_id = (await check_json(await client.post("/api/train/async", json={}), 202))["run_id"]
    await next_event(ws, "phase_started")
    body = await check_json(await client.post(f"/api/train/{run_id}/cancel"), 200)
    assert body["cancelled"] is True
    assert body["run"]["status"] == "cancelled"
    again = await check_json(await client.post(f"/api/train/{run_id}/cancel"), 200)
    assert again["cancelled"] is False
    await ws.close()


async def test_a_training_error_fails_the_run_with_its_message(aiohttp_client, trained_workdir, tmp_path):
    from tests.conftest import tiny_config

    flows = tmp_path / "one_class.csv"
    rows = ["packet_size,bytes_sent,source_ip,dest_ip,protocol,timestamp_seconds,congestion"]
    rows += [f"500,{1000 + i},10.0.0.{i % 200},10.0.1.5,TCP,{1700000000 + i * 10},0" for i in range(300)]
    flows.write_text("\n".join(rows) + "\n")
    config = tiny_config(trained_workdir, CONGESTION_DATA__PATH=str(flows))
    client = await aiohttp_client(create_app(config))
    body = await check_json(await client.post("/api/train", json={}), 200)
    assert body["status"] == "failed"
    assert "class" in body["error"].lower()
    pids_before = client.app[keys.TRAINING].pool.worker_pids()
    assert pids_before, "a training error must not kill or rebuild the pool"


async def test_runs_left_running_are_marked_interrupted_at_start_up(aiohttp_client, trained_config, trained_workdir):
    [(run_id,)] = execute_sql(
        trained_workdir,
        "insert into training_runs (status, trigger, model_type, config_snapshot, started_at) "
        "values ('running', 'api', 'random_forest', '{}', '2026-01-01 00:00:00.000000')",
        "select max(id) from training_runs")
    client = await aiohttp_client(create_app(trained_config))
    run = await check_json(await client.get(f"/api/train/runs/{run_id}"), 200)
    assert run["status"] == "interrupted"
    assert run["error"]


@pytest.mark.parametrize("body, field", [
    ({"model_type": "svm"}, "model_type"),
    ({"search_iterations": 0}, "search_iterations"),
    ({"search_iterations": True}, "search_iterations"),
    ({"rows": "many"}, "rows"),
    ({"surprise": 1}, "surprise"),
])
async def test_bad_training_overrides_are_400_naming_the_field(client, body, field):
    await check_error(await client.post("/api/train/async", json=body), 400, "validation_error", field)


async def test_training_body_must_be_json(client):
    response = await client.post("/api/train/async", data="model_type=svm",
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    await check_error(response, 415, "unsupported_media_type")


async def test_unknown_run_is_404_and_malformed_id_400(client):
    await check_error(await client.get("/api/train/runs/999999"), 404, "not_found")
    await check_error(await client.get("/api/train/runs/abc"), 400, "validation_error", "run_id")
