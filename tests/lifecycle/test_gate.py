"""The promotion gate's policy, on evidence shaped as the worker produces it."""

import pytest

from server.lifecycle.gate import decide

METRICS = ("f1_score", "pr_auc")


def _comparison(cand_f1: float, champ_f1: float, cand_ap: float = 0.8, champ_ap: float = 0.8,
                champion: str = "20260101_000000") -> dict:
    cand = {"f1_score": cand_f1, "pr_auc": cand_ap}
    champ = {"f1_score": champ_f1, "pr_auc": champ_ap}
    return {"champion_version": champion, "comparable": True, "rows": 300, "candidate": cand,
            "champion": champ, "delta": {k: cand[k] - champ[k] for k in cand}}


def test_first_version_is_promoted_whatever_the_mode():
    for mode in ("auto", "manual", "always"):
        assert decide(mode, METRICS, 0.01, None, None).outcome == "promoted"


def test_worse_by_more_than_the_margin_is_rejected_naming_the_metric_and_both_values():
    decision = decide("auto", METRICS, 0.01, _comparison(0.70, 0.73), "20260101_000000")
    assert decision.outcome == "rejected"
    assert "f1_score 0.7000 vs 0.7300" in decision.reason and "pr_auc" not in decision.reason
    assert decision.evidence["comparison"]["champion"]["f1_score"] == 0.73


def test_within_the_margin_is_promoted_with_the_deltas():
    decision = decide("auto", METRICS, 0.01, _comparison(0.725, 0.73), "20260101_000000")
    assert decision.outcome == "promoted" and "f1_score -0.0050" in decision.reason


def test_any_metric_worse_rejects():
    decision = decide("auto", METRICS, 0.01, _comparison(0.80, 0.73, cand_ap=0.6), "20260101_000000")
    assert decision.outcome == "rejected" and "pr_auc 0.6000 vs 0.8000" in decision.reason


@pytest.mark.parametrize("mode,outcome", [("manual", "held"), ("always", "promoted")])
def test_manual_holds_and_always_promotes_even_a_worse_version(mode, outcome):
    assert decide(mode, METRICS, 0.01, _comparison(0.1, 0.9), "20260101_000000").outcome == outcome


def test_evidence_against_another_champion_or_not_comparable_holds():
    stale = decide("auto", METRICS, 0.01, _comparison(0.9, 0.1, champion="20250101_000000"), "20260101_000000")
    assert stale.outcome == "held" and "changed" in stale.reason
    broken = decide("auto", METRICS, 0.01, {"champion_version": "20260101_000000", "comparable": False,
                                            "error": "ValueError: columns"}, "20260101_000000")
    assert broken.outcome == "held" and "ValueError" in broken.reason


def _paired(cand_f1: float, champ_f1: float, a_only: int, b_only: int, p: float) -> dict:
    return {"candidate": {"f1_score": cand_f1, "pr_auc": 0.5}, "champion": {"f1_score": champ_f1, "pr_auc": 0.5},
            "mcnemar": {"p_value": p, "a_only": a_only, "b_only": b_only},
            "delong": {"p_value": 0.4, "delta": 0.001}}


def test_a_shadow_that_wins_mcnemar_with_a_lower_f1_is_not_better():
    """McNemar rewards accuracy: a significant win that lowers F1 (bench/loop.py's case) is no win."""
    from server.lifecycle.challenge import verdict

    metrics = ("f1_score", "pr_auc")
    assert verdict(_paired(0.417, 0.421, 18, 6, 0.0227), metrics, 0.01) == "no_significant_difference"
    assert verdict(_paired(0.425, 0.421, 18, 6, 0.0227), metrics, 0.01) == "challenger_better"
    assert verdict(_paired(0.425, 0.421, 6, 18, 0.0227), metrics, 0.01) == "champion_better"


def test_the_rollback_watch_counts_windows_from_the_first_verdict():
    """Hourly windows of ~120 labels: the watch may not end before min_labels paired rows exist."""
    from server.lifecycle.rules import _watched_windows

    windows = [{"start": 3600 * k, "labelled": 120} for k in range(10)]
    assert _watched_windows({"windows": windows[:8]}, 1000) == 0  # 960 labels: no verdict yet
    assert _watched_windows({"windows": windows[:9]}, 1000) == 1  # the ninth window reaches 1,080
    assert _watched_windows({"windows": list(reversed(windows))}, 1000) == 2  # order of the API: newest first
    assert _watched_windows({"windows": windows}, 100) == 10
