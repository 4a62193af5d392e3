"""Leakage-free resampling, both models beat a baseline, SHAP additivity, metrics vs sklearn."""

import pickle

import numpy as np
import pandas as pd
import pytest
from imblearn.over_sampling import RandomOverSampler
from sklearn.metrics import average_precision_score, f1_score, precision_score, recall_score, roc_auc_score

from server.ml.evaluate import evaluate
from server.ml.explain import Explainer
from server.ml.pipeline import build_pipeline, param_grid
from server.ml.search import run_search, select_cost_aware


class SpySampler(RandomOverSampler):
    """Records the number of rows every fit_resample call sees."""

    seen: list[int] = []

    def fit_resample(self, X: object, y: np.ndarray, **params: object) -> tuple:
        SpySampler.seen.append(len(y))
        return super().fit_resample(X, y, **params)


def test_resampling_touches_only_training_folds(frame: tuple[pd.DataFrame, np.ndarray], small_config: dict):
    X, y = frame
    pipe = build_pipeline(small_config["features"], small_config["model"], "random_forest")
    pipe.set_params(sampler=SpySampler(random_state=0))
    SpySampler.seen = []
    fold_sizes: list[int] = []
    result = run_search(pipe, X, y, param_grid(small_config["model"], "random_forest"), n_iter=2, cv_splits=2,
                        scoring="average_precision", tolerance=0.0, random_state=0,
                        progress=lambda d, t: fold_sizes.append(d))
    train_sizes = [1000, 2000]  # TimeSeriesSplit(2) on 3000 rows
    assert SpySampler.seen == train_sizes * 2 + [3000]  # every candidate's training folds, then the refit
    assert fold_sizes == [1, 2, 3, 4, 5]
    SpySampler.seen = []
    result.estimator.predict_proba(X.iloc[:500])
    assert SpySampler.seen == []


def test_cost_aware_selection_prefers_cheap_within_tolerance():
    results = {"mean_test_score": [0.80, 0.797, 0.70],
               "params": [{"model__n_estimators": 200, "model__max_depth": 12},
                          {"model__n_estimators": 50, "model__max_depth": 8},
                          {"model__n_estimators": 10, "model__max_depth": 2}]}
    assert select_cost_aware(results, 0.005) == 1
    assert select_cost_aware(results, 0.0) == 0


@pytest.mark.parametrize("model_type", ["random_forest", "xgboost"])
def test_models_beat_baseline_and_shap_adds_up(frame: tuple[pd.DataFrame, np.ndarray], small_config: dict,
                                                model_type: str):
    X, y = frame
    split = 2200
    pipe = build_pipeline(small_config["features"], small_config["model"], model_type, y=y[:split])
    result = run_search(pipe, X.iloc[:split], y[:split], param_grid(small_config["model"], model_type), n_iter=2,
                        cv_splits=2, scoring="average_precision", tolerance=0.005, random_state=0)
    proba = result.estimator.predict_proba(X.iloc[split:])[:, 1]
    assert roc_auc_score(y[split:], proba) > 0.8
    assert average_precision_score(y[split:], proba) > 2 * y[split:].mean()

    explainer = pickle.loads(pickle.dumps(Explainer(result.estimator)))
    features = result.estimator.named_steps["features"].transform(X.iloc[split:split + 50])
    values, expected, model_proba = explainer.shap_values(features)
    tol = 1e-6 if model_type == "random_forest" else 1e-5
    assert np.allclose(expected + values.sum(axis=1), model_proba, atol=tol, rtol=0)
    assert np.allclose(model_proba, proba[:50], atol=1e-7)

    record = X.iloc[split + 3].to_dict()
    local = explainer.explain_record(record, n=5)
    assert abs(local["expected_value"] + sum(c["shap"] for c in local["contributions"]) - local["probability"]) < tol
    assert [c["feature"] for c in local["contributions"]][-1] == "other" and len(local["contributions"]) == 6
    assert local["contributions"][-1]["cumulative_percent"] == pytest.approx(100.0)
    shaps = [abs(c["shap"]) for c in local["contributions"][:-1]]
    assert shaps == sorted(shaps, reverse=True)
    grouped = explainer.explain_record(record, collapse=True)
    names = {c["feature"]: c["value"] for c in grouped["contributions"]}
    assert names["protocol"] == record["protocol"] and names["hour"] == record["hour"]
    assert names["source_ip"] == record["source_ip"]
    glob = explainer.global_importance(features)
    assert {g["feature"] for g in glob["groups"]} >= {"hour", "protocol", "source_ip", "dest_ip"}


def test_evaluate_matches_sklearn_on_toy_case():
    y = np.array([0, 0, 1, 1, 0, 1, 0, 0])
    p = np.array([0.1, 0.6, 0.8, 0.4, 0.2, 0.9, 0.3, 0.55])
    m = evaluate(y, p, threshold=0.5, p_true=p * 0.9, n_features=3)
    pred = (p >= 0.5).astype(int)
    assert m["precision"] == pytest.approx(precision_score(y, pred))
    assert m["recall"] == pytest.approx(recall_score(y, pred))
    assert m["f1"] == pytest.approx(f1_score(y, pred))
    assert m["auc_roc"] == pytest.approx(roc_auc_score(y, p))
    assert m["pr_auc"] == pytest.approx(average_precision_score(y, p))
    assert m["brier"] == pytest.approx(np.mean((p - y) ** 2))
    assert (m["tn"], m["fp"], m["fn"], m["tp"]) == (3, 2, 1, 2)
    assert m["f1_at_best_threshold"] == pytest.approx(f1_score(y, p >= 0.8)) and m["best_f1_threshold"] == 0.8
    assert m["bayes_auc_roc"] == pytest.approx(roc_auc_score(y, p))
    assert m["samples"] == 8 and m["features"] == 3 and m["positive_rate"] == pytest.approx(3 / 8)
