"""Loop-side monitoring service: the recorder's lifecycle, window queries, `monitoring_window` events."""
from __future__ import annotations

import asyncio
import logging
from typing import Any

from server.monitoring import store
from server.monitoring.accumulators import LabelsPart, PredictionsPart
from server.monitoring.prometheus import MonitoringGauges
from server.monitoring.recorder import PredictionRecorder
from server.monitoring.windows import all_parts, merged_parts, summarise

log = logging.getLogger(__name__)

EVENT_DEBOUNCE_S = 1.0
SPAN_PARTS = (PredictionsPart.part, LabelsPart.part)  # what a span's realised and estimated metrics need
GAUGE_REFRESH_S = 5.0


class MonitoringService:
    """Owns the recorder; answers window queries; publishes changed windows (debounced)."""

    def __init__(self, config, engine, hub=None, registry=None) -> None:
        self.config = config
        self.window_s = config.monitoring.window_s
        self.engine = engine
        self.hub = hub
        self._loop: asyncio.AbstractEventLoop | None = None
        self._changed: set[tuple[int, str]] = set()
        self._publisher: asyncio.Task | None = None
        self.feedback_lock = asyncio.Lock()  # one label-state writer per process (see feedback)
        self.recorder = PredictionRecorder(config, config.storage.database_url, self._flushed_threadsafe)
        self.gauges = MonitoringGauges(registry, self.recorder) if registry is not None else None
        self._refresher: asyncio.Task | None = None
        self._gauges_stale = True  # a flush or feedback changed windows since the gauges were read

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        await asyncio.to_thread(self.recorder.start)
        if self.gauges is not None:
            self._refresher = asyncio.get_running_loop().create_task(self._refresh_gauges())

    async def stop(self) -> None:
        """Flush the log completely (SIGTERM path), then stop publishing."""
        await asyncio.to_thread(self.recorder.stop)
        for task in (self._publisher, self._refresher):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)

    async def _refresh_gauges(self) -> None:
        # Every GAUGE_REFRESH_S and only after a change: reading and merging the window states on
        # the loop every second cost ~4% of a predict's CPU under load (Prometheus scrapes every
        # 15-60 s anyway).
        while True:
            if self._gauges_stale:
                self._gauges_stale = False
                try:
                    assert self.gauges is not None
                    self.gauges.update(await self.windows(None, 2), self.window_s)
                except Exception:  # a DB hiccup must not end the loop
                    self._gauges_stale = True
                    log.exception("could not refresh the monitoring gauges")
            await asyncio.sleep(GAUGE_REFRESH_S)

    # -- events -----------------------------------------------------------------------------

    def _flushed_threadsafe(self, keys: list[tuple[int, str]]) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self.windows_changed, keys)

    def windows_changed(self, keys: list[tuple[int, str]]) -> None:
        """Note changed windows; one publisher task sends them at most once per second."""
        self._gauges_stale = True
        if self.hub is None or self.hub.subscriber_count == 0:
            return
        self._changed.update(keys)
        if self._publisher is None or self._publisher.done():
            self._publisher = asyncio.get_running_loop().create_task(self._publish())

    async def _publish(self) -> None:
        await asyncio.sleep(EVENT_DEBOUNCE_S)
        changed, self._changed = self._changed, set()
        try:
            for window in await self.windows_for(changed):
                self.hub.publish({"type": "monitoring_window", "window": window})
        except Exception:  # a DB hiccup must not kill the publisher for good
            log.exception("could not publish monitoring windows")

    # -- queries ----------------------------------------------------------------------------

    async def windows(self, version: str | None = None, limit: int = 24) -> list[dict[str, Any]]:
        """The newest `limit` windows (per version), newest first."""
        async with self.engine.connect() as conn:
            states = await store.window_states(conn, version, limit, all_parts(), self.window_s)
        merged = merged_parts(states)
        ordered = sorted(merged, key=lambda key: (key[0], key[1]), reverse=True)
        return [summarise(start, v, merged[(start, v)], self.window_s) for start, v in ordered]

    async def trailing_parts(self, version: str, first: int, last: int) -> tuple[int | None, dict[int, dict[str, Any]]]:
        """The version's first served window, and the counting parts of its windows in [first, last]."""
        async with self.engine.connect() as conn:
            earliest = await store.first_window(conn, version)
            states = await store.span_states(conn, version, first, last, SPAN_PARTS)
        return earliest, {start: parts for (start, _), parts in merged_parts(states).items()}

    async def windows_for(self, keys: set[tuple[int, str]]) -> list[dict[str, Any]]:
        """Summaries of the given (window_start, version) pairs."""
        out = []
        async with self.engine.connect() as conn:
            for start, version in sorted(keys):
                states = await store.window_states_of(conn, start, version, all_parts())
                merged = merged_parts(states)
                if (start, version) in merged:
                    out.append(summarise(start, version, merged[(start, version)], self.window_s))
        return out


async def record_feedback(service: MonitoringService, items: list) -> dict:
    """Apply one feedback request in one transaction; announce the windows it changed."""
    from server.monitoring.feedback import apply_feedback

    async with service.feedback_lock:
        async with service.engine.begin() as conn:
            result = await apply_feedback(conn, items, service.recorder.node, service.window_s)
    if result.windows:
        service.windows_changed(sorted(result.windows))
    return result.answer()
