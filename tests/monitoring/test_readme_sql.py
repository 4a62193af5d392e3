"""The README's prediction-log SQL runs on a logged SQLite database and answers correctly."""
from __future__ import annotations

import re
import sqlite3

import pytest

from server.app import create_app
from server.config import REPO_ROOT
from tests.monitoring.conftest import BASE_TS, flow


def monitoring_queries() -> dict[str, str]:
    text = (REPO_ROOT / "README.md").read_text()
    section = text.split("## Monitoring live traffic", 1)[1].split("\n## ", 1)[0]
    return {q.splitlines()[0]: q for q in re.findall(r"```sql\n(.*?)```", section, flags=re.S)}


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_readme_window_query_counts_the_logged_predictions(aiohttp_client, trained_config, trained_workdir):
    client = await aiohttp_client(create_app(trained_config))
    body = [flow(i, ts=BASE_TS + i * 600) for i in range(9)]  # 6 in the first hour, 3 in the next
    response = await client.post("/api/predict", json=body)
    answers = await response.json()
    await client.close()
    queries = monitoring_queries()
    assert len(queries) >= 3
    with sqlite3.connect(trained_workdir / "metadata.sqlite3") as conn:
        results = {name: conn.execute(q).fetchall() for name, q in queries.items()}
    windows = results["-- Predictions, congested share and label coverage per hour window and version"]
    assert [(w[2], w[4]) for w in windows] == [(3, 0), (6, 0)]
    assert windows[1][3] == pytest.approx(sum(a["prediction"] for a in answers[:6]) / 6)
    assert results["-- Labelled flows the model got wrong in the last day of arrivals"] == []
