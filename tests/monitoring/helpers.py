"""Helpers: an app whose log flushes quickly, and waiting until answers are on disk."""
from __future__ import annotations

import asyncio
import time

from server.app import create_app
from tests import backends
from tests.conftest import check_json, tiny_config


async def fast_client(aiohttp_client, workdir, **env):
    """A test client on the trained workdir with a 50 ms flush interval."""
    config = tiny_config(workdir, CONGESTION_MONITORING__FLUSH_INTERVAL_S="0.05", **env)
    return await aiohttp_client(create_app(config))


async def predict(client, body, query: str = ""):
    return await check_json(await client.post(f"/api/predict{query}", json=body), 200)


async def wait_logged(workdir, n: int, timeout: float = 20.0) -> None:
    """Until the predictions table holds n rows."""
    deadline = time.monotonic() + timeout
    while backends.execute_sql(workdir, "select count(*) from predictions")[0][0] < n:
        assert time.monotonic() < deadline, "the log writer did not flush in time"
        await asyncio.sleep(0.05)


async def feedback(client, items, status: int = 200, headers=None):
    return await check_json(await client.post("/api/feedback", json=items, headers=headers or {}), status)
