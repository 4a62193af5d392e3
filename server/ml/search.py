"""Time-ordered randomized hyper-parameter search with progress and cost-aware selection."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.metrics import get_scorer
from sklearn.model_selection import ParameterSampler, TimeSeriesSplit

from .errors import TrainingError

_UNLIMITED_DEPTH = 32  # stands in for max_depth=None in the cost proxy


def candidate_cost(params: Mapping[str, object]) -> float:
    """Serving/SHAP cost proxy: trees x depth (TreeSHAP time grows with both)."""
    n = params.get("model__n_estimators", params.get("n_estimators", 100))
    depth = params.get("model__max_depth", params.get("max_depth", 6))
    return float(n) * float(depth if depth is not None else _UNLIMITED_DEPTH)  # type: ignore[arg-type]


def select_cost_aware(cv_results: Mapping[str, object], tolerance: float = 0.0) -> int:
    """Index of the cheapest candidate whose mean CV score is within tolerance of the best.

    Same signature as a `refit` callable for RandomizedSearchCV (bind tolerance with partial).
    """
    scores = np.asarray(cv_results["mean_test_score"], dtype=float)
    if np.all(np.isnan(scores)):
        raise TrainingError("no hyper-parameter candidate could be scored")
    best = np.nanmax(scores)
    costs = np.array([candidate_cost(p) for p in cv_results["params"]])  # type: ignore[union-attr]
    eligible = np.flatnonzero(scores >= best - tolerance)
    # cheapest first, then the better score
    return int(min(eligible, key=lambda i: (costs[i], -scores[i])))


@dataclass
class SearchResult:
    """Outcome of a search: the refitted estimator and plain-data CV summary."""

    estimator: object
    best_index: int
    best_params: dict
    best_score: float
    cv_results: dict = field(default_factory=dict)


def run_search(pipeline: object, X: pd.DataFrame, y: np.ndarray, grid: Mapping[str, list], *,
               n_iter: int, cv_splits: int, scoring: str, tolerance: float, random_state: int,
               progress: Callable[[int, int], None] | None = None) -> SearchResult:
    """Fit every sampled candidate on TimeSeriesSplit folds, pick cost-aware, refit on all of X."""
    candidates = list(ParameterSampler(grid, n_iter=n_iter, random_state=random_state)) if grid else [{}]
    splits = list(TimeSeriesSplit(n_splits=cv_splits).split(X))
    scorer = get_scorer(scoring)
    total, done = len(candidates) * len(splits) + 1, 0
    scores = np.full((len(candidates), len(splits)), np.nan)
    errors: list[str] = []
    for ci, params in enumerate(candidates):
        for si, (train, valid) in enumerate(splits):
            if len(np.unique(y[train])) == 2 and len(np.unique(y[valid])) == 2:
                est = clone(pipeline).set_params(**params)
                try:
                    est.fit(X.iloc[train], y[train])
                    scores[ci, si] = scorer(est, X.iloc[valid], y[valid])
                except ValueError as exc:  # e.g. too few minority rows for SMOTE in an early fold
                    errors.append(str(exc))
            done += 1
            if progress:
                progress(done, total)
    with np.errstate(all="ignore"):
        mean = np.array([np.nanmean(r) if np.isfinite(r).any() else np.nan for r in scores])
        std = np.array([np.nanstd(r) if np.isfinite(r).any() else np.nan for r in scores])
    results = {"params": candidates, "mean_test_score": mean, "std_test_score": std,
               "cost": [candidate_cost(p) for p in candidates]}
    if np.all(np.isnan(mean)):
        hint = f": {errors[0]}" if errors else " (validation folds lack one of the classes)"
        raise TrainingError(f"no candidate model could be evaluated{hint}")
    best = partial(select_cost_aware, tolerance=tolerance)(results)
    final = clone(pipeline).set_params(**candidates[best])
    try:
        final.fit(X, y)
    except ValueError as exc:
        raise TrainingError(f"training failed: {exc}") from exc
    if progress:
        progress(total, total)
    return SearchResult(final, best, dict(candidates[best]), float(mean[best]), results)
