"""Shadow challengers' predictions: a version scoring live traffic off the response path.

One row per (prediction id, shadow version), joined to ``predictions`` on the id: the label a
collector feeds back for a prediction labels the shadow's answer for the same flow too, which
is what makes the champion/challenger comparison paired.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Float, Index, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from server.store.tables import Base


class ShadowPrediction(Base):
    """A shadow version's probability and decision for one logged prediction."""

    __tablename__ = "shadow_predictions"
    __table_args__ = (Index("ix_shadow_predictions_version_window", "version", "window_start"),)

    prediction_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    version: Mapped[str] = mapped_column(String(15), primary_key=True)
    window_start: Mapped[int] = mapped_column(BigInteger)
    probability: Mapped[float] = mapped_column(Float)
    prediction: Mapped[int] = mapped_column(SmallInteger)
    threshold: Mapped[float] = mapped_column(Float)
    scored_at: Mapped[datetime]
