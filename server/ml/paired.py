"""Paired comparisons of two models scored on the same labelled rows.

McNemar's exact test on the decisions and DeLong's test on ROC AUC: both use the pairing (the
same flows seen by both models), which is what makes a few hundred labels enough to tell two
models apart where two unpaired hold-out scores would not be.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats


def mcnemar_exact(y: np.ndarray, pred_a: np.ndarray, pred_b: np.ndarray) -> dict:
    """Exact McNemar test on the discordant pairs (binomial, two-sided).

    ``a_only``: rows model A gets right and B wrong; ``b_only``: the reverse. The statistic is
    ``min(a_only, b_only)``, as statsmodels' ``mcnemar(exact=True)`` reports it.
    """
    y = np.asarray(y).astype(int)
    right_a = np.asarray(pred_a).astype(int) == y
    right_b = np.asarray(pred_b).astype(int) == y
    a_only = int(np.sum(right_a & ~right_b))
    b_only = int(np.sum(~right_a & right_b))
    discordant = a_only + b_only
    p_value = 1.0 if discordant == 0 else float(stats.binomtest(min(a_only, b_only), discordant, 0.5).pvalue)
    return {"test": "mcnemar_exact", "a_only": a_only, "b_only": b_only,
            "statistic": min(a_only, b_only), "p_value": min(1.0, p_value)}


def _midranks(x: np.ndarray) -> np.ndarray:
    """1-based ranks with ties sharing their mean rank."""
    return stats.rankdata(x, method="average")


def _structural_components(y: np.ndarray, scores: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """AUC and DeLong's placement values V10 (per positive) and V01 (per negative).

    Sun & Xu's fast form: placements from midranks instead of the O(m*n) pairwise kernel.
    """
    pos, neg = scores[y == 1], scores[y == 0]
    m, n = len(pos), len(neg)
    rank_all = _midranks(np.concatenate([pos, neg]))
    rank_pos, rank_neg = _midranks(pos), _midranks(neg)
    v10 = (rank_all[:m] - rank_pos) / n           # share of negatives below each positive
    v01 = 1.0 - (rank_all[m:] - rank_neg) / m     # share of positives above each negative
    auc = float(v10.mean())
    return auc, v10, v01


def delong_test(y: np.ndarray, scores_a: np.ndarray, scores_b: np.ndarray, level: float = 0.95) -> dict:
    """DeLong's paired test of ROC AUC(A) - AUC(B), with a normal confidence interval."""
    y = np.asarray(y).astype(int)
    if min(int(y.sum()), int(len(y) - y.sum())) < 2:  # variances need two rows of each class
        return {"test": "delong", "auc_a": None, "auc_b": None, "delta": None, "low": None,
                "high": None, "p_value": None}
    auc_a, v10_a, v01_a = _structural_components(y, np.asarray(scores_a, dtype=float))
    auc_b, v10_b, v01_b = _structural_components(y, np.asarray(scores_b, dtype=float))
    s10 = np.cov(np.vstack([v10_a, v10_b]))
    s01 = np.cov(np.vstack([v01_a, v01_b]))
    cov = s10 / len(v10_a) + s01 / len(v01_a)
    variance = float(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1])
    delta = auc_a - auc_b
    if variance <= 0 or not math.isfinite(variance):  # identical scorers: no evidence either way
        return {"test": "delong", "auc_a": auc_a, "auc_b": auc_b, "delta": delta, "low": delta,
                "high": delta, "p_value": 1.0}
    sd = math.sqrt(variance)
    z = stats.norm.ppf(0.5 + level / 2)
    p_value = float(2 * stats.norm.sf(abs(delta) / sd))
    return {"test": "delong", "auc_a": auc_a, "auc_b": auc_b, "delta": delta,
            "low": delta - z * sd, "high": delta + z * sd, "p_value": p_value}
