"""The micro-batcher: no wait when idle, shared batches under load, per-item failures, no retries."""
from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from server.services.batching import MicroBatcher


@pytest.fixture
def pool():
    """One worker thread, like the service's."""
    executor = ThreadPoolExecutor(1)
    yield executor
    executor.shutdown()


async def test_lone_request_runs_at_once_on_the_loop(pool):
    """An idle batcher neither waits for company nor hands a small batch to a thread."""
    threads = []

    def run(items):
        threads.append(threading.get_ident())
        return [i * 2 for i in items]

    batcher = MicroBatcher(run, pool)
    assert await batcher.submit(21) == 42
    assert await batcher.submit(1) == 2
    assert threads == [threading.get_ident()] * 2 and batcher.offloaded == 0
    await batcher.close()


async def test_concurrent_requests_are_batched_in_order(pool):
    """Requests that arrive in one loop turn share a batch, each getting its own answer."""
    sizes = []

    def run(items):
        sizes.append(len(items))
        return [i + 1000 for i in items]

    batcher = MicroBatcher(run, pool, max_items=64)
    results = await asyncio.gather(*(batcher.submit(i) for i in range(50)))
    assert results == [i + 1000 for i in range(50)]
    assert sizes == [50]
    await batcher.close()


async def test_batch_size_is_bounded(pool):
    """No batch exceeds max_items records."""
    sizes = []
    batcher = MicroBatcher(lambda items: sizes.append(sum(map(len, items))) or items, pool,
                           max_items=10, size=len)
    await asyncio.gather(*(batcher.submit([0] * 3) for _ in range(20)))
    assert max(sizes) <= 10 and sum(sizes) == 60
    await batcher.close()


async def test_a_failing_item_fails_alone(pool):
    """A result that is an exception fails its own item; the others get their answers."""
    batcher = MicroBatcher(lambda items: [ValueError("bad item") if i < 0 else i for i in items], pool)
    results = await asyncio.gather(*(batcher.submit(i) for i in (1, -1, 2)), return_exceptions=True)
    assert results[0] == 1 and results[2] == 2 and isinstance(results[1], ValueError)
    await batcher.close()


async def test_a_batch_error_is_not_retried(pool):
    """Item 8: a batch function that raises is never re-run item by item (side effects stay single)."""
    calls = []

    def run(items):
        calls.extend(items)
        raise RuntimeError("the model broke")

    batcher = MicroBatcher(run, pool)
    results = await asyncio.gather(*(batcher.submit(i) for i in (1, 2, 3)), return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in results)
    assert calls == [1, 2, 3], "each item reached the batch function exactly once"
    await batcher.close()


async def test_big_batches_run_off_the_event_loop_in_order(pool):
    """Past inline_records a batch goes to the executor; later requests queue behind it, in order."""
    seen = []

    def run(items):
        seen.append((threading.get_ident(), [len(i) for i in items]))
        return [len(i) for i in items]

    batcher = MicroBatcher(run, pool, inline_records=10, size=len)
    big, small = [0] * 50, [0] * 2
    results = await asyncio.gather(batcher.submit(big), batcher.submit(small), batcher.submit(small))
    assert results == [50, 2, 2]
    loop_thread = threading.get_ident()
    assert seen[0][0] != loop_thread and batcher.offloaded >= 1
    assert [n for _, sizes in seen for n in sizes] == [50, 2, 2], "arrival order kept across the hop"
    await batcher.close()
