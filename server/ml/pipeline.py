"""Build the full imblearn pipeline: features -> optional resampler -> classifier."""

from collections.abc import Mapping

import numpy as np
from imblearn.over_sampling import SMOTE, RandomOverSampler
from imblearn.pipeline import Pipeline
from sklearn.ensemble import RandomForestClassifier
from xgboost import XGBClassifier

from .errors import TrainingError
from .features import build_features

MODEL_TYPES = ("random_forest", "xgboost")
SAMPLERS = ("smote", "random", "none")


def make_sampler(method: str, random_state: int) -> object:
    """The resampling step; imblearn runs it in fit only, so validation rows are never resampled."""
    if method == "smote":
        return SMOTE(random_state=random_state)
    if method == "random":
        return RandomOverSampler(random_state=random_state)
    if method in ("none", None):
        return "passthrough"
    raise TrainingError(f"unknown model.imbalance.method '{method}' (use one of {', '.join(SAMPLERS)})")


def make_classifier(model_type: str, model_cfg: Mapping, random_state: int, y: np.ndarray | None = None) -> object:
    """The classifier with class weighting and parallelism from the model config."""
    class_weight = (model_cfg.get("imbalance") or {}).get("class_weight")
    n_jobs = int(model_cfg.get("n_jobs", 1))
    if model_type == "random_forest":
        return RandomForestClassifier(n_jobs=n_jobs, random_state=random_state, class_weight=class_weight)
    if model_type == "xgboost":
        weight = 1.0
        if class_weight == "balanced" and y is not None and y.sum() > 0:
            weight = float((len(y) - y.sum()) / y.sum())  # xgboost's equivalent of balanced weights
        return XGBClassifier(
            n_jobs=n_jobs, random_state=random_state, tree_method="hist", eval_metric="logloss",
            scale_pos_weight=weight,
        )
    raise TrainingError(f"unknown model type '{model_type}' (use one of {', '.join(MODEL_TYPES)})")


def build_pipeline(features_cfg: Mapping, model_cfg: Mapping, model_type: str | None = None,
                   random_state: int = 42, y: np.ndarray | None = None) -> Pipeline:
    """Pipeline([features, sampler, model]) as configured; y only informs xgboost's class weight."""
    model_type = model_type or model_cfg.get("primary", "xgboost")
    method = (model_cfg.get("imbalance") or {}).get("method", "none")
    return Pipeline([
        ("features", build_features(features_cfg)),
        ("sampler", make_sampler(method, random_state)),
        ("model", make_classifier(model_type, model_cfg, random_state, y)),
    ])


def param_grid(model_cfg: Mapping, model_type: str) -> dict[str, list]:
    """The configured grid with pipeline step prefixes."""
    grid = (model_cfg.get(model_type) or {}).get("param_grid") or {}
    return {f"model__{k}": list(v) if isinstance(v, (list, tuple)) else [v] for k, v in grid.items()}
