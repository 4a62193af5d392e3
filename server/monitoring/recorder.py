"""The serving side of the prediction log: one cheap call per request, a bounded queue.

`record()` runs on the event loop for every /api/predict answer: it reserves a block of ids and
appends ONE tuple per request (references to the records and probabilities the request already
holds). Everything else happens in the writer thread. Memory is bounded by
`monitoring.max_queue` records: beyond it requests are answered as usual, their predictions are
not logged, and `dropped` counts them (a metric, the writer's row and a warning say so).
"""
from __future__ import annotations

import logging
import threading
from typing import Callable

from server.monitoring.ids import IdIssuer
from server.monitoring.writer import Entry, LogWriter
from server.store.run_owner import current_owner

log = logging.getLogger(__name__)


class PredictionRecorder:
    """Issues prediction ids and queues answers for the log writer."""

    def __init__(self, config, database_url: str,
                 on_flushed: Callable[[list[tuple[int, str]]], None] = lambda keys: None) -> None:
        settings = config.monitoring
        self.enabled = settings.enabled
        self.max_queue = settings.max_queue
        self.ids = IdIssuer()
        self.dropped = 0
        self.unlogged = 0  # ids issued for what-if calls (observe=false), never logged
        self._pending: list[Entry] = []
        self._queued = 0
        self._lock = threading.Lock()
        self._warned_full = False
        self.writer = LogWriter(
            database_url, self.ids.node, current_owner(), self._take, self._requeue,
            interval_s=settings.flush_interval_s, window_s=settings.window_s,
            sample_rate=settings.log_sample_rate, retention_days=settings.retention_days,
            on_flushed=on_flushed)

    @property
    def node(self) -> str:
        return self.ids.node

    @property
    def queued(self) -> int:
        return self._queued

    def start(self) -> None:
        """Start the writer and wait until it registered (and reported lost predictions)."""
        if not self.enabled:
            return
        self.writer.start()
        self.writer.started.wait()
        if self.writer.failed is not None:
            raise RuntimeError(f"the prediction log cannot start: {self.writer.failed}")
        for lost in self.writer.lost_writers:
            log.warning(lost.message(self.writer.interval_s))

    def stop(self) -> None:
        """Flush everything queued, then stop the writer (blocking: call it off the loop)."""
        if self.writer.is_alive():
            self.writer.stop()
            self.writer.join()

    def record(self, records: list[dict], probabilities: list[float], threshold: float,
               version: str, log_it: bool = True) -> list[str]:
        """The prediction ids of one answer; queues it for the log unless `log_it` is false."""
        n = len(records)
        with self._lock:
            prefix, first = self.ids.reserve(n)
            if not (self.enabled and log_it):
                self.unlogged += n
            elif self._queued + n > self.max_queue:
                self.dropped += n
                self._warn_full()
            else:
                self._pending.append((prefix, first, version, threshold, records, probabilities))
                self._queued += n
        return [f"{prefix}{seq:012x}" for seq in range(first, first + n)]

    def _warn_full(self) -> None:
        if not self._warned_full:
            self._warned_full = True
            log.warning("prediction log queue is full (%d records): predictions are served but not "
                        "logged until the writer catches up (see congestion_prediction_log_dropped_total)",
                        self.max_queue)

    def _take(self) -> tuple[list[Entry], dict[str, int]]:
        """(pending entries, counters) taken atomically by the writer thread."""
        with self._lock:
            entries, self._pending = self._pending, []
            self._queued = 0
            self._warned_full = False
            counters = {"issued": self.ids.issued - self.unlogged, "dropped": self.dropped}
        return entries, counters

    def _requeue(self, entries: list[Entry]) -> None:
        """Put a failed flush back at the head of the queue, dropping what no longer fits."""
        with self._lock:
            kept: list[Entry] = []
            room = self.max_queue - self._queued
            for entry in entries:
                n = len(entry[4])
                if n <= room:
                    kept.append(entry)
                    room -= n
                else:
                    self.dropped += n
            self._pending = kept + self._pending
            self._queued = sum(len(e[4]) for e in self._pending)
