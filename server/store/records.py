"""Frozen dataclasses returned by the repository (never ORM rows)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, Mapping


@dataclass(frozen=True, slots=True)
class PhaseRecord:
    """Timing of one phase of a run; ``finished_at``/``duration_s`` are None while it runs."""

    name: str
    started_at: datetime
    finished_at: datetime | None
    duration_s: float | None


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One training run; ``phases`` in start order."""

    id: int
    status: str
    trigger: str
    model_type: str
    config_snapshot: Mapping[str, Any]
    started_at: datetime
    finished_at: datetime | None
    duration_s: float | None
    error: str | None
    version_id: int | None
    phases: tuple[PhaseRecord, ...] = ()
    owner: str | None = None  # "<hostname>:<pid>:<start>" of the process running it

    @property
    def is_open(self) -> bool:
        """Queued or running."""
        return self.status in ("queued", "running")


@dataclass(frozen=True, slots=True)
class ArtifactSpec:
    """What the caller registers for one file already written to the blob store."""

    kind: str
    name: str
    sha256: str
    size_bytes: int
    content_type: str


@dataclass(frozen=True, slots=True)
class ArtifactRecord:
    """A registered artifact row, with its version's tag and pruned state for downloads."""

    id: int
    version_id: int
    version_tag: str
    version_pruned: bool
    kind: str
    name: str
    sha256: str
    size_bytes: int
    content_type: str


@dataclass(frozen=True, slots=True)
class MetricsRecord:
    """Hold-out metrics of a version; ``extra`` holds keys without a column.

    Scores are None when undefined (e.g. AUC on a one-class test set).
    """

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
    samples: int
    features: int
    bayes_auc_roc: float | None = None
    bayes_f1: float | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """Flat dict: columns first, then the ``extra`` keys (columns win on a clash)."""
        out = dict(self.extra)
        for f in fields(self):
            if f.name != "extra":
                out[f.name] = getattr(self, f.name)
        return out


@dataclass(frozen=True, slots=True)
class VersionRecord:
    """A model version with metrics, artifacts and the producing run's phase durations."""

    id: int
    tag: str
    run_id: int | None
    model_type: str
    params: Mapping[str, Any]
    feature_names: tuple[str, ...]
    data_summary: Mapping[str, Any]
    created_at: datetime
    pruned_at: datetime | None
    metrics: MetricsRecord | None = None
    artifacts: tuple[ArtifactRecord, ...] = ()
    phase_durations: Mapping[str, float] = field(default_factory=dict)

    @property
    def pruned(self) -> bool:
        """Pruned versions keep their rows; their blobs may be garbage-collected."""
        return self.pruned_at is not None

    def artifact(self, kind: str) -> ArtifactRecord | None:
        """The first artifact of this kind, if any."""
        return next((a for a in self.artifacts if a.kind == kind), None)


@dataclass(frozen=True, slots=True)
class EventRecord:
    """One row of the append-only ``model_events`` log, with the tags resolved."""

    id: int
    kind: str
    version_id: int
    version_tag: str
    from_version_id: int | None
    from_version_tag: str | None
    actor: str
    reason: str | None
    created_at: datetime
    evidence: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class MetricsPoint:
    """One version's metrics for trend charts."""

    version_id: int
    tag: str
    model_type: str
    created_at: datetime
    pruned: bool
    metrics: MetricsRecord


@dataclass(frozen=True, slots=True)
class MetricsHistory:
    """Recent versions' metrics and the rollbacks among them, each oldest first."""

    points: tuple[MetricsPoint, ...]
    rollbacks: tuple[EventRecord, ...]
