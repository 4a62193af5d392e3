"""Predict page flows in a real headless Chromium: presets, randomise, threshold and API field errors."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_preset_prediction_shows_explanation(page, screenshots):
    """A preset fills the form and explains; chart and contribution table appear."""
    page.goto("/predict")
    page.locator('[data-preset="weekday-peak-bulk"]').click()
    expect(page.locator("#predict-explanation")).to_be_visible()
    expect(page.locator("#f-protocol")).to_have_value("TCP")
    expect(page.locator("#f-bytes_sent")).to_have_value("6500000")
    expect(page.locator("#predict-probability")).to_have_text(re.compile(r"^\d\.\d{3}$"))
    expect(page.locator("#predict-decision")).to_have_text(re.compile("^(not )?congested$"))
    assert page.locator("#predict-contrib-table tbody tr").count() >= 2
    assert page.evaluate("Chart.getChart(document.getElementById('predict-local-chart')).data.labels.length") >= 2
    expect(page.locator("#result-empty")).to_be_hidden()
    page.wait_for_timeout(400)
    page.wait_for_timeout(400)  # let chart animations settle for the screenshot
    page.screenshot(path=screenshots / "predict.png", full_page=True)


def test_threshold_redecides_locally(page, watch):
    """The predict page's slider flips the shown decision without another request."""
    page.goto("/predict")
    page.locator('[data-preset="quiet-night"]').click()
    expect(page.locator("#predict-explanation")).to_be_visible()
    probability = float(page.locator("#predict-probability").inner_text())
    calls = len([r for r in watch.requests if "/api/" in r])
    for value in (0.01, 0.99):
        page.locator("#threshold").fill(str(value))
        want = "congested" if probability >= value else "not congested"
        expect(page.locator("#predict-decision")).to_have_text(want)
    assert len([r for r in watch.requests if "/api/" in r]) == calls


def test_api_validation_errors_next_to_fields(page, watch):
    """A bad field comes back from the API (400) and its reason sits next to that input."""
    watch.allow(400, "/api/explain")
    page.goto("/predict")
    page.locator("#f-packet_size").fill("-5")
    page.locator("#f-dest_ip").fill("not-an-ip")
    page.locator("#predict-submit").click()
    expect(page.locator("#f-packet_size-error")).not_to_be_empty()
    expect(page.locator("#f-dest_ip-error")).not_to_be_empty()
    expect(page.locator("#f-packet_size")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#form-error")).to_be_visible()
    expect(page.locator("#f-bytes_sent-error")).to_be_empty()

    page.locator('[data-preset="icmp-burst"]').click()  # a good record clears the errors
    expect(page.locator("#predict-explanation")).to_be_visible()
    expect(page.locator("#f-packet_size-error")).to_be_empty()


def test_randomise_samples_the_training_distribution(page, live_server):
    """Randomise fills every field from the active version's distribution artifact."""
    page.goto("/predict")
    page.locator("#randomise").click()
    active = next(v for v in live_server.versions() if v["active"])
    url = next(a["url"] for a in active["artifacts"] if a["kind"] == "distribution")
    dist = live_server.call(url)
    expect(page.locator("#f-source_ip")).to_have_value(re.compile("|".join(map(re.escape, dist["source_ip"]["sample"]))))
    size = float(page.locator("#f-packet_size").input_value())
    assert dist["packet_size"]["min"] - 1 <= size <= dist["packet_size"]["max"] + 1
    assert page.locator("#f-protocol").input_value() in dist["protocol"]
    ts = int(page.locator("#f-timestamp_seconds").input_value())
    assert int(page.locator("#f-hour").input_value()) == ts // 3600 % 24
    page.locator("#predict-submit").click()
    expect(page.locator("#predict-explanation")).to_be_visible()


def test_predict_mobile(new_page, screenshots):
    """390 px wide: the form and result stack without sideways scrolling."""
    page = new_page(width=390, height=844, color_scheme="dark")
    page.goto("/predict")
    page.locator('[data-preset="heavy-hitter"]').click()
    expect(page.locator("#predict-explanation")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.wait_for_timeout(400)  # let chart animations settle for the screenshot
    page.screenshot(path=screenshots / "predict-390-dark.png", full_page=True)
