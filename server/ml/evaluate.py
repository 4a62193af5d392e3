"""Hold-out metrics, including the Bayes ceiling when the true probability is known."""

from collections.abc import Mapping
from typing import Any

import numpy as np
from sklearn.metrics import (
    average_precision_score, brier_score_loss, confusion_matrix, f1_score, precision_recall_curve,
    precision_score, recall_score, roc_auc_score,
)


def best_f1(y_true: np.ndarray, scores: np.ndarray) -> tuple[float, float]:
    """(best F1 over thresholds, the threshold achieving it)."""
    precision, recall, thresholds = precision_recall_curve(y_true, scores)
    with np.errstate(divide="ignore", invalid="ignore"):
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)[:-1]
    if f1.size == 0:
        return 0.0, 0.5
    i = int(np.argmax(f1))
    return float(f1[i]), float(thresholds[i])


def evaluate(y_true: np.ndarray, proba: np.ndarray, threshold: float = 0.5, p_true: np.ndarray | None = None,
             samples: int | None = None, n_features: int | None = None) -> dict:
    """JSON-safe metrics of probabilities `proba` against 0/1 labels on the hold-out."""
    y = np.asarray(y_true).astype(int)
    p = np.asarray(proba, dtype=float)
    pred = (p >= threshold).astype(int)
    both = len(np.unique(y)) == 2
    tn, fp, fn, tp = (int(v) for v in confusion_matrix(y, pred, labels=[0, 1]).ravel())
    f1_best, thr_best = best_f1(y, p) if both else (0.0, threshold)
    metrics = {
        "threshold": float(threshold),
        "precision": float(precision_score(y, pred, zero_division=0)),
        "recall": float(recall_score(y, pred, zero_division=0)),
        "f1": float(f1_score(y, pred, zero_division=0)),
        "auc_roc": float(roc_auc_score(y, p)) if both else None,
        "pr_auc": float(average_precision_score(y, p)) if both else None,
        "brier": float(brier_score_loss(y, p, labels=[0, 1])),
        "tn": tn, "fp": fp, "fn": fn, "tp": tp,
        "best_f1_threshold": thr_best,
        "f1_at_best_threshold": f1_best,
        "samples": int(samples if samples is not None else len(y)),
        "test_samples": int(len(y)),
        "features": int(n_features or 0),
        "positive_rate": float(y.mean()) if len(y) else 0.0,
    }
    if p_true is not None and both and np.all(np.isfinite(p_true)):
        metrics["bayes_auc_roc"] = float(roc_auc_score(y, p_true))
        metrics["bayes_f1"] = best_f1(y, np.asarray(p_true, dtype=float))[0]
        metrics["bayes_brier"] = float(brier_score_loss(y, p_true))
    return metrics


def bayes_ceiling(metrics: Mapping[str, Any]) -> dict[str, Any] | None:
    """The data's own limit beside the model's metrics, or None when the labels' true probability is unknown.

    On generated data the generator's p_true on the hold-out is the best any model can do: its best
    F1 and ROC AUC are the ceiling, and the gaps say how much is the model's to win. (A denser
    generated dataset has a lower ceiling: a lower F1 there is the data's limit, not a worse model.)
    """
    f1, auc = metrics.get("bayes_f1"), metrics.get("bayes_auc_roc")
    if f1 is None or auc is None:
        return None
    model_f1, model_auc = metrics.get("f1_at_best_threshold"), metrics.get("auc_roc")
    return {
        "source": "generator p_true on the hold-out",
        "f1": float(f1), "auc_roc": float(auc),
        "brier": metrics.get("bayes_brier"),
        "f1_gap": None if model_f1 is None else float(f1) - float(model_f1),
        "auc_roc_gap": None if model_auc is None else float(auc) - float(model_auc),
    }


def expected_ceiling_gap(p_true: np.ndarray, proba: np.ndarray, draws: int = 100, seed: int = 0) -> dict[str, float]:
    """Mean F1 and ROC AUC gaps to the Bayes ceiling over hold-out labels redrawn from p_true.

    One hold-out's labels are one draw: on 4,000 rows they move the F1 gap by ~0.006 either way,
    the same for every model scored on them. Redrawing the labels of the same rows from p_true
    (the model is fixed, it never saw these labels) averages that luck out and leaves the
    model's own distance from the ceiling.
    """
    pt, p = np.asarray(p_true, dtype=float), np.asarray(proba, dtype=float)
    rng = np.random.default_rng(seed)
    f1, auc = [], []
    for _ in range(draws):
        y = (rng.random(len(pt)) < pt).astype(int)
        if len(np.unique(y)) < 2:
            continue
        f1.append(best_f1(y, pt)[0] - best_f1(y, p)[0])
        auc.append(float(roc_auc_score(y, pt) - roc_auc_score(y, p)))
    return {"f1_gap": float(np.mean(f1)), "auc_roc_gap": float(np.mean(auc)), "draws": len(f1)}
