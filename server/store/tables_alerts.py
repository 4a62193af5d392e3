"""Tables of the drift monitor: per-window drift reports, alerts, webhook delivery attempts."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from server.store.tables import Base, _in

DELIVERY_OUTCOMES = ("delivered", "retrying", "failed", "dropped")


class DriftWindow(Base):
    """The drift report of one monitoring window of one version (the `/api/drift` record)."""

    __tablename__ = "drift_windows"
    __table_args__ = (Index("uq_drift_windows_version_window_start", "version", "window_start", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[str] = mapped_column(String(15))
    window_start: Mapped[int] = mapped_column(BigInteger, index=True)
    report: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]


class Alert(Base):
    """One alert: opened by a rule at a window, maybe acknowledged, resolved at a later window."""

    __tablename__ = "alerts"
    __table_args__ = (Index("ix_alerts_rule_version", "rule", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rule: Mapped[str] = mapped_column(String(32))
    version: Mapped[str] = mapped_column(String(15))
    window_start: Mapped[int] = mapped_column(BigInteger)
    opened_at: Mapped[datetime] = mapped_column(index=True)
    evidence: Mapped[dict[str, Any]]
    resolved_at: Mapped[datetime | None] = mapped_column(index=True)
    resolved_window_start: Mapped[int | None] = mapped_column(BigInteger)
    resolved_evidence: Mapped[dict[str, Any] | None]
    acknowledged_by: Mapped[str | None] = mapped_column(String(128))
    acknowledged_at: Mapped[datetime | None]


class WebhookDelivery(Base):
    """One attempt to deliver an alert transition to a webhook receiver."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (CheckConstraint(_in("outcome", DELIVERY_OUTCOMES), name="outcome"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"), index=True)
    event: Mapped[str] = mapped_column(String(32))
    url: Mapped[str] = mapped_column(String(2048))
    message_id: Mapped[str] = mapped_column(String(64), index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    outcome: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
