"""Dashboard flows in a real headless Chromium against a real server subprocess."""
from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PHASES = ["data", "features", "training", "scoring", "shap", "plots", "save"]

# Records every status change of the phase list, so the test sees phases *arrive*, not just end.
PHASE_LOG = """() => {
  window.__phaseLog = [];
  new MutationObserver((records) => {
    for (const r of records) window.__phaseLog.push(`${r.target.dataset.phase}:${r.target.dataset.status}`);
  }).observe(document.getElementById("phases"), {subtree: true, attributes: true, attributeFilter: ["data-status"]});
}"""


def open_dashboard(page):
    """Go to /dashboard and wait until the API data is on screen and the WebSocket is live."""
    page.goto("/dashboard")
    expect(page.locator("#m-f1")).to_have_text(re.compile(r"^\d\.\d{3}$"))
    expect(page.locator("#versions-table tbody tr[data-version]").first).to_be_visible()
    expect(page.locator("#ws-status")).to_have_attribute("data-state", "live")
    expect(page.locator("#samples-table tbody tr .badge").first).to_have_attribute(
        "data-decision", re.compile("congested|clear"))
    expect(page.locator("#local-explanation")).to_be_visible()


def explain_a_flow_the_slider_can_flip(page) -> float:
    """Explain presets until one has a probability strictly inside the slider's 0.01..0.99 range."""
    options = page.locator("#local-flow option")
    for i in range(options.count()):
        page.locator("#local-flow").select_option(index=i)
        with page.expect_response(lambda r: "/api/explain?" in r.url) as answer:
            page.locator("#local-form button[type=submit]").click()
        probability = answer.value.json()["probability"]
        page.wait_for_function(  # the view shows this answer, not the previous one
            "p => Math.abs(parseFloat(document.getElementById('local-probability').textContent) - p) <= 5e-4",
            arg=probability)
        if 0.02 < probability < 0.98:
            return probability
    raise AssertionError("no preset flow has a probability the threshold slider can flip")


def active_tag(page) -> str:
    return page.locator("#versions-table tr.is-active").get_attribute("data-version")


def test_dashboard_light_and_dark(new_page, screenshots):
    """Cards, charts, table and gallery render; dark mode toggles, is remembered, and follows the OS at first."""
    page = new_page()
    open_dashboard(page)
    expect(page.locator("html")).to_have_attribute("data-theme", "light")
    expect(page.locator("#gallery-grid img").first).to_be_visible()
    # the cards say at which threshold they were measured (the one stored with them: issue 11 item 9)
    expect(page.locator("#m-threshold")).to_have_text(re.compile(r"at threshold 0\.50, as recorded when trained"))
    page.wait_for_timeout(400)  # let chart animations settle for the screenshot
    page.screenshot(path=screenshots / "dashboard-light.png", full_page=True)

    toggle = page.locator("#theme-toggle")
    toggle.click()
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    expect(toggle).to_have_attribute("aria-pressed", "true")
    assert page.evaluate("localStorage.getItem('theme')") == "dark"
    page.reload()
    open_dashboard(page)
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    page.wait_for_timeout(400)  # let chart animations settle for the screenshot
    page.screenshot(path=screenshots / "dashboard-dark.png", full_page=True)
    toggle.press("Enter")  # keyboard-usable
    expect(page.locator("html")).to_have_attribute("data-theme", "light")

    first_visit = new_page(color_scheme="dark")
    first_visit.goto("/")
    expect(first_visit.locator("html")).to_have_attribute("data-theme", "dark")


def test_training_run_shows_live_phases_and_new_version(page, live_server):
    """Start a run from the form; phases arrive over /ws; the new version row appears without reload."""
    open_dashboard(page)
    before = page.locator("#versions-table tbody tr[data-version]").count()
    page.evaluate(PHASE_LOG)
    page.evaluate("window.__noReload = true")
    page.locator("#train-model").select_option("random_forest")
    page.locator("#train-start").click()

    expect(page.locator("#run")).to_have_attribute("data-state", "running")
    expect(page.locator("#train-cancel")).to_be_visible()
    expect(page.locator("#versions-table tbody tr[data-version]")).to_have_count(before + 1, timeout=120_000)
    for phase in PHASES:
        item = page.locator(f'#phases [data-phase="{phase}"]')
        expect(item).to_have_attribute("data-status", "done")
        expect(item.locator(".phase-time")).to_have_text(re.compile(r"\d+(\.\d+)? (ms|s)"))
    expect(page.locator(".toast", has_text="Training finished")).to_be_visible()
    expect(page.locator("#fits")).to_be_visible()  # the search's fits came as progress events
    fits = page.locator("#fits-bar")
    assert float(fits.get_attribute("max")) >= 1
    assert fits.evaluate("bar => bar.value === bar.max")
    expect(page.locator("#run")).to_have_attribute("data-state", "idle")

    log = page.evaluate("window.__phaseLog")
    done = [entry.split(":")[0] for entry in log if entry.endswith(":done")]
    assert done == PHASES, log
    assert "training:running" in log, log
    assert page.evaluate("window.__noReload") is True  # same document: no page reload happened
    newest = live_server.versions()[0]
    row = page.locator(f'#versions-table tr[data-version="{newest["timestamp"]}"]')
    expect(row).to_be_visible()
    expect(row.locator(".phase-durations li")).to_have_count(len(PHASES))
    if newest["active"]:
        expect(row.locator('[data-badge="active"]')).to_be_visible()
        expect(page.locator("#active-version")).to_have_text(newest["timestamp"])


def test_rollback_moves_active_badge_and_toasts(page, live_server):
    """Roll back through the <dialog>; cancelling changes nothing; confirming moves the badge."""
    open_dashboard(page)
    current = active_tag(page)
    target = next(v["timestamp"] for v in live_server.versions() if not v["active"] and not v["pruned"])
    button = page.locator(f'#versions-table tr[data-version="{target}"] button.rollback')

    button.click()
    dialog = page.locator("#rollback-dialog")
    expect(dialog).to_be_visible()
    expect(page.locator("#rollback-target")).to_have_text(target)
    page.locator("#rollback-cancel").click()
    expect(dialog).to_be_hidden()
    assert active_tag(page) == current

    button.click()
    page.locator("#rollback-reason").fill("browser test")
    page.locator("#rollback-confirm").click()
    expect(page.locator(".toast", has_text=f"Rolled back to {target}")).to_be_visible()
    expect(page.locator(f'#versions-table tr[data-version="{target}"] [data-badge="active"]')).to_be_visible()
    expect(page.locator(f'#versions-table tr[data-version="{current}"] [data-badge="active"]')).to_have_count(0)
    expect(page.locator("#active-version")).to_have_text(target)
    expect(page.locator("#rollback-events li", has_text=target).first).to_be_visible()
    expect(page.locator(".toast", has_text="elsewhere")).to_have_count(0)  # our own rollback: one toast


def test_threshold_flips_decisions_without_refetching(page, watch):
    """Moving the slider re-decides sample predictions and the explanation client-side."""
    open_dashboard(page)
    probability = explain_a_flow_the_slider_can_flip(page)
    badge = page.locator("#local-decision")
    calls_before = [r for r in watch.requests if "/api/" in r]

    above = min(0.99, round(probability + 0.01, 2)) if probability < 0.98 else 0.01
    page.locator("#threshold").fill(str(above))
    expect(page.locator("#threshold-value")).to_have_text(f"{above:.2f}")
    expected = "congested" if probability >= above else "not congested"
    expect(badge).to_have_text(expected)

    below = max(0.01, round(probability - 0.01, 2)) if probability > 0.02 else 0.99
    page.locator("#threshold").fill(str(below))
    expected_after = "congested" if probability >= below else "not congested"
    assert expected_after != expected, (probability, above, below)
    expect(badge).to_have_text(expected_after)
    expect(page.locator("#local-threshold-shown")).to_have_text(f"{below:.2f}")

    rows = page.locator("#samples-table tbody tr")
    for i in range(rows.count()):
        p = float(rows.nth(i).locator(".probability").inner_text())
        want = "congested" if p >= below else "not congested"
        expect(rows.nth(i).locator(".badge")).to_have_text(want)
    page.locator("#threshold").focus()
    page.keyboard.press("ArrowRight")  # keyboard-usable slider
    expect(page.locator("#threshold-value")).to_have_text(f"{below + 0.01:.2f}")
    assert [r for r in watch.requests if "/api/" in r] == calls_before  # nothing refetched


def test_contribution_csv_export(page):
    """The CSV download holds the table's rows with the API's numbers."""
    open_dashboard(page)
    table_features = page.locator("#local-contrib-table tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.feature)")
    with page.expect_download() as info:
        page.locator("#local-export-csv").click()
    download = info.value
    assert re.fullmatch(r"contributions_\d{8}_\d{6}\.csv", download.suggested_filename)
    rows = list(csv.DictReader(io.StringIO(Path(download.path()).read_text(encoding="utf-8"))))
    assert list(rows[0]) == ["feature", "value", "shap", "percent", "cumulative_percent"]
    assert [r["feature"] for r in rows] == table_features
    assert abs(float(rows[-1]["cumulative_percent"]) - 100.0) < 0.01
    for row in rows:
        float(row["shap"])


def test_global_shap_grouped_toggle(page):
    """The grouped/ungrouped switch redraws the global chart with different labels."""
    open_dashboard(page)
    labels = "() => Chart.getChart(document.getElementById('global-shap-chart')).data.labels"
    grouped = page.evaluate(labels)
    page.locator("#shap-grouped").uncheck()
    ungrouped = page.evaluate(labels)  # the change handler redraws synchronously
    assert ungrouped != grouped
    assert any("sin" in name or "cos" in name or "protocol " in name for name in ungrouped), ungrouped
    assert not any(name.startswith("hour sin") for name in grouped), grouped


def test_mobile_layout(new_page, screenshots):
    """At 390 px nothing overflows sideways (wide tables scroll inside their own box)."""
    page = new_page(width=390, height=844)
    open_dashboard(page)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=screenshots / "dashboard-390.png")
    page.locator("#versions").scroll_into_view_if_needed()
    page.screenshot(path=screenshots / "dashboard-390-versions.png")
