"""Artifact look-ups for downloads and for the blob garbage collector."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.store.errors import NotFound
from server.store.records import ArtifactRecord
from server.store.repo_versions import _version_row, artifact_record
from server.store.tables import Artifact, ModelVersion


async def artifact_by_name(session: AsyncSession, name: str) -> ArtifactRecord:
    """The artifact with this download name (check ``version_pruned`` before serving)."""
    row = (
        await session.execute(
            select(Artifact, ModelVersion)
            .join(ModelVersion, Artifact.version_id == ModelVersion.id)
            .where(Artifact.name == name)
        )
    ).first()
    if row is None:
        raise NotFound(f"artifact {name!r} does not exist")
    return artifact_record(row[0], row[1])


async def artifacts_for_version(session: AsyncSession, version_id: int) -> list[ArtifactRecord]:
    """All artifact rows of a version, in registration order."""
    version = await _version_row(session, version_id)
    rows = await session.scalars(
        select(Artifact).where(Artifact.version_id == version_id).order_by(Artifact.id)
    )
    return [artifact_record(a, version) for a in rows]


async def referenced_sha256s(session: AsyncSession) -> set[str]:
    """Digests the blob GC must keep: artifacts of versions that are NOT pruned.

    Pruned versions keep their version, metric and artifact rows (history, file names,
    hashes), but their blobs are collectable unless a live version shares the same content.
    """
    rows = await session.scalars(
        select(Artifact.sha256)
        .join(ModelVersion, Artifact.version_id == ModelVersion.id)
        .where(ModelVersion.pruned_at.is_(None))
        .distinct()
    )
    return set(rows)
