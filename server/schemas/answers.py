"""Answer models: the shape of every JSON body the API returns.

Handlers build plain dicts (the predict path stays fast); these models generate the OpenAPI
schemas that the schemathesis run checks each answer against, and server.client parses answers
with them. Extra keys are allowed, so adding a field never breaks an older client.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Answer(BaseModel):
    """Base of every answer model."""

    model_config = ConfigDict(extra="allow", frozen=True)


class Health(Answer):
    status: Literal["ok"]


class DatabaseState(Answer):
    revision: str | None = Field(description="Schema revision of the database.")
    head: str | None = Field(description="Newest revision this server knows.")
    ok: bool
    error: str | None = Field(None, description="Why the database cannot be read, when it cannot.")


class ModelState(Answer):
    version: str | None
    loaded: bool


class Readiness(Answer):
    status: Literal["ok", "degraded", "unavailable"]
    database: DatabaseState
    model: ModelState
    degraded: str | None = Field(description="Why the server runs degraded (null when it does not).")


class Prediction(Answer):
    prediction_id: str = Field(pattern="^[0-9a-f]{32}$",
                               description="Time-ordered id of this logged prediction; feedback labels refer to it.")
    probability: float = Field(ge=0, le=1)
    prediction: Literal[0, 1] = Field(description="1 when probability >= threshold (congested).")
    threshold: float = Field(ge=0, le=1)
    version: str = Field(description="Tag of the model version that answered.")
    warnings: list[str]
    note: str | None = Field(None, description=(
        "Single observed records only: the flow joined the online windows, so posting it again changes its "
        "window features; `?observe=false` asks without counting."))


class Contribution(Answer):
    feature: str
    value: Any = Field(description="The feature's value for this flow (null for `other`).")
    shap: float = Field(description="Contribution in probability units.")
    percent: float
    cumulative_percent: float


class Explanation(Answer):
    probability: float = Field(ge=0, le=1)
    threshold: float = Field(ge=0, le=1)
    decision: Literal[0, 1]
    expected_value: float = Field(description="Base value: expected_value + sum(shap) = probability.")
    version: str
    model_type: str
    contributions: list[Contribution]
    warnings: list[str]


class Importance(Answer):
    feature: str
    importance: float = Field(description="Mean |SHAP| in probability units.")


class GlobalExplanation(Answer):
    version: str
    model_type: str
    groups: list[Importance] = Field(description="Per raw field (engineered columns summed).")
    features: list[Importance] = Field(description="Per model feature.")


class GlossaryFeature(Answer):
    name: str
    group: str
    description: str


class Glossary(Answer):
    version: str
    features: list[GlossaryFeature]
    groups: dict[str, str]
    terms: dict[str, str]


class Metrics(Answer):
    """Hold-out metrics under the seed's names; scores are null when undefined."""

    precision: float | None
    recall: float | None
    f1_score: float | None
    auc_roc: float | None
    pr_auc: float | None
    brier: float | None
    threshold: float
    best_f1_threshold: float
    tn: int
    fp: int
    fn: int
    tp: int
    samples: int = Field(description="Rows the model was trained and tested on.")
    features: int
    bayes_auc_roc: float | None = None
    bayes_f1: float | None = None


class NoMetrics(BaseModel):
    """`{}`: the version has no stored metrics."""

    model_config = ConfigDict(extra="forbid")


class ActiveMetrics(Metrics):
    version: str
    model_type: str
    created_at: datetime


class TrainedPoint(Metrics):
    type: Literal["trained"]
    version: str
    model_type: str
    time: datetime
    pruned: bool


class RollbackPoint(Answer):
    type: Literal["rolled_back"]
    version: str
    from_version: str | None
    time: datetime
    actor: str
    reason: str | None


class MetricsHistory(Answer):
    history: list[TrainedPoint | RollbackPoint] = Field(description="Oldest first.")


class ArtifactInfo(Answer):
    name: str
    kind: str
    size_bytes: int
    sha256: str
    url: str | None = Field(description="Download path; null once the version is pruned.")


class VersionInfo(Answer):
    timestamp: str = Field(description="Version tag YYYYMMDD_HHMMSS.")
    model_type: str
    created_at: datetime
    run_id: int | None
    active: bool
    pruned: bool
    metrics: Metrics | NoMetrics
    params: dict[str, Any]
    phase_durations: dict[str, float]
    shap_top: list[Importance]
    artifacts: list[ArtifactInfo]


class VersionList(Answer):
    versions: list[VersionInfo] = Field(description="Newest first.")


class Rollback(Answer):
    status: Literal["ok"]
    changed: bool = Field(description="false when the version was already active.")
    version: str
    previous: str | None


class Pruned(Answer):
    pruned: list[str] = Field(description="Tags of the versions pruned now.")


class Phase(Answer):
    name: str
    started_at: datetime
    finished_at: datetime | None
    duration_s: float | None


class Run(Answer):
    """A training run; config_snapshot and owner are shown only to clients with the token."""

    id: int
    status: Literal["queued", "running", "succeeded", "failed", "cancelled", "interrupted"]
    trigger: str
    model_type: str
    started_at: datetime
    finished_at: datetime | None
    duration_s: float | None
    error: str | None
    version_id: int | None
    phases: list[Phase]
    config_snapshot: dict[str, Any] | None = None
    owner: str | None = None


class RunList(Answer):
    active_run_id: int | None
    runs: list[Run] = Field(description="Newest first.")


class TrainStarted(Answer):
    status: Literal["started"]
    run_id: int
    events: str = Field(description="Where to follow the run's events.")
    run: str = Field(description="Where to read the run.")


class Cancelled(Answer):
    run_id: int
    cancelled: bool = Field(description="false when the run had already ended.")
    run: Run


class ErrorDetail(Answer):
    code: str = Field(description="Stable machine-readable code, e.g. validation_error.")
    message: str
    fields: dict[str, str] = Field(description="Each bad input (body field, query parameter) -> what is wrong.")


class ErrorBody(Answer):
    """The one error envelope of every 4xx/5xx answer."""

    error: ErrorDetail
