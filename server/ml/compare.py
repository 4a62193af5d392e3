"""Champion vs candidate on the same evaluation rows: the evidence a promotion gate decides on.

Runs in the training worker, which holds the candidate's hold-out: the champion's own saved
pipeline scores those same flows (with its own window configuration, so each model sees the
features it was trained on), and both are measured at their own serving thresholds.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

import joblib
import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, f1_score, precision_score, recall_score, roc_auc_score

from .paired import delong_test, mcnemar_exact
from .schema import FLOW_COLUMNS
from .windows import compute_aggregates

COMPARED_METRICS = ("f1_score", "pr_auc", "auc_roc", "precision", "recall")


def scores(y: np.ndarray, proba: np.ndarray, threshold: float | None,
           pred: np.ndarray | None = None) -> dict[str, float | None]:
    """The metrics a promotion can be decided on, for one model on the shared rows.

    ``pred`` gives the decisions when they were taken at thresholds that changed over time
    (live traffic); otherwise they are ``proba >= threshold``.
    """
    pred = (proba >= threshold).astype(int) if pred is None else np.asarray(pred).astype(int)
    both = len(np.unique(y)) == 2
    return {
        "threshold": None if threshold is None else float(threshold),
        "f1_score": float(f1_score(y, pred, zero_division=0)),
        "precision": float(precision_score(y, pred, zero_division=0)),
        "recall": float(recall_score(y, pred, zero_division=0)),
        "pr_auc": float(average_precision_score(y, proba)) if both else None,
        "auc_roc": float(roc_auc_score(y, proba)) if both else None,
    }


def champion_probabilities(champion: Mapping[str, Any], df: pd.DataFrame, rows: slice) -> np.ndarray:
    """The champion pipeline's probabilities for ``df[rows]``, its aggregates over all of ``df``."""
    pipeline = joblib.load(io.BytesIO(champion["pipeline"]))  # verified by the server before sending
    windows = pipeline.named_steps["features"].named_transformers["windows"]
    agg = compute_aggregates(df, [int(w) for w in windows.windows_s], int(windows.subnet_prefix),
                             int(getattr(windows, "subnet_prefix_v6", 64)))
    X = pd.concat([df[list(FLOW_COLUMNS)], agg], axis=1).iloc[rows]
    return pipeline.predict_proba(X)[:, 1]


def paired_evidence(y: np.ndarray, candidate: np.ndarray, champion: np.ndarray,
                    candidate_threshold: float | None, champion_threshold: float | None, *,
                    candidate_pred: np.ndarray | None = None,
                    champion_pred: np.ndarray | None = None) -> dict[str, Any]:
    """Both models' metrics on the same rows, their deltas and the paired tests."""
    y = np.asarray(y).astype(int)
    candidate, champion = np.asarray(candidate, dtype=float), np.asarray(champion, dtype=float)
    if candidate_pred is None:
        candidate_pred = (candidate >= candidate_threshold).astype(int)
    if champion_pred is None:
        champion_pred = (champion >= champion_threshold).astype(int)
    cand = scores(y, candidate, candidate_threshold, candidate_pred)
    champ = scores(y, champion, champion_threshold, champion_pred)
    deltas = {m: (None if cand[m] is None or champ[m] is None else cand[m] - champ[m]) for m in COMPARED_METRICS}
    return {
        "rows": int(len(y)),
        "positives": int(y.sum()),
        "candidate": cand,
        "champion": champ,
        "delta": deltas,
        "mcnemar": mcnemar_exact(y, candidate_pred, champion_pred),
        "delong": delong_test(y, candidate, champion),
    }


def compare_with_champion(champion: Mapping[str, Any] | None, df: pd.DataFrame, split: int,
                          y_test: np.ndarray, proba: np.ndarray, threshold: float) -> dict[str, Any] | None:
    """Evidence against the champion, or a record of why the rows could not be shared."""
    if not champion:
        return None
    try:
        champ = champion_probabilities(champion, df, slice(split, None))
    except Exception as exc:  # another library version, another schema: say so, decide without it
        return {"champion_version": champion.get("version"), "comparable": False,
                "error": f"{type(exc).__name__}: {exc}"[:500]}
    evidence = paired_evidence(y_test, proba, champ, threshold, float(champion["threshold"]))
    return {"champion_version": champion.get("version"), "comparable": True, **evidence}
