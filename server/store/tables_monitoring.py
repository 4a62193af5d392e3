"""Tables of the prediction log: one row per logged prediction, writers, per-window aggregates.

`predictions.id` is the time-ordered prediction id (see server/monitoring/ids.py), so a range
of ids is a range of arrival times: retention deletes `id < id_floor(cutoff)` on the primary
key. `window_start` is the flow's event time floored to `monitoring.window_s`: the partition
key of the window queries and of a replay.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, Float, Index, Integer, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from server.store.tables import Base


class PredictionLog(Base):
    """One prediction served by /api/predict, and later its label."""

    __tablename__ = "predictions"
    __table_args__ = (
        Index("ix_predictions_window", "window_start", "version"),
        # feedback from collectors that keep no prediction ids (equality on all three) and
        # event-time ranges; time first, so in-order traffic inserts near the index's end
        Index("ix_predictions_event_time", "timestamp_seconds", "source_ip", "dest_ip"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    timestamp_seconds: Mapped[int] = mapped_column(BigInteger)
    window_start: Mapped[int] = mapped_column(BigInteger)
    arrived_at: Mapped[datetime]
    version: Mapped[str] = mapped_column(String(15))
    source_ip: Mapped[str] = mapped_column(String(64))
    dest_ip: Mapped[str] = mapped_column(String(64))
    record: Mapped[dict[str, Any]]
    probability: Mapped[float] = mapped_column(Float)
    prediction: Mapped[int] = mapped_column(SmallInteger)
    threshold: Mapped[float] = mapped_column(Float)
    label: Mapped[int | None] = mapped_column(SmallInteger)
    labelled_at: Mapped[datetime | None]


class MonitoringWriter(Base):
    """One server process's log writer: what it issued and wrote, for loss accounting."""

    __tablename__ = "monitoring_writers"

    node: Mapped[str] = mapped_column(String(8), primary_key=True)
    owner: Mapped[str] = mapped_column(String(255))
    started_at: Mapped[datetime]
    heartbeat_at: Mapped[datetime]
    stopped_at: Mapped[datetime | None]
    clean: Mapped[bool] = mapped_column(Boolean, default=False)
    issued: Mapped[int] = mapped_column(BigInteger, default=0)
    logged: Mapped[int] = mapped_column(BigInteger, default=0)
    sampled_out: Mapped[int] = mapped_column(BigInteger, default=0)
    dropped: Mapped[int] = mapped_column(BigInteger, default=0)


class MonitoringWindowState(Base):
    """Mergeable aggregate state of one window, version, writer process and part."""

    __tablename__ = "monitoring_window_states"

    window_start: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    version: Mapped[str] = mapped_column(String(15), primary_key=True)
    node: Mapped[str] = mapped_column(String(8), primary_key=True)
    part: Mapped[str] = mapped_column(String(32), primary_key=True)
    window_s: Mapped[int] = mapped_column(Integer)
    state: Mapped[dict[str, Any]]
    updated_at: Mapped[datetime] = mapped_column(index=True)
