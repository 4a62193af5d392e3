"""Item 10: /readyz answers 503 in the one error envelope, and a database outage is never a 500."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import text

from server import keys
from tests.conftest import check_error, check_json


async def test_schema_behind_is_503_in_the_envelope(empty_client):
    """A database stamped at another revision: 503, code unavailable, the readiness body inside."""
    engine = empty_client.app[keys.ENGINE]
    async with engine.begin() as conn:
        head = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar_one()
        await conn.execute(text("UPDATE alembic_version SET version_num = 'someone_elses'"))
    try:
        error = await check_error(await empty_client.get("/readyz"), 503, "unavailable", "database")
        assert "someone_elses" in error["message"]
        readiness = error["readiness"]
        assert readiness["status"] == "unavailable"
        assert readiness["database"] == {"revision": "someone_elses", "head": head, "ok": False, "error": None}
    finally:
        async with engine.begin() as conn:
            await conn.execute(text("UPDATE alembic_version SET version_num = :head"), {"head": head})
    ready = await check_json(await empty_client.get("/readyz"), 200)
    assert ready["status"] == "ok"


async def test_database_outage_is_503_not_500(empty_client, empty_config):
    """The SQLite file becomes unopenable under a running server: 503 naming the database."""
    url = empty_config.storage.database_url
    if not url.startswith("sqlite"):
        pytest.skip("the outage is staged on the SQLite file; the PostgreSQL case shares the code path")
    path = Path(url.split("///", 1)[1])
    engine = empty_client.app[keys.ENGINE]
    await engine.dispose()  # pooled connections would keep the old file open
    moved = path.with_name(path.name + ".away")
    os.rename(path, moved)
    path.mkdir()  # a directory where the database file was: every connect fails
    try:
        error = await check_error(await empty_client.get("/readyz"), 503, "unavailable", "database")
        assert "cannot be reached" in error["fields"]["database"]
        assert error["readiness"]["database"]["ok"] is False
    finally:
        path.rmdir()
        os.rename(moved, path)
        await engine.dispose()
    assert (await check_json(await empty_client.get("/readyz"), 200))["status"] == "ok"
