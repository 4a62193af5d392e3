"""The log writer thread: every flush interval, pending predictions become rows and window states.

It runs its own event loop and engine in its own thread, so neither row building, JSON encoding
nor database I/O ever touches the serving loop. One transaction per flush holds the rows, the
window states they changed and this writer's counters: a crash loses a whole flush or nothing,
and the aggregates never disagree with the rows.
"""
from __future__ import annotations

import asyncio
import logging
import threading
from collections import OrderedDict
from datetime import datetime, timezone
from typing import Any, Callable

import numpy as np

from server.ml.calibration import apply_calibration
from server.monitoring import store
from server.monitoring.accumulators import PredictionBatch
from server.monitoring.ids import id_time
from server.monitoring.windows import PREDICTION_PARTS
from server.store import db

log = logging.getLogger(__name__)

MAX_WINDOWS_IN_MEMORY = 256
PRUNE_EVERY_S = 600.0

# (id prefix, first sequence, version, threshold, records, probabilities); the prefix holds the
# arrival millisecond (server/monitoring/ids.py), which is the row's `arrived_at`.
Entry = tuple[str, int, str, float, list, list]


class LogWriter(threading.Thread):
    """Drains `take()` every `interval_s` into the database until stopped; flushes on stop."""

    def __init__(self, url: str, node: str, owner: str, take: Callable[[], tuple[list[Entry], dict]],
                 requeue: Callable[[list[Entry]], None], *, interval_s: float, window_s: int,
                 sample_rate: float, retention_days: float,
                 on_flushed: Callable[[list[tuple[int, str]]], None] = lambda keys: None) -> None:
        super().__init__(name="prediction-log", daemon=True)
        self.url, self.node, self.owner = url, node, owner
        self.take, self.requeue, self.on_flushed = take, requeue, on_flushed
        self.interval_s, self.window_s = interval_s, window_s
        self.sample_rate, self.retention_days = sample_rate, retention_days
        self.logged = self.sampled_out = 0
        self.lost_writers: list[store.LostWriter] = []
        self.started = threading.Event()
        self.failed: BaseException | None = None
        self._stop_event = threading.Event()
        self._windows: OrderedDict[tuple[int, str], dict[str, Any]] = OrderedDict()
        self._persisted: set[tuple[int, str, str]] = set()
        self._calibrations: dict[str, dict | None] = {}
        self._rng = np.random.default_rng()
        self._last_prune = 0.0

    def stop(self) -> None:
        self._stop_event.set()

    def run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # noqa: BLE001 - reported to the app, which logs it
            self.failed = exc
            self.started.set()
            log.exception("the prediction log writer stopped")

    async def _main(self) -> None:
        engine = db.create_engine(self.url)
        try:
            async with engine.begin() as conn:
                self.lost_writers = await store.register_writer(
                    conn, self.node, self.owner, max(store.STALE_WRITER_S, 30 * self.interval_s))
            self.started.set()
            while True:
                stopping = self._stop_event.wait(self.interval_s)
                await self._flush(engine, stopping)
                if stopping:
                    return
                await self._maybe_prune(engine)
        finally:
            await engine.dispose()

    async def _flush(self, engine, stopping: bool) -> None:
        entries, counters = self.take()
        try:
            async with engine.begin() as conn:
                keys = await self._write(conn, entries)
                await store.heartbeat(conn, self.node, {**counters, "logged": self.logged + self._new_logged,
                                                        "sampled_out": self.sampled_out + self._new_sampled},
                                      stopping)
        except Exception:
            self._windows.clear()  # in-memory states may hold the failed batch: reload from the DB
            self._persisted.clear()
            log.exception("prediction log flush failed; %d request(s) kept for the next flush", len(entries))
            self.requeue(entries)
            if stopping:
                raise
            return
        self.logged += self._new_logged
        self.sampled_out += self._new_sampled
        if keys:
            self.on_flushed(keys)

    async def _write(self, conn, entries: list[Entry]) -> list[tuple[int, str]]:
        self._new_logged = self._new_sampled = 0
        rows: dict[str, list] = {name: [] for name in store.PREDICTION_COLUMNS}
        groups: dict[tuple[int, str], list[PredictionBatch]] = {}
        by_version: dict[str, list[Entry]] = {}
        for entry in entries:
            by_version.setdefault(entry[2], []).append(entry)
        for version, chunk in by_version.items():
            await self._entries(conn, version, chunk, rows, groups)
        await store.insert_predictions(conn, rows)
        for key, batches in groups.items():
            await self._accumulate(conn, key, batches)
        return list(groups)

    async def _entries(self, conn, version: str, chunk: list[Entry], rows: dict[str, list], groups: dict) -> None:
        """Rows and per-window batches of one version's entries, in arrival order.

        Column-wise over the whole flush: a flush of single-record requests holds thousands of
        entries, and numpy calls per entry cost more than the rows themselves.
        """
        sizes = [len(entry[4]) for entry in chunk]
        n = sum(sizes)
        if n == 0:
            return
        records = [r for entry in chunk for r in entry[4]]
        ids = [f"{entry[0]}{seq:012x}" for entry, size in zip(chunk, sizes) for seq in range(entry[1], entry[1] + size)]
        p = np.fromiter((q for entry in chunk for q in entry[5]), np.float64, n)
        thresholds = np.repeat(np.array([entry[3] for entry in chunk], dtype=np.float64), sizes)
        # Requests of one millisecond share a prefix: one datetime each, bound once (store._bind).
        arrival_of_prefix: dict[str, datetime] = {}
        arrivals = [arrival_of_prefix.get(entry[0]) or arrival_of_prefix.setdefault(
            entry[0], datetime.fromtimestamp(id_time(entry[0]), timezone.utc)) for entry in chunk]
        arrived_of = np.repeat(np.arange(len(chunk)), sizes).tolist()
        decision = (p >= thresholds).astype(np.int8)
        ts = np.fromiter((r["timestamp_seconds"] for r in records), np.int64, n)
        windows = ts - ts % self.window_s
        calibrated = apply_calibration(await self._calibration(conn, version), p)
        keep = self._rng.random(n) < self.sample_rate if self.sample_rate < 1.0 else None
        ts_list, window_list, p_list = ts.tolist(), windows.tolist(), p.tolist()
        decision_list, threshold_list = decision.tolist(), thresholds.tolist()
        kept_rows = range(n) if keep is None else np.flatnonzero(keep).tolist()
        for name, column in (("id", ids), ("timestamp_seconds", ts_list), ("window_start", window_list),
                             ("probability", p_list), ("prediction", decision_list), ("threshold", threshold_list)):
            rows[name].extend(column if keep is None else [column[i] for i in kept_rows])
        rows["arrived_at"].extend(arrivals[arrived_of[i]] for i in kept_rows)
        rows["version"].extend([version] * len(kept_rows))
        for i in kept_rows:
            r = records[i]
            rows["source_ip"].append(r["source_ip"])
            rows["dest_ip"].append(r["dest_ip"])
            rows["record"].append(store.encode_record(r))
        kept = n if keep is None else int(keep.sum())
        self._new_logged += kept
        self._new_sampled += n - kept
        for window in np.unique(windows).tolist():
            index = np.flatnonzero(windows == window)
            positions = index.tolist()
            groups.setdefault((int(window), version), []).append(PredictionBatch(
                p[index], decision[index], calibrated[index], [records[i] for i in positions],
                [ids[i] for i in positions]))

    async def _calibration(self, conn, version: str) -> dict | None:
        if version not in self._calibrations:
            self._calibrations[version] = await store.calibration(conn, version)
        return self._calibrations[version]

    async def _accumulate(self, conn, key: tuple[int, str], batches: list[PredictionBatch]) -> None:
        parts = self._windows.get(key)
        if parts is None:
            stored = await store.load_states(conn, key[0], key[1], self.node)
            parts = {name: (cls.from_state(stored[name]) if name in stored else cls())
                     for name, cls in PREDICTION_PARTS.items()}
            self._persisted.update((key[0], key[1], name) for name in stored)
            self._windows[key] = parts
        self._windows.move_to_end(key)
        while len(self._windows) > MAX_WINDOWS_IN_MEMORY:  # its state is in the DB already
            old, _ = self._windows.popitem(last=False)
            self._persisted.difference_update({(old[0], old[1], name) for name in PREDICTION_PARTS})
        for name, accumulator in parts.items():
            for batch in batches:  # one per version and window of the flush (see _entries)
                accumulator.add(batch)
            exists = (key[0], key[1], name) in self._persisted
            await store.save_state(conn, (key[0], key[1], self.node, name), self.window_s,
                                   accumulator.state(), exists)
            self._persisted.add((key[0], key[1], name))

    async def _maybe_prune(self, engine) -> None:
        now = asyncio.get_running_loop().time()
        if self.retention_days <= 0 or now - self._last_prune < PRUNE_EVERY_S:
            return
        self._last_prune = now
        try:
            async with engine.begin() as conn:
                removed = await store.prune(conn, self.retention_days)
            if removed:
                log.info("prediction log: pruned %d predictions older than %g days", removed, self.retention_days)
        except Exception:
            log.exception("prediction log pruning failed; will retry")
