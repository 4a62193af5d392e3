"""POST /api/predict against the real app with a trained tiny random forest."""
from __future__ import annotations

import asyncio
import math
import shlex

import pytest

from server import keys
from server.app import create_app
from tests.conftest import check_error, check_json

SEED = {"packet_size": 600, "bytes_sent": 2400, "source_ip": "192.168.1.10", "dest_ip": "10.0.0.50",
        "protocol": "TCP", "timestamp_seconds": 1700000000, "hour": 12}
CURL = ('curl -X POST "http://localhost:PORT/api/predict?threshold=0.55" -H "Content-Type: application/json" '
        '-d \'{"packet_size":600,"bytes_sent":2400,"source_ip":"192.168.1.10","dest_ip":"10.0.0.50",'
        '"protocol":"TCP","timestamp_seconds":1700000000,"hour":12}\'')
WEEK = 7 * 86_400  # same hour and weekday, outside every window: identical features


def flow(i: int, **changes) -> dict:
    """A record with its own source IP and destination subnet (no window overlap with others)."""
    return {**SEED, "source_ip": f"10.{i // 250}.{i % 250}.7", "dest_ip": f"172.20.{i % 250}.9",
            "packet_size": 40 + (i * 131) % 1460, "bytes_sent": int(50 * 2.2 ** (i % 18)),
            "protocol": ("TCP", "UDP", "ICMP", "GRE")[i % 4], "hour": (i * 5) % 24, **changes}


async def predict(client, body, status: int = 200, query: str = ""):
    """POST /api/predict and check the status."""
    return await check_json(await client.post(f"/api/predict{query}", json=body), status)


async def test_seed_curl_example_verbatim(aiohttp_server, trained_config):
    """The README's curl command, run as written against a live server."""
    server = await aiohttp_server(create_app(trained_config))
    command = CURL.replace("PORT", str(server.port))
    proc = await asyncio.create_subprocess_exec(*shlex.split(command) + ["-s", "-w", "\n%{http_code}"],
                                                stdout=asyncio.subprocess.PIPE)
    out, _ = await proc.communicate()
    body, status = out.decode().rsplit("\n", 1)
    assert status == "200", body
    import json

    answer = json.loads(body)
    assert set(answer) == {"prediction_id", "probability", "prediction", "threshold", "version", "warnings", "note"}
    assert 0.0 <= answer["probability"] <= 1.0 and answer["threshold"] == 0.55
    assert answer["prediction"] == int(answer["probability"] >= 0.55)
    assert answer["version"] == server.app[keys.INFERENCE].version
    assert answer["warnings"] == []


async def test_batch_answers_in_order(client):
    """A list answers a list in the same order as one-by-one requests would."""
    records = [flow(i) for i in range(12)]
    batch = await predict(client, records)
    assert len(batch) == 12
    singles = [await predict(client, {**r, "timestamp_seconds": r["timestamp_seconds"] + WEEK}) for r in records]
    assert [b["probability"] for b in batch] == pytest.approx([s["probability"] for s in singles], abs=1e-12)
    assert len({b["probability"] for b in batch}) > 1, "records differ enough to detect reordering"


async def test_threshold_changes_decision_not_probability(client):
    """Thresholds around p flip the decision and leave p alone."""
    first = await predict(client, flow(1))
    p = first["probability"]
    low = await predict(client, flow(1, timestamp_seconds=SEED["timestamp_seconds"] + WEEK),
                        query=f"?threshold={max(0.0, p - 0.01)}")
    high = await predict(client, flow(1, timestamp_seconds=SEED["timestamp_seconds"] + 2 * WEEK),
                         query=f"?threshold={min(1.0, p + 0.01)}")
    assert low["probability"] == high["probability"] == pytest.approx(p, abs=1e-12)
    assert (low["prediction"], high["prediction"]) == (1, 0 if p + 0.01 <= 1.0 else 1)
    assert first["threshold"] == 0.5


async def test_online_windows_count_previous_flows(client):
    """Repeating a flow within the window changes its aggregates (the state is kept and updated)."""
    answers = [await predict(client, flow(99, timestamp_seconds=SEED["timestamp_seconds"] + 3 * WEEK + i))
               for i in range(40)]
    assert len({a["probability"] for a in answers}) > 1


async def test_optional_fields_and_unknown_fields(client):
    """hour and timestamp may be omitted; unknown fields are ignored and named."""
    body = {k: v for k, v in SEED.items() if k not in ("hour", "timestamp_seconds")}
    answer = await predict(client, {**body, "color": "blue", "src_flows_60s": 5})
    assert any("color" in w and "src_flows_60s" in w for w in answer["warnings"])
    assert math.isfinite(answer["probability"])


@pytest.mark.parametrize("record", [
    {"source_ip": "0.0.0.0", "dest_ip": "255.255.255.255"},
    {"source_ip": "2001:db8::1", "dest_ip": "fe80::1"},
    {"hour": 0}, {"hour": 23}, {"protocol": "QUIC"}, {"protocol": "tcp"}, {"protocol": "17"},
    {"packet_size": 0, "bytes_sent": 0}, {"packet_size": 1500.5}, {"hour": 12.0},
])
async def test_valid_edge_values(client, record):
    """Edge values that are valid answer 200 with a finite probability."""
    answer = await predict(client, {**SEED, **record})
    assert math.isfinite(answer["probability"]) and 0 <= answer["probability"] <= 1


async def test_no_model_is_503_json(empty_client):
    """Without an active version the API answers 503 in the error envelope."""
    await check_error(await empty_client.post("/api/predict", json=SEED), 503, "unavailable")


async def test_observe_false_leaves_the_online_windows_alone(client):
    record = {"packet_size": 1200, "bytes_sent": 5_000_000, "source_ip": "10.9.9.9", "dest_ip": "10.0.0.50",
              "protocol": "UDP", "timestamp_seconds": 1700000000}
    first = await (await client.post("/api/predict?observe=false", json=record)).json()
    second = await (await client.post("/api/predict?observe=false", json=record)).json()
    assert first["probability"] == second["probability"]
    counted = await (await client.post("/api/predict", json=record)).json()
    assert counted["probability"] == first["probability"], "the first observed flow sees the same windows"
    again = await (await client.post("/api/predict?observe=false", json=record)).json()
    windows = client.app[keys.INFERENCE]._windows
    assert windows is not None and len(windows) == 2  # one source key, one destination subnet
    assert again["version"] == first["version"]
