"""The threshold as a cost decision in the dashboard: live readout from the curve, cost minimum, save."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.test_dashboard import open_dashboard

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_slider_reads_the_curve_and_saves_an_audited_threshold(page, live_server, screenshots):
    open_dashboard(page)
    expect(page.locator("#curve-panel")).to_be_visible()
    curve = live_server.call("/api/threshold/curve?cost_fn=5&cost_fp=1")
    page.locator("#threshold").fill("0.3")
    point = next(p for p in curve["points"] if abs(p["threshold"] - 0.3) < 1e-9)
    expect(page.locator("#curve-f1")).to_have_text(f"{point['f1']:.3f}")
    expect(page.locator("#curve-counts")).to_have_text(
        f"TP {point['tp']} · FP {point['fp']} · FN {point['fn']} · TN {point['tn']}")

    # Dearer misses move the recommendation down; the button moves the slider there.
    page.locator("#cost-fn").fill("20")
    with page.expect_response(lambda r: "/api/threshold/curve?cost_fn=20" in r.url):
        page.locator("#cost-form button[type=submit]").click()
    dear = live_server.call("/api/threshold/curve?cost_fn=20&cost_fp=1")["recommended"]["threshold"]
    page.locator("#threshold-recommended").click()
    expect(page.locator("#threshold-value")).to_have_text(f"{dear:.2f}")
    page.locator("#cost-chart").scroll_into_view_if_needed()
    page.wait_for_timeout(400)  # let the chart settle before the picture
    page.screenshot(path=str(screenshots / "threshold-curve.png"), full_page=False)

    page.locator("#threshold-save").click()  # no reason yet: refused in the page, nothing saved
    assert live_server.call("/api/threshold")["changes"] == []
    page.locator("#threshold-reason").fill("a missed congestion costs 20 false alarms")
    with page.expect_response(lambda r: r.url.endswith("/api/threshold") and r.request.method == "POST"):
        page.locator("#threshold-save").click()
    expect(page.locator(".toast").last).to_contain_text(re.compile(r"→ " + re.escape(f"{dear:.2f}")))
    history = live_server.call("/api/threshold")
    assert history["threshold"] == pytest.approx(dear) and history["changes"][0]["cost_fn"] == 20
    expect(page.locator("#curve-live")).to_have_text(f"{dear:.2f}")
    live_server.call("/api/threshold", method="POST", body={"threshold": 0.5, "reason": "test reset"})
