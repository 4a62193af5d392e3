"""Windows go out over /ws as `monitoring_window` events and into Prometheus gauges."""
from __future__ import annotations

import asyncio
import re

from tests.monitoring.conftest import flow
from tests.monitoring.helpers import fast_client, feedback, predict, wait_logged


async def _next_window_event(ws, timeout: float = 15.0) -> dict:
    async def read():
        while True:
            event = await ws.receive_json()
            if event.get("type") == "monitoring_window":
                return event["window"]
    return await asyncio.wait_for(read(), timeout)


async def test_new_and_labelled_windows_are_published_over_ws(aiohttp_client, trained_workdir):
    client = await fast_client(aiohttp_client, trained_workdir)
    ws = await client.ws_connect("/ws")
    answers = await predict(client, [flow(i) for i in range(10)])
    window = await _next_window_event(ws)
    assert (window["predictions"], window["labelled"], window["realised"]) == (10, 0, None)
    assert window["estimated"]["f1"] is not None or window["positive_rate"] == 0
    await wait_logged(trained_workdir, 10)
    await feedback(client, [{"prediction_id": a["prediction_id"], "congestion": 1} for a in answers[:4]])
    labelled = await _next_window_event(ws)
    assert (labelled["labelled"], labelled["label_coverage"]) == (4, 0.4)
    await ws.close()


async def test_prometheus_gauges_follow_the_latest_window(aiohttp_client, trained_workdir):
    client = await fast_client(aiohttp_client, trained_workdir)
    answers = await predict(client, [flow(i) for i in range(8)])
    await wait_logged(trained_workdir, 8)
    await feedback(client, [{"prediction_id": a["prediction_id"], "congestion": 0} for a in answers[:2]])
    version = answers[0]["version"]
    pattern = rf'congestion_monitoring_label_coverage{{version="{version}"}} 0\.25'
    for _ in range(100):
        text = await (await client.get("/metrics")).text()
        if re.search(pattern, text):
            break
        await asyncio.sleep(0.1)
    assert re.search(pattern, text), text[-3000:]
    assert re.search(rf'congestion_monitoring_prediction_rate{{version="{version}"}} 0\.00222', text)
    assert f'congestion_monitoring_f1{{kind="estimated",version="{version}"}}' in text
    assert "congestion_prediction_log_dropped_total 0.0" in text
