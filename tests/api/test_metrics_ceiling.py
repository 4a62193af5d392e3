"""The Bayes ceiling of generated training data beside the model's metrics: API, CLI and dashboard."""
from __future__ import annotations

import math

import pytest
from sklearn.metrics import roc_auc_score

from server import commands
from server.ml.evaluate import best_f1
from server.ml.generator import generate_flows
from tests.conftest import check_json


def _holdout(config):
    """The active version's hold-out as the worker cut it: the most recent test_size of the generated rows."""
    df = generate_flows(config.data.rows, config.data.seed, config.data.positive_rate)
    n_test = math.ceil(config.data.test_size * len(df))
    return df.iloc[len(df) - n_test:]


async def test_metrics_carry_the_ceiling_computed_from_p_true_on_the_holdout(client, trained_config):
    metrics = await check_json(await client.get("/api/metrics"), 200)
    hold = _holdout(trained_config)
    ceiling = metrics["bayes_ceiling"]
    assert ceiling["auc_roc"] == pytest.approx(roc_auc_score(hold["congestion"], hold["p_true"]))
    assert ceiling["f1"] == pytest.approx(best_f1(hold["congestion"].to_numpy(), hold["p_true"].to_numpy())[0])
    assert ceiling["f1_gap"] == pytest.approx(ceiling["f1"] - metrics["f1_at_best_threshold"])
    assert ceiling["auc_roc_gap"] == pytest.approx(ceiling["auc_roc"] - metrics["auc_roc"])
    detail = await check_json(await client.get("/api/versions/detail"), 200)
    assert all(v["metrics"]["bayes_ceiling"]["f1"] > 0 for v in detail["versions"])


async def test_the_cli_prints_the_ceiling_beside_the_metrics(client):
    metrics = await check_json(await client.get("/api/metrics"), 200)
    text = commands.metrics_summary(metrics)
    assert f"F1 {metrics['f1_score']:.4f} at threshold" in text
    assert f"Bayes ceiling of this data (generator p_true on the hold-out): F1 {metrics['bayes_f1']:.4f}" in text
    assert f"ROC AUC {metrics['bayes_auc_roc']:.4f}" in text


def test_a_users_file_has_no_ceiling():
    text = commands.metrics_summary({"f1_score": 0.5, "threshold": 0.5, "auc_roc": 0.8, "bayes_f1": None,
                                     "bayes_auc_roc": None})
    assert "ceiling" not in text


async def test_the_dashboard_shows_the_ceiling_line(client):
    page = await client.get("/dashboard")
    assert 'id="m-ceiling"' in await page.text()
    script = await client.get("/static/js/dashboard/metrics.js")
    assert "bayes_ceiling" in await script.text()
