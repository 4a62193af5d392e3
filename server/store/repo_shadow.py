"""Shadow scores: batch inserts, and the labelled rows both versions scored (the paired sample)."""

from __future__ import annotations

from typing import Any, Sequence

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.store.tables_lifecycle import ShadowPrediction
from server.store.tables_monitoring import PredictionLog


async def insert_scores(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """One multi-row insert per batch of shadow scores."""
    if rows:
        await session.execute(insert(ShadowPrediction), list(rows))


async def paired_rows(session: AsyncSession, version: str, *, since_window: int | None = None,
                      limit: int = 1_000_000) -> list[tuple[int, float, int, float, int, int, str]]:
    """(label, served probability, served decision, shadow probability, shadow decision,
    window_start, served version) for every labelled prediction the shadow also scored."""
    query = (
        select(PredictionLog.label, PredictionLog.probability, PredictionLog.prediction,
               ShadowPrediction.probability, ShadowPrediction.prediction, PredictionLog.window_start,
               PredictionLog.version)
        .join(ShadowPrediction, ShadowPrediction.prediction_id == PredictionLog.id)
        .where(ShadowPrediction.version == version, PredictionLog.label.is_not(None))
        .order_by(PredictionLog.id)
        .limit(limit)
    )
    if since_window is not None:
        query = query.where(PredictionLog.window_start >= since_window)
    return [tuple(row) for row in (await session.execute(query)).all()]


async def scored_count(session: AsyncSession, version: str) -> int:
    """How many live predictions the shadow version has scored."""
    return int(await session.scalar(
        select(func.count()).select_from(ShadowPrediction).where(ShadowPrediction.version == version)))



async def paired_rows_in_windows(session: AsyncSession, first_window: int, last_window: int,
                                 *, limit: int = 1_000_000) -> list[tuple]:
    """`paired_rows`' columns preceded by the shadow version, for every shadow whose labelled
    predictions fall in windows first_window..last_window (the monitoring windows' own range)."""
    query = (
        select(ShadowPrediction.version, PredictionLog.label, PredictionLog.probability, PredictionLog.prediction,
               ShadowPrediction.probability, ShadowPrediction.prediction, PredictionLog.window_start,
               PredictionLog.version)
        .join(ShadowPrediction, ShadowPrediction.prediction_id == PredictionLog.id)
        .where(PredictionLog.label.is_not(None),
               PredictionLog.window_start >= first_window, PredictionLog.window_start <= last_window)
        .order_by(PredictionLog.id)
        .limit(limit)
    )
    return [tuple(row) for row in (await session.execute(query)).all()]
