"""/api/docs on a phone-sized viewport: no sideways scroll, tables and curl blocks present."""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


def test_api_docs_at_390px(new_page, screenshots):
    """At 390 px the page does not scroll sideways; the predict operation has its tables and a curl block."""
    page = new_page(width=390, height=844)
    page.goto("/api/docs")
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(screenshots / "api_docs_390_top.png"))
    widths = page.evaluate("() => [document.documentElement.scrollWidth, document.documentElement.clientWidth,"
                           " document.body.scrollWidth]")
    assert widths[0] <= widths[1] and widths[2] <= widths[1], widths
    section = page.locator("#post-api-predict")
    assert section.locator("table.schema-table").count() >= 2  # parameters and the FlowRecord body
    assert section.locator("table.schema-table td[data-label='Constraints']").first.is_visible()
    curl = section.locator("pre.curl")
    assert curl.count() == 1 and curl.inner_text().startswith("curl -s -X POST")
    box = curl.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390
    section.scroll_into_view_if_needed()
    page.screenshot(path=str(screenshots / "api_docs_390_predict.png"))
    page.locator("#schema-Prediction").scroll_into_view_if_needed()
    page.screenshot(path=str(screenshots / "api_docs_390_schema.png"))


def test_api_docs_on_a_desktop(page, screenshots):
    """At 1280 px the tables keep their columns (no cards) and the page still does not scroll sideways."""
    page.goto("/api/docs#post-api-predict")
    page.wait_for_load_state("networkidle")
    header = page.locator("#post-api-predict table.schema-table thead").first
    assert header.is_visible()
    assert page.evaluate("() => document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    page.screenshot(path=str(screenshots / "api_docs_1280_predict.png"))
