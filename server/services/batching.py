"""Micro-batching: concurrent requests share one model call, run off the event loop.

Policy: an idle batcher starts at once with whatever is queued (after one loop tick, so requests
parsed in the same tick join), which keeps a lone request's latency at its floor. While a batch
runs in the worker thread, new requests queue and form the next batch. Under load (the previous
batch held more than one request) it also waits up to `max_wait_s` for more, stopping early at
`max_items` records; that is the "collect ~1-2 ms or N requests" rule, applied only when it pays.
"""
from __future__ import annotations

import asyncio
import logging
from concurrent.futures import Executor
from typing import Callable, Generic, Sequence, TypeVar

log = logging.getLogger(__name__)

Item = TypeVar("Item")
Result = TypeVar("Result")


class MicroBatcher(Generic[Item, Result]):
    """Collects submitted items and runs `run_batch(items) -> results` (same order) in an executor."""

    def __init__(self, run_batch: Callable[[list[Item]], Sequence[Result]], executor: Executor, *,
                 max_items: int = 256, max_wait_s: float = 0.001,
                 size: Callable[[Item], int] = lambda item: 1) -> None:
        self._run_batch = run_batch
        self._executor = executor
        self._max_items = max_items
        self._max_wait_s = max_wait_s
        self._size = size
        self._queue: list[tuple[Item, asyncio.Future]] = []
        self._wakeup: asyncio.Event | None = None
        self._task: asyncio.Task | None = None
        self._last_batch = 0
        self.batches = 0  # counters for tests and the benchmark
        self.items = 0

    async def submit(self, item: Item) -> Result:
        """Queue one item and wait for its result (exceptions are the item's own)."""
        loop = asyncio.get_running_loop()
        if self._task is None or self._task.done():
            self._wakeup = asyncio.Event()
            self._task = loop.create_task(self._loop(), name="micro-batcher")
        future: asyncio.Future = loop.create_future()
        self._queue.append((item, future))
        assert self._wakeup is not None
        self._wakeup.set()
        return await future

    def _queued_size(self) -> int:
        return sum(self._size(item) for item, _ in self._queue)

    def _take(self) -> list[tuple[Item, asyncio.Future]]:
        """Queued entries up to max_items records (always at least one), skipping cancelled ones."""
        taken, total = [], 0
        while self._queue:
            item, future = self._queue[0]
            if future.done():  # the caller went away
                self._queue.pop(0)
                continue
            n = self._size(item)
            if taken and total + n > self._max_items:
                break
            taken.append(self._queue.pop(0))
            total += n
        return taken

    async def _loop(self) -> None:
        assert self._wakeup is not None
        loop = asyncio.get_running_loop()
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            await asyncio.sleep(0)  # let requests parsed in this tick join
            if self._last_batch > 1 and self._max_wait_s > 0:
                deadline = loop.time() + self._max_wait_s
                while self._queued_size() < self._max_items and loop.time() < deadline:
                    self._wakeup.clear()
                    try:
                        await asyncio.wait_for(self._wakeup.wait(), deadline - loop.time())
                    except TimeoutError:
                        break
            while self._queue:
                batch = self._take()
                if not batch:
                    break
                self._last_batch = len(batch)
                await self._run(loop, batch)

    async def _run(self, loop: asyncio.AbstractEventLoop, batch: list[tuple[Item, asyncio.Future]]) -> None:
        items = [item for item, _ in batch]
        self.batches += 1
        self.items += len(items)
        try:
            results = await loop.run_in_executor(self._executor, self._run_batch, items)
        except Exception as exc:  # noqa: BLE001 - retry one by one so a bad item fails only itself
            if len(batch) == 1:
                _settle(batch[0][1], exc=exc)
                return
            for entry in batch:
                try:
                    result = (await loop.run_in_executor(self._executor, self._run_batch, [entry[0]]))[0]
                except Exception as exc:  # noqa: BLE001
                    _settle(entry[1], exc=exc)
                else:
                    _settle(entry[1], result=result)
            return
        for (_, future), result in zip(batch, results):
            _settle(future, result=result)

    async def close(self) -> None:
        """Stop the loop task; queued callers get CancelledError."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
        for _, future in self._queue:
            future.cancel()
        self._queue.clear()


def _settle(future: asyncio.Future, *, result: object = None, exc: BaseException | None = None) -> None:
    if future.done():
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(result)
