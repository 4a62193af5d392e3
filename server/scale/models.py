"""xgboost.dask models: a few candidates on a sampled fold, then the final fit on every row.

`xgboost` trains `DaskXGBClassifier`; `random_forest` trains `DaskXGBRFClassifier`, XGBoost's
distributed random forest (scikit-learn's forest cannot train across workers). The final fit
streams the training partitions into a `DaskQuantileDMatrix`; the booster is then loaded into a
plain `XGBClassifier`/`XGBRFClassifier`, which the single-process server serves with its fast
runtime like any other version.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping

import numpy as np
from sklearn.metrics import get_scorer
from sklearn.model_selection import ParameterSampler

from server.ml.errors import TrainingError

# scikit-learn forest names in model.random_forest.param_grid -> XGBoost random-forest names.
RF_PARAMS = {"n_estimators": "n_estimators", "max_depth": "max_depth", "max_features": "colsample_bynode",
             "min_samples_leaf": "min_child_weight"}


def dask_classes(model_type: str) -> tuple[type, type]:
    """(distributed estimator, plain estimator) for a model type."""
    from xgboost import XGBClassifier, XGBRFClassifier
    from xgboost.dask import DaskXGBClassifier, DaskXGBRFClassifier

    if model_type == "xgboost":
        return DaskXGBClassifier, XGBClassifier
    if model_type == "random_forest":
        return DaskXGBRFClassifier, XGBRFClassifier
    raise TrainingError(f"unknown model type '{model_type}' for the dask engine")


def candidates(model_cfg: Mapping, model_type: str, n_iter: int, random_state: int) -> list[dict[str, Any]]:
    """Sampled parameter sets of the configured grid, in XGBoost's names."""
    grid = dict((model_cfg.get(model_type) or {}).get("param_grid") or {})
    if model_type == "random_forest":
        grid = {RF_PARAMS[k]: v for k, v in grid.items() if k in RF_PARAMS}
    grid = {k: list(v) if isinstance(v, (list, tuple)) else [v] for k, v in grid.items()}
    size = int(np.prod([len(v) for v in grid.values()])) if grid else 1
    return list(ParameterSampler(grid, n_iter=min(n_iter, size), random_state=random_state)) if grid else [{}]


def base_params(model_type: str, model_cfg: Mapping, random_state: int, y_rate: float) -> dict[str, Any]:
    """What every candidate shares: seed, hist, class weight as the local engine sets it."""
    params: dict[str, Any] = {"random_state": random_state, "tree_method": "hist", "eval_metric": "logloss",
                              "objective": "binary:logistic"}  # xgboost.dask.train gets no default
    if model_type == "xgboost" and (model_cfg.get("imbalance") or {}).get("class_weight") == "balanced" and y_rate > 0:
        params["scale_pos_weight"] = (1 - y_rate) / y_rate
    return params


def search(client, fold: tuple, model_type: str, grid: list[dict], base: dict, scoring: str,
           progress: Callable[[int, int], None]) -> tuple[int, list[float]]:
    """Fit each candidate on the fold's earlier rows, score it on its later rows; best index."""
    X_fit, y_fit, X_val, y_val = fold
    distributed_cls, _ = dask_classes(model_type)
    scorer = get_scorer(scoring)
    scores: list[float] = []
    for i, params in enumerate(grid):
        est = distributed_cls(**base, **params)
        est.client = client
        est.fit(X_fit, y_fit)
        local = to_local(est.get_booster(), model_type, {**base, **params})
        scores.append(float(scorer(local, X_val, y_val)))
        progress(i + 1, len(grid) + 1)
    if not np.isfinite(scores).any():
        raise TrainingError("no candidate model could be evaluated on the sampled fold")
    return int(np.nanargmax(scores)), scores


def final_fit(client, X, y, model_type: str, params: dict):
    """Train on every training row through a DaskQuantileDMatrix; returns the booster."""
    import xgboost as xgb

    distributed_cls, _ = dask_classes(model_type)
    template = distributed_cls(**params)
    dtrain = xgb.dask.DaskQuantileDMatrix(client, X, y)
    output = xgb.dask.train(client, template.get_xgb_params(), dtrain,
                            num_boost_round=template.get_num_boosting_rounds())
    return output["booster"]


def to_local(booster, model_type: str, params: dict):
    """The booster inside a plain (single-process) XGBoost estimator, ready to pickle and serve."""
    _, local_cls = dask_classes(model_type)
    booster = booster.copy()
    booster.feature_names = None  # served on plain float matrices, as the local engine's models are
    booster.feature_types = None
    model = local_cls(**params, n_jobs=1)
    model.load_model(bytearray(booster.save_raw("json")))
    return model
