"""The Live page shows monitoring windows and follows replayed traffic and labels over /ws."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.slow]

WINDOW = 4_000_000_000 - 4_000_000_000 % 3600  # a window no other browser test writes to


def _flows(n: int) -> list[dict]:
    return [{"packet_size": 300 + 41 * i % 1100, "bytes_sent": 2000 + 7919 * i % 80000,
             "source_ip": f"10.1.{i % 9}.{i % 200 + 1}", "dest_ip": f"192.168.{i % 4}.{i % 150 + 2}",
             "protocol": ("TCP", "UDP")[i % 2], "timestamp_seconds": WINDOW + 11 * i} for i in range(n)]


def test_live_page_follows_replayed_traffic_and_labels(page, live_server):
    page.goto("/live")
    expect(page.locator("#live-ws")).to_have_attribute("data-state", "live")
    answers = live_server.call("/api/predict", "POST", _flows(30))
    row = page.locator(f'#live-table tr[data-window="{WINDOW}"]')
    expect(row.locator('[data-field="predictions"]')).to_have_text("30")
    expect(row.locator('[data-field="realised_f1"]')).to_have_text("–")
    expect(row.locator('[data-field="estimated_f1"]')).to_have_text(re.compile(r"^(\d\.\d{3} \[|–)"))
    expect(row.locator('[data-field="baseline_f1"]')).to_have_text(re.compile(r"^\d\.\d{3}$"))

    labels = [{"prediction_id": a["prediction_id"], "congestion": 1 - a["prediction"] if i % 4 == 0 else a["prediction"]}
              for i, a in enumerate(answers)][:20]
    import time

    deadline = time.monotonic() + 15
    while live_server.call("/api/feedback", "POST", labels)["accepted"] < 20:  # rows reach the log within 1 s
        assert time.monotonic() < deadline
        time.sleep(0.2)
    expect(row.locator('[data-field="labelled"]')).to_have_text("20 (66.7%)")
    expect(row.locator('[data-field="realised_f1"]')).to_have_text(re.compile(r"^\d\.\d{3}$"))
