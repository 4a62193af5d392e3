"""Cancel is exact at every phase boundary, and the pool serves the next run (issue 11 item 4)."""
from __future__ import annotations

import asyncio
import os
import signal

import pytest

from server import keys
from tests.api.test_training import PHASES
from tests.conftest import check_json

pytestmark = pytest.mark.slow

# Each worker phase starting, the server-side save starting, and the run's very end.
BOUNDARIES = [("phase_started", phase) for phase in PHASES] + [("phase_finished", "save")]
ENDED = {"run_finished", "run_failed"}


async def _until(ws, run_id: int, kind: str, phase: str | None = None, timeout: float = 180.0) -> dict:
    """The first event of this run with this type (and phase); fails if the run ends first."""
    async def _read():
        while True:
            event = await ws.receive_json()
            if event.get("run_id") != run_id:
                continue
            if event["type"] == kind and (phase is None or event.get("phase") == phase):
                return event
            assert event["type"] not in ENDED, f"run {run_id} ended before {kind} {phase}: {event}"
    return await asyncio.wait_for(_read(), timeout)


async def _versions_of(client, run_id: int) -> list[dict]:
    versions = (await check_json(await client.get("/api/versions/detail"), 200))["versions"]
    return [v for v in versions if v["run_id"] == run_id]


async def test_cancel_at_every_phase_boundary_is_exact_and_the_next_run_starts(client):
    """Either cancelled with nothing registered, or finished with its version; then a new run starts."""
    ws = await client.ws_connect("/ws")
    assert (await ws.receive_json())["type"] == "hello"
    outcomes = {}
    for kind, phase in BOUNDARIES:
        run_id = (await check_json(await client.post("/api/train/async", json={}), 202))["run_id"]
        await _until(ws, run_id, kind, phase)
        body = await check_json(await client.post(f"/api/train/{run_id}/cancel"), 200)
        run, registered = body["run"], await _versions_of(client, run_id)
        if body["cancelled"]:
            assert run["status"] == "cancelled", (phase, run)
            assert run["version_id"] is None and registered == [], f"cancelled at {phase} yet registered"
        else:
            assert run["status"] == "succeeded", (phase, run)
            assert [v["timestamp"] for v in registered] and run["version_id"] is not None
            assert len(registered) == 1, registered
        outcomes[(kind, phase)] = body["cancelled"]

    # A kill inside the worker wins while work is left (plots may just have returned: either is exact);
    # after the save has finished there is nothing left to cancel.
    assert all(outcomes[("phase_started", p)] for p in PHASES[:-2]), outcomes
    assert outcomes[("phase_finished", "save")] is False
    final = (await check_json(await client.post("/api/train/async", json={}), 202))["run_id"]
    await _until(ws, final, "run_finished")
    assert (await check_json(await client.get(f"/api/train/runs/{final}"), 200))["status"] == "succeeded"
    assert client.app[keys.TRAINING].pool.worker_pids(), "the pool has a live worker after it all"
    await ws.close()


async def test_a_worker_killed_while_idle_does_not_fail_the_next_run(client):
    """The OOM killer (or anyone) ends an idle worker: the broken pool is replaced at the next start."""
    pool = client.app[keys.TRAINING].pool
    await pool.warm_up()
    [pid] = pool.worker_pids()
    os.kill(pid, signal.SIGKILL)

    async def _broken():  # the executor notices the death on its own thread
        while not getattr(pool._executor, "_broken", False):
            await asyncio.sleep(0.05)
    await asyncio.wait_for(_broken(), 60)

    ws = await client.ws_connect("/ws")
    assert (await ws.receive_json())["type"] == "hello"
    run_id = (await check_json(await client.post("/api/train/async", json={}), 202))["run_id"]
    await _until(ws, run_id, "run_finished")
    assert (await check_json(await client.get(f"/api/train/runs/{run_id}"), 200))["status"] == "succeeded"
    await ws.close()


async def test_a_save_withdrawn_before_its_transaction_registers_nothing(client, trained_config, trained_workdir):
    """The save-phase half of an exact cancel, without racing a client: no row, no new blob."""
    from server.ml.worker import run_training
    from server.services.registry import SaveWithdrawn

    spec = {"config": trained_config.ml_snapshot(), "model_type": "xgboost", "search_iterations": 1, "seed": 99}
    result = await asyncio.to_thread(run_training, spec)
    blob_root = trained_workdir / "blobs" / "sha256"
    blobs_before = {p.name for p in blob_root.rglob("*") if p.is_file()}
    versions_before = (await check_json(await client.get("/api/versions/detail"), 200))["versions"]
    asked = []

    def proceed() -> bool:
        asked.append({p.name for p in blob_root.rglob("*") if p.is_file()} - blobs_before)
        return False
    with pytest.raises(SaveWithdrawn):
        await client.app[keys.REGISTRY].register(12345, result, actor="api", proceed=proceed)
    assert asked and asked[0], "asked once the new blobs were written, before any row"
    assert {p.name for p in blob_root.rglob("*") if p.is_file()} == blobs_before
    assert (await check_json(await client.get("/api/versions/detail"), 200))["versions"] == versions_before
