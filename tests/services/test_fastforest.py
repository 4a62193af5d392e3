"""The fast runtimes give scikit-learn's / XGBoost's probabilities on generated records."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble import RandomForestClassifier

from server.ml.generator import generate_flows
from server.services.fastforest import NumpyForest, TreeliteForest, XGBoostRuntime, build_runtime


@pytest.fixture(scope="module")
def features(forest_pipeline):
    """Model-feature rows for 3,000 fresh generated flows (not the training ones)."""
    pipeline, _ = forest_pipeline
    df = generate_flows(3000, seed=99)
    return pipeline.named_steps["features"].transform(df[list(_raw_columns())])


def _raw_columns():
    return ("packet_size", "bytes_sent", "source_ip", "dest_ip", "protocol", "timestamp_seconds", "hour")


def test_build_runtime_picks_the_fast_paths(forest_pipeline, xgb_pipeline):
    """Forests go to treelite, XGBoost to inplace_predict."""
    assert isinstance(build_runtime(forest_pipeline[0].named_steps["model"]), TreeliteForest)
    assert isinstance(build_runtime(xgb_pipeline[0].named_steps["model"]), XGBoostRuntime)


@pytest.mark.parametrize("runtime", [TreeliteForest, NumpyForest])
def test_forest_runtimes_equal_sklearn(forest_pipeline, features, runtime):
    """Within 1e-6 of predict_proba on 3,000 records, in one batch and row by row."""
    model = forest_pipeline[0].named_steps["model"]
    expected = model.predict_proba(features)[:, 1]
    fast = runtime(model)
    np.testing.assert_allclose(fast.positive_proba(features), expected, rtol=0, atol=1e-6)
    single = np.array([fast.positive_proba(features[i:i + 1])[0] for i in range(200)])
    np.testing.assert_allclose(single, expected[:200], rtol=0, atol=1e-6)


def test_forest_runtime_handles_float32_ties():
    """Values that round onto a threshold in float32 go the way scikit-learn sends them."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 3)) * 1e6 + 0.1
    y = (X[:, 0] + rng.normal(size=400) * 1e5 > 0).astype(int)
    model = RandomForestClassifier(n_estimators=10, random_state=0).fit(X, y)
    probe = np.vstack([X, X + 1e-3, X - 1e-3])
    expected = model.predict_proba(probe)[:, 1]
    for runtime in (TreeliteForest(model), NumpyForest(model)):
        np.testing.assert_allclose(runtime.positive_proba(probe), expected, rtol=0, atol=1e-6)


def test_xgboost_runtime_equals_predict_proba(xgb_pipeline, forest_pipeline):
    """inplace_predict gives predict_proba's numbers."""
    pipeline, X = xgb_pipeline
    rows = pipeline.named_steps["features"].transform(X)
    model = pipeline.named_steps["model"]
    np.testing.assert_allclose(XGBoostRuntime(model).positive_proba(rows), model.predict_proba(rows)[:, 1],
                               rtol=0, atol=1e-6)


def test_bulk_batches_take_sklearns_path_with_the_same_numbers(forest_pipeline, features):
    """Past SKLEARN_BATCH_ROWS the forest's own predict_proba answers: equal to GTIL's row results."""
    from server.services.fastforest import SKLEARN_BATCH_ROWS

    model = forest_pipeline[0].named_steps["model"]
    runtime = TreeliteForest(model)
    bulk = np.vstack([features] * (SKLEARN_BATCH_ROWS // len(features) + 1))
    assert len(bulk) >= SKLEARN_BATCH_ROWS
    small = np.concatenate([runtime.positive_proba(bulk[i:i + 1000]) for i in range(0, len(bulk), 1000)])
    np.testing.assert_allclose(runtime.positive_proba(bulk), small, rtol=0, atol=1e-6)


def test_lean_gtil_call_gives_treelites_own_answers_to_the_bit(forest_pipeline, features):
    """The direct GTIL call (types and output shape read once) equals treelite's _predict_impl."""
    from treelite.gtil import gtil

    from server.services.fastforest import _DenseGTIL

    fast = TreeliteForest(forest_pipeline[0].named_steps["model"])
    assert isinstance(fast._predict, _DenseGTIL), "the served path is the lean call"
    config = gtil.GTILConfig(nthread=1, predict_type="default")
    for rows in (features[:1], features[:7], features[:300]):
        X = np.ascontiguousarray(rows, dtype=np.float32)
        assert np.array_equal(fast._predict(X), gtil._predict_impl(fast.model, X, config=config))
    with pytest.raises(ValueError, match="features"):
        fast._predict(np.zeros((2, 3), dtype=np.float32))
