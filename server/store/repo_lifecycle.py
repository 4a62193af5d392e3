"""Lifecycle reads over the event log: live thresholds, gate decisions and shadows per version."""

from __future__ import annotations


from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.store.records import EventRecord
from server.store.repo_events import _event, _events_query
from server.store.tables import ModelEvent

DECISION_KINDS = ("promoted", "rejected", "held")
SHADOW_KINDS = ("shadow_started", "shadow_stopped")


async def _latest_per_version(session: AsyncSession, kinds: tuple[str, ...]) -> dict[int, EventRecord]:
    """The newest event of the given kinds for every version that has one (ordered by id)."""
    newest = (select(func.max(ModelEvent.id)).where(ModelEvent.kind.in_(kinds))
              .group_by(ModelEvent.version_id).scalar_subquery())
    rows = (await session.execute(_events_query().where(ModelEvent.id.in_(newest)))).all()
    return {event.version_id: event for event in map(_event, rows)}


async def live_thresholds(session: AsyncSession) -> dict[int, float]:
    """Version id -> the threshold its latest ``threshold_changed`` event set."""
    events = await _latest_per_version(session, ("threshold_changed",))
    return {vid: float((e.evidence or {})["new"]) for vid, e in events.items()}


async def latest_threshold_event_id(session: AsyncSession) -> int:
    """A cheap change marker for followers: the id of the newest threshold change (0 if none)."""
    return int(await session.scalar(
        select(func.coalesce(func.max(ModelEvent.id), 0)).where(ModelEvent.kind == "threshold_changed")))


async def gate_decisions(session: AsyncSession) -> dict[int, EventRecord]:
    """Version id -> its latest promotion decision (promoted, rejected or held) with evidence."""
    return await _latest_per_version(session, DECISION_KINDS)


async def shadow_version_ids(session: AsyncSession) -> list[int]:
    """Versions whose latest shadow event turned shadowing on."""
    events = await _latest_per_version(session, SHADOW_KINDS)
    return sorted(vid for vid, e in events.items() if e.kind == "shadow_started")


async def lifecycle_events(session: AsyncSession, limit: int = 100) -> list[EventRecord]:
    """Newest lifecycle events first."""
    kinds = DECISION_KINDS + SHADOW_KINDS + ("threshold_changed", "activated", "rolled_back")  # promoted: in DECISION_KINDS
    rows = (await session.execute(_events_query().where(ModelEvent.kind.in_(kinds))
                                  .order_by(ModelEvent.id.desc()).limit(limit))).all()
    return [_event(row) for row in rows]
