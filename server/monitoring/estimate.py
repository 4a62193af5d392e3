"""CBPE (confidence-based performance estimation, as NannyML defines it), with numpy only.

With calibrated probabilities c_i and decisions d_i, each prediction is a correct positive
with probability c_i when d_i = 1, and so on: the expected confusion matrix is
TP = sum_{d=1} c, FP = sum_{d=1} (1 - c), FN = sum_{d=0} c, TN = sum_{d=0} (1 - c), and the
estimated precision, recall and F1 follow from it. ROC AUC is estimated as NannyML does: the
ROC curve of the calibrated scores with each prediction counted c_i positive and 1 - c_i
negative. The band is +-3 sigma of the metric's sampling distribution when labels are drawn
as independent Bernoulli(c_i) (delta method on TP and FN, whose variances are sum c(1-c)).
"""
from __future__ import annotations

import math
from typing import Any

from server.monitoring.accumulators import PredictionsPart
from server.monitoring.counts import auc

BAND_SIGMAS = 3.0


def _ratio(a: float, b: float) -> float | None:
    return a / b if b > 0 else None


def _band(value: float | None, sigma: float) -> list[float] | None:
    if value is None:
        return None
    return [max(0.0, value - BAND_SIGMAS * sigma), min(1.0, value + BAND_SIGMAS * sigma)]


def estimate(part: PredictionsPart) -> dict[str, Any] | None:
    """Estimated metrics and their +-3 sigma bands from a window's predictions part."""
    if part.n == 0:
        return None
    predicted_pos = float(part.count[1])
    tp, fn = part.sum_calibrated[1], part.sum_calibrated[0]
    fp, tn = predicted_pos - tp, float(part.count[0]) - fn
    var_tp, var_fn = part.sum_variance[1], part.sum_variance[0]
    actual = tp + fn
    precision = _ratio(tp, predicted_pos)
    recall = _ratio(tp, actual)
    f1 = _ratio(2 * tp, predicted_pos + actual)
    s_precision = math.sqrt(var_tp) / predicted_pos if predicted_pos > 0 else 0.0
    s_recall = (math.sqrt((fn / actual**2) ** 2 * var_tp + (tp / actual**2) ** 2 * var_fn)
                if actual > 0 else 0.0)
    if predicted_pos + actual > 0:
        denominator = predicted_pos + actual
        g_tp = 2 / denominator - 2 * tp / denominator**2
        g_fn = -2 * tp / denominator**2
        s_f1 = math.sqrt(g_tp**2 * var_tp + g_fn**2 * var_fn)
    else:
        s_f1 = 0.0
    values, weights = part.calibrated.sorted()
    roc_auc = auc(values, weights[:, 0], weights[:, 1]) if len(values) else None
    return {"precision": precision, "recall": recall, "f1": f1, "roc_auc": roc_auc,
            "confusion": {"tp": tp, "fp": fp, "fn": fn, "tn": tn},
            "sigma": {"precision": s_precision, "recall": s_recall, "f1": s_f1},
            "band": {"precision": _band(precision, s_precision), "recall": _band(recall, s_recall),
                     "f1": _band(f1, s_f1)}}
