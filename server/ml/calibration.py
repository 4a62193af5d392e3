"""Isotonic calibration of hold-out probabilities, kept only when it lowers the calibration error.

The calibrator is stored as plain data (the isotonic fit's breakpoints), so serving applies it
with `np.interp` and no pickle: that is exactly what scikit-learn's IsotonicRegression.predict
does with `out_of_bounds="clip"`.
"""
from __future__ import annotations

from typing import Any

import numpy as np

ECE_BINS = 10


def expected_calibration_error(probabilities: np.ndarray, labels: np.ndarray, bins: int = ECE_BINS) -> float:
    """Mean |observed rate - mean probability| over equal-width bins, weighted by bin size."""
    p, y = np.asarray(probabilities, float), np.asarray(labels, float)
    index = np.minimum((p * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        mask = index == b
        if mask.any():
            total += mask.sum() * abs(y[mask].mean() - p[mask].mean())
    return float(total / max(len(p), 1))


def _isotonic(p: np.ndarray, y: np.ndarray):
    from sklearn.isotonic import IsotonicRegression

    return IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(p, y)


def fit_calibration(probabilities: np.ndarray, labels: np.ndarray) -> dict[str, Any]:
    """{"method": "isotonic", "x", "y", ece before/after} or {"method": "none", ...}.

    The decision uses the ECE of out-of-fold calibrated probabilities (two interleaved halves,
    each calibrated by a fit on the other): isotonic always looks better on its own fitting rows.
    """
    p, y = np.asarray(probabilities, float), np.asarray(labels, float)
    before = expected_calibration_error(p, y)
    halves = (np.arange(len(p)) % 2 == 0, np.arange(len(p)) % 2 == 1)
    if any(len(np.unique(y[h])) < 2 for h in halves):
        return {"method": "none", "ece_before": before, "ece_after": before}
    out_of_fold = np.empty_like(p)
    for fit_on, apply_to in (halves, halves[::-1]):
        out_of_fold[apply_to] = _isotonic(p[fit_on], y[fit_on]).predict(p[apply_to])
    after = expected_calibration_error(out_of_fold, y)
    iso = _isotonic(p, y)
    if after >= before:
        return {"method": "none", "ece_before": before, "ece_after": before}
    return {"method": "isotonic", "x": iso.X_thresholds_.tolist(), "y": iso.y_thresholds_.tolist(),
            "ece_before": before, "ece_after": after}


def apply_calibration(calibration: dict[str, Any] | None, probabilities: np.ndarray) -> np.ndarray:
    """Calibrated probabilities (identity without an isotonic calibrator)."""
    p = np.asarray(probabilities, float)
    if not calibration or calibration.get("method") != "isotonic":
        return p
    return np.interp(p, np.asarray(calibration["x"]), np.asarray(calibration["y"]))
