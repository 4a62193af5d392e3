"""The decision threshold as a cost trade-off: confusion counts and expected cost per threshold.

The recommended threshold minimises ``cost_fn * FN + cost_fp * FP`` on labelled rows, the
criterion scikit-learn's ``TunedThresholdClassifierCV`` optimises with a cost scorer. A row is
flagged when ``probability >= threshold``, exactly as serving decides.
"""

from __future__ import annotations

import numpy as np

GRID = np.round(np.linspace(0.0, 1.0, 101), 2)


def confusion_at(y: np.ndarray, proba: np.ndarray, thresholds: np.ndarray) -> dict[str, np.ndarray]:
    """tp/fp/fn/tn for every threshold at once (sorting once instead of one pass per threshold)."""
    y = np.asarray(y).astype(int)
    p = np.asarray(proba, dtype=float)
    order = np.argsort(p, kind="stable")
    p_sorted, y_sorted = p[order], y[order]
    positives_at_or_above = np.concatenate([np.cumsum(y_sorted[::-1])[::-1], [0]])
    first = np.searchsorted(p_sorted, thresholds, side="left")  # rows with p >= t start here
    flagged = len(p) - first
    tp = positives_at_or_above[first]
    fp = flagged - tp
    fn = int(y.sum()) - tp
    tn = len(p) - flagged - fn
    return {"tp": tp, "fp": fp, "fn": fn, "tn": tn}


def threshold_curve(y: np.ndarray, proba: np.ndarray, cost_fn: float, cost_fp: float,
                    thresholds: np.ndarray = GRID) -> dict:
    """Per threshold: precision, recall, F1, counts and cost; plus the cost-minimising one."""
    counts = confusion_at(y, proba, thresholds)
    tp, fp, fn, tn = (counts[k].astype(float) for k in ("tp", "fp", "fn", "tn"))
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(tp + fp > 0, tp / (tp + fp), 0.0)
        recall = np.where(tp + fn > 0, tp / (tp + fn), 0.0)
        f1 = np.where(2 * tp + fp + fn > 0, 2 * tp / (2 * tp + fp + fn), 0.0)
    cost = cost_fn * fn + cost_fp * fp
    rows = max(1, len(np.asarray(y)))
    best = int(np.argmin(cost))  # the first (lowest) threshold among equal costs
    points = [
        {"threshold": float(t), "precision": float(pr), "recall": float(rc), "f1": float(f),
         "tp": int(a), "fp": int(b), "fn": int(c), "tn": int(d), "cost": float(co),
         "cost_per_flow": float(co) / rows}
        for t, pr, rc, f, a, b, c, d, co in zip(thresholds, precision, recall, f1, tp, fp, fn, tn, cost)
    ]
    return {"rows": int(len(np.asarray(y))), "positives": int(np.asarray(y).sum()),
            "cost_fn": float(cost_fn), "cost_fp": float(cost_fp), "points": points,
            "recommended": points[best]}


def cost_at(y: np.ndarray, proba: np.ndarray, threshold: float, cost_fn: float, cost_fp: float) -> float:
    """Total cost of deciding at one threshold."""
    counts = confusion_at(y, proba, np.array([threshold]))
    return float(cost_fn * counts["fn"][0] + cost_fp * counts["fp"][0])
