"""Monitoring shapes: delayed-label feedback and the per-version prediction windows."""
from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from server.schemas.answers import Answer
from server.schemas.threshold import Tag

PredictionId = Annotated[str, Field(pattern="^[0-9a-f]{32}$")]


class FeedbackItem(BaseModel):
    """One label: for a prediction_id, or for a flow (source_ip, dest_ip, timestamp_seconds)."""

    model_config = ConfigDict(extra="allow")

    prediction_id: PredictionId | None = None
    source_ip: str | None = None
    dest_ip: str | None = None
    timestamp_seconds: Annotated[int, Field(ge=0)] | None = None
    congestion: Literal[0, 1]


FeedbackBody = Annotated[list[FeedbackItem], Field(min_length=1)]


class InvalidItem(Answer):
    index: int
    fields: dict[str, str]


class FeedbackAnswer(Answer):
    accepted: int
    replaced: int
    unchanged: int | None = None
    unknown: list[dict[str, Any]] = Field(description="Items that match no logged prediction.")
    invalid: list[InvalidItem] = Field(default_factory=list)


class WindowMetrics(Answer):
    precision: float | None = None
    recall: float | None = None
    f1: float | None = None
    roc_auc: float | None = None
    brier: float | None = None
    sigma: dict[str, float] | None = Field(None, description=(
        "Standard errors of the metrics (delta method): the f1_drop rules allow alerts.f1_drop_sigmas of them."))


class WindowShadow(Answer):
    version: str
    labelled: int
    min_labels: int
    champion: dict[str, Any] = Field(description="The serving version's realised metrics on the paired rows.")
    shadow: dict[str, Any] = Field(description="The shadow's realised metrics on the same rows.")
    verdict: str
    evidence: dict[str, Any] | None = Field(description="McNemar (exact) and DeLong on the paired rows.")


class Window(Answer):
    start: datetime
    end: datetime
    start_timestamp: int | None = None
    version: str
    predictions: int
    positive_rate: float | None
    mean_probability: float | None = None
    labelled: int
    label_coverage: float | None
    label_lag_p50_s: float | None = None
    label_lag_p95_s: float | None = None
    realised: WindowMetrics | None
    estimated: WindowMetrics | None = Field(description="CBPE estimate from the probabilities alone.")
    shadows: list[WindowShadow] = Field(default_factory=list, description=(
        "Each shadow that scored this window's labelled rows: its and the serving version's metrics on "
        "those same rows, and the paired comparison (verdict too_few_labels below min_labels)."))


class MonitoringSummary(Answer):
    version: str | None
    latest: Window | None
    baseline: dict[str, Any] | None


class ModelChange(Answer):
    kind: Literal["activated", "rolled_back", "promoted"]
    version: str
    from_version: str | None
    time: datetime = Field(description="When the change happened (wall clock, UTC).")
    actor: str
    reason: str | None
    event_timestamp: int | None = Field(description="Event time of the first flow the new version served "
                                        "(null until it served one): where the change sits among the windows.")


__all__ = ["FeedbackAnswer", "FeedbackBody", "ModelChange", "MonitoringSummary", "Tag", "Window"]
