"""Model versions, their artifacts and metrics: async functions on a caller-owned session."""

from __future__ import annotations

import re
from dataclasses import asdict
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any, Iterable, Mapping, Sequence

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from server.store._common import aware, check_choice
from server.store.errors import Conflict, InvalidValue, NotFound
from server.store.records import (
    ArtifactRecord,
    ArtifactSpec,
    MetricsRecord,
    VersionRecord,
)
from server.store.repo_runs import phases_by_run
from server.store.tables import (
    ACTORS,
    ARTIFACT_KINDS,
    Artifact,
    ModelEvent,
    ModelVersion,
    TrainingRun,
    VersionMetrics,
)

TAG_FORMAT = "%Y%m%d_%H%M%S"
TAG_RE = re.compile(r"^\d{8}_\d{6}$")
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
# Download file names: no separators, no leading dot, printable ASCII only.
ARTIFACT_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,254}$")
METRIC_COLUMNS = tuple(
    c.name for c in VersionMetrics.__table__.columns if c.name not in ("version_id", "extra")
)
# Scores may be undefined (None) on degenerate data; counts and thresholds may not.
OPTIONAL_METRICS = (
    "precision", "recall", "f1_score", "auc_roc", "pr_auc", "brier", "bayes_auc_roc", "bayes_f1",
)
INT_METRICS = ("tn", "fp", "fn", "tp", "samples", "features")


def check_tag(tag: str) -> str:
    """Validate a ``YYYYMMDD_HHMMSS`` tag (also a real date and time)."""
    if not TAG_RE.match(tag):
        raise InvalidValue(f"version tag must look like YYYYMMDD_HHMMSS; got {tag!r}")
    try:
        datetime.strptime(tag, TAG_FORMAT)
    except ValueError:
        raise InvalidValue(f"version tag {tag!r} is not a valid date and time") from None
    return tag


async def next_tag(session: AsyncSession, now: datetime | None = None) -> str:
    """``YYYYMMDD_HHMMSS`` of ``now`` (UTC), bumped a second at a time while taken."""
    moment = aware(now).replace(microsecond=0)
    while True:
        tag = moment.strftime(TAG_FORMAT)
        if await session.scalar(select(ModelVersion.id).where(ModelVersion.tag == tag)) is None:
            return tag
        moment += timedelta(seconds=1)


def _metrics_row(version_id: int, metrics: Mapping[str, Any]) -> VersionMetrics:
    missing = [k for k in METRIC_COLUMNS if k not in OPTIONAL_METRICS and metrics.get(k) is None]
    if missing:
        raise InvalidValue(f"metrics are missing {', '.join(missing)}")
    values: dict[str, Any] = {}
    try:
        for key in METRIC_COLUMNS:
            raw = metrics.get(key)
            values[key] = None if raw is None else (int(raw) if key in INT_METRICS else float(raw))
    except (TypeError, ValueError) as exc:
        raise InvalidValue(f"metric {key!r} is not a number: {exc}") from None
    extra = {k: v for k, v in metrics.items() if k not in METRIC_COLUMNS}
    return VersionMetrics(version_id=version_id, extra=extra, **values)


def metrics_record(row: VersionMetrics) -> MetricsRecord:
    """ORM metrics row -> record."""
    return MetricsRecord(**{k: getattr(row, k) for k in METRIC_COLUMNS}, extra=row.extra or {})


def _check_artifact(spec: ArtifactSpec) -> None:
    check_choice("artifact kind", spec.kind, ARTIFACT_KINDS)
    if not ARTIFACT_NAME_RE.match(spec.name):
        raise InvalidValue(f"artifact name {spec.name!r} is not a plain file name")
    if not SHA256_RE.match(spec.sha256):
        raise InvalidValue(f"artifact {spec.name!r}: sha256 must be 64 lowercase hex digits")
    if spec.size_bytes < 0:
        raise InvalidValue(f"artifact {spec.name!r}: size_bytes must be >= 0")


def artifact_record(row: Artifact, version: ModelVersion) -> ArtifactRecord:
    """ORM artifact row (+ its version) -> record."""
    return ArtifactRecord(
        id=row.id,
        version_id=row.version_id,
        version_tag=version.tag,
        version_pruned=version.pruned_at is not None,
        kind=row.kind,
        name=row.name,
        sha256=row.sha256,
        size_bytes=row.size_bytes,
        content_type=row.content_type,
    )


async def hydrate_versions(session: AsyncSession, rows: Sequence[ModelVersion]) -> list[VersionRecord]:
    """Versions -> records with metrics, artifacts and phase durations in three queries."""
    ids = [r.id for r in rows]
    if not ids:
        return []
    by_id = {r.id: r for r in rows}
    metrics = {
        m.version_id: metrics_record(m)
        for m in await session.scalars(select(VersionMetrics).where(VersionMetrics.version_id.in_(ids)))
    }
    artifacts: dict[int, list[ArtifactRecord]] = defaultdict(list)
    for a in await session.scalars(
        select(Artifact).where(Artifact.version_id.in_(ids)).order_by(Artifact.id)
    ):
        artifacts[a.version_id].append(artifact_record(a, by_id[a.version_id]))
    phases = await phases_by_run(session, [r.run_id for r in rows if r.run_id is not None])
    return [
        VersionRecord(
            id=r.id,
            tag=r.tag,
            run_id=r.run_id,
            model_type=r.model_type,
            params=r.params,
            feature_names=tuple(r.feature_names),
            data_summary=r.data_summary,
            created_at=r.created_at,
            pruned_at=r.pruned_at,
            metrics=metrics.get(r.id),
            artifacts=tuple(artifacts.get(r.id, ())),
            phase_durations={
                p.name: p.duration_s
                for p in phases.get(r.run_id or -1, ())
                if p.duration_s is not None
            },
        )
        for r in rows
    ]


async def register_version(
    session: AsyncSession,
    *,
    run_id: int | None,
    tag: str | None,
    model_type: str,
    params: Mapping[str, Any],
    feature_names: Iterable[str],
    data_summary: Mapping[str, Any],
    metrics: Mapping[str, Any],
    artifacts: Sequence[ArtifactSpec],
    actor: str,
    now: datetime | None = None,
) -> VersionRecord:
    """Insert a version, its artifacts, metrics and a ``trained`` event in the caller's txn.

    The blobs must already be in the blob store. ``tag=None`` picks :func:`next_tag`.
    Does not activate: call ``repo_events.activate`` for that.
    """
    created = aware(now)
    check_choice("actor", actor, ACTORS)
    tag = check_tag(tag) if tag is not None else await next_tag(session, created)
    for spec in artifacts:
        _check_artifact(spec)
    names = [s.name for s in artifacts]
    if len(set(names)) != len(names):
        raise InvalidValue("artifact names must be unique within a version")
    if await session.scalar(select(ModelVersion.id).where(ModelVersion.tag == tag)) is not None:
        raise Conflict(f"version tag {tag} is already taken")
    if names:
        taken = list(await session.scalars(select(Artifact.name).where(Artifact.name.in_(names))))
        if taken:
            raise Conflict(f"artifact names already registered: {', '.join(sorted(taken))}")
    if run_id is not None and await session.get(TrainingRun, run_id) is None:
        raise NotFound(f"training run {run_id} does not exist")
    version = ModelVersion(
        tag=tag,
        run_id=run_id,
        model_type=model_type,
        params=dict(params),
        feature_names=list(feature_names),
        data_summary=dict(data_summary),
        created_at=created,
    )
    session.add(version)
    try:
        await session.flush()
        session.add(_metrics_row(version.id, metrics))
        # ArtifactSpec's fields are the artifact row's columns, by design.
        session.add_all(Artifact(version_id=version.id, **asdict(s)) for s in artifacts)
        session.add(ModelEvent(kind="trained", version_id=version.id, actor=actor, created_at=created))
        await session.flush()
    except IntegrityError as exc:
        # A concurrent writer took the tag or a name between our check and the insert.
        raise Conflict(f"version {tag} conflicts with an existing row: {exc.orig}") from None
    return (await hydrate_versions(session, [version]))[0]


async def _version_row(session: AsyncSession, version_id: int) -> ModelVersion:
    row = await session.get(ModelVersion, version_id)
    if row is None:
        raise NotFound(f"model version {version_id} does not exist")
    return row


async def get_version(session: AsyncSession, version_id: int) -> VersionRecord:
    """One version by id; :class:`NotFound` if missing."""
    return (await hydrate_versions(session, [await _version_row(session, version_id)]))[0]


async def get_version_by_tag(session: AsyncSession, tag: str) -> VersionRecord:
    """One version by tag; :class:`NotFound` if missing (malformed tags too)."""
    row = await session.scalar(select(ModelVersion).where(ModelVersion.tag == tag))
    if row is None:
        raise NotFound(f"model version {tag!r} does not exist")
    return (await hydrate_versions(session, [row]))[0]


async def list_versions(
    session: AsyncSession, *, include_pruned: bool = True, limit: int | None = None
) -> list[VersionRecord]:
    """Newest first, with metrics, artifacts and phase durations (four queries in all)."""
    query = select(ModelVersion).order_by(ModelVersion.created_at.desc(), ModelVersion.id.desc())
    if not include_pruned:
        query = query.where(ModelVersion.pruned_at.is_(None))
    if limit is not None:
        query = query.limit(limit)
    return await hydrate_versions(session, list(await session.scalars(query)))
