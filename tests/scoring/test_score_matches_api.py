"""`congestion score` answers what /api/predict answers for the same rows fed in the same order."""
from __future__ import annotations

import asyncio

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from server.app import create_app
from server.ml.data import write_flows
from tests.conftest import check_json, tiny_config
from tests.scoring.conftest import api_records, flows, score


def _variant(name: str) -> pd.DataFrame:
    frame = flows(2400)
    if name == "late_disorder":  # time-sorted, then out of order: the scorer switches paths mid-stream
        tail = frame.iloc[1800:].sample(frac=1.0, random_state=3)
        frame = pd.concat([frame.iloc[:1800], tail], ignore_index=True)
    elif name == "dense":  # thousands of flows per window: the server's 100-key LRU evicts live keys
        frame = frame.assign(timestamp_seconds=1_704_067_200 + np.arange(len(frame)) // 4)
        frame = frame.assign(hour=(frame["timestamp_seconds"] // 3600) % 24)
    return frame


async def _api(client, frame: pd.DataFrame, threshold: float) -> list[dict]:
    answers = []
    records = api_records(frame)
    for start in range(0, len(records), 1000):
        response = await client.post(f"/api/predict?threshold={threshold}", json=records[start:start + 1000])
        answers += await check_json(response, 200)
    return answers


@pytest.mark.parametrize("variant, suffix", [("sorted", "csv"), ("sorted", "parquet"),
                                             ("late_disorder", "csv"), ("dense", "parquet")])
async def test_score_equals_api_predict(aiohttp_client, trained_workdir, tmp_path, variant, suffix):
    keys = "100" if variant == "dense" else "50000"
    config = tiny_config(trained_workdir, CONGESTION_FEATURES__MAX_WINDOW_KEYS=keys)
    frame = _variant(variant)
    data, out = tmp_path / f"flows.{suffix}", tmp_path / "scored.parquet"
    write_flows(frame, data)

    report = await asyncio.to_thread(score, config, data, out, chunk_rows=700, threshold=0.3)
    client = await aiohttp_client(create_app(config))  # fresh app: empty online window state
    answers = await _api(client, frame, 0.3)

    scored = pq.read_table(out).to_pandas()
    assert report.rows_scored == len(frame) == len(scored) and report.bad_count == 0
    np.testing.assert_allclose(scored["probability"], [a["probability"] for a in answers], rtol=0, atol=1e-6)
    assert scored["prediction"].tolist() == [a["prediction"] for a in answers]
    assert set(scored["version"]) == {a["version"] for a in answers}
    assert scored.columns.tolist() == [*frame.columns, "probability", "prediction", "version", "prediction_id"]
    assert scored["prediction_id"].is_unique and scored["prediction_id"].is_monotonic_increasing
    assert (report.online_reason is None) == (variant == "sorted")  # the vectorised path where it is exact
    assert scored["source_ip"].tolist() == frame["source_ip"].tolist()
    assert (scored["timestamp_seconds"].to_numpy() == frame["timestamp_seconds"].to_numpy()).all()
