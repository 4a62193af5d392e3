"""Shared tiny-data fixtures for the ML tests."""

import copy

import numpy as np
import pandas as pd
import pytest

from server.ml.generator import generate_flows
from server.ml.windows import compute_aggregates

SMALL_CONFIG = {
    "data": {"rows": 2000, "seed": 3, "test_size": 0.25, "random_state": 42, "positive_rate": 0.15,
             "column_map": {}, "scenario": {}},
    "features": {"windows_s": [60, 600], "subnet_prefix": 24, "max_window_keys": 50000},
    "model": {
        "primary": "random_forest", "cv_splits": 2, "search_iterations": 2, "scoring": "average_precision",
        "cost_tolerance": 0.005, "shap_sample": 100, "n_jobs": 1,
        "imbalance": {"method": "smote", "class_weight": None},
        "random_forest": {"param_grid": {"n_estimators": [20, 30], "max_depth": [6, 8], "min_samples_leaf": [5]}},
        "xgboost": {"param_grid": {"n_estimators": [50, 80], "max_depth": [3], "learning_rate": [0.1]}},
    },
}


@pytest.fixture
def small_config() -> dict:
    """A deep copy of the tiny training config."""
    return copy.deepcopy(SMALL_CONFIG)


@pytest.fixture(scope="session")
def flows() -> pd.DataFrame:
    """3000 generated, time-sorted flows."""
    return generate_flows(3000, 11)


@pytest.fixture(scope="session")
def frame(flows: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """Flows joined with their offline aggregates, and the labels."""
    return flows.join(compute_aggregates(flows, [60, 600], 24)), flows["congestion"].to_numpy()
