"""The audited decision threshold: its cost curve, its state and a change."""
from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from server.schemas.answers import Answer

Tag = Annotated[str, Field(pattern=r"^\d{8}_\d{6}$", description="Version tag YYYYMMDD_HHMMSS.")]
Cost = Annotated[float, Field(ge=0, le=1e9)]


class CurvePoint(Answer):
    threshold: float
    precision: float
    recall: float
    f1: float
    tp: int
    fp: int
    fn: int
    tn: int
    cost: float
    cost_per_flow: float


class ThresholdCurve(Answer):
    version: str
    source: str
    live_threshold: float
    live_cost: float
    rows: int
    positives: int
    cost_fn: float
    cost_fp: float
    points: list[CurvePoint]
    recommended: CurvePoint = Field(description="The cost-minimising point.")


class ThresholdChange(Answer):
    id: int
    at: datetime
    actor: str
    reason: str | None


class ThresholdState(Answer):
    version: str
    threshold: float
    default: float
    changes: list[ThresholdChange]


class ThresholdChanged(Answer):
    version: str
    previous: float
    threshold: float
    event_id: int
    reason: str
    cost_fn: float
    cost_fp: float
    rows: int | None = None
    cost_old: float | None = None
    cost_new: float | None = None


class ThresholdBody(BaseModel):
    """Set the serving threshold of the active (or a named) version, with the reason."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "example": {"threshold": 0.4, "reason": "missed congestion costs more than false alarms"}})

    threshold: Annotated[float, Field(ge=0, le=1)]
    reason: Annotated[str, Field(min_length=1, max_length=500, pattern=r"\S")]
    version: Tag | None = None
    cost_fn: Cost | None = None
    cost_fp: Cost | None = None
