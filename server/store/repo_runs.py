"""Training runs and their phases: async functions on a caller-owned AsyncSession."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any, Callable, Iterable, Mapping

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.store._common import aware, check_choice, seconds_between
from server.store.errors import Conflict, InvalidValue, NotFound
from server.store.records import PhaseRecord, RunRecord
from server.store.run_owner import current_owner, owner_alive, parse_owner
from server.store.tables import RUN_OPEN_STATUSES, RUN_STATUSES, RUN_TRIGGERS, RunPhase, TrainingRun

TERMINAL_STATUSES = tuple(s for s in RUN_STATUSES if s not in RUN_OPEN_STATUSES)
INTERRUPTED_MESSAGE = "the server stopped before this run finished"


def _phase(row: RunPhase) -> PhaseRecord:
    return PhaseRecord(row.name, row.started_at, row.finished_at, row.duration_s)


def _run(row: TrainingRun, phases: Iterable[PhaseRecord] = ()) -> RunRecord:
    return RunRecord(
        id=row.id,
        status=row.status,
        trigger=row.trigger,
        model_type=row.model_type,
        config_snapshot=row.config_snapshot,
        started_at=row.started_at,
        finished_at=row.finished_at,
        duration_s=row.duration_s,
        error=row.error,
        version_id=row.version_id,
        phases=tuple(phases),
        owner=row.owner,
    )


async def phases_by_run(session: AsyncSession, run_ids: Iterable[int]) -> dict[int, list[PhaseRecord]]:
    """Phases of many runs in one query, each list in start order."""
    ids = sorted(set(run_ids))
    out: dict[int, list[PhaseRecord]] = defaultdict(list)
    if not ids:
        return out
    rows = await session.scalars(
        select(RunPhase).where(RunPhase.run_id.in_(ids)).order_by(RunPhase.started_at, RunPhase.id)
    )
    for row in rows:
        out[row.run_id].append(_phase(row))
    return out


async def _load(session: AsyncSession, run_id: int) -> TrainingRun:
    row = await session.get(TrainingRun, run_id)
    if row is None:
        raise NotFound(f"training run {run_id} does not exist")
    return row


async def create_run(
    session: AsyncSession,
    *,
    trigger: str,
    model_type: str,
    config_snapshot: Mapping[str, Any],
    status: str = "queued",
    owner: str | None = None,
    now: datetime | None = None,
) -> RunRecord:
    """Insert a run; ``started_at`` is the request time (queued runs included).

    ``owner`` names the server process that runs it (:func:`run_owner.current_owner`).
    """
    check_choice("trigger", trigger, RUN_TRIGGERS)
    check_choice("status", status, RUN_OPEN_STATUSES)
    row = TrainingRun(
        status=status,
        trigger=trigger,
        model_type=model_type,
        config_snapshot=dict(config_snapshot),
        started_at=aware(now),
        owner=owner,
    )
    session.add(row)
    await session.flush()
    return _run(row)


async def set_run_status(session: AsyncSession, run_id: int, status: str) -> RunRecord:
    """Move an open run between ``queued`` and ``running``; use :func:`finish_run` to end it."""
    if status not in RUN_OPEN_STATUSES:
        raise InvalidValue(f"set_run_status takes queued or running, got {status!r}; use finish_run")
    row = await _load(session, run_id)
    if row.status not in RUN_OPEN_STATUSES:
        raise Conflict(f"training run {run_id} already ended as {row.status}")
    row.status = status
    await session.flush()
    return await get_run(session, run_id)


async def finish_run(
    session: AsyncSession,
    run_id: int,
    *,
    status: str,
    error: str | None = None,
    version_id: int | None = None,
    now: datetime | None = None,
) -> RunRecord:
    """End an open run with a terminal status; sets ``finished_at`` and ``duration_s``."""
    check_choice("status", status, TERMINAL_STATUSES)
    row = await _load(session, run_id)
    if row.status not in RUN_OPEN_STATUSES:
        raise Conflict(f"training run {run_id} already ended as {row.status}")
    end = aware(now)
    row.status = status
    row.error = error
    row.version_id = version_id
    row.finished_at = end
    row.duration_s = seconds_between(row.started_at, end)
    await session.flush()
    return await get_run(session, run_id)


async def record_phase_started(
    session: AsyncSession, run_id: int, name: str, *, now: datetime | None = None
) -> PhaseRecord:
    """Insert a phase row; a phase name may start only once per run."""
    await _load(session, run_id)
    existing = await session.scalar(
        select(RunPhase.id).where(RunPhase.run_id == run_id, RunPhase.name == name)
    )
    if existing is not None:
        raise Conflict(f"phase {name!r} of training run {run_id} was already started")
    row = RunPhase(run_id=run_id, name=name, started_at=aware(now))
    session.add(row)
    await session.flush()
    return _phase(row)


async def record_phase_finished(
    session: AsyncSession, run_id: int, name: str, *, now: datetime | None = None
) -> PhaseRecord:
    """Close a started phase and store its duration."""
    row = await session.scalar(
        select(RunPhase).where(RunPhase.run_id == run_id, RunPhase.name == name)
    )
    if row is None:
        raise NotFound(f"phase {name!r} of training run {run_id} was never started")
    end = aware(now)
    row.finished_at = end
    row.duration_s = seconds_between(row.started_at, end)
    await session.flush()
    return _phase(row)


async def get_run(session: AsyncSession, run_id: int) -> RunRecord:
    """One run with its phases; :class:`NotFound` if missing."""
    row = await _load(session, run_id)
    phases = await phases_by_run(session, [run_id])
    return _run(row, phases.get(run_id, ()))


async def list_runs(session: AsyncSession, limit: int = 50) -> list[RunRecord]:
    """Newest runs first, with phases (two queries)."""
    rows = list(
        await session.scalars(
            select(TrainingRun).order_by(TrainingRun.started_at.desc(), TrainingRun.id.desc()).limit(limit)
        )
    )
    phases = await phases_by_run(session, [r.id for r in rows])
    return [_run(r, phases.get(r.id, ())) for r in rows]


async def running_run(session: AsyncSession) -> RunRecord | None:
    """The newest queued or running run, if any (the single-trainer guard)."""
    row = await session.scalar(
        select(TrainingRun)
        .where(TrainingRun.status.in_(RUN_OPEN_STATUSES))
        .order_by(TrainingRun.id.desc())
        .limit(1)
    )
    return None if row is None else await get_run(session, row.id)


async def mark_interrupted_runs(
    session: AsyncSession,
    *,
    now: datetime | None = None,
    reason: str = INTERRUPTED_MESSAGE,
    me: str | None = None,
    alive: Callable[[str], bool] = owner_alive,
) -> int:
    """At start-up: open runs whose process is provably gone become ``interrupted``.

    That is runs without an owner (recorded before owners existed) and runs owned by a process
    on this host (``me``, default :func:`run_owner.current_owner`) for which ``alive`` says no.
    """
    here = parse_owner(me or current_owner())
    end = aware(now)
    rows = list(
        await session.scalars(select(TrainingRun).where(TrainingRun.status.in_(RUN_OPEN_STATUSES)))
    )
    orphans = []
    for row in rows:
        if row.owner is not None:
            owner = parse_owner(row.owner)
            # Another host's processes are invisible from here, so its runs stay open: that
            # host's next start marks them if their process died.
            if owner is None or here is None or owner.host != here.host or alive(row.owner):
                continue
        orphans.append(row)
    for row in orphans:
        row.status = "interrupted"
        row.error = reason
        row.finished_at = end
        row.duration_s = seconds_between(row.started_at, end)
    # Phases left open stay open: they show where the run died.
    await session.flush()
    return len(orphans)
