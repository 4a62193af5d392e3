"""Tiny fitted pipelines (random forest and XGBoost) trained in-process on generated flows."""
from __future__ import annotations

import pytest

from server.ml.generator import generate_flows
from server.ml.pipeline import build_pipeline
from server.ml.schema import LABEL, P_TRUE

FEATURES_CFG = {"windows_s": (60, 600), "subnet_prefix": 24}


def fit_pipeline(model_type: str, rows: int = 1500, **params):
    """A fitted features -> sampler -> model pipeline on generated flows, and the flows."""
    df = generate_flows(rows, seed=11)
    model_cfg = {"n_jobs": 1, "imbalance": {"method": "none"}}
    pipeline = build_pipeline(FEATURES_CFG, model_cfg, model_type, random_state=0)
    pipeline.set_params(**{f"model__{k}": v for k, v in params.items()})
    X = df.drop(columns=[c for c in (LABEL, P_TRUE) if c in df.columns])
    pipeline.fit(X, df[LABEL].to_numpy())
    return pipeline, X


@pytest.fixture(scope="session")
def forest_pipeline():
    """A small random forest pipeline (30 trees, depth 8) and its training flows."""
    return fit_pipeline("random_forest", n_estimators=30, max_depth=8)


@pytest.fixture(scope="session")
def xgb_pipeline():
    """A small XGBoost pipeline (30 rounds, depth 3) and its training flows."""
    return fit_pipeline("xgboost", n_estimators=30, max_depth=3)
