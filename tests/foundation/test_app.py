"""App assembly on real SQLite files: health, readiness, error envelope, headers, schema checks."""
from __future__ import annotations

import sqlite3

import pytest
from aiohttp import web

from server.app import create_app
from server.store import db
from server.store.errors import SchemaError
from tests.conftest import check_error, check_json


async def test_empty_database_is_created_and_ready_without_a_model(empty_client, empty_config):
    body = await check_json(await empty_client.get("/healthz"), 200)
    assert body == {"status": "ok"}
    ready = await check_json(await empty_client.get("/readyz"), 200)
    assert ready["database"]["ok"] is True
    assert ready["database"]["revision"] == db.head_revision()
    assert ready["model"] == {"version": None, "loaded": False}
    path = empty_config.storage.database_url.split("///", 1)[1]
    with sqlite3.connect(path) as conn:
        tables = {r[0] for r in conn.execute("select name from sqlite_master where type='table'")}
    assert {"training_runs", "run_phases", "model_versions", "artifacts",
            "version_metrics", "model_events"} <= tables


async def test_trained_app_reports_its_active_version(client):
    ready = await check_json(await client.get("/readyz"), 200)
    assert ready["status"] == "ok"
    assert ready["model"]["loaded"] is True
    assert len(ready["model"]["version"]) == 15


async def test_unknown_route_and_wrong_method_use_the_error_envelope(empty_client):
    await check_error(await empty_client.get("/nope"), 404, "not_found")
    error = await check_error(await empty_client.get("/api/train/async"), 405, "method_not_allowed")
    assert "traceback" not in error["message"].lower()


async def test_security_headers_on_every_response(empty_client):
    for path in ("/healthz", "/nope"):
        response = await empty_client.get(path)
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert "aiohttp" not in response.headers.get("Server", "").lower()
        assert "python" not in response.headers.get("Server", "").lower()


async def test_start_up_refuses_a_database_at_an_unknown_revision(aiohttp_client, empty_config):
    client = await aiohttp_client(create_app(empty_config))
    await client.close()
    path = empty_config.storage.database_url.split("///", 1)[1]
    with sqlite3.connect(path) as conn:
        conn.execute("update alembic_version set version_num = 'ffffffffffff'")
    runner = web.AppRunner(create_app(empty_config))
    with pytest.raises(SchemaError) as info:
        await runner.setup()
    await runner.cleanup()
    assert "ffffffffffff" in str(info.value)
