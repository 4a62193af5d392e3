"""Prometheus exposition and JSON logs with request ids, on the real app."""
from __future__ import annotations

import json
import logging

import pytest
from prometheus_client.parser import text_string_to_metric_families

from server.config import LoggingConfig
from server.logs import remove_handlers, setup_logging
from tests.conftest import check_json

RECORD = {"packet_size": 600, "bytes_sent": 2400, "source_ip": "192.168.1.10", "dest_ip": "10.0.0.50",
          "protocol": "TCP", "timestamp_seconds": 1700000000, "hour": 12}


async def scrape(client) -> dict[tuple[str, tuple], float]:
    response = await client.get("/metrics")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(await response.text()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples, name, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.mark.slow
async def test_metrics_move_with_predictions_and_training(client):
    before = await scrape(client)
    for threshold in (0.0, 1.0, 1.0):
        await check_json(await client.post(f"/api/predict?threshold={threshold}", json=RECORD), 200)
    await client.post("/api/predict", json={"packet_size": -1})
    run = await check_json(await client.post("/api/train", json={}), 200)
    assert run["status"] == "succeeded"
    after = await scrape(client)

    assert value(after, "congestion_predictions_total", decision="congested") - \
        value(before, "congestion_predictions_total", decision="congested") == 1
    assert value(after, "congestion_predictions_total", decision="clear") - \
        value(before, "congestion_predictions_total", decision="clear") == 2
    assert value(after, "congestion_http_requests_total", method="POST", route="/api/predict", status="200") == 3
    assert value(after, "congestion_http_requests_total", method="POST", route="/api/predict", status="400") == 1
    assert value(after, "congestion_http_request_duration_seconds_count", method="POST", route="/api/predict") == 4
    assert value(after, "congestion_training_runs_total", outcome="succeeded") == 1
    assert value(after, "congestion_training_phase_duration_seconds_count", phase="training") == 1
    info = [k for k in after if k[0] == "congestion_active_model_info"]
    assert len(info) == 1
    versions = (await check_json(await client.get("/api/versions/detail"), 200))["versions"]
    active = next(v for v in versions if v["active"])
    assert dict(info[0][1])["version"] == active["timestamp"]
    assert ("congestion_websocket_clients", ()) in after
    assert ("congestion_event_loop_lag_seconds", ()) in after


async def test_unmatched_routes_do_not_explode_label_cardinality(client):
    for i in range(5):
        await client.get(f"/no/such/path/{i}")
    samples = await scrape(client)
    routes = {dict(labels).get("route") for name, labels in samples if name == "congestion_http_requests_total"}
    assert "unmatched" in routes
    assert not any(r and r.startswith("/no/such") for r in routes)


async def test_json_logs_parse_and_carry_the_request_id(client, tmp_path):
    level = logging.getLogger().level
    setup_logging(LoggingConfig(dir=str(tmp_path), level="INFO", format="json"), file_name="t.log")
    logging.getLogger("server.access").setLevel(logging.DEBUG)  # successes' access lines are DEBUG
    try:
        ids = []
        for _ in range(3):
            response = await client.post("/api/predict", json=RECORD, headers={"Authorization": "Bearer hunter2"})
            ids.append(response.headers["X-Request-ID"])
        supplied = await client.get("/healthz", headers={"X-Request-ID": "abc-123"})
        assert supplied.headers["X-Request-ID"] == "abc-123"
        hostile = await client.get("/healthz", headers={"X-Request-ID": "x\" y" * 40})
        assert hostile.headers["X-Request-ID"] != "x\" y" * 40
    finally:
        remove_handlers()
        logging.getLogger().setLevel(level)
        logging.getLogger("server.access").setLevel(logging.NOTSET)
    lines = (tmp_path / "t.log").read_text().splitlines()
    parsed = [json.loads(line) for line in lines]
    logged_ids = {p.get("request_id") for p in parsed}
    assert set(ids) <= logged_ids and "abc-123" in logged_ids
    assert "hunter2" not in "\n".join(lines)
    assert "192.168.1.10" not in "\n".join(lines), "request bodies are never logged"


async def test_access_log_is_quiet_for_successes_at_info(client, caplog):
    """Issue 12: at the default INFO level a 200 writes no access line; a refused request does."""
    import logging

    caplog.set_level(logging.INFO, logger="server.access")
    await client.get("/healthz")
    assert not [r for r in caplog.records if r.name == "server.access"]
    await client.get("/api/no-such-route")
    lines = [r.getMessage() for r in caplog.records if r.name == "server.access"]
    assert len(lines) == 1 and " 404 " in lines[0]


def test_serving_counts_expose_what_prometheus_client_would():
    """The lock-free request counts and latency histogram match prometheus_client's own types."""
    from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

    from server.observability import LATENCY_BUCKETS, Metrics

    observed = [("POST", "/api/predict", 200, 0.0005), ("POST", "/api/predict", 200, 0.0031),
                ("POST", "/api/predict", 400, 0.02), ("GET", "/metrics", 200, 11.0),
                ("BREW", "unmatched", 405, 0.001), ("XYZZY", "unmatched", 405, 0.001)]
    ours = Metrics()
    reference = CollectorRegistry()
    requests = Counter("congestion_http_requests_total", "r", ["method", "route", "status"], registry=reference)
    latency = Histogram("congestion_http_request_duration_seconds", "l", ["method", "route"],
                        buckets=LATENCY_BUCKETS, registry=reference)
    for method, route, status, elapsed in observed:
        ours.observe_request(method, route, status, elapsed)
        label = method if method in ("GET", "POST") else "OTHER"  # unknown methods share one series
        requests.labels(label, route, str(status)).inc()
        latency.labels(label, route).observe(elapsed)

    def samples(registry) -> dict:
        return {(s.name, tuple(sorted(s.labels.items()))): s.value
                for family in text_string_to_metric_families(generate_latest(registry).decode())
                for s in family.samples if family.name.startswith("congestion_http") and not s.name.endswith("_created")}

    got, expected = samples(ours.registry), samples(reference)
    assert got == expected
    assert value(got, "congestion_http_requests_total", method="OTHER", route="unmatched", status="405") == 2
    assert value(got, "congestion_http_request_duration_seconds_bucket", method="POST", route="/api/predict",
                 le="0.0005") == 1  # a bucket's bound is inclusive
