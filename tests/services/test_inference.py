"""The serving service: online features equal the reference pipeline, alignment, explanations."""
from __future__ import annotations

import asyncio

import numpy as np
import pytest

from server.errors import Unavailable
from server.ml.generator import generate_flows
from server.services.inference import Alignment, InferenceService, prepare_bundle

RAW = ("packet_size", "bytes_sent", "source_ip", "dest_ip", "protocol", "timestamp_seconds", "hour")


@pytest.fixture
async def service():
    """A service without a model; closed after the test."""
    svc = InferenceService(max_window_keys=100_000)
    yield svc
    await svc.close()


def _stream(rows: int, seed: int):
    """Generated flows in stream (timestamp) order, as a frame and as plain records."""
    df = generate_flows(rows, seed=seed).sort_values("timestamp_seconds", kind="stable").reset_index(drop=True)
    df = df[list(RAW)]
    records = [{k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}
               for row in df.to_dict(orient="records")]
    return df, records


@pytest.mark.parametrize("kind", ["forest_pipeline", "xgb_pipeline"])
async def test_online_path_equals_reference_pipeline(kind, request, service):
    """Streaming 3,000 records through predict gives the offline pipeline's probabilities."""
    pipeline, _ = request.getfixturevalue(kind)
    service.swap(prepare_bundle("20240101_000000", kind, pipeline))
    df, records = _stream(3000, seed=5)
    expected = pipeline.predict_proba(df)[:, 1]
    got = []
    for start in range(0, len(records), 100):
        got.extend((await service.predict(records[start:start + 100])).probabilities)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)


async def test_concurrent_requests_share_batches_and_keep_order(forest_pipeline, service):
    """64 concurrent single-record requests each get their own record's answer."""
    pipeline, _ = forest_pipeline
    service.swap(prepare_bundle("20240101_000000", "random_forest", pipeline))
    df, records = _stream(64, seed=8)
    expected = pipeline.predict_proba(df)[:, 1]
    results = await asyncio.gather(*(service.predict([r]) for r in records))
    np.testing.assert_allclose([r.probabilities[0] for r in results], expected, rtol=0, atol=1e-6)
    assert service.batcher.batches < 64


async def test_no_model_is_unavailable(service):
    """Predicting without an active bundle is a 503-class error."""
    with pytest.raises(Unavailable):
        await service.predict([{"packet_size": 1}])


def test_alignment_fills_and_drops():
    """Recorded order wins; a missing column is filled, an unknown one dropped, both reported."""
    align = Alignment.between(("b", "gone", "a"), ["a", "b", "new"])
    assert align.apply([1.0, 2.0, 3.0]) == [2.0, 0.0, 1.0]
    assert any("gone" in w for w in align.warnings) and any("new" in w for w in align.warnings)
    assert Alignment.between(("a", "b"), ["a", "b"]).identity


def test_bundle_with_reordered_recorded_names_still_predicts(forest_pipeline):
    """A version that recorded the same features in another order is served in that order."""
    pipeline, X = forest_pipeline
    names = list(pipeline.named_steps["features"].get_feature_names_out())
    bundle = prepare_bundle("20240101_000000", "random_forest", pipeline, tuple(names))
    assert bundle.alignment.identity and bundle.alignment.warnings == ()


@pytest.mark.parametrize("kind", ["forest_pipeline", "xgb_pipeline"])
@pytest.mark.parametrize("collapse", [False, True])
async def test_explanation_is_additive(kind, collapse, request, service):
    """expected_value + sum(shap) == probability, for top-n + other and collapsed pairs."""
    pipeline, _ = request.getfixturevalue(kind)
    service.swap(prepare_bundle("20240101_000000", kind, pipeline))
    _, records = _stream(50, seed=3)
    for record in records[:10]:
        out = await service.explain(record, n=5, collapse=collapse)
        total = out["expected_value"] + sum(c["shap"] for c in out["contributions"])
        assert total == pytest.approx(out["probability"], abs=1e-6)
        assert len(out["contributions"]) <= 6
        assert out["contributions"][-1]["cumulative_percent"] == pytest.approx(100.0)
        shaps = [abs(c["shap"]) for c in out["contributions"] if c["feature"] != "other"]
        assert shaps == sorted(shaps, reverse=True)
