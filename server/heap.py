"""The cyclic collector on the serving loop: start-up objects are frozen so full collections stay short.

A full (generation 2) collection walks every object the collector tracks, and it runs on whichever
thread allocated last, usually the event loop. After start-up that is ~330,000 objects (scikit-learn,
scipy, pandas, shap, the model), and bench/serve.py measured full collections of 200-320 ms every
few seconds under load: the p99 of /api/predict was 40x its p50. None of those objects will ever be
garbage, so `gc.freeze()` moves them to the permanent generation, which collections skip; a full
collection then walks only what serving created since (tens of milliseconds at most).

Frozen objects are still freed by reference counting; only a reference cycle among them would stay
until exit, and start-up builds none that it later drops.

Serving also raises the youngest generation's threshold from 700 allocations to 10,000. A predict
allocates a few hundred objects, nearly all dead by the answer; at 700 the collector ran a few times
per millisecond batch and promoted whatever was alive at that instant (records queued for the log,
new window keys), which in turn set off full collections over the online window state (~350,000
objects at 50k keys, 40-250 ms each). Measured under wrk at c=32 for 15 s: collections took 1.96 s
of CPU at (700, 10, 10) and 0.94 s at (10,000, 50, 100), with one full collection instead of twelve;
a young collection then takes ~3.6 ms (p50), garbage of a few MB at most waits for it.
"""
from __future__ import annotations

import gc
import logging
from typing import AsyncIterator

from aiohttp import web

log = logging.getLogger(__name__)

SERVING_GC_THRESHOLD = (10_000, 50, 100)  # (young, middle, old) collection thresholds while serving


def freeze_start_up() -> int:
    """Collect once, then exclude every surviving object from later collections; how many."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


async def frozen_start_up(app: web.Application) -> AsyncIterator[None]:
    """Last of the start-up steps: everything built so far (modules, model, services) is frozen."""
    log.info("froze %d start-up objects out of the cyclic collector", freeze_start_up())
    before = gc.get_threshold()
    gc.set_threshold(*SERVING_GC_THRESHOLD)
    yield
    gc.set_threshold(*before)
    gc.unfreeze()  # a test or embedding that builds another app starts from a normal heap
