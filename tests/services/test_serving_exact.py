"""The fast path equals the reference path bit for bit; a failed item never counts twice (item 8)."""
from __future__ import annotations

import asyncio

import numpy as np
import pytest

from server.errors import ValidationFailed
from server.services.inference import InferenceService, prepare_bundle
from tests.services.test_inference import _stream


@pytest.fixture
async def service():
    """A service without a model; closed after the test."""
    svc = InferenceService(max_window_keys=100_000)
    yield svc
    await svc.close()


@pytest.mark.parametrize("kind", ["forest_pipeline", "xgb_pipeline"])
async def test_fast_path_gives_sklearns_probabilities_exactly(kind, request, service):
    """1,000 generated records, single and batched, concurrent and not: predict_proba's numbers to the last bit."""
    pipeline, _ = request.getfixturevalue(kind)
    service.swap(prepare_bundle("20240101_000000", kind, pipeline))
    df, records = _stream(1000, seed=21)
    features = pipeline.named_steps["features"].transform(df)  # the vectorised (offline) features
    expected = pipeline.named_steps["model"].predict_proba(features)[:, 1]
    got: list[float] = []
    sizes = [1, 7, 100, 1, 1, 300]
    start = 0
    while start < len(records):
        for size in sizes:
            chunk = records[start:start + size]
            if chunk:
                got.extend((await service.predict(chunk)).probabilities)
            start += size
        burst = records[start:start + 32]  # 32 concurrent single-record requests share a batch
        answers = await asyncio.gather(*(service.predict([r]) for r in burst))
        got.extend(a.probabilities[0] for a in answers)
        start += len(burst)
    assert len(got) == len(records)
    np.testing.assert_array_equal(np.asarray(got), expected)


async def test_a_failed_item_in_a_batch_counts_nothing_and_others_count_once(forest_pipeline, service):
    """Item 8: a bad item beside a good one in one batch: the good flow is counted once, the bad not at all."""
    pipeline, _ = forest_pipeline
    service.swap(prepare_bundle("20240101_000000", "random_forest", pipeline))
    good = {"packet_size": 600, "bytes_sent": 2400, "source_ip": "10.7.7.7", "dest_ip": "10.0.0.50",
            "protocol": "TCP", "timestamp_seconds": 1_700_000_000}
    bad = {**good, "source_ip": "10.8.8.8", "dest_ip": "10.99.0.1", "hour": 30}  # fails in the feature step
    results = await asyncio.gather(service.predict([good]), service.predict([good, bad]),
                                   service.predict([good]), return_exceptions=True)
    assert service.batcher.batches == 1, "the three requests shared one batch"
    assert isinstance(results[1], ValidationFailed) and "hour" in results[1].fields
    assert not isinstance(results[0], Exception) and not isinstance(results[2], Exception)
    windows = service._windows
    assert windows is not None
    assert windows.peek(good)["src_flows_60s"] == 3.0, "two good flows counted once each, plus this one"
    assert windows.peek(bad)["src_flows_60s"] == 1.0, "the failed request's flows were never counted"
    assert windows.peek(bad)["dst_subnet_flows_60s"] == 1.0
