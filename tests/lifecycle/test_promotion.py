"""The promotion gate end to end: real training, the active version scored on the same rows."""

import json

import pytest

from server import commands
from server.app import create_app
from server.services.training import TrainRequest
from tests.backends import execute_sql
from tests.conftest import check_json, tiny_config

AUTO = {"CONGESTION_VERSIONING__PROMOTION__MODE": "auto"}
# A forest of one stump: far worse than the template's models on any hold-out.
CRIPPLED = {**AUTO, "CONGESTION_MODEL__RANDOM_FOREST__PARAM_GRID": "{n_estimators: [1, 2], max_depth: [1]}"}


def _events(config, kind: str) -> list[tuple]:
    rows = execute_sql(config.storage.database_url,
                       "SELECT v.tag, e.actor, e.reason, e.evidence FROM model_events e "
                       f"JOIN model_versions v ON v.id = e.version_id WHERE e.kind = '{kind}' ORDER BY e.id")
    return [(tag, actor, reason, ev if isinstance(ev, dict) else json.loads(ev)) for tag, actor, reason, ev in rows]


@pytest.mark.slow
async def test_a_worse_version_is_registered_but_not_activated_and_can_be_activated_by_hand(
        aiohttp_client, trained_workdir, capsys):
    config = tiny_config(trained_workdir, **CRIPPLED)
    client = await aiohttp_client(create_app(config))
    before = next(v for v in (await check_json(await client.get("/api/versions/detail"), 200))["versions"]
                  if v["active"])
    assert await commands.pipeline(config, TrainRequest(model_type="random_forest")) == 0
    out = capsys.readouterr().out
    assert "rejected by the promotion gate" in out and f"{before['timestamp']} keeps serving" in out

    versions = (await check_json(await client.get("/api/versions/detail"), 200))["versions"]
    newest = versions[0]
    assert newest["timestamp"] != before["timestamp"] and not newest["active"]
    assert next(v for v in versions if v["active"])["timestamp"] == before["timestamp"]
    promotion = newest["promotion"]
    assert promotion["outcome"] == "rejected" and promotion["champion"] == before["timestamp"]
    assert promotion["delta"]["f1_score"] < -0.01 or promotion["delta"]["pr_auc"] < -0.01
    # Both models were measured on the same rows: the new version's hold-out.
    assert promotion["rows"] == newest["metrics"]["test_samples"]
    assert set(promotion["candidate_metrics"]) >= {"f1_score", "pr_auc"}
    assert set(promotion["champion_metrics"]) >= {"f1_score", "pr_auc"}
    assert 0.0 <= promotion["mcnemar_p"] <= 1.0 and 0.0 <= promotion["delong_p"] <= 1.0

    (tag, actor, reason, evidence), = _events(config, "rejected")
    assert tag == newest["timestamp"] and actor == "rule"
    assert "f1_score" in reason or "pr_auc" in reason
    assert evidence["comparison"]["candidate"]["f1_score"] == promotion["candidate_metrics"]["f1_score"]

    # A person can still activate it, with a reason, through the rollback/activate route.
    moved = await check_json(await client.post(f"/api/versions/rollback/{newest['timestamp']}",
                                               json={"reason": "needed for the A/B"}), 200)
    assert moved["changed"] and moved["version"] == newest["timestamp"]


@pytest.mark.slow
async def test_a_version_as_good_as_the_active_one_is_promoted_by_the_rule(trained_workdir):
    # Same data, same seed, same search as the active forest: equal on every metric.
    config = tiny_config(trained_workdir, **AUTO)
    assert await commands.pipeline(config, TrainRequest(model_type="random_forest")) == 0
    tag, actor, reason, evidence = _events(config, "promoted")[-1]  # the template's two come first
    assert actor == "rule" and "not worse" in reason
    assert evidence["comparison"]["delta"]["f1_score"] == pytest.approx(0.0, abs=1e-12)
    active = execute_sql(config.storage.database_url,
                         "SELECT v.tag FROM model_events e JOIN model_versions v ON v.id = e.version_id "
                         "WHERE e.kind IN ('activated', 'rolled_back', 'promoted') ORDER BY e.id DESC LIMIT 1")
    assert active[0][0] == tag


@pytest.mark.slow
async def test_manual_mode_holds_every_new_version(trained_workdir):
    config = tiny_config(trained_workdir, CONGESTION_VERSIONING__PROMOTION__MODE="manual")
    promoted_before = _events(config, "promoted")
    assert await commands.pipeline(config, TrainRequest(model_type="xgboost")) == 0
    (tag, actor, reason, _), = _events(config, "held")
    assert "manual" in reason and _events(config, "promoted") == promoted_before
