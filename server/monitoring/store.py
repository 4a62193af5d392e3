"""SQL of the prediction log: inserts, writer bookkeeping, window states, retention."""
from __future__ import annotations

import functools
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable

import orjson
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection

from server.monitoring.ids import id_floor
from server.store.db import postgres_json_dumps
from server.store.run_owner import owner_alive, parse_owner
from server.store.tables import ModelVersion, VersionMetrics
from server.store.tables_lifecycle import ShadowPrediction
from server.store.tables_monitoring import MonitoringWindowState, MonitoringWriter, PredictionLog

PRUNE_CHUNK = 50_000
STALE_WRITER_S = 60.0


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class LostWriter:
    """A writer that ended without a clean shutdown, as found by the next start."""

    node: str
    owner: str
    heartbeat_at: datetime
    issued: int
    logged: int
    sampled_out: int
    dropped: int

    def message(self, flush_interval_s: float) -> str:
        return (f"prediction log: writer {self.node} ({self.owner}) ended without a clean shutdown; "
                f"all {self.issued} predictions it issued up to its last flush at "
                f"{self.heartbeat_at:%Y-%m-%d %H:%M:%S} UTC are accounted for ({self.logged} logged, "
                f"{self.sampled_out} sampled out, {self.dropped} dropped by a full queue); predictions "
                f"served after that (at most {flush_interval_s:g} s of traffic) are lost, their number "
                f"is unknown")


def _gone(owner: str, heartbeat_at: datetime, now: datetime, stale_s: float) -> bool:
    parsed = parse_owner(owner)
    if parsed is not None and parsed.host == socket.gethostname():
        return not owner_alive(owner)
    return (now - heartbeat_at).total_seconds() > stale_s


async def register_writer(conn: AsyncConnection, node: str, owner: str, stale_s: float) -> list[LostWriter]:
    """Insert this writer's row; close the rows of writers that died, and return them."""
    now = utcnow()
    rows = (await conn.execute(select(MonitoringWriter).where(MonitoringWriter.stopped_at.is_(None)))).all()
    lost = [LostWriter(r.node, r.owner, r.heartbeat_at, r.issued, r.logged, r.sampled_out, r.dropped)
            for r in rows if _gone(r.owner, r.heartbeat_at, now, stale_s)]
    for writer in lost:
        await conn.execute(update(MonitoringWriter).where(MonitoringWriter.node == writer.node)
                           .values(stopped_at=writer.heartbeat_at, clean=False))
    await conn.execute(insert(MonitoringWriter).values(
        node=node, owner=owner, started_at=now, heartbeat_at=now, clean=False,
        issued=0, logged=0, sampled_out=0, dropped=0))
    return lost


async def heartbeat(conn: AsyncConnection, node: str, counters: dict[str, int], stopping: bool = False) -> None:
    """Record what this writer has issued and written so far (and a clean stop)."""
    now = utcnow()
    values: dict[str, Any] = {"heartbeat_at": now, **counters}
    if stopping:
        values.update(stopped_at=now, clean=True)
    await conn.execute(update(MonitoringWriter).where(MonitoringWriter.node == node).values(**values))


# The columns a logged prediction fills, in the order of the INSERT's parameters.
PREDICTION_COLUMNS = ("id", "timestamp_seconds", "window_start", "arrived_at", "version", "source_ip",
                      "dest_ip", "record", "probability", "prediction", "threshold")


def encode_record(record: dict[str, Any]) -> str:
    """The `record` column's JSON text, as both engines' JSON columns accept it (no NaN)."""
    try:
        return orjson.dumps(record).decode()
    except TypeError:  # what orjson refuses (an int past 64 bits) takes the engines' own encoder
        return postgres_json_dumps(record)


@functools.lru_cache(maxsize=8)
def _prediction_insert(dialect: Dialect) -> tuple[str, list[tuple[int, Any]]]:
    """The dialect's INSERT text and the bind processors of its columns, but the pre-encoded record."""
    table = PredictionLog.__table__
    compiled = insert(table).compile(dialect=dialect, column_keys=list(PREDICTION_COLUMNS))
    assert tuple(compiled.positiontup or ()) == PREDICTION_COLUMNS, compiled.positiontup
    processors = [(i, table.c[name].type.dialect_impl(dialect).bind_processor(dialect))
                  for i, name in enumerate(PREDICTION_COLUMNS) if name != "record"]
    return compiled.string, [(i, process) for i, process in processors if process is not None]


def _bind(process: Any, values: list) -> list:
    """A column through its bind processor; values repeat (one arrival time per request)."""
    done: dict[Any, Any] = {}
    return [done[v] if v in done else done.setdefault(v, process(v)) for v in values]


async def insert_predictions(conn: AsyncConnection, columns: dict[str, list]) -> None:
    """Insert one flush's predictions, given column-wise with `record` already JSON text.

    One driver-level executemany: SQLAlchemy's per-row parameter building and JSON encoding
    cost more than the database's insert, on the thread that shares the serving process.
    """
    if not columns or not columns["id"]:
        return
    sql, processors = _prediction_insert(conn.dialect)
    values = [columns[name] for name in PREDICTION_COLUMNS]
    for i, process in processors:
        values[i] = _bind(process, values[i])
    await conn.exec_driver_sql(sql, list(zip(*values)))


async def load_states(conn: AsyncConnection, window_start: int, version: str, node: str) -> dict[str, dict]:
    """This node's stored part states of one window and version."""
    t = MonitoringWindowState
    result = await conn.execute(select(t.part, t.state).where(
        t.window_start == window_start, t.version == version, t.node == node))
    return {part: state for part, state in result.all()}


async def save_state(conn: AsyncConnection, key: tuple[int, str, str, str], window_s: int,
                     state: dict, exists: bool) -> None:
    t = MonitoringWindowState
    window_start, version, node, part = key
    now = utcnow()
    if exists:
        await conn.execute(update(t).where(t.window_start == window_start, t.version == version,
                                           t.node == node, t.part == part).values(state=state, updated_at=now))
    else:
        await conn.execute(insert(t).values(window_start=window_start, version=version, node=node,
                                            part=part, window_s=window_s, state=state, updated_at=now))


async def window_states(conn: AsyncConnection, version: str | None, limit: int,
                        parts: Iterable[str], window_s: int) -> list[tuple[int, str, str, dict]]:
    """(window_start, version, part, state) of every node, for the newest `limit` windows."""
    t = MonitoringWindowState
    starts = select(t.window_start).where(t.window_s == window_s).distinct()
    if version:
        starts = starts.where(t.version == version)
    newest = [r[0] for r in (await conn.execute(starts.order_by(t.window_start.desc()).limit(limit))).all()]
    if not newest:
        return []
    query = select(t.window_start, t.version, t.part, t.state).where(
        t.window_start.in_(newest), t.part.in_(list(parts)), t.window_s == window_s)
    if version:
        query = query.where(t.version == version)
    return [tuple(r) for r in (await conn.execute(query)).all()]  # type: ignore[misc]


async def calibration(conn: AsyncConnection, version: str) -> dict | None:
    """The calibrator a version stored at training time (`version_metrics.extra.calibration`)."""
    row = (await conn.execute(select(VersionMetrics.extra).join(ModelVersion).where(
        ModelVersion.tag == version))).first()
    return (row[0] or {}).get("calibration") if row else None


async def prune(conn: AsyncConnection, retention_days: float) -> int:
    """Delete predictions that arrived before the retention horizon, by id (= time) range, and the
    shadow scores of those predictions with them (a shadow score without its logged row pairs with nothing)."""
    cutoff = utcnow() - timedelta(days=retention_days)
    floor = id_floor(cutoff.timestamp())
    removed = await _delete_ids_below(conn, PredictionLog, PredictionLog.id, floor)
    await _delete_ids_below(conn, ShadowPrediction, ShadowPrediction.prediction_id, floor)
    await conn.execute(delete(MonitoringWindowState).where(MonitoringWindowState.updated_at < cutoff))
    return removed


async def _delete_ids_below(conn: AsyncConnection, table, id_column, floor: str) -> int:
    """Delete in id chunks so one prune never holds a long lock or a huge transaction log."""
    removed = 0
    while True:
        chunk = select(id_column).where(id_column < floor).order_by(id_column).limit(PRUNE_CHUNK)
        result = await conn.execute(delete(table).where(id_column.in_(chunk)))
        removed += result.rowcount or 0
        if (result.rowcount or 0) < PRUNE_CHUNK:
            break
    return removed


async def window_states_of(conn: AsyncConnection, start: int, version: str,
                           parts: Iterable[str]) -> list[tuple[int, str, str, dict]]:
    """Every node's part states of one window and version."""
    t = MonitoringWindowState
    result = await conn.execute(select(t.window_start, t.version, t.part, t.state).where(
        t.window_start == start, t.version == version, t.part.in_(list(parts))))
    return [tuple(r) for r in result.all()]  # type: ignore[misc]


async def span_states(conn: AsyncConnection, version: str, first: int, last: int,
                      parts: Iterable[str]) -> list[tuple[int, str, str, dict]]:
    """Every node's part states of a version's windows starting in [first, last]."""
    t = MonitoringWindowState
    result = await conn.execute(select(t.window_start, t.version, t.part, t.state).where(
        t.version == version, t.window_start >= first, t.window_start <= last, t.part.in_(list(parts))))
    return [tuple(r) for r in result.all()]  # type: ignore[misc]


async def first_window(conn: AsyncConnection, version: str) -> int | None:
    """The start of the earliest window a version served."""
    t = MonitoringWindowState
    return await conn.scalar(select(func.min(t.window_start)).where(t.version == version))


async def baseline(conn: AsyncConnection, version: str) -> dict | None:
    """A version's hold-out metrics at training time, in the windows' field names."""
    m = VersionMetrics
    row = (await conn.execute(select(m.precision, m.recall, m.f1_score, m.auc_roc, m.brier, m.threshold,
                                     m.samples, m.extra).join(ModelVersion).where(ModelVersion.tag == version))).first()
    if row is None:
        return None
    calibration = (row.extra or {}).get("calibration") or {}
    return {"precision": row.precision, "recall": row.recall, "f1": row.f1_score, "roc_auc": row.auc_roc,
            "brier": row.brier, "threshold": row.threshold, "samples": row.samples,
            "calibration": {k: calibration.get(k) for k in ("method", "ece_before", "ece_after")} or None}


async def first_flow_after(conn: AsyncConnection, when: datetime, version: str,
                           until: datetime | None = None) -> int | None:
    """Event time (`timestamp_seconds`) of the first prediction `version` served in [`when`, `until`).

    Places a model change on the windows' event-time axis, which for replayed traffic is not the
    wall clock; `until` is the next change, after which the flows are another change's. The id is
    the arrival time, so this is one primary-key range probe.
    """
    def floor(at: datetime) -> str:
        return id_floor((at if at.tzinfo else at.replace(tzinfo=timezone.utc)).timestamp())

    query = select(PredictionLog.timestamp_seconds).where(PredictionLog.id >= floor(when),
                                                          PredictionLog.version == version)
    if until is not None:
        query = query.where(PredictionLog.id < floor(until))
    row = (await conn.execute(query.order_by(PredictionLog.id).limit(1))).first()
    return int(row[0]) if row else None
