"""Training on a real 2-worker LocalCluster: quality equal to local, served like any version, failures clean."""
from __future__ import annotations

from pathlib import Path

import pytest

from server import keys
from server.app import create_app
from server.config import load_config
from server.ml.worker import load_pipeline, run_training
from server.services.fastforest import XGBoostRuntime, build_runtime
from tests.api.test_training import PHASES, collect_until, next_event
from tests.conftest import TINY_ENV, check_json, s3_environ_overrides, tiny_config
from tests.scale.conftest import dense_flows

pytestmark = pytest.mark.slow

FLOW = {"packet_size": 600, "bytes_sent": 2400, "source_ip": "192.168.1.10", "dest_ip": "10.0.0.50",
        "protocol": "TCP", "timestamp_seconds": 1700000000, "hour": 12}
ONE_XGB = "{n_estimators: [60], max_depth: [4], learning_rate: [0.1]}"


def spec_for(engine: str, scheduler: str, rows: int = 6000) -> dict:
    config = load_config(environ={**TINY_ENV, "CONGESTION_MODEL__XGBOOST__PARAM_GRID": ONE_XGB})
    return {"config": config.ml_snapshot(), "model_type": "xgboost", "rows": rows, "seed": 7,
            "search_iterations": 1, "engine": engine,
            "dask": {"scheduler": scheduler, "partition_rows": 1000}}


def test_dask_model_equals_the_local_one_in_quality_on_the_same_rows(dask_cluster):
    local = run_training(spec_for("local", dask_cluster))
    events: list[dict] = []
    remote = run_training(spec_for("dask", dask_cluster), events.append)
    assert remote["data_summary"]["engine"] == "dask" and remote["data_summary"]["partitions"] == 6
    assert remote["data_summary"]["rows"] == local["data_summary"]["rows"] == 6000
    assert abs(remote["metrics"]["auc_roc"] - local["metrics"]["auc_roc"]) <= 0.01, (remote["metrics"], local["metrics"])
    assert [e["phase"] for e in events if e["type"] == "phase_finished"] == PHASES[:-1]
    pipeline = load_pipeline(remote["pipeline"])  # an ordinary single-process pipeline
    model = pipeline.named_steps["model"]
    runtime = build_runtime(model)
    assert isinstance(runtime, XGBoostRuntime)
    rows = dense_flows(50)
    import numpy as np
    from server.ml.windows import compute_aggregates

    X = pipeline.named_steps["features"].transform(
        rows.assign(**compute_aggregates(rows, (60, 600), 24)))
    np.testing.assert_allclose(runtime.positive_proba(X), model.predict_proba(X)[:, 1], rtol=1e-6)


def write_dataset(folder: Path, rows: int = 4000, files: int = 4) -> None:
    """A partitioned Parquet dataset (one file per time slice)."""
    df = dense_flows(rows, squeeze=20).drop(columns=["p_true"])
    folder.mkdir(parents=True)
    edges = [round(i * len(df) / files) for i in range(files + 1)]
    for i in range(files):
        df.iloc[edges[i]:edges[i + 1]].to_parquet(folder / f"part-{i:03d}.parquet", index=False)


async def test_api_trains_on_s3_parquet_with_dask_and_serves_the_version(
        aiohttp_client, dask_cluster, s3_server, s3_url, tmp_path):
    write_dataset(tmp_path / "flows")
    bucket, prefix = s3_url[5:].split("/", 1)
    client_s3 = s3_server.client()
    for path in sorted((tmp_path / "flows").iterdir()):
        client_s3.upload_file(str(path), bucket, f"{prefix}/flows/{path.name}")
    config = tiny_config(tmp_path / "work", **s3_environ_overrides(s3_server, s3_url),
                         CONGESTION_TRAINING__ENGINE="dask", CONGESTION_TRAINING__DASK__SCHEDULER=dask_cluster,
                         CONGESTION_DATA__PATH=f"{s3_url}/flows/")
    client = await aiohttp_client(create_app(config))
    ws = await client.ws_connect("/ws")
    await ws.receive_json()
    await check_json(await client.post("/api/train/async", json={"model_type": "random_forest"}), 202)
    events = await collect_until(ws, {"run_finished", "run_failed"}, timeout=240)
    assert events[-1]["type"] == "run_finished", events[-1]
    assert [e["phase"] for e in events if e["type"] == "phase_started"] == PHASES
    assert any(e["type"] == "progress" for e in events)
    activated = await next_event(ws, "version_activated")
    await ws.close()
    bundle = client.app[keys.INFERENCE].bundle
    assert bundle.version == activated["version"] and isinstance(bundle.runtime, XGBoostRuntime)
    assert type(bundle.pipeline.named_steps["model"]).__name__ == "XGBRFClassifier"
    body = await check_json(await client.post("/api/predict", json=FLOW), 200)
    assert body["version"] == activated["version"] and 0 <= body["probability"] <= 1
    detail = (await check_json(await client.get("/api/versions/detail"), 200))["versions"][0]
    assert detail["metrics"]["samples"] == 4000


CLUSTER_SCRIPT = """
import sys, dask
from distributed import LocalCluster
with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address="127.0.0.1:0",
                           memory_limit="1GiB")
print(cluster.scheduler_address, flush=True)
sys.stdin.read()  # until the test closes our stdin
cluster.close()
"""


@pytest.fixture
def fragile_cluster():
    """A 2-worker cluster in its own process (as a real cluster is: XGBoost's tracker runs in the
    scheduler's process and may abort it when a worker dies) that does not retry a task whose
    worker died (allowed-failures 0), so a kill mid-fit must fail the run, not be absorbed."""
    import subprocess
    import sys

    process = subprocess.Popen([sys.executable, "-c", CLUSTER_SCRIPT], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True)
    try:
        address = process.stdout.readline().strip()
        assert address.startswith("tcp://"), "the cluster did not start"
        yield address
    finally:
        process.stdin.close()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        process.stdout.close()


def _versions_and_artifacts(config) -> tuple:
    from tests.backends import execute_sql

    return tuple(execute_sql(config.storage.database_url, sql)[0][0] for sql in (
        "SELECT count(*) FROM model_versions", "SELECT count(*) FROM artifacts"))


async def test_a_worker_killed_mid_fit_fails_the_run_cleanly_and_the_next_run_works(
        aiohttp_client, fragile_cluster, tmp_path):
    import asyncio
    import os
    import signal

    from distributed import Client

    from tests.backends import execute_sql

    slow_fit = "{n_estimators: [400], max_depth: [6], learning_rate: [0.05]}"
    config = tiny_config(tmp_path / "work", CONGESTION_TRAINING__ENGINE="dask",
                         CONGESTION_TRAINING__DASK__SCHEDULER=fragile_cluster, CONGESTION_DATA__ROWS="20000",
                         CONGESTION_MODEL__XGBOOST__PARAM_GRID=slow_fit)
    client = await aiohttp_client(create_app(config))
    before = _versions_and_artifacts(config)
    ws = await client.ws_connect("/ws")
    await ws.receive_json()
    await check_json(await client.post("/api/train/async", json={"model_type": "xgboost"}), 202)
    # Read events all along: the server pings every 20 s and drops a client that does not answer.
    collecting = asyncio.ensure_future(collect_until(ws, {"run_finished", "run_failed"}, timeout=300))
    with Client(fragile_cluster, timeout="30s") as dask:
        # Kill a worker while it runs XGBoost's fit: xgboost.dask submits it, on each worker that
        # holds training partitions, as a task named `fn` (map_worker_partitions).
        for _ in range(1200):
            fitting = [w for w, keys in dask.processing().items() if any(str(k).startswith("fn-") for k in keys)]
            if fitting:
                break
            await asyncio.sleep(0.1)
        assert fitting, "the final fit never started on the cluster"
        pid = dask.run(os.getpid, workers=fitting[:1])[fitting[0]]
    os.kill(pid, signal.SIGKILL)
    events = await collecting
    failed = events[-1]
    assert failed["type"] == "run_failed", failed
    assert "Dask workers were lost" in failed["error"], failed["error"]
    assert _versions_and_artifacts(config) == before, "nothing half-registered"
    (status,), = execute_sql(config.storage.database_url, "SELECT status FROM training_runs ORDER BY id DESC LIMIT 1")
    assert status == "failed"

    # The server is not wedged: its next run (on a LocalCluster of its own, since XGBoost's tracker
    # may have taken the killed cluster's scheduler down with the worker) trains and registers.
    quick = tiny_config(tmp_path / "work", CONGESTION_TRAINING__ENGINE="dask",
                        CONGESTION_TRAINING__DASK__SCHEDULER="local", CONGESTION_DATA__ROWS="4000",
                        CONGESTION_MODEL__XGBOOST__PARAM_GRID=ONE_XGB)
    await ws.close()
    await client.close()
    client = await aiohttp_client(create_app(quick))
    started = await check_json(await client.post("/api/train/async", json={"model_type": "xgboost"}), 202)
    await client.app[keys.TRAINING].wait(started["run_id"])
    (status,), = execute_sql(config.storage.database_url,
                             f"SELECT status FROM training_runs WHERE id = {started['run_id']}")
    assert status == "succeeded"
    assert _versions_and_artifacts(quick)[0] == before[0] + 1
