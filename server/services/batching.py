"""Micro-batching: requests that arrive together share one model call, with no wait and no hop.

Policy (measured in bench/serve.py): a request queues its item and, if no flush is pending, one
is scheduled with `call_soon`. Every request parsed in the same event-loop turn has queued by the
time the flush runs, so concurrent requests share a batch without anyone waiting on a timer, and
a lone request pays nothing. Small batches run right there on the loop: handing ~50 us of work to
a thread costs more than it saves (and on one core it saves nothing). A batch over
`inline_records` records goes to the executor, so a 1,000-record request does not hold the loop
while the model runs; until it finishes, new requests queue and form the next batch. Batches run
one at a time, in arrival order, which is what the online windows need.

`run_batch(items)` returns one result per item, in order; a result that is an exception fails
that item alone. Nothing is retried here: a retry would apply the items' side effects (window
updates) twice, so isolating a bad item is the batch function's job.
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
    """Collects submitted items and runs `run_batch(items) -> results` (same order) once per loop turn."""

    def __init__(self, run_batch: Callable[[list[Item]], Sequence[Result | BaseException]], executor: Executor, *,
                 max_items: int = 256, inline_records: int = 64,
                 size: Callable[[Item], int] = lambda item: 1) -> None:
        self._run_batch = run_batch
        self._executor = executor
        self._max_items = max_items
        self._inline_records = inline_records
        self._size = size
        self._queue: list[tuple[Item, asyncio.Future]] = []
        self._scheduled = False
        self._busy = False  # a batch is running in the executor
        self._closed = False
        self.batches = 0  # counters for tests and the benchmark
        self.items = 0
        self.offloaded = 0

    async def submit(self, item: Item) -> Result:
        """Queue one item and wait for its result (exceptions are the item's own)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future = loop.create_future()
        self._queue.append((item, future))
        if not self._scheduled and not self._busy:
            self._scheduled = True
            loop.call_soon(self._flush)
        return await future

    def _take(self) -> tuple[list[tuple[Item, asyncio.Future]], int]:
        """Queued entries up to max_items records (always at least one), skipping cancelled ones."""
        taken, total, queue = [], 0, self._queue
        i = 0
        while i < len(queue):
            item, future = queue[i]
            if future.done():  # the caller went away
                i += 1
                continue
            n = self._size(item)
            if taken and total + n > self._max_items:
                break
            taken.append(queue[i])
            total += n
            i += 1
        del queue[:i]
        return taken, total

    def _flush(self) -> None:
        self._scheduled = False
        while self._queue and not self._busy and not self._closed:
            batch, records = self._take()
            if not batch:
                return
            self.batches += 1
            self.items += len(batch)
            items = [item for item, _ in batch]
            if records > self._inline_records:
                self._offload(batch, items)
                return
            try:
                results = self._run_batch(items)
            except Exception as exc:  # noqa: BLE001 - a bug in the batch function fails its batch, not the loop
                log.exception("a prediction batch failed")
                results = [exc] * len(batch)
            _settle_all(batch, results)

    def _offload(self, batch: list[tuple[Item, asyncio.Future]], items: list[Item]) -> None:
        self._busy = True
        self.offloaded += 1
        loop = asyncio.get_running_loop()
        work = loop.run_in_executor(self._executor, self._run_batch, items)

        def done(finished: asyncio.Future) -> None:
            self._busy = False
            if finished.cancelled():
                results: Sequence = [asyncio.CancelledError()] * len(batch)
            elif finished.exception() is not None:
                results = [finished.exception()] * len(batch)
            else:
                results = finished.result()
            _settle_all(batch, results)
            if self._queue and not self._scheduled:
                self._scheduled = True
                loop.call_soon(self._flush)

        work.add_done_callback(done)

    async def close(self) -> None:
        """Stop taking work; queued callers get CancelledError."""
        self._closed = True
        for _, future in self._queue:
            future.cancel()
        self._queue.clear()


def _settle_all(batch: list[tuple[object, asyncio.Future]], results: Sequence) -> None:
    for (_, future), result in zip(batch, results):
        if future.done():
            continue
        if isinstance(result, asyncio.CancelledError):
            future.cancel()
        elif isinstance(result, BaseException):
            future.set_exception(result)
        else:
            future.set_result(result)
