"""Drift reports, alerts and webhook deliveries: async functions taking a session, returning records."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.store._common import check_choice, utcnow
from server.store.errors import NotFound
from server.store.tables_alerts import DELIVERY_OUTCOMES, Alert, DriftWindow, WebhookDelivery

ALERT_STATUSES = ("open", "acknowledged", "resolved")


@dataclass(frozen=True)
class AlertRecord:
    """One alert; `status` is resolved, acknowledged (open but seen) or open."""

    id: int
    rule: str
    version: str
    window_start: int
    opened_at: datetime
    evidence: dict[str, Any]
    status: str
    resolved_at: datetime | None
    resolved_window_start: int | None
    resolved_evidence: dict[str, Any] | None
    acknowledged_by: str | None
    acknowledged_at: datetime | None


@dataclass(frozen=True)
class DeliveryRecord:
    """One webhook delivery attempt."""

    id: int
    alert_id: int
    event: str
    url: str
    message_id: str
    attempt: int
    status_code: int | None
    error: str | None
    outcome: str
    created_at: datetime


def _status(row: Alert) -> str:
    if row.resolved_at is not None:
        return "resolved"
    return "acknowledged" if row.acknowledged_at is not None else "open"


def _alert(row: Alert) -> AlertRecord:
    return AlertRecord(
        id=row.id, rule=row.rule, version=row.version, window_start=row.window_start, opened_at=row.opened_at,
        evidence=dict(row.evidence), status=_status(row), resolved_at=row.resolved_at,
        resolved_window_start=row.resolved_window_start,
        resolved_evidence=dict(row.resolved_evidence) if row.resolved_evidence is not None else None,
        acknowledged_by=row.acknowledged_by, acknowledged_at=row.acknowledged_at)


async def save_drift_window(session: AsyncSession, version: str, window_start: int, report: dict) -> None:
    """Insert or replace the report of one (version, window)."""
    row = await session.scalar(select(DriftWindow).where(
        DriftWindow.version == version, DriftWindow.window_start == window_start))
    if row is None:
        session.add(DriftWindow(version=version, window_start=window_start, report=report, created_at=utcnow()))
    else:
        row.report = report
    await session.flush()


async def list_drift_windows(session: AsyncSession, version: str | None, limit: int) -> list[dict]:
    """Newest windows first, each report with its version."""
    query = select(DriftWindow).order_by(DriftWindow.window_start.desc(), DriftWindow.id.desc()).limit(limit)
    if version is not None:
        query = query.where(DriftWindow.version == version)
    return [{**row.report, "version": row.version, "start": row.window_start} for row in await session.scalars(query)]


async def open_alert(session: AsyncSession, rule: str, version: str, window_start: int,
                     evidence: dict) -> AlertRecord:
    """Insert an open alert."""
    row = Alert(rule=rule, version=version, window_start=window_start, opened_at=utcnow(), evidence=evidence)
    session.add(row)
    await session.flush()
    return _alert(row)


async def resolve_alert(session: AsyncSession, rule: str, version: str, window_start: int,
                        evidence: dict) -> AlertRecord | None:
    """Resolve the open alert of (rule, version), if any."""
    row = await session.scalar(select(Alert).where(
        Alert.rule == rule, Alert.version == version, Alert.resolved_at.is_(None)).order_by(Alert.id.desc()))
    if row is None:
        return None
    row.resolved_at, row.resolved_window_start, row.resolved_evidence = utcnow(), window_start, evidence
    await session.flush()
    return _alert(row)


async def acknowledge_alert(session: AsyncSession, alert_id: int, by: str) -> AlertRecord:
    """Record who acknowledged an alert (the first acknowledgement stands)."""
    row = await session.get(Alert, alert_id)
    if row is None:
        raise NotFound(f"alert {alert_id} does not exist")
    if row.acknowledged_at is None:
        row.acknowledged_by, row.acknowledged_at = by, utcnow()
        await session.flush()
    return _alert(row)


async def list_alerts(session: AsyncSession, status: str | None = None, limit: int = 100) -> list[AlertRecord]:
    """Newest alerts first, optionally of one status."""
    query = select(Alert).order_by(Alert.opened_at.desc(), Alert.id.desc())
    if status == "resolved":
        query = query.where(Alert.resolved_at.is_not(None))
    elif status == "acknowledged":
        query = query.where(Alert.resolved_at.is_(None), Alert.acknowledged_at.is_not(None))
    elif status == "open":
        query = query.where(Alert.resolved_at.is_(None), Alert.acknowledged_at.is_(None))
    return [_alert(row) for row in await session.scalars(query.limit(limit))]


async def unresolved_alerts(session: AsyncSession) -> list[AlertRecord]:
    """Open and acknowledged alerts (restored into the alert engine at start-up)."""
    rows = await session.scalars(select(Alert).where(Alert.resolved_at.is_(None)).order_by(Alert.id))
    return [_alert(row) for row in rows]


async def add_delivery(session: AsyncSession, *, alert_id: int, event: str, url: str, message_id: str,
                       attempt: int, outcome: str, status_code: int | None = None,
                       error: str | None = None) -> None:
    """Log one delivery attempt."""
    check_choice("outcome", outcome, DELIVERY_OUTCOMES)
    session.add(WebhookDelivery(alert_id=alert_id, event=event, url=url, message_id=message_id, attempt=attempt,
                                status_code=status_code, error=error, outcome=outcome, created_at=utcnow()))
    await session.flush()


async def list_deliveries(session: AsyncSession, alert_id: int | None = None) -> list[DeliveryRecord]:
    """Delivery attempts in the order they happened."""
    query = select(WebhookDelivery).order_by(WebhookDelivery.id)
    if alert_id is not None:
        query = query.where(WebhookDelivery.alert_id == alert_id)
    return [DeliveryRecord(id=r.id, alert_id=r.alert_id, event=r.event, url=r.url, message_id=r.message_id,
                           attempt=r.attempt, status_code=r.status_code, error=r.error, outcome=r.outcome,
                           created_at=r.created_at) for r in await session.scalars(query)]
