"""The append-only model event log, the active version derived from it, and retention."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Sequence

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from server.store._common import aware, check_choice
from server.store.errors import Conflict
from server.store.records import EventRecord, MetricsHistory, MetricsPoint, VersionRecord
from server.store.repo_versions import _version_row, hydrate_versions, metrics_record
from server.store.tables import (
    ACTIVATION_KINDS,
    ACTORS,
    EVENT_KINDS,
    ModelEvent,
    ModelVersion,
    VersionMetrics,
)

_To = aliased(ModelVersion, name="to_version")
_From = aliased(ModelVersion, name="from_version")


def _events_query() -> Select[Any]:
    return (
        select(ModelEvent, _To.tag, _From.tag)
        .join(_To, ModelEvent.version_id == _To.id)
        .outerjoin(_From, ModelEvent.from_version_id == _From.id)
    )


def _event(row: Any) -> EventRecord:
    ev, to_tag, from_tag = row
    return EventRecord(
        id=ev.id,
        kind=ev.kind,
        version_id=ev.version_id,
        version_tag=to_tag,
        from_version_id=ev.from_version_id,
        from_version_tag=from_tag,
        actor=ev.actor,
        reason=ev.reason,
        created_at=ev.created_at,
        evidence=ev.evidence,
    )


async def add_event(
    session: AsyncSession,
    *,
    kind: str,
    version_id: int,
    from_version_id: int | None = None,
    actor: str,
    reason: str | None = None,
    now: datetime | None = None,
    evidence: dict[str, Any] | None = None,
) -> EventRecord:
    """Append one event; activating (or rolling back to) a pruned version is refused."""
    check_choice("event kind", kind, EVENT_KINDS)
    check_choice("actor", actor, ACTORS)
    target = await _version_row(session, version_id)
    if kind in ACTIVATION_KINDS and target.pruned_at is not None:
        raise Conflict(f"model version {target.tag} is pruned and cannot be activated")
    if from_version_id is not None:
        await _version_row(session, from_version_id)
    row = ModelEvent(
        kind=kind,
        version_id=version_id,
        from_version_id=from_version_id,
        actor=actor,
        reason=reason,
        created_at=aware(now),
        evidence=evidence,
    )
    session.add(row)
    await session.flush()
    result = (await session.execute(_events_query().where(ModelEvent.id == row.id))).one()
    return _event(result)


async def activate(
    session: AsyncSession,
    version_id: int,
    *,
    actor: str,
    kind: str = "activated",
    reason: str | None = None,
    now: datetime | None = None,
) -> EventRecord:
    """Append an ``activated`` (or ``rolled_back``) event from the currently active version."""
    check_choice("activation kind", kind, ACTIVATION_KINDS)
    current = await active_version_id_at(session, None)
    return await add_event(
        session,
        kind=kind,
        version_id=version_id,
        from_version_id=current,
        actor=actor,
        reason=reason,
        now=now,
    )


async def active_version_id_at(session: AsyncSession, at: datetime | None) -> int | None:
    """Target of the latest activation event at ``at`` (None: the latest of all).

    "Latest" is the highest ``id``, which the database assigns at insert; ``created_at``
    comes from the writer's clock, which may be skewed on another host, so it only bounds
    ``at``. One indexed query; the same SQL is in ``example_queries.sql`` for sqlite3 users.
    """
    query = (
        select(ModelEvent.version_id)
        .where(ModelEvent.kind.in_(ACTIVATION_KINDS))
        .order_by(ModelEvent.id.desc())
        .limit(1)
    )
    if at is not None:
        query = query.where(ModelEvent.created_at <= aware(at))
    return await session.scalar(query)


async def active_version(session: AsyncSession) -> VersionRecord | None:
    """The active version, derived from the event log (None before any activation)."""
    return await active_version_at(session, None)


async def active_version_at(session: AsyncSession, at: datetime | None) -> VersionRecord | None:
    """The version that was active at ``at`` (UTC), or None."""
    version_id = await active_version_id_at(session, at)
    if version_id is None:
        return None
    return (await hydrate_versions(session, [await _version_row(session, version_id)]))[0]


async def list_events(
    session: AsyncSession, *, limit: int = 100, kinds: Sequence[str] | None = None
) -> list[EventRecord]:
    """Newest events first (by the database-assigned id, not a writer's clock), tags resolved."""
    query = _events_query().order_by(ModelEvent.id.desc()).limit(limit)
    if kinds is not None:
        for kind in kinds:
            check_choice("event kind", kind, EVENT_KINDS)
        query = query.where(ModelEvent.kind.in_(list(kinds)))
    return [_event(r) for r in (await session.execute(query)).all()]


async def mark_pruned(
    session: AsyncSession,
    version_id: int,
    *,
    actor: str = "system",
    reason: str | None = None,
    now: datetime | None = None,
) -> VersionRecord:
    """Set ``pruned_at`` and append a ``pruned`` event; the active version cannot be pruned.

    Idempotent: an already pruned version is returned unchanged, without a new event.
    """
    row = await _version_row(session, version_id)
    if row.pruned_at is None:
        if await active_version_id_at(session, None) == version_id:
            raise Conflict(f"model version {row.tag} is active and cannot be pruned")
        when = aware(now)
        row.pruned_at = when
        await session.flush()
        await add_event(
            session, kind="pruned", version_id=version_id, actor=actor, reason=reason, now=when
        )
    return (await hydrate_versions(session, [row]))[0]


async def prune_candidates(session: AsyncSession, keep_last: int) -> list[VersionRecord]:
    """Unpruned versions beyond the newest ``keep_last``, never the active one; oldest last."""
    active = await active_version_id_at(session, None)
    rows = await session.scalars(
        select(ModelVersion)
        .where(ModelVersion.pruned_at.is_(None))
        .order_by(ModelVersion.created_at.desc(), ModelVersion.id.desc())
        .offset(max(0, keep_last))
    )
    return await hydrate_versions(session, [r for r in rows if r.id != active])


async def metrics_history(session: AsyncSession, limit: int = 20) -> MetricsHistory:
    """The last ``limit`` versions' metrics and the rollbacks since the oldest, oldest first."""
    rows = (
        await session.execute(
            select(ModelVersion, VersionMetrics)
            .join(VersionMetrics, VersionMetrics.version_id == ModelVersion.id)
            .order_by(ModelVersion.created_at.desc(), ModelVersion.id.desc())
            .limit(limit)
        )
    ).all()
    points = tuple(
        MetricsPoint(
            version_id=v.id,
            tag=v.tag,
            model_type=v.model_type,
            created_at=v.created_at,
            pruned=v.pruned_at is not None,
            metrics=metrics_record(m),
        )
        for v, m in reversed(rows)
    )
    query = _events_query().where(ModelEvent.kind == "rolled_back")
    if points:
        query = query.where(ModelEvent.created_at >= points[0].created_at)
    query = query.order_by(ModelEvent.id)
    rollbacks = tuple(_event(r) for r in (await session.execute(query)).all())
    return MetricsHistory(points=points, rollbacks=rollbacks)


__all__ = [
    "activate",
    "active_version",
    "active_version_at",
    "active_version_id_at",
    "add_event",
    "list_events",
    "mark_pruned",
    "metrics_history",
    "prune_candidates",
]
