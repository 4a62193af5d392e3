"""Incremental training (``model.update: continue``): grow the serving model on new rows.

XGBoost continues boosting from the champion's booster (``xgb_model=``) for
``model.continue_rounds`` more rounds; a random forest keeps its trees and, with
``warm_start``, fits ``model.continue_trees`` new ones on the new rows. The feature transformers
stay the champion's own, fitted as they were, so serving computes what it always computed.
"""

from __future__ import annotations

import copy
import io
from collections.abc import Mapping

import joblib
import numpy as np
import pandas as pd

from .search import SearchResult
from .schema import FLOW_COLUMNS
from .windows import compute_aggregates


def champion_frame(pipeline, df: pd.DataFrame) -> pd.DataFrame:
    """Flow columns plus the aggregates of the champion's own window configuration."""
    windows = pipeline.named_steps["features"].named_transformers["windows"]
    agg = compute_aggregates(df, [int(w) for w in windows.windows_s], int(windows.subnet_prefix),
                             int(getattr(windows, "subnet_prefix_v6", 64)))
    return pd.concat([df[list(FLOW_COLUMNS)], agg], axis=1)


def continue_training(champion_bytes: bytes, X: pd.DataFrame, y: np.ndarray, model_cfg: Mapping) -> SearchResult:
    """A copy of the champion pipeline whose model learned from (X, y) on top of what it knew."""
    pipeline = copy.deepcopy(joblib.load(io.BytesIO(champion_bytes)))
    model = pipeline.named_steps["model"]
    features = pipeline.named_steps["features"].transform(X)
    if hasattr(model, "get_booster"):  # XGBoost: more boosting rounds from the old booster
        rounds = int(model_cfg.get("continue_rounds", 20))
        booster = model.get_booster()
        model.set_params(n_estimators=rounds)
        model.fit(features, y, xgb_model=booster)
        params = {"continued_rounds": rounds}
    else:  # random forest: keep the trees, add new ones fitted on the new rows
        extra = int(model_cfg.get("continue_trees", 20))
        model.set_params(warm_start=True, n_estimators=int(model.n_estimators) + extra)
        model.fit(features, y)
        model.set_params(warm_start=False)
        params = {"added_trees": extra, "n_estimators": int(model.n_estimators)}
    empty = {"params": [], "mean_test_score": [], "std_test_score": [], "cost": []}
    return SearchResult(pipeline, 0, params, float("nan"), empty)
