"""While the app serves, start-up objects are frozen and young collections are rarer (server/heap.py)."""
from __future__ import annotations

import gc

from server.app import create_app
from server.heap import SERVING_GC_THRESHOLD


async def test_serving_freezes_start_up_and_raises_the_young_threshold(aiohttp_client, empty_config):
    before = gc.get_threshold()
    assert before != SERVING_GC_THRESHOLD
    client = await aiohttp_client(create_app(empty_config))
    assert (await client.get("/healthz")).status == 200
    assert gc.get_threshold() == SERVING_GC_THRESHOLD
    assert gc.get_freeze_count() > 10_000  # modules, model code and services
    await client.close()
    assert gc.get_threshold() == before, "an app that stops gives the process its collector back"
    assert gc.get_freeze_count() == 0
