"""Versions, rollback, retention and downloads against a trained copy of the registry."""
from __future__ import annotations

import asyncio
import hashlib
import json

import pytest

from server import keys
from server.app import create_app
from tests.backends import execute_sql
from tests.conftest import check_error, check_json, tiny_config


async def versions(client) -> list[dict]:
    return (await check_json(await client.get("/api/versions/detail"), 200))["versions"]


async def test_versions_detail_lists_both_with_one_active(client):
    listed = await versions(client)
    assert len(listed) == 2
    assert [v["active"] for v in listed].count(True) == 1
    active = next(v for v in listed if v["active"])
    assert active["model_type"] == "random_forest"
    for version in listed:
        assert {"precision", "recall", "f1_score", "auc_roc", "pr_auc", "tn", "fp", "fn", "tp"} <= set(version["metrics"])
        assert version["shap_top"], "top SHAP features are listed"
        assert {a["kind"] for a in version["artifacts"]} >= {"pipeline", "preprocessor", "metrics", "shap", "plot"}


async def test_rollback_switches_the_served_version_and_is_recorded(client):
    listed = await versions(client)
    old = next(v for v in listed if not v["active"])["timestamp"]
    current = next(v for v in listed if v["active"])["timestamp"]
    ws = await client.ws_connect("/ws")
    await ws.receive_json()
    body = await check_json(await client.post(f"/api/versions/rollback/{old}", json={"reason": "test"}), 200)
    assert body == {"status": "ok", "changed": True, "version": old, "previous": current}
    event = await ws.receive_json()
    assert event["type"] == "rolled_back" and event["version"] == old
    await ws.close()
    assert client.app[keys.INFERENCE].version == old
    assert (await check_json(await client.get("/api/metrics"), 200))["version"] == old
    history = (await check_json(await client.get("/api/metrics/history"), 200))["history"]
    rollback = [h for h in history if h["type"] == "rolled_back"]
    assert rollback[-1]["version"] == old and rollback[-1]["from_version"] == current

    again = await check_json(await client.post(f"/api/versions/rollback/{old}"), 200)
    assert again["changed"] is False


@pytest.mark.parametrize("tag, status", [("2026-01-01", 400), ("20260101_0000000", 400),
                                         ("20200101_000000", 404)])
async def test_rollback_refuses_malformed_and_unknown_tags(client, tag, status):
    await check_error(await client.post(f"/api/versions/rollback/{tag}"), status)


async def test_rollback_to_a_pruned_version_is_410(aiohttp_client, trained_workdir):
    config = tiny_config(trained_workdir, CONGESTION_VERSIONING__KEEP_LAST="1")
    # Drop the "previous active" protection: the older version was never active before.
    execute_sql(trained_workdir, "update model_events set from_version_id = null")
    client = await aiohttp_client(create_app(config))
    old = next(v for v in await versions(client) if not v["active"])
    pruned = await check_json(await client.post("/api/versions/prune"), 200)
    assert pruned["pruned"] == [old["timestamp"]]
    listed = await versions(client)
    assert next(v for v in listed if v["timestamp"] == old["timestamp"])["pruned"] is True
    assert next(v for v in listed if v["active"])["pruned"] is False
    await check_error(await client.post(f"/api/versions/rollback/{old['timestamp']}"), 410, "gone")
    name = next(a["name"] for a in old["artifacts"] if a["kind"] == "pipeline")
    await check_error(await client.get(f"/download/version/{name}"), 410, "gone")


async def test_retention_never_prunes_the_active_or_previous_version(aiohttp_client, trained_workdir):
    config = tiny_config(trained_workdir, CONGESTION_VERSIONING__KEEP_LAST="1")
    client = await aiohttp_client(create_app(config))
    listed = await versions(client)
    old = next(v for v in listed if not v["active"])["timestamp"]
    await check_json(await client.post(f"/api/versions/rollback/{old}"), 200)
    body = await check_json(await client.post("/api/versions/prune"), 200)
    assert body["pruned"] == []  # one is active, the other was active just before
    assert all(not v["pruned"] for v in await versions(client))


async def test_downloads_are_verified_attachments(client):
    for what in ("model", "scaler", "metrics"):
        response = await client.get(f"/download/{what}")
        assert response.status == 200, what
        data = await response.read()
        assert response.headers["Content-Disposition"].startswith("attachment;")
        assert hashlib.sha256(data).hexdigest() == response.headers["X-Content-SHA256"]
    metrics = json.loads(await (await client.get("/download/metrics")).read())
    assert "f1_score" in metrics
    listed = await versions(client)
    plot = next(a for a in listed[0]["artifacts"] if a["kind"] == "plot")
    response = await client.get(plot["url"])
    assert response.status == 200 and response.content_type == "image/png"
    assert (await response.read())[:8] == b"\x89PNG\r\n\x1a\n"


TRAVERSAL = [
    "../metadata.sqlite3", "..%2fmetadata.sqlite3", "%252e%252e%252fmetadata.sqlite3",
    "..\\metadata.sqlite3", "/etc/passwd", "%2Fetc%2Fpasswd", "//proc/self/root/etc/passwd",
    "model_20260101_000000.joblib%00.png", "model_20260101_000000.joblib;.png",
    "model_20260101_000000.joblib#x", "a" * 300, "sha256", ".",
]


@pytest.mark.parametrize("name", TRAVERSAL)
async def test_download_traversal_never_reads_files(client, trained_workdir, name):
    secret = "PLANTED-SECRET-7c1f"
    (trained_workdir / "secret.txt").write_text(secret)
    response = await client.get(f"/download/version/{name}")
    body = await response.read()
    assert response.status in (400, 404), (name, response.status)
    assert secret.encode() not in body
    assert b"SQLite format" not in body and b"root:" not in body


async def test_tampered_blob_is_refused_on_download(client, trained_workdir):
    listed = await versions(client)
    artifact = next(a for a in listed[0]["artifacts"] if a["kind"] == "metrics")
    path = trained_workdir / "blobs" / "sha256" / artifact["sha256"][:2] / artifact["sha256"]
    path.chmod(0o644)
    path.write_bytes(b'{"f1_score": 1.0}')
    await check_error(await client.get(artifact["url"]), 409, "integrity_error")


async def test_a_server_follows_a_rollback_made_elsewhere(aiohttp_client, trained_workdir):
    """A second app on the same store (as the CLI or another server) rolls back; the first follows."""
    config = tiny_config(trained_workdir, CONGESTION_VERSIONING__FOLLOW_INTERVAL_S="0.2")
    serving = await aiohttp_client(create_app(config))
    other = await aiohttp_client(create_app(tiny_config(trained_workdir, CONGESTION_VERSIONING__FOLLOW_INTERVAL_S="0")))
    old = next(v for v in await versions(serving) if not v["active"])["timestamp"]
    ws = await serving.ws_connect("/ws")
    await ws.receive_json()
    await check_json(await other.post(f"/api/versions/rollback/{old}"), 200)
    event = await asyncio.wait_for(ws.receive_json(), 10)
    assert event["type"] == "version_activated" and event["version"] == old
    assert event["source"] == "database"
    assert serving.app[keys.INFERENCE].version == old
    await ws.close()


@pytest.mark.parametrize("name", TRAVERSAL)
async def test_traversal_on_tag_and_id_routes_is_refused(client, trained_workdir, name):
    secret = "PLANTED-SECRET-7c1f"
    (trained_workdir / "secret.txt").write_text(secret)
    for method, path in (("POST", f"/api/versions/rollback/{name}"), ("GET", f"/api/train/runs/{name}"),
                         ("POST", f"/api/train/{name}/cancel")):
        response = await client.request(method, path)
        body = await response.read()
        assert response.status in (400, 404, 405), (method, path, response.status)
        assert response.content_type == "application/json"
        assert secret.encode() not in body and b"root:" not in body
