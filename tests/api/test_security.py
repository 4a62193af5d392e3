"""Request guards: Host allow-list, same-origin writes, bearer token, rate limits."""
from __future__ import annotations

import pytest
from aiohttp import WSServerHandshakeError

from server.app import create_app
from server.security import TokenBucket
from tests.conftest import check_error, check_json, tiny_config

RECORD = {"packet_size": 600, "bytes_sent": 2400, "source_ip": "192.168.1.10", "dest_ip": "10.0.0.50",
          "protocol": "TCP", "timestamp_seconds": 1700000000, "hour": 12}


async def test_foreign_host_header_is_refused(client):
    await check_error(await client.get("/api/metrics", headers={"Host": "evil.example"}), 400,
                       "validation_error", "Host")
    await check_json(await client.get("/healthz", headers={"Host": "localhost:8080"}), 200)


@pytest.mark.parametrize("headers", [{"Origin": "http://evil.example"}, {"Sec-Fetch-Site": "cross-site"}])
async def test_cross_site_writes_are_forbidden(client, headers):
    await check_error(await client.post("/api/versions/prune", json={}, headers=headers), 403, "forbidden")
    await check_error(await client.post("/api/train/async", json={}, headers=headers), 403, "forbidden")


async def test_token_protects_mutating_routes_and_ws_but_not_reads(aiohttp_client, trained_workdir):
    config = tiny_config(trained_workdir, CONGESTION_SERVER__TOKEN="s3cret-token")
    client = await aiohttp_client(create_app(config))
    await check_error(await client.post("/api/versions/prune", json={}), 401, "unauthorized")
    await check_error(await client.post("/api/versions/prune", json={},
                                         headers={"Authorization": "Bearer wrong"}), 401)
    ok = await client.post("/api/versions/prune", json={}, headers={"Authorization": "Bearer s3cret-token"})
    assert ok.status == 200
    with pytest.raises(WSServerHandshakeError) as info:
        await client.ws_connect("/ws")
    assert info.value.status == 401
    ws = await client.ws_connect("/ws", headers={"Authorization": "Bearer s3cret-token"})
    await ws.close()
    await check_json(await client.get("/api/versions/detail"), 200)
    body = await (await client.post("/api/versions/prune", json={})).text()
    assert "s3cret" not in body


async def test_training_starts_are_rate_limited_with_retry_after(aiohttp_client, trained_workdir):
    config = tiny_config(trained_workdir, CONGESTION_TRAINING__RATE_LIMIT_PER_MIN="1")
    client = await aiohttp_client(create_app(config))
    first = await client.post("/api/train/async", json={"model_type": "svm"})
    assert first.status == 400  # counted, even though it was invalid
    second = await client.post("/api/train/async", json={})
    await check_error(second, 429, "rate_limited")
    assert int(second.headers["Retry-After"]) >= 1


def test_token_bucket_refills_at_its_rate():
    bucket = TokenBucket(rate_per_s=2.0, burst=2)
    assert bucket.take("a", now=0.0) == 0
    assert bucket.take("a", now=0.0) == 0
    assert bucket.take("a", now=0.0) == pytest.approx(0.5)
    assert bucket.take("b", now=0.0) == 0
    assert bucket.take("a", now=1.0) == 0


def test_token_bucket_charges_into_debt():
    """An admitted request can cost more than the burst; the debt delays the next one."""
    bucket = TokenBucket(rate_per_s=10.0, burst=5)
    assert bucket.take("a", now=0.0) == 0
    bucket.charge("a", 99, now=0.0)  # a 100-record batch
    assert bucket.take("a", now=0.0) == pytest.approx((1 + 95) / 10.0)
    assert bucket.take("a", now=9.6) == 0


async def test_predict_rate_limit_counts_records_not_requests(aiohttp_client, trained_workdir):
    """Item 2: at 1 record/s with a burst of 10, one 100-record batch leaves ~90 s of debt: the next is 429."""
    config = tiny_config(trained_workdir, CONGESTION_API__RATE_LIMIT_PER_S="1", CONGESTION_API__RATE_LIMIT_BURST="10")
    client = await aiohttp_client(create_app(config))
    await check_json(await client.post("/api/predict", json=[RECORD] * 100), 200)
    limited = await client.post("/api/predict?observe=false", json=RECORD)
    await check_error(limited, 429, "rate_limited")
    assert int(limited.headers["Retry-After"]) >= 60
    await check_error(await client.post("/api/explain", json=RECORD), 429, "rate_limited")


async def test_streams_and_run_details_follow_one_token_policy(aiohttp_client, trained_workdir):
    """Item 3: SSE needs the token like /ws; runs hide owner and config paths from clients without it."""
    config = tiny_config(trained_workdir, CONGESTION_SERVER__TOKEN="s3cret-token",
                         CONGESTION_DATA__PATH=str(trained_workdir / "secret-flows.parquet"))
    client = await aiohttp_client(create_app(config))
    await check_error(await client.get("/api/train/events"), 401, "unauthorized")
    await check_error(await client.get("/api/train/events?token=wrong"), 401, "unauthorized")
    async with client.get("/api/train/events?token=s3cret-token") as stream:
        assert stream.status == 200
        assert await stream.content.readuntil(b"\n\n") == b": connected\n\n"
    # A run whose snapshot names the data file and whose owner is this host.
    await check_error(await client.post("/api/train/async", json={"model_type": "svm"}), 401)
    started = await client.post("/api/train/async", json={}, headers={"Authorization": "Bearer s3cret-token"})
    run_id = (await check_json(started, 202))["run_id"]
    await client.post(f"/api/train/{run_id}/cancel", headers={"Authorization": "Bearer s3cret-token"})
    for path in ("/api/train/runs", f"/api/train/runs/{run_id}"):
        hidden = await (await client.get(path)).text()
        assert "secret-flows" not in hidden and '"owner": null' in hidden.replace('"owner":null', '"owner": null')
        shown = await (await client.get(path, headers={"Authorization": "Bearer s3cret-token"})).text()
        assert "secret-flows" in shown
