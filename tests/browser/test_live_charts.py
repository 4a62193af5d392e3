"""Live charts, model-change markers, alert banner and acknowledge, card indicators: driven by replayed traffic.

One server of its own (a token, a fast log flush, drift windows small enough for a few hundred rows) is fed
through its own API: predict, then feedback with labels that contradict the model, so realised F1 and AUC
fall under the training baseline and the f1_drop alert opens after its debounce; then a rollback.
"""
from __future__ import annotations

import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Server, serve

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TOKEN = "live-charts-token"
HOUR = 3600
W0 = 4_050_000_000 - 4_050_000_000 % HOUR  # after test_live.py's window, before the 2100 limit
ROWS = 40  # per window; 5 windows: 200 predictions


@pytest.fixture(scope="module")
def live_server(trained_template: Path, tmp_path_factory) -> Iterator[Server]:
    """This module's own server: token-protected writes, 0.1 s log flush, drift reports from 20 rows."""
    with serve(trained_template, tmp_path_factory.mktemp("live-charts"),
               CONGESTION_SERVER__TOKEN=TOKEN, CONGESTION_MONITORING__FLUSH_INTERVAL_S="0.1",
               CONGESTION_DRIFT__MIN_WINDOW_ROWS="20", CONGESTION_DRIFT__SEGMENT_MIN_ROWS="10",
               CONGESTION_DRIFT__EXPLAIN_SAMPLE="5", CONGESTION_RETRAIN__ON_ALERTS="[]",
               CONGESTION_ALERTS__F1_SPAN_S=str(HOUR)) as server:  # F1 rules on single windows
        yield server


def _flows(window: int) -> list[dict]:
    start = W0 + window * HOUR
    big = {"packet_size": 1400, "bytes_sent": 900_000, "protocol": "UDP"}  # some flows the model calls congested
    return [{"packet_size": 300 + 41 * i % 1100, "bytes_sent": 2000 + 7919 * i % 80000,
             "source_ip": f"10.1.{i % 9}.{i % 200 + 1}", "dest_ip": f"192.168.{i % 4}.{i % 150 + 2}",
             "protocol": ("TCP", "UDP")[i % 2], "timestamp_seconds": start + 60 * i, **(big if i % 3 == 0 else {})}
            for i in range(ROWS)]


def _replay(server: Server, window: int, *, wrong: bool) -> None:
    """Predict a window's flows, then label them all: when `wrong`, 4 in 5 contradict the model (both classes
    occur whatever it predicted, so realised ROC AUC exists too)."""
    answers = server.call("/api/predict", "POST", _flows(window))
    labels = [{"prediction_id": a["prediction_id"], "congestion": 1 - a["prediction"] if wrong and i % 5 else a["prediction"]}
              for i, a in enumerate(answers)]
    deadline = time.monotonic() + 15
    while server.call("/api/feedback", "POST", labels)["accepted"] < ROWS:  # rows reach the log within 0.1 s
        assert time.monotonic() < deadline, "predictions never reached the log"
        time.sleep(0.1)


def _points(page, canvas: str) -> int:
    return int(page.locator(f"#{canvas}").get_attribute("data-points") or 0)


def _chart(page, canvas: str) -> dict:
    """Datasets (label, non-null points) and painted marker labels of one chart."""
    return page.evaluate("""(id) => {
        const chart = window.Chart.getChart(document.getElementById(id));
        return { datasets: chart.data.datasets.map((d) => [d.label, d.data.filter((p) => p.y !== null).length]),
                 markers: (chart.$markerLabels || []).map((m) => m.text) };
    }""", canvas)


def _wait_points(page, canvas: str, label: str, n: int) -> None:
    """Until the chart's dataset `label` has `n` non-null points (charts redraw as /ws events arrive)."""
    page.wait_for_function("""([id, label, n]) => {
        const chart = window.Chart.getChart(document.getElementById(id));
        const ds = chart && chart.data.datasets.find((d) => d.label === label);
        return Boolean(ds) && ds.data.filter((p) => p.y !== null).length === n;
    }""", arg=[canvas, label, n])


def _sideways_overflow(page) -> tuple[list[int], list[str]]:
    """([page scroll width, viewport width], the first elements that reach past the right edge)."""
    width = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    wide = page.evaluate("""() => [...document.querySelectorAll('body *')]
        .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 0.5)
        .slice(0, 5).map((e) => `${e.tagName.toLowerCase()}#${e.id}.${e.className} ${Math.round(e.getBoundingClientRect().right)}`)""")
    return width, wide


def test_live_charts_alerts_and_card_indicators_follow_replayed_traffic(new_page, live_server, screenshots):
    versions = live_server.versions()
    serving = next(v["timestamp"] for v in versions if v["active"])
    other = next(v["timestamp"] for v in versions if not v["active"] and not v["pruned"])
    live = new_page()
    live.context.add_init_script(f"sessionStorage.setItem('apiToken', '{TOKEN}')")  # as the dashboard's token box does
    live.goto("/live")
    expect(live.locator("#live-ws")).to_have_attribute("data-state", "live")
    expect(live.locator("#live-version")).to_have_value(serving)

    for window in range(4):  # labels say the model is wrong: realised F1 far below training
        _replay(live_server, window, wrong=True)
        live.wait_for_function("([id, n]) => Number(document.getElementById(id).dataset.points) >= n",
                               arg=["live-traffic-chart", 2 * (window + 1)])
    # f1_drop reads the realised F1 of the window before the closing one: windows 0 and 1, debounce 2.
    banner = live.locator("#alert-banner")
    expect(banner).to_be_visible()
    expect(banner).to_have_attribute("data-severity", "critical")
    expect(banner).to_contain_text("realised F1 below training")
    expect(live.locator('#live-table [data-field="labelled"]')).to_have_text(["40 (100.0%)"] * 4)
    _wait_points(live, "live-f1-chart", "Realised F1", 4)
    traffic, f1 = _chart(live, "live-traffic-chart"), _chart(live, "live-f1-chart")
    assert traffic["datasets"] == [["Predictions", 4], ["Congested share", 4]]
    labels = dict(f1["datasets"])
    assert labels["Estimated F1"] == 4 and labels["Training F1"] == 2 and labels["Estimated F1 ±3σ"] == 4, f1
    assert _points(live, "live-coverage-chart") == 4
    expect(live.locator("#drift-heatmap tr").first.locator("th")).to_have_count(4)  # column + windows 0..2 closed
    live.screenshot(path=str(screenshots / "live-serving-1280.png"), full_page=True)

    dashboard = new_page()
    dashboard.context.add_init_script(f"sessionStorage.setItem('apiToken', '{TOKEN}')")
    dashboard.goto("/dashboard")
    f1_card = dashboard.locator("#m-f1").locator("xpath=..")
    expect(f1_card).to_have_attribute("data-drop", "true")
    expect(dashboard.locator("#m-f1-live")).to_contain_text("▼ live 0.")
    expect(dashboard.locator("#m-auc").locator("xpath=..")).to_have_attribute("data-drop", "true")
    dashboard.screenshot(path=str(screenshots / "dashboard-drop.png"), full_page=True)

    # A rollback: the selector follows the serving version and the change is a marker where it happened.
    live_server.call(f"/api/versions/rollback/{other}", "POST", {"reason": "live drill"})
    expect(live.locator("#live-version")).to_have_value(other)
    _replay(live_server, 4, wrong=False)
    live.wait_for_function("() => document.getElementById('live-charts').dataset.marks === '1'")
    live.wait_for_function("""() => (window.Chart.getChart(document.getElementById('live-f1-chart')).$markerLabels || [])
        .some((m) => m.text.startsWith('↩'))""")
    live.select_option("#live-version", "")
    live.wait_for_function("() => document.getElementById('live-charts').dataset.marks === '2'")
    traffic = _chart(live, "live-traffic-chart")
    assert sorted(traffic["datasets"]) == sorted([[f"Predictions · {serving}", 4], [f"Predictions · {other}", 1],
                                                  [f"Congested share · {serving}", 4], [f"Congested share · {other}", 1]])
    expect(live.locator("#live-events li").first).to_contain_text(f"rolled back to {other}")
    live.screenshot(path=str(screenshots / "live-1280.png"), full_page=True)

    # Acknowledge moves the alert out of the open ones (a token-protected POST, sent with the tab's token).
    alert = next(a for a in live_server.call("/api/alerts?status=open")["alerts"] if a["rule"] == "f1_drop")
    anonymous = urllib.request.Request(f"{live_server.base}/api/alerts/{alert['id']}/ack", data=b"{}", method="POST",
                                       headers={"Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(anonymous, timeout=10)
    assert refused.value.code == 401
    row = live.locator(f'#alert-list tr[data-alert-id="{alert["id"]}"]')
    expect(row).to_have_attribute("data-status", "open")
    row.get_by_role("button", name="Acknowledge").click()
    expect(row).to_have_attribute("data-status", "acknowledged")
    expect(row).to_contain_text("acknowledged by dashboard")
    assert live_server.call("/api/alerts?status=acknowledged")["alerts"][0]["id"] == alert["id"]
    still_open = len(live_server.call("/api/alerts?status=open")["alerts"])
    if still_open:
        expect(banner).to_have_attribute("data-open", str(still_open))
        expect(banner).not_to_have_attribute("data-rule", "f1_drop")
    else:
        expect(banner).to_be_hidden()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_live_page_and_dashboard_at_390px_do_not_scroll_sideways(new_page, live_server, screenshots, scheme):
    page = new_page(width=390, height=844, color_scheme=scheme)
    page.context.add_init_script(f"sessionStorage.setItem('apiToken', '{TOKEN}')")
    for path in ("/live", "/dashboard"):
        page.goto(path)
        page.wait_for_load_state("networkidle")
        width, wide = _sideways_overflow(page)
        assert width[0] <= width[1], f"{path} scrolls sideways: {width}, past the edge: {wide}"
        page.screenshot(path=str(screenshots / f"{path[1:]}-390-{scheme}.png"), full_page=True)


def test_live_charts_follow_dark_mode(new_page, live_server, screenshots):
    page = new_page(color_scheme="dark")
    page.context.add_init_script(f"sessionStorage.setItem('apiToken', '{TOKEN}')")
    page.goto("/live")
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    page.wait_for_function("() => Number(document.getElementById('live-traffic-chart').dataset.points) > 0")
    colours = page.evaluate("""() => {
        const css = getComputedStyle(document.documentElement);
        const chart = window.Chart.getChart(document.getElementById('live-f1-chart'));
        return [chart.options.scales.x.ticks.color, css.getPropertyValue('--muted').trim(),
                chart.data.datasets.map((d) => d.borderColor)];
    }""")
    assert colours[0] == colours[1]  # axis text in the dark theme's colour
    page.wait_for_function("""() => { const cells = [...document.querySelectorAll('#live-table [data-field="baseline_f1"]')];
        return cells.length === 5 && cells.every((c) => /^\\d\\.\\d{3}$/.test(c.textContent)); }""")  # every version's
    page.screenshot(path=str(screenshots / "live-1280-dark.png"), full_page=True)
    page.click("#theme-toggle")  # back to light: the charts recolour in place
    expect(page.locator("html")).to_have_attribute("data-theme", "light")
    light = page.evaluate("""() => window.Chart.getChart(document.getElementById('live-f1-chart')).options.scales.x.ticks.color""")
    assert light != colours[0]
