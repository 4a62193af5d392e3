"""Paired tests and the threshold curve against statsmodels, sklearn and a naive computation."""

import numpy as np
import pytest
from sklearn.metrics import confusion_matrix, f1_score, roc_auc_score
from statsmodels.stats.contingency_tables import mcnemar

from server.ml.paired import delong_test, mcnemar_exact
from server.ml.threshold import cost_at, threshold_curve


def _two_models(seed: int, n: int = 400):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.3).astype(int)
    signal = y + rng.normal(0, 0.8, n)
    a = 1 / (1 + np.exp(-(signal + rng.normal(0, 0.3, n))))
    b = 1 / (1 + np.exp(-(0.6 * signal + rng.normal(0, 0.6, n))))
    return y, np.round(a, 3), np.round(b, 3)  # rounding makes ties, which DeLong must handle


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_mcnemar_equals_statsmodels_exact(seed):
    y, a, b = _two_models(seed)
    pa, pb = (a >= 0.5).astype(int), (b >= 0.4).astype(int)
    ours = mcnemar_exact(y, pa, pb)
    right_a, right_b = pa == y, pb == y
    table = [[np.sum(right_a & right_b), np.sum(right_a & ~right_b)],
             [np.sum(~right_a & right_b), np.sum(~right_a & ~right_b)]]
    theirs = mcnemar(table, exact=True)
    assert ours["statistic"] == theirs.statistic
    assert ours["p_value"] == pytest.approx(theirs.pvalue, rel=1e-12)
    assert ours["a_only"] == table[0][1] and ours["b_only"] == table[1][0]


def test_mcnemar_identical_decisions_is_no_evidence():
    y = np.array([0, 1, 1, 0])
    assert mcnemar_exact(y, y, y)["p_value"] == 1.0


def _naive_delong_variance(y, a, b):
    """O(m*n) structural components straight from DeLong et al. (1988)."""
    def psi(x, z):
        return (x > z) + 0.5 * (x == z)

    comps = []
    for s in (a, b):
        pos, neg = s[y == 1], s[y == 0]
        kernel = psi(pos[:, None], neg[None, :])
        comps.append((kernel.mean(axis=1), kernel.mean(axis=0), kernel.mean()))
    s10 = np.cov(np.vstack([comps[0][0], comps[1][0]]))
    s01 = np.cov(np.vstack([comps[0][1], comps[1][1]]))
    cov = s10 / np.sum(y == 1) + s01 / np.sum(y == 0)
    return comps[0][2], comps[1][2], cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]


@pytest.mark.parametrize("seed", [0, 3])
def test_delong_equals_naive_computation_and_sklearn_auc(seed):
    y, a, b = _two_models(seed)
    result = delong_test(y, a, b)
    auc_a, auc_b, variance = _naive_delong_variance(y, a, b)
    assert result["auc_a"] == pytest.approx(roc_auc_score(y, a), abs=1e-12)
    assert result["auc_b"] == pytest.approx(roc_auc_score(y, b), abs=1e-12)
    assert result["auc_a"] == pytest.approx(auc_a, abs=1e-12)
    half_width = (result["high"] - result["low"]) / 2
    assert half_width == pytest.approx(1.959963984540054 * np.sqrt(variance), rel=1e-9)
    assert result["delta"] > 0 and result["p_value"] < 0.05  # A is built to be the better model


def test_delong_same_scores_is_no_evidence():
    y, a, _ = _two_models(5)
    assert delong_test(y, a, a)["p_value"] == 1.0


def test_threshold_curve_counts_equal_sklearn_at_every_threshold():
    y, a, _ = _two_models(7)
    curve = threshold_curve(y, a, cost_fn=5.0, cost_fp=1.0)
    assert len(curve["points"]) == 101
    for point in curve["points"][::7]:
        pred = (a >= point["threshold"]).astype(int)
        tn, fp, fn, tp = confusion_matrix(y, pred, labels=[0, 1]).ravel()
        assert (point["tn"], point["fp"], point["fn"], point["tp"]) == (tn, fp, fn, tp)
        assert point["f1"] == pytest.approx(f1_score(y, pred, zero_division=0), abs=1e-12)
        assert point["cost"] == 5.0 * fn + 1.0 * fp
    costs = [p["cost"] for p in curve["points"]]
    assert curve["recommended"]["cost"] == min(costs)
    assert cost_at(y, a, curve["recommended"]["threshold"], 5.0, 1.0) == min(costs)


def test_cost_ratio_moves_the_recommended_threshold():
    y, a, _ = _two_models(8)
    cheap_misses = threshold_curve(y, a, cost_fn=1.0, cost_fp=10.0)["recommended"]["threshold"]
    dear_misses = threshold_curve(y, a, cost_fn=10.0, cost_fp=1.0)["recommended"]["threshold"]
    assert dear_misses < cheap_misses


def test_delong_with_a_single_positive_gives_no_verdict_instead_of_a_warning():
    y = np.array([0, 0, 0, 1])
    result = delong_test(y, np.array([0.1, 0.2, 0.3, 0.9]), np.array([0.3, 0.2, 0.1, 0.8]))
    assert result["p_value"] is None and result["delta"] is None
