"""The shipped training config against the Bayes ceiling of generated data (issue 11 item 25).

Trains exactly what `make serve` trains on first start (config.yaml: 20,000 rows, its search and
model family), on seeds that took no part in choosing the defaults, and measures the gap to the
generator's p_true on the hold-out rows with the labels redrawn from p_true (expected_ceiling_gap):
one set of 4,000 hold-out labels moves the F1 gap by ~0.006 either way, the redrawn mean does not.
On these seeds the forest, the default before, has expected gaps of 0.011-0.017 F1 (mean 0.014) and
0.0045-0.0068 ROC AUC; XGBoost 0.005-0.007 F1 and 0.0021-0.0029 ROC AUC.
"""

import numpy as np
import pytest

from server.config import load_config
from server.ml.evaluate import expected_ceiling_gap
from server.ml.generator import generate_flows
from server.ml.schema import P_TRUE
from server.ml.worker import run_training

# One seed: on 21-23 every XGBoost gap is inside both bounds and every forest gap outside them.
SEEDS = (21,)  # the defaults were chosen on seeds 101-112 and reported on seeds 1-8


@pytest.fixture(scope="module")
def expected_gaps() -> list[dict]:
    cfg = load_config(environ={}).ml_snapshot()
    cfg["model"]["n_jobs"] = 1  # the other core belongs to other work
    cfg["model"]["shap_sample"] = 50
    gaps = []
    for seed in SEEDS:
        proba = np.array(run_training({"config": cfg, "data_path": None, "seed": seed}, None)["holdout"]["proba"])
        flows = generate_flows(cfg["data"]["rows"], seed, cfg["data"]["positive_rate"])  # time-sorted, as trained
        gaps.append(expected_ceiling_gap(flows[P_TRUE].to_numpy()[-len(proba):], proba))
    return gaps


def test_the_default_model_is_within_0_010_f1_of_the_bayes_ceiling(expected_gaps):
    gaps = [g["f1_gap"] for g in expected_gaps]
    assert np.mean(gaps) <= 0.010, gaps


def test_the_default_model_is_within_0_0035_roc_auc_of_the_bayes_ceiling(expected_gaps):
    gaps = [g["auc_roc_gap"] for g in expected_gaps]
    assert np.mean(gaps) <= 0.0035, gaps


def test_the_expected_gap_is_zero_for_p_true_and_grows_with_noise():
    p_true = np.random.default_rng(1).beta(1, 5, size=3000)
    assert expected_ceiling_gap(p_true, p_true, draws=20) == {"f1_gap": 0.0, "auc_roc_gap": 0.0, "draws": 20}
    logit, noise = np.log(p_true / (1 - p_true)), np.random.default_rng(2).normal(0, 1, size=3000)
    small, large = (expected_ceiling_gap(p_true, 1 / (1 + np.exp(-(logit + s * noise))), draws=20) for s in (0.5, 1.5))
    assert 0 < small["f1_gap"] < large["f1_gap"] and 0 < small["auc_roc_gap"] < large["auc_roc_gap"]
