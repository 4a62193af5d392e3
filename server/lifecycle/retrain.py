"""Training data from the field: the labelled prediction log of a time range, as a flow file.

The rows are exactly the logged predictions whose flow time (``timestamp_seconds``) lies in
``[since, until)`` and that carry a fed-back label; their raw records are what serving saw,
so the worker computes the same features training always computes. Optionally the configured
generated data is mixed in at ``retrain.mix_ratio`` rows per field row (a retrain that must not
forget the situations live traffic has not shown lately).
"""

from __future__ import annotations

import logging
import os
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import select

from server.errors import Conflict, ValidationFailed
from server.ml.generator import generate_flows
from server.ml.schema import FLOW_COLUMNS, LABEL
from server.store.tables_monitoring import PredictionLog

MIN_FEEDBACK_ROWS = 50
log = logging.getLogger(__name__)


async def labelled_frame(sessions, since: int | None, until: int | None) -> pd.DataFrame:
    """The labelled predictions of the range as flow rows with their label, in log order."""
    query = select(PredictionLog.record, PredictionLog.label).where(PredictionLog.label.is_not(None))
    if since is not None:
        query = query.where(PredictionLog.timestamp_seconds >= since)
    if until is not None:
        query = query.where(PredictionLog.timestamp_seconds < until)
    async with sessions() as session:
        rows = (await session.execute(query.order_by(PredictionLog.id))).all()
    frame = pd.DataFrame([{k: record.get(k) for k in FLOW_COLUMNS} for record, _ in rows],
                         columns=list(FLOW_COLUMNS))
    frame[LABEL] = [int(label) for _, label in rows]
    return frame


async def export_feedback(sessions, folder: Path, since: int | None, until: int | None, *,
                          mix_ratio: float, seed: int, positive_rate: float) -> tuple[Path, dict[str, Any]]:
    """Write the range's labelled rows (plus mixed-in generated rows) to a Parquet file."""
    if since is not None and until is not None and until <= since:
        raise ValidationFailed("until must be after since", fields={"until": "not after since"})
    field = await labelled_frame(sessions, since, until)
    if len(field) < MIN_FEEDBACK_ROWS:
        raise Conflict(f"only {len(field)} labelled predictions in that range; training from feedback "
                       f"needs at least {MIN_FEEDBACK_ROWS} (feed labels back with POST /api/feedback)")
    mixed = int(round(mix_ratio * len(field)))
    frames = [field]
    if mixed:
        generated = generate_flows(mixed, seed, positive_rate)
        frames.append(generated[[*FLOW_COLUMNS, LABEL]])
    data = pd.concat(frames, ignore_index=True)
    derived = (pd.to_numeric(data["timestamp_seconds"]) // 3600) % 24  # serving's rule when omitted
    data["hour"] = pd.to_numeric(data["hour"]).fillna(derived).astype(int)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"feedback-{os.getpid()}-{time.time_ns()}.parquet"
    data.to_parquet(path, index=False)
    summary = {"source": "feedback", "since": since, "until": until, "labelled_rows": int(len(field)),
               "generated_rows": mixed, "positives": int(field[LABEL].sum())}
    return path, summary


class RetrainTriggers:
    """Starts a retrain from fed-back labels on a schedule or on alerts; its version shadows first.

    A trigger fires only when ``retrain.min_new_labels`` labels arrived since the last retrain
    and ``retrain.debounce_s`` passed (counted from server start, so a restart never retrains at
    once). The run trains on the labelled log of the ``retrain.lookback_s`` seconds of flow time
    before the newest labelled flow, and only when that range itself holds ``min_new_labels``
    labels: new labels spread over a long time are not a training set, and a run on a few dozen
    rows fails on (or passes with) a hold-out too small to judge.
    """

    def __init__(self, config, sessions, training) -> None:
        self._config = config
        self._sessions = sessions
        self._training = training
        self._last = time.time()
        self.last_reason: str | None = None
        self.waiting_for: str | None = None  # why a due trigger did not start a run (logged once)

    async def _new_labels(self) -> int:
        from sqlalchemy import func

        since = datetime.fromtimestamp(self._last, timezone.utc)
        async with self._sessions() as session:
            return int(await session.scalar(select(func.count()).select_from(PredictionLog)
                                            .where(PredictionLog.labelled_at >= since)))

    async def _labels_since(self, since: int | None) -> int:
        from sqlalchemy import func

        query = select(func.count()).select_from(PredictionLog).where(PredictionLog.label.is_not(None))
        if since is not None:
            query = query.where(PredictionLog.timestamp_seconds >= since)
        async with self._sessions() as session:
            return int(await session.scalar(query))

    def _wait(self, reason: str) -> None:
        if reason != self.waiting_for:
            log.info("retrain due but not started: %s", reason)
        self.waiting_for = reason

    async def _lookback_start(self) -> int | None:
        """``retrain.lookback_s`` before the newest labelled flow (flow time: replays behave as live)."""
        from sqlalchemy import func

        async with self._sessions() as session:
            newest = await session.scalar(select(func.max(PredictionLog.timestamp_seconds))
                                          .where(PredictionLog.label.is_not(None)))
        return None if newest is None else int(newest - self._config.retrain.lookback_s)

    async def _open_alert_rules(self) -> list[str]:
        from server.store.tables_alerts import Alert

        since = datetime.fromtimestamp(self._last, timezone.utc)
        async with self._sessions() as session:
            rules = await session.scalars(select(Alert.rule).where(Alert.resolved_at.is_(None),
                                                                   Alert.opened_at >= since))
            return sorted(set(rules) & set(self._config.retrain.on_alerts))

    async def check(self, now: float | None = None) -> int | None:
        """Start a retrain run if a trigger fires; returns its run id."""
        settings = self._config.retrain
        now = time.time() if now is None else now
        if self._training.active is not None or now - self._last < settings.debounce_s:
            return None
        alerts = await self._open_alert_rules()
        scheduled = settings.schedule > 0 and now - self._last >= settings.schedule
        if not (alerts or scheduled):
            return None
        labels = await self._new_labels()
        if labels < settings.min_new_labels:
            return None
        since = await self._lookback_start()
        in_range = await self._labels_since(since)
        if in_range < settings.min_new_labels:
            self._wait(f"the last retrain.lookback_s ({settings.lookback_s:g} s of flow time) holds {in_range} "
                       f"labelled predictions; retrain.min_new_labels is {settings.min_new_labels}")
            return None
        from server.services.training import TrainRequest

        self.waiting_for = None
        request = TrainRequest(source="feedback", since=since, shadow=True)
        run_id = await self._training.start(request, trigger="api")
        self._last = now
        self.last_reason = (f"alerts {', '.join(alerts)}" if alerts else "schedule") + f", {labels} new labels"
        return run_id
