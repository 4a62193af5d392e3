"""Newcomer review of the dashboard (issue 11, items 17-23) in a real Chromium against a real server."""
from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest
from playwright.sync_api import expect

from tests.browser.test_dashboard import open_dashboard

pytestmark = [pytest.mark.browser, pytest.mark.slow]

MARKER_LABELS = """id => {
  const chart = Chart.getChart(document.getElementById(id));
  const a = chart.chartArea;
  return {area: {left: a.left, right: a.right, top: a.top, bottom: a.bottom},
          labels: (chart.$markerLabels || []).map(b => ({left: b.left, right: b.right, top: b.top,
                                                          bottom: b.bottom, text: b.text}))};
}"""


def short_tag(tag: str) -> str:
    """The trend charts' x label of a version tag ("11-26 07:05:12")."""
    return f"{tag[4:6]}-{tag[6:8]} {tag[9:11]}:{tag[11:13]}:{tag[13:]}"


def test_rollback_markers_stay_inside_apart_and_tell_when(new_page, live_server, screenshots):
    """Three rollbacks after the newest version: one marker, inside the chart, at the rollbacks' time."""
    versions = live_server.versions()
    active = next(v["timestamp"] for v in versions if v["active"])
    other = next(v["timestamp"] for v in versions if not v["active"] and not v["pruned"])
    for target in (other, active, other, active):  # ends where it started
        live_server.call(f"/api/versions/rollback/{target}", "POST", {"reason": "marker test"})
    history = live_server.call("/api/metrics/history?limit=50")["history"]
    rollbacks = [e for e in history if e["type"] == "rolled_back"]
    last = datetime.fromisoformat(rollbacks[-1]["time"].replace("Z", "+00:00")).astimezone(timezone.utc)

    page = new_page(timezone_id="UTC")
    open_dashboard(page)
    page.wait_for_timeout(400)  # chart animation
    for chart in ("trend-chart", "confusion-chart"):
        drawn = page.evaluate(MARKER_LABELS, chart)
        area, labels = drawn["area"], drawn["labels"]
        assert labels, f"{chart}: no rollback marker labels drawn"
        for box in labels:
            assert area["left"] <= box["left"] and box["right"] <= area["right"], (chart, box, area)
            assert area["top"] <= box["top"] and box["bottom"] <= area["bottom"], (chart, box, area)
        for i, a in enumerate(labels):
            for b in labels[i + 1:]:
                apart = a["right"] <= b["left"] or b["right"] <= a["left"] or a["bottom"] <= b["top"] or b["bottom"] <= a["top"]
                assert apart, (chart, a, b)
        texts = " ".join(box["text"] for box in labels)
        assert last.strftime("%H:%M") in texts, (texts, rollbacks[-1])
        assert not any(short_tag(v["timestamp"]) in texts for v in versions), texts
    assert any("×" in box["text"] for box in labels), labels  # four rollbacks share one gap
    page.locator("#trends").screenshot(path=screenshots / "trends-rollback-markers.png")


def test_plot_opens_enlarged_in_the_page(new_page, screenshots):
    """A thumbnail click opens a lightbox (no download); arrows page through; Escape closes. Dark: light card."""
    page = new_page(color_scheme="dark")
    downloads = []
    page.on("download", lambda download: downloads.append(download))
    open_dashboard(page)
    thumb = page.locator("#gallery-grid img").first
    expect(thumb).to_be_visible()
    thumb_width = thumb.bounding_box()["width"]
    card = page.locator("#gallery-grid .plot").first
    background = card.evaluate("n => getComputedStyle(n).backgroundColor")
    channels = [int(c) for c in re.findall(r"\d+", background)[:3]]
    assert min(channels) >= 200, f"plot card in dark mode is not a light card: {background}"

    thumb.click()
    dialog = page.locator("#lightbox")
    expect(dialog).to_be_visible()
    image = page.locator("#lightbox-image")
    page.wait_for_function("() => document.getElementById('lightbox-image').naturalWidth > 0")
    assert image.bounding_box()["width"] > thumb_width * 1.5
    first_title = page.locator("#lightbox-title").inner_text()
    page.keyboard.press("ArrowRight")
    expect(page.locator("#lightbox-title")).not_to_have_text(first_title)
    expect(page.locator("#lightbox-count")).to_have_text(re.compile(r"^2 / \d+$"))
    page.wait_for_timeout(300)
    page.screenshot(path=screenshots / "lightbox-dark.png")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    assert downloads == [], "clicking a thumbnail downloaded the PNG"
    page.locator("#gallery").screenshot(path=screenshots / "gallery-dark.png")


SAMPLE_TITLE = """async () => {
  // The title ticks once a second: read it until one step has shown three times (at most 15 s).
  const seen = [], times = {};
  for (let i = 0; i < 60; i += 1) {
    const text = document.getElementById('run-title').textContent;
    seen.push(text);
    const [step, elapsed] = text.split(' · ');
    (times[step] = times[step] || new Set()).add(elapsed);
    if (times[step].size > 2) break;
    await new Promise(r => setTimeout(r, 250));
  }
  return seen;
}"""


def test_run_title_ticks_and_a_cancelled_run_reads_cancelled(page, live_server, screenshots):
    """Within one phase the elapsed time moves on; cancelling marks the phase "cancelled", not red "failed"."""
    open_dashboard(page)
    # Big enough that one phase lasts several ticks even on an idle machine (30k rows once
    # finished in 2.3 s); the run is cancelled right after, so its size costs nothing more.
    answer = live_server.call("/api/train/async", "POST",
                              {"generate_data": True, "rows": 200_000, "search_iterations": 20})
    expect(page.locator("#run")).to_have_attribute("data-state", "running")
    expect(page.locator("#run-title")).to_have_text(re.compile(r"^Run \d+.* · "))
    samples = page.evaluate(SAMPLE_TITLE)
    by_step: dict[str, set[str]] = {}
    for text in samples:  # "Run 3: features · 2.0 s": the step before the dot, the time after it
        step, _, elapsed = text.partition(" · ")
        by_step.setdefault(step, set()).add(elapsed)
    assert any(len(times) > 2 for times in by_step.values()), f"elapsed time froze within a phase: {samples}"

    page.locator("#train-cancel").click()
    expect(page.locator("#run")).to_have_attribute("data-state", "idle", timeout=60_000)
    cancelled = page.locator('#phases [data-status="cancelled"]')
    expect(cancelled).to_have_count(1)
    expect(cancelled.locator(".phase-time")).to_have_text("cancelled")
    expect(page.locator('#phases [data-status="failed"]')).to_have_count(0)
    expect(page.locator("#run-title")).to_have_text(re.compile(rf"^Run {answer['run_id']} cancelled"))
    expect(page.locator(".toast", has_text="cancelled")).to_be_visible()
    icon = cancelled.locator(".phase-icon").evaluate("n => getComputedStyle(n).borderTopColor")
    danger = page.evaluate("""() => { const d = document.createElement('div'); d.style.color = 'var(--danger)';
                              document.body.append(d); const c = getComputedStyle(d).color; d.remove(); return c; }""")
    assert icon != danger, "a cancelled phase is painted in the error colour"
    page.locator("#train").screenshot(path=screenshots / "run-cancelled.png")
    assert live_server.call(f"/api/train/runs/{answer['run_id']}")["status"] == "cancelled"


def test_predict_result_never_sits_beside_another_flow(page, watch, screenshots):
    """Randomise, an edit or a refused flow take the previous result away."""
    watch.allow(400, "/api/explain")
    page.goto("/predict")
    result = page.locator("#predict-explanation")
    page.locator('[data-preset="heavy-hitter"]').click()
    expect(result).to_be_visible()
    page.locator("#randomise").click()
    expect(result).to_be_hidden()
    expect(page.locator("#result-empty")).to_contain_text("random flow")
    page.locator("#predict-submit").click()
    expect(result).to_be_visible()
    page.locator("#f-bytes_sent").fill("123")
    expect(result).to_be_hidden()
    page.locator("#predict-submit").click()
    expect(result).to_be_visible()
    page.locator("#f-packet_size").fill("-5")
    page.locator("#predict-submit").click()
    expect(page.locator("#f-packet_size-error")).not_to_be_empty()
    expect(result).to_be_hidden()
    expect(page.locator("#f-packet_size")).to_have_attribute("min", "0")  # the API's own lower bound
    page.screenshot(path=screenshots / "predict-refused.png", full_page=True)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_narrow_tables_become_cards(new_page, scheme, screenshots):
    """At 390 px the versions and contribution tables do not scroll sideways, not even inside their box."""
    page = new_page(width=390, height=844, color_scheme=scheme)
    open_dashboard(page)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    for table in ("#versions-table", "#local-contrib-table"):
        wrap = page.locator(table).locator("xpath=..")
        sizes = wrap.evaluate("n => [n.scrollWidth, n.clientWidth]")
        assert sizes[0] <= sizes[1], f"{table} scrolls sideways: {sizes}"
        labels = page.locator(f"{table} tbody td[data-label]").first
        assert labels.evaluate("n => getComputedStyle(n, '::before').content") not in ("none", "normal", "")
    page.locator("#versions").screenshot(path=screenshots / f"versions-390-{scheme}.png")
    page.locator("#local").screenshot(path=screenshots / f"contrib-390-{scheme}.png")


def test_a_version_changed_elsewhere_toasts_and_rows_are_labelled(page, live_server):
    """A CLI rollback (another process) is noticed by the server and shown as a toast; Rows says which rows."""
    open_dashboard(page)
    metrics = live_server.call("/api/metrics")
    test_rows = metrics["tn"] + metrics["fp"] + metrics["fn"] + metrics["tp"]
    expect(page.locator("#m-samples-label")).to_have_text("Rows")
    expect(page.locator("#m-samples-hint")).to_have_text(
        f"{metrics['samples'] - test_rows:,} train · {test_rows:,} test")
    expect(page.locator("#trends figcaption").nth(1)).to_contain_text("test rows")

    active = next(v["timestamp"] for v in live_server.versions() if v["active"])
    target = next(v["timestamp"] for v in live_server.versions() if not v["active"] and not v["pruned"])
    live_server.cli("versions", "rollback", target, "--reason", "bad deploy")
    toast = page.locator(".toast", has_text=f"rolled back to {target} by the CLI (bad deploy)")
    expect(toast).to_be_visible(timeout=20_000)
    expect(page.locator("#active-version")).to_have_text(target)
    live_server.cli("versions", "rollback", active, "--reason", "restore")
    expect(page.locator("#active-version")).to_have_text(active, timeout=20_000)


def test_feature_names_have_tooltips_from_the_server(page, live_server):
    """Each contribution's feature name carries the server's description; the glossary list serves touch."""
    open_dashboard(page)
    glossary = live_server.call("/api/glossary")
    words = {f["name"]: f["description"] for f in glossary["features"]} | glossary["groups"] | glossary["terms"]
    rows = page.locator("#local-contrib-table tbody tr")
    expect(rows.first).to_be_visible()
    for i in range(rows.count()):
        feature = rows.nth(i).get_attribute("data-feature")
        name = rows.nth(i).locator("th .term")
        expect(name).to_have_attribute("title", words[feature])
    expect(page.locator("#local-explanation .term[data-term='base value']")).to_have_attribute(
        "title", glossary["terms"]["base value"])
    page.locator("#local-glossary summary").click()
    expect(page.locator("#local-glossary-list dt", has_text="base value")).to_be_visible()
    expect(page.locator("#versions-table .top-shap .term").first).to_have_attribute("title", re.compile(".{10,}"))


DRIFT_STATUS = {"window_s": 3600, "min_window_rows": 100, "dropped": 0, "pending": 0}
HOUR_START = 1_700_000_000 // 3600 * 3600
SMALL = {"start": HOUR_START, "rows": 12, "status": "too_small", "columns": {}, "dataset": None,
         "prediction": None, "attribution": None, "segments": []}
TESTED = {**SMALL, "rows": 150, "status": "ok",
          "columns": {"protocol": {"test": "chisquare", "statistic": 0.5, "threshold": 0.05, "drift": False}}}


@pytest.mark.parametrize("windows,says", [
    ([], "No drift windows yet: drift is computed for each 1-hour window of served predictions"),
    ([SMALL, {**SMALL, "start": HOUR_START - 3600, "rows": 40}],
     "No drift results yet: 2 closed windows had too few predictions to test (at most 40, 100 needed)"),
], ids=["no-window", "too-small"])
def test_drift_heatmap_without_results_says_why(page, windows, says):
    """A new install's heat-map is a sentence saying when drift appears, not a bare table header."""
    page.route(lambda url: "/api/drift?" in url,
               lambda route: route.fulfill(json={**DRIFT_STATUS, "windows": windows}))
    page.goto("/dashboard")
    empty = page.locator("#drift-empty")
    expect(empty).to_contain_text(says)
    expect(empty).to_be_visible()
    expect(page.locator("#drift-heatmap")).to_be_hidden()


def test_drift_heatmap_with_a_tested_window_drops_the_empty_state(page):
    """Once a window has column tests, the heat-map shows them and the empty-state sentence goes."""
    page.route(lambda url: "/api/drift?" in url,
               lambda route: route.fulfill(json={**DRIFT_STATUS, "windows": [TESTED, SMALL]}))
    page.goto("/dashboard")
    expect(page.locator("#drift-heatmap tr")).to_have_count(2)  # the window header and the protocol row
    expect(page.locator("#drift-heatmap")).to_be_visible()
    expect(page.locator("#drift-empty")).to_be_hidden()
