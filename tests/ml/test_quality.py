"""The shipped training config against the Bayes ceiling of generated data (issue 11 item 25).

Trains exactly what `make serve` trains on first start (config.yaml: default rows, search and
model family), on seeds that took no part in choosing the defaults, and compares the hold-out
metrics with the generator's p_true on the same rows. One seed's hold-out F1 gap moves by ~0.006
(ROC AUC by ~0.001), so the bounds are on the mean of three. On these seeds the forest, the default
before, has a mean F1 gap of 0.008 (within the F1 bound: the 0.028 of the issue is the unlucky
seed 7) but an ROC AUC gap of 0.0043, which the AUC bound refuses; XGBoost: 0.004 and 0.0028.
"""

import numpy as np
import pytest

from server.config import load_config
from server.ml.evaluate import bayes_ceiling
from server.ml.worker import run_training

SEEDS = (21, 22, 23)  # the defaults were chosen on seeds 101-106 and reported on seeds 1-8


@pytest.fixture(scope="module")
def ceilings() -> list[dict]:
    cfg = load_config(environ={}).ml_snapshot()
    cfg["model"]["n_jobs"] = 1  # the machine's other cores belong to other tests
    cfg["model"]["shap_sample"] = 50
    return [bayes_ceiling(run_training({"config": cfg, "data_path": None, "seed": s}, None)["metrics"])
            for s in SEEDS]


def test_the_default_model_is_within_0_015_f1_of_the_bayes_ceiling(ceilings):
    gaps = [c["f1_gap"] for c in ceilings]
    assert np.mean(gaps) <= 0.015, gaps


def test_the_default_model_is_within_0_0035_roc_auc_of_the_bayes_ceiling(ceilings):
    gaps = [c["auc_roc_gap"] for c in ceilings]
    assert np.mean(gaps) <= 0.0035, gaps
