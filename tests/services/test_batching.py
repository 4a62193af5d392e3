"""The micro-batcher: no wait when idle, shared batches under load, per-item failures."""
from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from server.services.batching import MicroBatcher


@pytest.fixture
def pool():
    """One worker thread, like the service's."""
    executor = ThreadPoolExecutor(1)
    yield executor
    executor.shutdown()


async def test_lone_request_runs_at_once(pool):
    """An idle batcher does not wait for company."""
    batcher = MicroBatcher(lambda items: [i * 2 for i in items], pool, max_wait_s=0.5)
    t0 = time.perf_counter()
    assert await batcher.submit(21) == 42
    assert await batcher.submit(1) == 2
    assert time.perf_counter() - t0 < 0.1
    await batcher.close()


async def test_concurrent_requests_are_batched_in_order(pool):
    """While one batch runs, the others queue and go together, each getting its own answer."""
    sizes = []

    def run(items):
        sizes.append(len(items))
        time.sleep(0.01)
        return [i + 1000 for i in items]

    batcher = MicroBatcher(run, pool, max_items=64)
    results = await asyncio.gather(*(batcher.submit(i) for i in range(50)))
    assert results == [i + 1000 for i in range(50)]
    assert len(sizes) < 10 and max(sizes) > 1
    await batcher.close()


async def test_batch_size_is_bounded(pool):
    """No batch exceeds max_items records."""
    sizes = []
    batcher = MicroBatcher(lambda items: sizes.append(sum(map(len, items))) or items, pool,
                           max_items=10, size=len)
    await asyncio.gather(*(batcher.submit([0] * 3) for _ in range(20)))
    assert max(sizes) <= 10
    await batcher.close()


async def test_a_failing_item_fails_alone(pool):
    """A batch error is retried item by item so only the bad item gets the exception."""
    def run(items):
        if -1 in items:
            raise ValueError("bad item")
        return items

    batcher = MicroBatcher(run, pool)
    results = await asyncio.gather(*(batcher.submit(i) for i in (1, -1, 2)), return_exceptions=True)
    assert results[0] == 1 and results[2] == 2 and isinstance(results[1], ValueError)
    await batcher.close()


async def test_work_runs_off_the_event_loop(pool):
    """The batch function runs in the executor's thread, not the loop's."""
    loop_thread = threading.get_ident()
    batcher = MicroBatcher(lambda items: [threading.get_ident() for _ in items], pool)
    assert await batcher.submit(0) != loop_thread
    await batcher.close()
