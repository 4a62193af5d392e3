"""Shadow challengers: registered versions that score the live traffic off the response path.

The predict handler hands each answered batch to :meth:`Shadows.offer` (an append to a bounded
list, nothing else), so answers and their latency do not change. A background task replays
the batches, in arrival order, through one private :class:`InferenceService` per shadow: each
shadow keeps its own online windows, fed exactly the traffic the champion saw, so its features
are the ones it would compute if it were serving. Its scores go to ``shadow_predictions``
beside the champion's logged prediction, under the same prediction id.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime, timezone
from typing import Any

from server.errors import Conflict, Gone, IntegrityFailure, Unavailable
from server.services.events import EventHub
from server.services.inference import InferenceService
from server.store import repo, repo_lifecycle, repo_shadow

log = logging.getLogger(__name__)

MAX_SHADOWS = 3
MAX_QUEUED_RECORDS = 50_000


class Shadows:
    """The set of shadow versions, their scoring task and their scores' writer."""

    def __init__(self, config, sessions, registry, hub: EventHub) -> None:
        self._config = config
        self._sessions = sessions
        self._registry = registry
        self._hub = hub
        self._services: dict[str, InferenceService] = {}
        self._unloadable: set[str] = set()  # versions this process failed to load (logged once)
        self._pending: list[tuple[list[str], list[dict]]] = []
        self._queued = 0
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._lock = asyncio.Lock()
        self.dropped = 0
        self.scored = 0

    @property
    def versions(self) -> list[str]:
        return sorted(self._services)

    @property
    def capacity(self) -> int:
        return MAX_SHADOWS

    # -- hot path ------------------------------------------------------------------------------

    def offer(self, ids: list[str], records: list[dict], observe: bool) -> None:
        """Queue one answered batch for the shadows (observed traffic only; O(1), never blocks)."""
        if not self._services or not observe:
            return
        if self._queued + len(records) > MAX_QUEUED_RECORDS:
            self.dropped += len(records)  # bounded memory: shadows lag, serving never waits
            return
        self._pending.append((ids, records))
        self._queued += len(records)
        self._wake.set()

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        """Load the versions the event log has in shadow, then start scoring."""
        await self.follow_database()
        self._task = asyncio.create_task(self._run(), name="shadow-scorer")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self._score_pending()  # what was answered before shutdown is scored, not lost
        for service in self._services.values():
            await service.close()
        self._services.clear()

    async def follow_database(self) -> None:
        """Serve the shadow set the event log records (changed by this or another server)."""
        async with self._sessions() as session:
            ids = await repo_lifecycle.shadow_version_ids(session)
            wanted = {v.tag: v for v in [await repo.get_version(session, i) for i in ids] if not v.pruned}
        async with self._lock:
            for tag in set(self._services) - set(wanted):
                await self._services.pop(tag).close()
            for tag, version in wanted.items():
                if tag not in self._services and tag not in self._unloadable:
                    try:
                        await self._load(version)
                    except (IntegrityFailure, Unavailable) as exc:  # this process cannot: skip, never crash
                        log.error("not shadowing %s here: %s", tag, exc.message)
                        if isinstance(exc, IntegrityFailure):
                            self._unloadable.add(tag)

    async def _load(self, version) -> None:
        bundle = await self._registry.load_bundle(version)
        features = self._config.features  # the same window bounds as the champion's
        service = InferenceService(features.max_window_keys, max_window_entries=features.max_window_entries)
        service.swap(bundle)
        self._services[version.tag] = service

    async def set_shadow(self, tag: str, enabled: bool, *, actor: str, reason: str | None) -> dict[str, Any]:
        """Turn shadowing of a version on or off; an audited event either way."""
        async with self._sessions() as session:
            version = await repo.get_version_by_tag(session, tag)
            active = await repo.active_version(session)
        if enabled and version.pruned:
            raise Gone(f"model version {tag} was pruned; its artifacts are gone")
        if enabled and active is not None and active.id == version.id:
            raise Conflict(f"version {tag} is the active version; it cannot shadow itself")
        async with self._lock:
            if enabled == (tag in self._services):
                return {"version": tag, "shadow": enabled, "changed": False, "shadows": self.versions}
            if enabled:
                if len(self._services) >= MAX_SHADOWS:
                    raise Conflict(f"at most {MAX_SHADOWS} versions can be in shadow at once",
                                   shadows=self.versions)
                await self._load(version)
            else:
                await self._services.pop(tag).close()
            async with self._sessions.begin() as session:
                await repo.add_event(session, kind="shadow_started" if enabled else "shadow_stopped",
                                     version_id=version.id, actor=actor, reason=reason)
        self._hub.publish({"type": "shadow_changed", "version": tag, "shadow": enabled, "actor": actor})
        log.info("version %s shadow %s by %s", tag, "on" if enabled else "off", actor)
        return {"version": tag, "shadow": enabled, "changed": True, "shadows": self.versions}

    # -- scoring -------------------------------------------------------------------------------

    async def _run(self) -> None:
        interval = max(0.05, float(self._config.monitoring.flush_interval_s))
        while True:
            await self._wake.wait()
            await asyncio.sleep(interval)  # gather a flush interval's batches into one write
            try:
                await self._score_pending()
            except Exception:  # a DB hiccup must not end shadow scoring for good
                log.exception("shadow scoring failed; the batch is dropped")

    async def _score_pending(self) -> None:
        self._wake.clear()
        pending, self._pending, self._queued = self._pending, [], 0
        if not pending or not self._services:
            return
        window_s = int(self._config.monitoring.window_s)
        now = datetime.now(timezone.utc)
        rows: list[dict[str, Any]] = []
        thresholds = self._registry.thresholds
        for tag, service in list(self._services.items()):
            threshold = thresholds.for_version(tag)
            for ids, records in pending:  # in arrival order: the shadow's windows see what the champion saw
                result = await service.predict(records, observe=True)
                for pid, record, p in zip(ids, records, result.probabilities):
                    event_time = int(record.get("timestamp_seconds") or time.time())
                    rows.append({"prediction_id": pid, "version": tag, "probability": float(p),
                                 "prediction": int(p >= threshold), "threshold": threshold,
                                 "window_start": event_time - event_time % window_s, "scored_at": now})
        async with self._sessions.begin() as session:
            await repo_shadow.insert_scores(session, rows)
        self.scored += len(rows)
