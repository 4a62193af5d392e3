"""The training process pool: spawn-context workers that stream progress through a queue.

The child side (`_init_worker`, `train_in_worker`) imports neither aiohttp nor SQLAlchemy:
workers only compute and return plain data; the server process persists everything.
"""
from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import queue as queue_module
import signal
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Callable

log = logging.getLogger(__name__)

# Set in each worker by the pool initializer; the queue is inherited at process start,
# the only way a multiprocessing queue may reach a pool worker.
_progress_queue: Any = None


def _init_worker(progress_queue: Any) -> None:
    """Worker start-up: keep the queue; let the parent alone decide about Ctrl-C; anonymous semaphores."""
    global _progress_queue
    _progress_queue = progress_queue
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A spawned child inherits "spawn" as its default start method, so every semaphore it makes is
    # a named one that only its own exit unlinks; joblib's ThreadPool (a forest with n_jobs > 1)
    # makes two per parallel fit or predict. Cancel and shutdown SIGKILL a busy worker, stranding
    # them for the shared resource tracker ("2 leaked semaphore objects" at shutdown). Under the
    # fork method they are unlinked at birth and the kernel frees them with the process. Nothing
    # in a worker starts processes from the default context (Dask's LocalCluster uses its own,
    # spawn by default).
    multiprocessing.set_start_method("fork", force=True)


def train_in_worker(run_id: int, spec: dict[str, Any]) -> dict[str, Any]:
    """Process entry point: run the ML pipeline, tagging each progress event with the run id."""
    from server.ml.worker import run_training

    def progress(event: dict[str, Any]) -> None:
        _progress_queue.put({**event, "run_id": run_id})

    _progress_queue.put({"type": "worker_started", "run_id": run_id, "pid": os.getpid()})
    return run_training(spec, progress)


def _warm_up() -> int:
    """Import the heavy ML modules once so the first real run does not pay for it."""
    import server.ml.worker  # noqa: F401

    return os.getpid()


class TrainingPool:
    """A ProcessPoolExecutor plus the thread that relays its workers' events to the loop."""

    def __init__(self, max_workers: int, on_event: Callable[[dict[str, Any]], None]) -> None:
        self._max_workers = max_workers
        self._on_event = on_event
        # spawn, not fork: forking a threaded server can deadlock (CPython gh-90622).
        self._context = multiprocessing.get_context("spawn")
        self._executor: ProcessPoolExecutor | None = None
        self._queue: Any = None
        self._reader: threading.Thread | None = None
        self._stop = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Create the executor, its queue and the reader thread."""
        self._loop = loop
        self._stop = threading.Event()
        self._queue = self._context.Queue()
        self._executor = ProcessPoolExecutor(
            self._max_workers, mp_context=self._context,
            initializer=_init_worker, initargs=(self._queue,))
        self._reader = threading.Thread(
            target=self._relay, args=(self._queue, self._stop), name="training-events", daemon=True)
        self._reader.start()

    def warm_up(self) -> asyncio.Future:
        """Start a worker in the background and import the ML stack in it."""
        assert self._executor is not None and self._loop is not None
        return self._loop.run_in_executor(self._executor, _warm_up)

    async def run(self, run_id: int, spec: dict[str, Any]) -> dict[str, Any]:
        """Run one training job in a worker; raises BrokenProcessPool if the worker dies.

        A pool that broke while idle (a worker killed between runs, the OOM killer) is
        replaced first, so one lost idle worker never fails the next run.
        """
        assert self._executor is not None and self._loop is not None
        try:
            future = self._loop.run_in_executor(self._executor, train_in_worker, run_id, spec)
        except BrokenProcessPool:
            log.warning("the training pool lost a worker while idle; starting a new one")
            await self.rebuild()
            future = self._loop.run_in_executor(self._executor, train_in_worker, run_id, spec)
        return await future

    def worker_pids(self) -> list[int]:
        """PIDs of the live worker processes (for cancel and for tests that kill one)."""
        processes = getattr(self._executor, "_processes", None) or {}
        return [p.pid for p in list(processes.values()) if p.is_alive()]

    def kill_workers(self) -> None:
        """Kill every worker process: the pending future fails with BrokenProcessPool."""
        for pid in self.worker_pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    async def rebuild(self) -> None:
        """Replace a broken pool (and its possibly corrupted queue) with a fresh one."""
        assert self._loop is not None
        await asyncio.to_thread(self.shutdown)
        self.start(self._loop)

    def shutdown(self) -> None:
        """Stop the reader, kill workers that are still busy, and release the executor."""
        self._stop.set()
        if self._executor is not None:
            self.kill_workers()
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
        if self._reader is not None:
            self._reader.join(timeout=2)
            self._reader = None
        if self._queue is not None:
            self._queue.close()
            self._queue.cancel_join_thread()
            self._queue = None

    def _relay(self, events: Any, stop: threading.Event) -> None:
        """Thread: move worker events onto the event loop, in order."""
        while not stop.is_set():
            try:
                event = events.get(timeout=0.2)
            except queue_module.Empty:
                continue
            except (EOFError, OSError, ValueError):
                return
            loop = self._loop
            if loop is not None and not loop.is_closed():
                loop.call_soon_threadsafe(self._on_event, event)


class InProcessRunner:
    """Same interface as TrainingPool, running the job in a thread of this process (CLI use)."""

    def __init__(self, on_event: Callable[[dict[str, Any]], None]) -> None:
        self._on_event = on_event
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    async def run(self, run_id: int, spec: dict[str, Any]) -> dict[str, Any]:
        from server.ml.worker import run_training

        loop = self._loop
        assert loop is not None

        def progress(event: dict[str, Any]) -> None:
            loop.call_soon_threadsafe(self._on_event, {**event, "run_id": run_id})

        return await asyncio.to_thread(run_training, spec, progress)

    def worker_pids(self) -> list[int]:
        return []

    def kill_workers(self) -> None:
        """A thread cannot be killed; the CLI stops with the process instead."""

    async def rebuild(self) -> None:
        """Nothing to rebuild in-process."""

    def shutdown(self) -> None:
        """Nothing to release."""
