"""Delayed labels: match feedback items to logged predictions, label them, update window states.

Items name a prediction by `prediction_id`, or, for collectors that keep no ids, by the flow
(`source_ip`, `dest_ip`, `timestamp_seconds`): then every logged prediction of that flow is
labelled. The same label twice changes nothing; a different one replaces the old (its window
contribution is removed, the new one added) and is counted in `replaced`. Rows and window
states change in one transaction, so the aggregates never disagree with the labelled rows.
"""
from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import numpy as np
from sqlalchemy import Select, and_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection

from server.monitoring import store
from server.monitoring.accumulators import LabelBatch, LabelsPart
from server.store.tables_monitoring import PredictionLog

ID_PATTERN = re.compile(r"[0-9a-f]{32}")
# Flows matched per SELECT: four bound values each, far below SQLite's 32,766 per statement.
FLOWS_PER_QUERY = 2000
FLOW_KEYS = ("source_ip", "dest_ip", "timestamp_seconds")
LABEL = "congestion"


@dataclass
class FeedbackResult:
    accepted: int = 0
    replaced: int = 0
    unchanged: int = 0
    unknown: list[dict[str, Any]] = field(default_factory=list)
    invalid: list[dict[str, Any]] = field(default_factory=list)
    windows: set[tuple[int, str]] = field(default_factory=set)

    def answer(self) -> dict[str, Any]:
        return {"accepted": self.accepted, "unknown": self.unknown, "replaced": self.replaced,
                "unchanged": self.unchanged, "invalid": self.invalid}


def _label(value: Any) -> int | None:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)) and value in (0, 1):
        return int(value)
    return None


def parse_item(item: Any) -> tuple[str, Any, int] | dict[str, str]:
    """("id", id, label) or ("flow", (src, dst, ts), label), else {field: problem}."""
    if not isinstance(item, dict):
        return {"item": "expected an object with prediction_id (or source_ip, dest_ip, timestamp_seconds) and congestion"}
    errors: dict[str, str] = {}
    label = _label(item.get(LABEL))
    if label is None:
        errors[LABEL] = "is required" if LABEL not in item else "expected 0 or 1"
    if "prediction_id" in item:
        pid = item["prediction_id"]
        if not (isinstance(pid, str) and ID_PATTERN.fullmatch(pid)):
            errors["prediction_id"] = "expected 32 lowercase hex digits"
        return errors or ("id", pid, label)  # type: ignore[return-value]
    for key in ("source_ip", "dest_ip"):
        if not (isinstance(item.get(key), str) and 0 < len(item[key]) <= 64):
            errors[key] = "is required (or give prediction_id)" if key not in item else "expected an IP address string"
    ts = item.get("timestamp_seconds")
    if isinstance(ts, float) and math.isfinite(ts) and ts.is_integer():
        ts = int(ts)
    if not (isinstance(ts, int) and not isinstance(ts, bool) and 0 <= ts < 2**53):
        errors["timestamp_seconds"] = "is required (or give prediction_id)" if ts is None else "expected whole Unix seconds"
    return errors or ("flow", (item["source_ip"], item["dest_ip"], ts), label)  # type: ignore[return-value]


_COLUMNS = (PredictionLog.id, PredictionLog.source_ip, PredictionLog.dest_ip, PredictionLog.timestamp_seconds,
            PredictionLog.window_start, PredictionLog.version, PredictionLog.probability,
            PredictionLog.prediction, PredictionLog.arrived_at, PredictionLog.label, PredictionLog.labelled_at)


async def _matches(conn: AsyncConnection, ids: list[str], flows: list[tuple]) -> tuple[dict, dict]:
    by_id: dict[str, Any] = {}
    by_flow: dict[tuple, list[Any]] = defaultdict(list)
    if ids:
        for row in (await conn.execute(select(*_COLUMNS).where(PredictionLog.id.in_(ids)))).all():
            by_id[row.id] = row
    for start in range(0, len(flows), FLOWS_PER_QUERY):
        for row in (await conn.execute(flow_query(flows[start:start + FLOWS_PER_QUERY]))).all():
            by_flow[(row.source_ip, row.dest_ip, row.timestamp_seconds)].append(row)
    return by_id, by_flow


def flow_query(flows: list[tuple]) -> Select:
    """The logged predictions of these (source_ip, dest_ip, timestamp_seconds) flows.

    The event times come first: SQLite plans a row-value IN alone as a scan of the whole log,
    while `timestamp_seconds IN` searches ix_predictions_event_time.
    """
    key = tuple_(PredictionLog.source_ip, PredictionLog.dest_ip, PredictionLog.timestamp_seconds)
    times = sorted({flow[2] for flow in flows})
    return select(*_COLUMNS).where(PredictionLog.timestamp_seconds.in_(times), key.in_(flows))


def _lag(row: Any, at: datetime) -> float:
    return max(0.0, (at - row.arrived_at).total_seconds())


async def apply_feedback(conn: AsyncConnection, items: list[Any], node: str, window_s: int,
                         now: datetime | None = None) -> FeedbackResult:
    """Label the matched predictions and update this node's label states (caller's transaction)."""
    now = now or datetime.now(timezone.utc)
    result = FeedbackResult()
    parsed: list[tuple[int, tuple]] = []
    for index, item in enumerate(items):
        outcome = parse_item(item)
        if isinstance(outcome, dict):
            result.invalid.append({"index": index, "fields": outcome})
        else:
            parsed.append((index, outcome))
    by_id, by_flow = await _matches(conn, [p[1] for _, p in parsed if p[0] == "id"],
                                    [p[1] for _, p in parsed if p[0] == "flow"])
    wanted: dict[str, tuple[Any, int]] = {}  # prediction id -> (row, label); a later item wins
    for index, (kind, key, label) in parsed:
        rows = [by_id[key]] if kind == "id" and key in by_id else by_flow.get(key, []) if kind == "flow" else []
        if not rows:
            result.unknown.append({"index": index, **({"prediction_id": key} if kind == "id"
                                                      else dict(zip(FLOW_KEYS, key)))})
            continue
        result.accepted += 1
        for row in rows:
            wanted[row.id] = (row, label)
    deltas: dict[tuple[int, str], list[LabelBatch]] = defaultdict(list)
    for pid, (row, label) in wanted.items():
        if row.label == label:
            result.unchanged += 1
            continue
        if row.label is not None:
            result.replaced += 1
            deltas[(row.window_start, row.version)].append(_batch(row, row.label, _lag(row, row.labelled_at), -1.0))
        old = PredictionLog.label.is_(None) if row.label is None else PredictionLog.label == row.label
        await conn.execute(update(PredictionLog).where(and_(PredictionLog.id == pid, old))
                           .values(label=label, labelled_at=now))
        deltas[(row.window_start, row.version)].append(_batch(row, label, _lag(row, now), 1.0))
    for (start, version), batches in deltas.items():
        await _save_labels(conn, start, version, node, window_s, batches)
        result.windows.add((start, version))
    return result


def _batch(row: Any, label: int, lag: float, sign: float) -> LabelBatch:
    return LabelBatch(np.array([row.probability]), np.array([row.prediction]), np.array([label]),
                      np.array([lag]), sign)


async def _save_labels(conn: AsyncConnection, start: int, version: str, node: str, window_s: int,
                       batches: list[LabelBatch]) -> None:
    stored = await store.load_states(conn, start, version, node)
    part = LabelsPart.from_state(stored[LabelsPart.part]) if LabelsPart.part in stored else LabelsPart()
    for sign in (-1.0, 1.0):  # removals first, then additions, each as one column batch
        chosen = [b for b in batches if b.sign == sign]
        if chosen:
            part.add(LabelBatch(*(np.concatenate([getattr(b, f) for b in chosen])
                                  for f in ("probability", "prediction", "label", "lag_s")), sign))
    await store.save_state(conn, (start, version, node, LabelsPart.part), window_s, part.state(),
                           LabelsPart.part in stored)
