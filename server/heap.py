"""The cyclic collector on the serving loop: start-up objects are frozen so full collections stay short.

A full (generation 2) collection walks every object the collector tracks, and it runs on whichever
thread allocated last, usually the event loop. After start-up that is ~330,000 objects (scikit-learn,
scipy, pandas, shap, the model), and bench/serve.py measured full collections of 200-320 ms every
few seconds under load: the p99 of /api/predict was 40x its p50. None of those objects will ever be
garbage, so `gc.freeze()` moves them to the permanent generation, which collections skip; a full
collection then walks only what serving created since (tens of milliseconds at most).

Frozen objects are still freed by reference counting; only a reference cycle among them would stay
until exit, and start-up builds none that it later drops.
"""
from __future__ import annotations

import gc
import logging
from typing import AsyncIterator

from aiohttp import web

log = logging.getLogger(__name__)


def freeze_start_up() -> int:
    """Collect once, then exclude every surviving object from later collections; how many."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


async def frozen_start_up(app: web.Application) -> AsyncIterator[None]:
    """Last of the start-up steps: everything built so far (modules, model, services) is frozen."""
    log.info("froze %d start-up objects out of the cyclic collector", freeze_start_up())
    yield
    gc.unfreeze()  # a test or embedding that builds another app starts from a normal heap
