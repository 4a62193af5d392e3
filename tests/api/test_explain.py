"""POST /api/explain and GET /api/explain/global against trained tiny models of both types."""
from __future__ import annotations

import pytest

from server import keys
from tests.api.test_predict import SEED, flow
from tests.conftest import check_error, check_json


async def activate(client, model_type: str) -> str:
    """Make the version of the given model type active; return its tag."""
    listed = (await check_json(await client.get("/api/versions/detail"), 200))["versions"]
    tag = next(v["timestamp"] for v in listed if v["model_type"] == model_type)
    await client.app[keys.REGISTRY].rollback(tag, actor="api")
    return tag


@pytest.mark.parametrize("model_type", ["random_forest", "xgboost"])
@pytest.mark.parametrize("query", ["", "?n=3", "?collapse_pairs=true", "?n=2&collapse_pairs=1&threshold=0.2"])
async def test_explanation_adds_up(client, model_type, query):
    """expected_value + sum(shap) == probability; sorted by |shap|; last cumulative percent is 100."""
    tag = await activate(client, model_type)
    body = await check_json(await client.post(f"/api/explain{query}", json=flow(3)), 200)
    assert body["version"] == tag
    assert set(body) >= {"probability", "threshold", "decision", "expected_value", "version",
                         "contributions", "warnings"}
    contributions = body["contributions"]
    total = body["expected_value"] + sum(c["shap"] for c in contributions)
    assert total == pytest.approx(body["probability"], abs=1e-6)
    assert contributions[-1]["cumulative_percent"] == pytest.approx(100.0)
    named = [c for c in contributions if c["feature"] != "other"]
    assert [abs(c["shap"]) for c in named] == sorted((abs(c["shap"]) for c in named), reverse=True)
    assert body["decision"] == int(body["probability"] >= body["threshold"])
    if "n=" in query:
        n = int(query.split("n=")[1].split("&")[0])
        assert len(named) == n and contributions[-1]["feature"] == "other"
    if "collapse" in query:
        features = {c["feature"] for c in named}
        assert not any(f.endswith(("_sin", "_cos", "_is_ipv6")) for f in features)


async def test_explanation_matches_prediction(client):
    """The explained probability is the one predict gives for the same flow state."""
    explained = await check_json(await client.post("/api/explain", json=flow(5)), 200)
    later = {**flow(5), "timestamp_seconds": SEED["timestamp_seconds"] + 7 * 86_400}
    predicted = await check_json(await client.post("/api/predict", json=later), 200)
    assert explained["probability"] == pytest.approx(predicted["probability"], abs=1e-9)


async def test_global_importance(client):
    """Grouped and per-feature importance of the active version."""
    body = await check_json(await client.get("/api/explain/global"), 200)
    assert body["version"] == client.app[keys.INFERENCE].version
    assert body["groups"] and body["features"]
    assert {"feature", "importance"} <= set(body["groups"][0])


async def test_global_importance_without_model_is_404(empty_client):
    """No active version -> 404 JSON."""
    await check_error(await empty_client.get("/api/explain/global"), 404, "not_found")


async def test_explain_without_model_is_503(empty_client):
    """No active version -> 503 JSON."""
    await check_error(await empty_client.post("/api/explain", json=SEED), 503, "unavailable")
