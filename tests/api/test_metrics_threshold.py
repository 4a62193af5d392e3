"""Stored metrics are measured at `api.default_threshold`, and say so (issue 11 item 9)."""
from __future__ import annotations

import numpy as np

from server import commands
from server.app import create_app
from server.services.training import TrainRequest
from tests.conftest import check_json, tiny_config


async def test_metrics_are_computed_and_recorded_at_the_configured_threshold(aiohttp_client, empty_config, tmp_path):
    """Train with default_threshold 0.3: precision, recall, F1 and counts are those of the hold-out at 0.3."""
    # empty_config made tmp_path / "empty" (and, on PostgreSQL, its database): the same store, another threshold
    config = tiny_config(tmp_path / "empty", CONGESTION_API__DEFAULT_THRESHOLD="0.3")
    assert await commands.pipeline(config, TrainRequest()) == 0
    client = await aiohttp_client(create_app(config))

    metrics = await check_json(await client.get("/api/metrics"), 200)
    assert metrics["threshold"] == 0.3
    holdout_name = f"holdout_{metrics['version']}.json"
    response = await client.get(f"/download/version/{holdout_name}")
    assert response.status == 200
    holdout = await response.json(content_type=None)
    y, proba = np.asarray(holdout["y"]), np.asarray(holdout["proba"])
    pred = proba >= 0.3
    counts = {"tp": int((pred & (y == 1)).sum()), "fp": int((pred & (y == 0)).sum()),
              "fn": int((~pred & (y == 1)).sum()), "tn": int((~pred & (y == 0)).sum())}
    assert {k: metrics[k] for k in counts} == counts
    assert metrics["precision"] == counts["tp"] / (counts["tp"] + counts["fp"])
    assert metrics["recall"] == counts["tp"] / (counts["tp"] + counts["fn"])
    assert int((proba >= 0.5).sum()) != int(pred.sum()), "the two thresholds must decide differently here"

    history = (await check_json(await client.get("/api/metrics/history"), 200))["history"]
    assert [e["threshold"] for e in history if e["type"] == "trained"] == [0.3]
    [version] = (await check_json(await client.get("/api/versions/detail"), 200))["versions"]
    assert version["metrics"]["threshold"] == 0.3
