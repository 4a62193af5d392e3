"""The serving threshold of each version: an audited setting, changed without retraining.

A version serves at ``api.default_threshold`` until a ``threshold_changed`` event sets its
own. Lookups on the predict path are a dict read; servers sharing a database pick up changes
made elsewhere when they follow the event log.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import numpy as np

from server.errors import Conflict, ValidationFailed
from server.ml.threshold import cost_at, threshold_curve
from server.store import repo
from server.store import repo_lifecycle
from server.store.records import VersionRecord

log = logging.getLogger(__name__)


class Thresholds:
    """Version tag -> live threshold, kept in step with the event log."""

    def __init__(self, default: float, sessions, blobs) -> None:
        self.default = float(default)
        self._sessions = sessions
        self._blobs = blobs
        self._by_tag: dict[str, float] = {}
        self._marker = -1
        self._lock = asyncio.Lock()

    def for_version(self, tag: str | None) -> float:
        """The threshold a version decides at right now (hot path: one dict lookup)."""
        return self._by_tag.get(tag, self.default) if tag else self.default

    async def refresh(self) -> bool:
        """Reload the per-version thresholds if any changed since the last look."""
        async with self._sessions() as session:
            marker = await repo_lifecycle.latest_threshold_event_id(session)
            if marker == self._marker:
                return False
            by_id = await repo_lifecycle.live_thresholds(session)
            tags = {v.id: v.tag for v in await repo.list_versions(session)} if by_id else {}
        self._by_tag = {tags[vid]: t for vid, t in by_id.items() if vid in tags}
        self._marker = marker
        return True

    async def holdout(self, version: VersionRecord) -> tuple[np.ndarray, np.ndarray]:
        """The version's hold-out labels and probabilities (stored at training time)."""
        artifact = version.artifact("holdout")
        if artifact is None:
            raise Conflict(f"version {version.tag} has no stored hold-out (trained before this "
                           "release); retrain to get its threshold curve")
        data = await asyncio.to_thread(self._blobs.read, artifact.sha256, artifact.size_bytes)
        holdout = json.loads(data)
        return np.asarray(holdout["y"], dtype=int), np.asarray(holdout["proba"], dtype=float)

    async def curve(self, version: VersionRecord, cost_fn: float, cost_fp: float) -> dict[str, Any]:
        """Precision, recall, F1, counts and cost per threshold on the version's hold-out."""
        y, proba = await self.holdout(version)
        curve = await asyncio.to_thread(threshold_curve, y, proba, cost_fn, cost_fp)
        live = self.for_version(version.tag)
        return {"version": version.tag, "source": "holdout", "live_threshold": live,
                "live_cost": cost_at(y, proba, live, cost_fn, cost_fp), **curve}

    async def change(self, version: VersionRecord, threshold: float, *, reason: str, actor: str,
                     cost_fn: float, cost_fp: float) -> dict[str, Any]:
        """Record a ``threshold_changed`` event (old -> new, who, cost at each) and apply it."""
        if not 0.0 <= threshold <= 1.0:
            raise ValidationFailed("threshold must be between 0 and 1", fields={"threshold": "out of range"})
        async with self._lock:
            old = self.for_version(version.tag)
            costs: dict[str, Any] = {"cost_fn": cost_fn, "cost_fp": cost_fp}
            if version.artifact("holdout") is not None:
                y, proba = await self.holdout(version)
                costs.update(rows=int(len(y)), cost_old=cost_at(y, proba, old, cost_fn, cost_fp),
                             cost_new=cost_at(y, proba, threshold, cost_fn, cost_fp))
            evidence = {"old": old, "new": float(threshold), **costs}
            async with self._sessions.begin() as session:
                event = await repo.add_event(session, kind="threshold_changed", version_id=version.id,
                                             actor=actor, reason=reason, evidence=evidence)
            self._by_tag[version.tag] = float(threshold)
        log.info("threshold of %s changed %s -> %s by %s: %s", version.tag, old, threshold, actor, reason)
        return {"version": version.tag, "previous": old, "threshold": float(threshold),
                "event_id": event.id, "reason": reason, **costs}
