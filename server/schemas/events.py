"""Live events on /ws (JSON text frames) and /api/train/events (SSE `event: <type>`): one model per type."""
from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import Field, TypeAdapter

from server.schemas.answers import Answer
from server.schemas.monitoring import Window
from server.schemas.threshold import ThresholdChanged


class Hello(Answer):
    """First frame on /ws: the version being served."""

    type: Literal["hello"]
    version: str | None


class RunStarted(Answer):
    type: Literal["run_started"]
    run_id: int
    trigger: str
    model_type: str
    elapsed_s: float


class PhaseStarted(Answer):
    type: Literal["phase_started"]
    run_id: int
    phase: str = Field(description="data, features, training, evaluation, explain, plots or save.")


class PhaseFinished(Answer):
    type: Literal["phase_finished"]
    run_id: int
    phase: str
    duration_s: float


class Progress(Answer):
    type: Literal["progress"]
    run_id: int
    phase: str
    done: int
    total: int


class RunFinished(Answer):
    type: Literal["run_finished"]
    run_id: int
    version: str = Field(description="Tag of the version the run registered.")
    elapsed_s: float


class RunFailed(Answer):
    type: Literal["run_failed"]
    run_id: int
    status: Literal["failed", "cancelled", "interrupted"]
    error: str
    elapsed_s: float


class VersionActivated(Answer):
    type: Literal["version_activated"]
    version: str
    previous: str | None
    source: str | None = Field(None, description="`database` when another process activated it.")


class RolledBack(Answer):
    type: Literal["rolled_back"]
    version: str
    previous: str | None


class ThresholdChangedEvent(ThresholdChanged):
    type: Literal["threshold_changed"]


class MonitoringWindow(Answer):
    """A prediction window was updated (predictions or labels arrived)."""

    type: Literal["monitoring_window"]
    window: Window


class DriftWindow(Answer):
    type: Literal["drift_window"]
    version: str
    window: dict[str, Any] = Field(description="The window's drift report, as GET /api/drift lists it.")


class AlertAcknowledged(Answer):
    type: Literal["alert_acknowledged"]
    alert: dict[str, Any]


class PromotionDecided(Answer):
    type: Literal["promotion_decided"]
    run_id: int | None
    version: str
    outcome: str
    reason: str | None
    active: str | None = Field(None, description="The version serving after the decision (absent for `shadow`).")
    delta: Any = None


class ShadowChangedEvent(Answer):
    type: Literal["shadow_changed"]
    version: str
    shadow: bool
    actor: str


class SnapshotPhase(Answer):
    phase: str
    status: Literal["running", "finished"]
    duration_s: float | None


class SnapshotProgress(Answer):
    phase: str
    done: int
    total: int


class Snapshot(Answer):
    """Sent first to a client that joins while a run is in progress."""

    type: Literal["snapshot"]
    run_id: int
    elapsed_s: float
    phases: list[SnapshotPhase]
    progress: SnapshotProgress | None


EVENT_MODELS = (Hello, RunStarted, PhaseStarted, PhaseFinished, Progress, RunFinished, RunFailed,
                VersionActivated, RolledBack, ThresholdChangedEvent, MonitoringWindow,
                DriftWindow, AlertAcknowledged, PromotionDecided, ShadowChangedEvent, Snapshot)
Event = Annotated[Union[EVENT_MODELS], Field(discriminator="type")]  # noqa: UP007 (a tuple of models)
EVENTS = TypeAdapter(Event)
