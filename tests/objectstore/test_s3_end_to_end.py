"""The whole server on a real S3 server (SeaweedFS): train, serve, roll back, download, share, fail."""
from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from server import commands, keys
from server.app import create_app
from server.services.training import TrainRequest
from server.store.blobs_s3 import S3BlobStore
from tests.conftest import check_error, check_json, s3_environ_overrides, tiny_config
from tests.s3server import SeaweedServer

pytestmark = pytest.mark.slow

FLOW = {"packet_size": 600, "bytes_sent": 2400, "source_ip": "192.168.1.10", "dest_ip": "10.0.0.50",
        "protocol": "TCP", "timestamp_seconds": 1700000000, "hour": 12}


def s3_config(server, url: str, workdir: Path, **overrides: str):
    """A tiny config whose blobs live in `url`; `workdir` holds the DB and the read cache only."""
    return tiny_config(workdir, **s3_environ_overrides(server, url), **overrides)


async def train(config, model_type: str) -> None:
    """`congestion pipeline`: train and register one version, as the CLI does."""
    assert await commands.pipeline(config, TrainRequest(model_type=model_type)) == 0


def objects_under(server, url: str) -> set[str]:
    bucket, prefix = url[5:].split("/", 1)
    pages = server.client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix + "/")
    return {obj["Key"].rsplit("/", 1)[1] for page in pages for obj in page.get("Contents", [])}


async def test_train_serve_rollback_download_against_s3(aiohttp_client, s3_server, s3_url, tmp_path):
    config = s3_config(s3_server, s3_url, tmp_path / "a")
    await train(config, "xgboost")
    client = await aiohttp_client(create_app(config))
    assert isinstance(client.app[keys.BLOBS].inner, S3BlobStore)
    assert not (tmp_path / "a" / "blobs" / "sha256").exists(), "no local blob folder: S3 holds them"
    trained = await check_json(await client.post("/api/train", json={"model_type": "random_forest"}), 200)
    assert trained["status"] == "succeeded", trained
    versions = (await check_json(await client.get("/api/versions/detail"), 200))["versions"]
    assert len(versions) == 2 and versions[0]["active"]
    stored = objects_under(s3_server, s3_url)
    assert {a["sha256"] for v in versions for a in v["artifacts"]} <= stored

    served = await check_json(await client.post("/api/predict", json=FLOW), 200)
    older = versions[1]["timestamp"]
    body = await check_json(await client.post(f"/api/versions/rollback/{older}", json={}), 200)
    assert body["changed"] and client.app[keys.INFERENCE].version == older
    rolled = await check_json(await client.post("/api/predict", json=FLOW), 200)
    assert served["version"] != rolled["version"] == older

    response = await client.get("/download/model")
    assert response.status == 200
    data = await response.read()
    assert hashlib.sha256(data).hexdigest() == response.headers["X-Content-SHA256"]
    assert response.headers["X-Content-SHA256"] in stored


async def test_two_servers_share_one_bucket_and_one_database(aiohttp_client, s3_server, s3_url, tmp_path):
    first_config = s3_config(s3_server, s3_url, tmp_path / "one", CONGESTION_VERSIONING__FOLLOW_INTERVAL_S="0")
    await train(first_config, "random_forest")
    # Same database, bucket and signing key, its own (empty) read cache: nothing else is shared.
    second_config = tiny_config(tmp_path / "two", **s3_environ_overrides(s3_server, s3_url),
                                CONGESTION_STORAGE__DATABASE_URL=first_config.storage.database_url,
                                CONGESTION_STORAGE__SIGNING_KEY_FILE=first_config.storage.signing_key_file,
                                CONGESTION_VERSIONING__FOLLOW_INTERVAL_S="0")
    first = await aiohttp_client(create_app(first_config))
    second = await aiohttp_client(create_app(second_config))
    assert first.app[keys.INFERENCE].version == second.app[keys.INFERENCE].version
    trained = await check_json(await first.post("/api/train", json={"model_type": "xgboost"}), 200)
    assert trained["status"] == "succeeded", trained
    new_tag = first.app[keys.INFERENCE].version
    assert second.app[keys.INFERENCE].version != new_tag
    assert await second.app[keys.REGISTRY].follow_database() == new_tag  # read from the bucket
    assert second.app[keys.INFERENCE].version == new_tag
    one = await check_json(await first.post("/api/predict", json=FLOW), 200)
    two = await check_json(await second.post("/api/predict", json=FLOW), 200)
    one.pop("prediction_id"), two.pop("prediction_id")  # each server logs its own answer
    assert one == two
    response = await second.get("/download/metrics")
    assert response.status == 200 and response.headers["X-Content-SHA256"] in objects_under(s3_server, s3_url)
    cached = list((tmp_path / "two" / "blobs" / "s3-cache").rglob("*"))
    assert any(p.name == response.headers["X-Content-SHA256"] for p in cached)


async def test_a_store_outage_keeps_serving_degrades_readiness_and_fails_saves_cleanly(
        aiohttp_client, tmp_path, s3_credentials):
    server = SeaweedServer(tmp_path / "weed").start()  # our own server: this test stops it
    try:
        url = f"s3://{server.create_bucket('outage')}/models"
        config = s3_config(server, url, tmp_path / "work")
        await train(config, "random_forest")
        client = await aiohttp_client(create_app(config))
        ready = await check_json(await client.get("/readyz"), 200)
        assert ready["status"] == "ok" and ready["blobs"]["ok"] is True
        before = await check_json(await client.post("/api/predict", json=FLOW), 200)
        versions_before = (await check_json(await client.get("/api/versions/detail"), 200))["versions"]
    finally:
        server.stop()

    during = await check_json(await client.post("/api/predict", json=FLOW), 200)
    assert during["version"] == before["version"] and 0 <= during["probability"] <= 1
    ready = await check_json(await client.get("/readyz"), 200)
    assert ready["status"] == "degraded" and ready["blobs"]["ok"] is False
    assert "blob store" in ready["degraded"] and ready["model"]["loaded"] is True

    run = await check_json(await client.post("/api/train", json={}), 200)
    assert run["status"] == "failed" and "artifacts" in run["error"], run
    versions = (await check_json(await client.get("/api/versions/detail"), 200))["versions"]
    assert [v["timestamp"] for v in versions] == [v["timestamp"] for v in versions_before]
    assert client.app[keys.INFERENCE].version == before["version"]
    shutil.rmtree(tmp_path / "work" / "blobs" / "s3-cache")  # not cached: must come from the store
    await check_error(await client.get(f"/download/version/metrics_{before['version']}.json"), 503, "unavailable")


class _Marker:
    """Unpickling this calls open(path, 'w'): proof that a pickle was loaded."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


async def test_a_pickle_planted_in_the_bucket_with_its_row_is_refused(aiohttp_client, s3_server, s3_url, tmp_path):
    """Issue 11 item 11 on S3: signatures live in the bucket beside the blobs; a planted object is refused."""
    import pickle
    import sqlite3

    config = s3_config(s3_server, s3_url, tmp_path / "w")
    await train(config, "random_forest")
    bucket, prefix = s3_url[5:].split("/", 1)
    keys_stored = {obj["Key"] for page in s3_server.client().get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=prefix + "/") for obj in page.get("Contents", [])}
    blobs = {k.rsplit("/", 1)[1] for k in keys_stored if "/sha256/" in k}
    signatures = {k.rsplit("/", 1)[1] for k in keys_stored if "/hmac/" in k}
    assert blobs and signatures == blobs

    marker = tmp_path / "pwned"
    evil = pickle.dumps(_Marker(str(marker)))
    sha = hashlib.sha256(evil).hexdigest()
    s3_server.client().put_object(Bucket=bucket, Key=f"{prefix}/sha256/{sha[:2]}/{sha}", Body=evil)
    s3_server.client().put_object(Bucket=bucket, Key=f"{prefix}/hmac/{sha[:2]}/{sha}", Body=b"00" * 32)
    with sqlite3.connect(tmp_path / "w" / "metadata.sqlite3") as conn:
        tag = conn.execute("select tag from model_versions").fetchone()[0]
        conn.execute("update artifacts set sha256 = ?, size_bytes = ? where kind = 'pipeline'", (sha, len(evil)))

    client = await aiohttp_client(create_app(config))
    ready = await check_json(await client.get("/readyz"), 200)
    assert ready["status"] == "degraded" and ready["model"]["loaded"] is False
    assert tag in ready["degraded"] and "signature" in ready["degraded"]
    await check_error(await client.get(f"/download/version/model_{tag}.joblib"), 409, "integrity_error")
    assert not marker.exists(), "the planted pickle was never loaded"
