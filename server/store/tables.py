"""SQLAlchemy 2 typed ORM tables of the run log and the model registry.

Names are chosen for people who open the database with the ``sqlite3`` CLI. Times are UTC;
on SQLite they are stored as ``YYYY-MM-DD HH:MM:SS.ffffff`` text, the same shape as SQLite's
own ``datetime()``, so ``created_at <= '2026-11-26 12:00:00'`` compares correctly.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

RUN_STATUSES = ("queued", "running", "succeeded", "failed", "cancelled", "interrupted")
RUN_OPEN_STATUSES = ("queued", "running")
RUN_TRIGGERS = ("api", "api_sync", "cli", "startup")
# holdout: the hold-out labels and probabilities (threshold curves, promotion evidence);
# calibrator and profile: the live-monitoring estimate and the drift reference of a version.
ARTIFACT_KINDS = ("pipeline", "preprocessor", "metrics", "shap", "distribution", "plot",
                  "holdout", "calibrator", "profile")
EVENT_KINDS = ("trained", "activated", "rolled_back", "pruned", "promoted", "rejected", "held",
               "shadow_started", "shadow_stopped", "threshold_changed")
# Events that change which version serves; "promoted" is an activation decided on evidence.
ACTIVATION_KINDS = ("activated", "rolled_back", "promoted")
# "rule": a decision the server took by itself (promotion gate, automatic rollback).
ACTORS = ("api", "cli", "startup", "system", "rule")

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out; naive input is refused."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(timezone.utc)
        # SQLite has no time zone type: store naive UTC text without an offset suffix.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


class Base(DeclarativeBase):
    """Declarative base whose metadata names every constraint and index predictably."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON(), list[str]: JSON()}


class TrainingRun(Base):
    """One training attempt, whatever its outcome."""

    __tablename__ = "training_runs"
    __table_args__ = (
        CheckConstraint(_in("status", RUN_STATUSES), name="status"),
        CheckConstraint(_in("trigger", RUN_TRIGGERS), name="trigger"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    trigger: Mapped[str] = mapped_column(String(16))
    model_type: Mapped[str] = mapped_column(String(64))
    config_snapshot: Mapped[dict[str, Any]]
    started_at: Mapped[datetime] = mapped_column(index=True)
    finished_at: Mapped[datetime | None]
    duration_s: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)
    # use_alter breaks the runs <-> versions cycle for create_all/drop_all ordering.
    version_id: Mapped[int | None] = mapped_column(
        ForeignKey("model_versions.id", use_alter=True), index=True
    )
    # "<hostname>:<pid>:<start>" of the server process running it; NULL for older runs.
    owner: Mapped[str | None] = mapped_column(String(255))


class RunPhase(Base):
    """Timing of one named phase (load, features, search, fit, explain...) of a run."""

    __tablename__ = "run_phases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("training_runs.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    duration_s: Mapped[float | None] = mapped_column(Float)

    __table_args__ = (
        # Also serves lookups by run_id (leftmost column).
        Index("uq_run_phases_run_id_name", "run_id", "name", unique=True),
    )


class ModelVersion(Base):
    """A trained model; its files are rows of ``artifacts``; pruned when ``pruned_at`` is set."""

    __tablename__ = "model_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tag: Mapped[str] = mapped_column(String(15), unique=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("training_runs.id"), index=True)
    model_type: Mapped[str] = mapped_column(String(64))
    params: Mapped[dict[str, Any]]
    feature_names: Mapped[list[str]]
    data_summary: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(index=True)
    pruned_at: Mapped[datetime | None]


class Artifact(Base):
    """One content-addressed file of a version; ``name`` is its download file name."""

    __tablename__ = "artifacts"
    __table_args__ = (
        CheckConstraint(_in("kind", ARTIFACT_KINDS), name="kind"),
        CheckConstraint("length(sha256) = 64", name="sha256_length"),
        CheckConstraint("size_bytes >= 0", name="size_bytes_positive"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(
        ForeignKey("model_versions.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(255), unique=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size_bytes: Mapped[int] = mapped_column(Integer)
    content_type: Mapped[str] = mapped_column(String(128))


class VersionMetrics(Base):
    """Hold-out evaluation of a version, one row per version.

    Scores are nullable: some are undefined on degenerate data (AUC with one class).
    """

    __tablename__ = "version_metrics"

    version_id: Mapped[int] = mapped_column(
        ForeignKey("model_versions.id", ondelete="CASCADE"), primary_key=True
    )
    precision: Mapped[float | None] = mapped_column(Float)
    recall: Mapped[float | None] = mapped_column(Float)
    f1_score: Mapped[float | None] = mapped_column(Float)
    auc_roc: Mapped[float | None] = mapped_column(Float)
    pr_auc: Mapped[float | None] = mapped_column(Float)
    brier: Mapped[float | None] = mapped_column(Float)
    threshold: Mapped[float] = mapped_column(Float)
    best_f1_threshold: Mapped[float] = mapped_column(Float)
    tn: Mapped[int] = mapped_column(Integer)
    fp: Mapped[int] = mapped_column(Integer)
    fn: Mapped[int] = mapped_column(Integer)
    tp: Mapped[int] = mapped_column(Integer)
    samples: Mapped[int] = mapped_column(Integer)
    features: Mapped[int] = mapped_column(Integer)
    bayes_auc_roc: Mapped[float | None] = mapped_column(Float)
    bayes_f1: Mapped[float | None] = mapped_column(Float)
    extra: Mapped[dict[str, Any]]


class ModelEvent(Base):
    """Append-only registry log; the active version is the target of the latest activation."""

    __tablename__ = "model_events"
    __table_args__ = (
        CheckConstraint(_in("kind", EVENT_KINDS), name="kind"),
        CheckConstraint(_in("actor", ACTORS), name="actor"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"), index=True)
    from_version_id: Mapped[int | None] = mapped_column(ForeignKey("model_versions.id"))
    actor: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(index=True)
    # What a decision was based on: both models' metrics on the same rows, tests, p-values;
    # for threshold_changed the old and new threshold and their costs. NULL for plain moves.
    evidence: Mapped[dict[str, Any] | None] = mapped_column(JSON)


from server.store import tables_monitoring as _monitoring  # noqa: E402,F401  (registers the log tables)
from server.store import tables_alerts as _alerts  # noqa: E402,F401  (registers the drift/alert tables)
from server.store import tables_lifecycle as _lifecycle  # noqa: E402,F401  (registers the shadow table)
