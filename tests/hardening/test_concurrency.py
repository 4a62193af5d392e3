"""Item 4: predictions stay correct while the active version flips underneath them."""
from __future__ import annotations

import asyncio
import io
import sqlite3
import time

import joblib
import numpy as np
import pandas as pd

from server.app import create_app
from server.ml.windows import aggregate_names
from server.store.blobs import LocalBlobStore
from tests.conftest import check_json, tiny_config

N_REQUESTS = 200
N_TOGGLES = 20
BATCH_EVERY = 10      # every 10th request is a batch of BATCH_SIZE records (one version per batch)
BATCH_SIZE = 5
TOLERANCE = 1e-6      # fast runtime vs sklearn/xgboost predict_proba on the same features
BASE = {"protocol": "TCP", "timestamp_seconds": 1_700_000_000, "hour": 12}


def _record(i: int) -> dict:
    """A record whose window aggregates are known: its own source IP and its own /24 dest subnet.

    Each key is seen exactly once, so the online windows give count 1 and bytes = floor(bytes_sent)
    no matter in which order concurrent requests reach the window state.
    """
    return {**BASE, "source_ip": f"10.{i // 250}.{i % 250}.7", "dest_ip": f"172.{16 + i // 250}.{i % 250}.9",
            "packet_size": 40 + (i * 131) % 1460, "bytes_sent": int(50 * 2.2 ** (i % 18)) + i,
            "protocol": ("TCP", "UDP", "ICMP", "GRE")[i % 4], "hour": (i * 5) % 24}


def _versions(workdir) -> dict[str, str]:
    """tag -> sha256 of its pipeline blob."""
    with sqlite3.connect(workdir / "metadata.sqlite3") as conn:
        return dict(conn.execute("select v.tag, a.sha256 from artifacts a join model_versions v "
                                 "on v.id = a.version_id where a.kind = 'pipeline'").fetchall())


def _expected(workdir, records: list[dict]) -> dict[str, np.ndarray]:
    """Each version's own full pipeline (sklearn/xgboost, not the server's fast path) on the records."""
    blobs = LocalBlobStore(workdir / "blobs")
    frame = pd.DataFrame(records)
    expected = {}
    for tag, sha in _versions(workdir).items():
        pipeline = joblib.load(io.BytesIO(blobs.read(sha)))
        windows = pipeline.named_steps["features"].named_transformers["windows"].windows_s
        with_aggs = frame.copy()
        for name in aggregate_names(windows):  # the known single-flow aggregates, passed through
            with_aggs[name] = 1.0 if "flows" in name else frame["bytes_sent"].astype(np.int64).astype(float)
        expected[tag] = pipeline.predict_proba(with_aggs)[:, 1]
    return expected


async def test_predictions_during_twenty_rollbacks_match_the_version_they_name(aiohttp_client, trained_workdir):
    records = [_record(i) for i in range(N_REQUESTS + N_REQUESTS // BATCH_EVERY * BATCH_SIZE)]
    expected = _expected(trained_workdir, records)
    assert len(expected) == 2
    client = await aiohttp_client(create_app(tiny_config(trained_workdir, CONGESTION_API__RATE_LIMIT_PER_S="0")))
    tag_b = (await check_json(await client.get("/api/metrics"), 200))["version"]
    tag_a = next(tag for tag in expected if tag != tag_b)
    distinct = np.abs(expected[tag_a] - expected[tag_b]) > 100 * TOLERANCE
    assert distinct.mean() > 0.5, "the two versions must disagree for the test to tell them apart"

    started = time.monotonic()
    first = await check_json(await client.post(f"/api/versions/rollback/{tag_a}"), 200)
    one_toggle = max(time.monotonic() - started, 0.01)
    assert first["version"] == tag_a

    toggles: list[dict] = []

    async def toggler():
        for k in range(N_TOGGLES):
            target = tag_b if k % 2 == 0 else tag_a
            toggles.append(await check_json(await client.post(f"/api/versions/rollback/{target}"), 200))

    next_batch_record = N_REQUESTS

    async def one_request(i: int):
        nonlocal next_batch_record
        await asyncio.sleep(i * one_toggle * N_TOGGLES / N_REQUESTS)  # spread across the toggling
        if i % BATCH_EVERY == BATCH_EVERY - 1:
            indices = list(range(next_batch_record, next_batch_record + BATCH_SIZE))
            next_batch_record += BATCH_SIZE
            response = await client.post("/api/predict", json=[records[j] for j in indices])
            return indices, await check_json(response, 200)
        response = await client.post("/api/predict", json=records[i])
        return [i], [await check_json(response, 200)]

    results = await asyncio.gather(toggler(), *(one_request(i) for i in range(N_REQUESTS)))
    answers = results[1:]

    seen = {tag_a: 0, tag_b: 0}
    for indices, body in answers:
        assert len({a["version"] for a in body}) == 1, "one request is answered by one version"
        for j, answer in zip(indices, body):
            version = answer["version"]
            assert version in expected, answer
            assert abs(answer["probability"] - expected[version][j]) <= TOLERANCE, (
                f"record {j}: {answer['probability']} from {version}, expected {expected[version][j]}")
            seen[version] += 1
    assert min(seen.values()) > 0, f"both versions must have answered: {seen}"
    assert [t["changed"] for t in toggles] == [True] * N_TOGGLES
    final = tag_b if N_TOGGLES % 2 else tag_a
    assert (await check_json(await client.get("/api/metrics"), 200))["version"] == final
    with sqlite3.connect(trained_workdir / "metadata.sqlite3") as conn:
        (count,) = conn.execute("select count(*) from model_events where kind = 'rolled_back'").fetchone()
    assert count == N_TOGGLES + 1
