"""Served traffic with a shift injected at a known window: reports, alerts, /ws events, metrics."""
from __future__ import annotations

import asyncio
import json
import re
import time

from server import keys
from tests.conftest import check_error, check_json
from tests.drift.conftest import window_flows

SHIFTED = range(3, 6)  # windows 3, 4 and 5 carry the shift; 0-2 and 6-9 do not


async def _serve(client, windows: range) -> None:
    for w in windows:
        body = window_flows(w, shifted=w in SHIFTED)
        await check_json(await client.post("/api/predict", json=body), 200)
        await _logged(client, body[0]["timestamp_seconds"] // 3600 * 3600)
        await client.app[keys.DRIFT].process_pending()


async def _logged(client, start: int) -> None:
    """Wait until the prediction log has aggregated the window (its writer flushes every 50 ms)."""
    deadline = time.monotonic() + 30
    while not any(w["start_timestamp"] == start for w in await client.app[keys.MONITORING].windows(None, 100)):
        assert time.monotonic() < deadline, "the prediction log did not flush in time"
        await asyncio.sleep(0.05)


async def _events(ws, kinds: set[str]) -> list[dict]:
    """Every queued event of these kinds (stops when the socket is quiet)."""
    out = []
    while True:
        try:
            message = await ws.receive_str(timeout=1.0)
        except asyncio.TimeoutError:
            return out
        event = json.loads(message)
        if event["type"] in kinds:
            out.append(event)


async def test_shift_opens_the_alert_after_the_debounce_and_resolves_after_it_ends(drift_client):
    ws = await drift_client.ws_connect("/ws")
    await _serve(drift_client, range(0, 10))  # window 9's flows close window 8
    body = await check_json(await drift_client.get("/api/drift?limit=100"), 200)
    first = min(w["start"] for w in body["windows"])
    windows = {(w["start"] - first) // 3600: w for w in body["windows"]}
    assert len(windows) == 9
    for w, report in windows.items():
        assert report["status"] == "ok" and report["rows"] == 60
        assert report["dataset"]["drift"] == (w in SHIFTED), (w, report["dataset"])
        assert {"test", "statistic", "threshold", "drift"} <= set(report["columns"]["protocol"])
    shifted = windows[3]
    assert shifted["columns"]["dest_subnet"]["drift"] and shifted["columns"]["protocol"]["drift"]
    assert any(s["change"] == "appeared" and s["segment"].startswith("172.31.") for s in shifted["segments"])
    assert shifted["attribution"] is not None and shifted["attribution"]["current"]

    alerts = (await check_json(await drift_client.get("/api/alerts?status=all"), 200))["alerts"]
    dataset = [a for a in alerts if a["rule"] == "dataset_drift"]
    assert len(dataset) == 1
    alert = dataset[0]
    start = windows[0]["start"]
    assert alert["window_start"] == start + 4 * 3600  # second shifted window: debounce of 2
    assert alert["resolved_window_start"] == start + 7 * 3600  # second quiet window after the shift
    assert alert["status"] == "resolved" and alert["evidence"]["drift"]

    events = await _events(ws, {"drift_window", "alert_opened", "alert_resolved"})
    kinds = [e["type"] for e in events]
    assert kinds.count("drift_window") == 9
    opened = [e["alert"] for e in events if e["type"] == "alert_opened" and e["alert"]["rule"] == "dataset_drift"]
    assert [a["id"] for a in opened] == [alert["id"]]
    assert any(e["type"] == "alert_resolved" and e["alert"]["id"] == alert["id"] for e in events)
    await ws.close()

    metrics = await (await drift_client.get("/metrics")).text()
    assert 'congestion_drift_statistic{column="protocol"' in metrics
    assert 'congestion_alert_open{rule="dataset_drift"' in metrics


async def test_acknowledge_and_status_filters(drift_client):
    await _serve(drift_client, range(0, 6))  # the shift is still on at the end: the alert stays open
    open_alerts = (await check_json(await drift_client.get("/api/alerts?status=open"), 200))["alerts"]
    alert = next(a for a in open_alerts if a["rule"] == "dataset_drift")
    # No labels were fed back: coverage (from the live monitoring windows) stays 0 for 3 windows.
    coverage = next(a for a in open_alerts if a["rule"] == "label_coverage")
    assert coverage["evidence"]["label_coverage"] == 0 and coverage["evidence"]["windows_firing"] == 3
    acked = await check_json(await drift_client.post(f"/api/alerts/{alert['id']}/ack", json={"by": "oncall"}), 200)
    assert acked["status"] == "acknowledged" and acked["acknowledged_by"] == "oncall"
    listed = (await check_json(await drift_client.get("/api/alerts?status=acknowledged"), 200))["alerts"]
    assert alert["id"] in [a["id"] for a in listed]
    assert alert["id"] not in [a["id"] for a in (await check_json(
        await drift_client.get("/api/alerts?status=open"), 200))["alerts"]]


async def test_bad_parameters_are_named(drift_client):
    await check_error(await drift_client.get("/api/alerts?status=maybe"), 400, field="status")
    await check_error(await drift_client.get("/api/drift?version=latest"), 400, field="version")
    await check_error(await drift_client.get("/api/drift?limit=0"), 400, field="limit")
    await check_error(await drift_client.post("/api/alerts/abc/ack"), 400, field="alert_id")
    await check_error(await drift_client.post("/api/alerts/999/ack"), 404, field="alert_id")
    await check_error(await drift_client.post("/api/alerts/1/ack", json={"by": 3}), 400, field="by")


async def test_window_reports_are_computed_off_the_event_loop(drift_client, monkeypatch):
    import threading

    from server.monitoring import drift_service

    threads = []
    real = drift_service.window_report

    def recording(*args, **kwargs):
        threads.append(threading.current_thread())
        return real(*args, **kwargs)

    monkeypatch.setattr(drift_service, "window_report", recording)
    await _serve(drift_client, range(0, 3))  # windows 0 and 1 close
    assert len(threads) == 2
    assert threading.main_thread() not in threads  # the loop runs in the main thread


def _readme_alert_lines(port: int) -> str:
    """The README's drift-and-alerts curl block, pointed at this test's server."""
    from server.config import REPO_ROOT

    blocks = re.findall(r"```bash\n(.*?)```", (REPO_ROOT / "README.md").read_text(), flags=re.S)
    block = next(b for b in blocks if "/ack" in b and "/api/alerts" in b)
    return block.replace("http://127.0.0.1:8080", f"http://127.0.0.1:{port}")


async def _bash(script: str) -> tuple[int, list, str]:
    """Exit status, the JSON bodies printed one after another (curl -s adds no newline), stderr."""
    proc = await asyncio.create_subprocess_exec("bash", "-c", script, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)
    out, err = await proc.communicate()
    text, bodies, decoder = out.decode().strip(), [], json.JSONDecoder()
    while text:
        body, end = decoder.raw_decode(text)
        bodies.append(body)
        text = text[end:].lstrip()
    return proc.returncode, bodies, err.decode()


async def test_readme_alert_lines_work_as_written_on_a_fresh_install_and_with_alerts(aiohttp_server, drift_config):
    """Run as written: with no alert yet they say so (no 404 for a made-up id); with alerts the newest is acked."""
    from server.app import create_app
    from server.store import repo_alerts

    server = await aiohttp_server(create_app(drift_config))
    script = _readme_alert_lines(server.port)
    status, bodies, err = await _bash(script)
    assert status != 0 and "no open alert" in err, (status, bodies, err)
    assert [b.get("windows", b.get("alerts")) for b in bodies] == [[], []], bodies  # no 404 for a made-up id

    async with server.app[keys.SESSIONS].begin() as session:
        older = await repo_alerts.open_alert(session, "dataset_drift", "20260101_000000", 0, {})
        newest = await repo_alerts.open_alert(session, "f1_drop", "20260101_000000", 3600, {})
    status, bodies, err = await _bash(script)
    assert status == 0, (bodies, err)
    acked = bodies[-1]
    assert (acked["id"], acked["status"], acked["acknowledged_by"]) == (newest.id, "acknowledged", "oncall"), acked
    assert newest.id != 1 and older.id == 1  # on a fresh database an example with id 1 would have acked the older


async def test_drift_answer_carries_what_the_dashboard_explains_an_empty_heatmap_with(drift_client):
    """Before any window closes: no windows, the window length and the rows a window needs to be tested."""
    body = await check_json(await drift_client.get("/api/drift"), 200)
    assert body["windows"] == [] and body["window_s"] == 3600 and body["min_window_rows"] == 30, body
