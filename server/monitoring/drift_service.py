"""The live drift monitor: flows in from serving, reports, alerts and webhooks out.

Serving only appends its answers to a bounded queue (`observe`, O(1) on the event loop); a
background task folds them into the window sketches in a thread, and for each window that
closes computes the drift report against the version's reference profile, stores it, sends
`drift_window` on `/ws`, runs the alert rules and delivers alert transitions.
"""
from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import math
from collections import deque
from typing import Any, Awaitable, Callable

import numpy as np

from server.ml.profile import CATEGORICAL, numeric_columns
from server.ml.schema import TIMESTAMP
from server.monitoring.alerts import AlertEngine, AlertSettings, Transition, signals
from server.monitoring.detectors import SeasonalRate
from server.monitoring.drift import DriftSettings, top_features, window_report
from server.monitoring.drift_windows import ClosedWindow, DriftWindows, record_columns
from server.monitoring.webhooks import WebhookDispatcher
from server.monitoring.windows import summarise_span
from server.store import repo, repo_alerts
from server.store.errors import StoreError

log = logging.getLogger(__name__)

PUMP_S = 0.5
MAX_PENDING_ROWS = 200_000
Performance = Callable[[str, int], Awaitable[dict | None]]


def drift_settings(config) -> DriftSettings:
    """The report's settings from `drift.*`."""
    d = config.drift
    p = d.p_value
    return DriftSettings(
        share=d.share, min_window_rows=d.min_window_rows, columns=tuple(d.columns),
        thresholds={"ks": p, "chi_square": p, "z_proportion": p, "wasserstein": d.wasserstein_threshold,
                    "jensen_shannon": d.jensenshannon_threshold, "prediction": d.prediction_threshold},
        segment_min_rows=d.segment_min_rows, attribution_threshold=d.attribution_threshold,
        unseen_share=d.unseen_share)


def alert_settings(config) -> AlertSettings:
    """The rule engine's settings from `alerts.*`."""
    a = config.alerts
    return AlertSettings(rules=tuple(a.rules), for_windows=a.for_windows, resolve_windows=a.resolve_windows,
                         f1_drop=a.f1_drop, f1_drop_sigmas=a.f1_drop_sigmas, min_label_coverage=a.min_label_coverage,
                         coverage_windows=a.coverage_windows)


def window_seconds(config) -> int:
    """`monitoring.window_s` (the live monitoring windows), 3600 until that section exists."""
    return int(getattr(getattr(config, "monitoring", None), "window_s", 3600))


def window_performance(monitoring, window_s: int, span_s: float) -> Performance:
    """Performance of a closing window for the alert rules, from the live monitoring windows.

    The F1 rules read a trailing span (`alerts.f1_span_s`, whole windows) with counts summed:
    the estimate (CBPE, label-free) over the span up to this window; labels arrive late, so
    realised metrics over the span that ends with the window before, and label coverage of that
    window alone.
    """
    span = max(1, math.ceil(span_s / window_s))

    async def performance(version: str, start: int) -> dict | None:
        first = start - span * window_s
        earliest, parts = await monitoring.trailing_parts(version, first, start)

        def judged(since: int, until: int) -> dict:
            # A span cut short by the version's start covers part of the daily cycle (say, its
            # quiet night hours) and reads as a drop: judged only once the version served it all.
            if earliest is None or earliest > since:
                return {}
            return summarise_span(parts, since, until, version, window_s) or {}

        previous = summarise_span(parts, start - window_s, start - window_s, version, window_s) or {}
        return {"estimated": judged(first + window_s, start).get("estimated"),
                "realised": judged(first, start - window_s).get("realised"),
                "label_coverage": previous.get("label_coverage"), "span_windows": span}
    return performance


class DriftService:
    """Owns the window sketches, the alert engine and the webhook dispatcher of one server."""

    def __init__(self, config, sessions, blobs, hub, inference) -> None:
        self.config = config
        self._sessions, self._blobs, self._hub, self._inference = sessions, blobs, hub, inference
        self.settings = drift_settings(config)
        self.window_s = window_seconds(config)
        self.windows = DriftWindows(self.window_s, numeric_columns(config.features.windows_s), CATEGORICAL,
                                    reservoir=config.drift.reservoir_rows, explain_sample=config.drift.explain_sample,
                                    ph_threshold=config.drift.page_hinkley_threshold,
                                    ph_delta=config.drift.page_hinkley_delta,
                                    ph_alpha=config.drift.page_hinkley_alpha)
        self.engine = AlertEngine(alert_settings(config))
        a = config.alerts
        self.webhooks = WebhookDispatcher(a.webhooks, sessions, timeout_s=a.webhook_timeout_s,
                                          retries=a.webhook_retries, backoff_s=a.webhook_backoff_s)
        self.performance: Performance | None = None  # realised/estimated metrics of a window, when known
        self.latest: dict[str, dict] = {}
        self.dropped = 0
        self._rates: dict[str, SeasonalRate] = {}
        self._profiles: dict[str, dict | None] = {}
        self._pending: deque[tuple[str, list[dict], list[float]]] = deque()
        self._pending_rows = 0
        self._lock = asyncio.Lock()
        self._pump: asyncio.Task | None = None

    async def start(self) -> None:
        """Restore unresolved alerts into the engine, start webhooks and the pump."""
        async with self._sessions() as session:
            for alert in await repo_alerts.unresolved_alerts(session):
                self.engine.restore(alert.version, alert.rule)
        await self.webhooks.start()
        self._pump = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Stop the pump and the deliveries in flight (open windows are incomplete: not reported)."""
        if self._pump is not None:
            self._pump.cancel()
            await asyncio.gather(self._pump, return_exceptions=True)
        await self.webhooks.stop()

    def observe(self, records: list[dict], probabilities: list[float], version: str) -> None:
        """Queue served flows for the windows; past the bound they are counted as dropped."""
        if self._pending_rows + len(records) > MAX_PENDING_ROWS:
            self.dropped += len(records)
            return
        self._pending.append((version, records, probabilities))
        self._pending_rows += len(records)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(PUMP_S)
            try:
                await self.process_pending()
            except Exception:  # one bad window must not stop monitoring
                log.exception("drift monitoring failed on a batch")

    async def process_pending(self, close_all: bool = False) -> list[dict]:
        """Fold queued flows into the windows and report every window that closed."""
        async with self._lock:
            batch, self._pending = list(self._pending), deque()
            self._pending_rows = 0
            closed = await asyncio.to_thread(self._ingest, batch, close_all)
            return [await self._report(window) for window in closed]

    def _ingest(self, batch: list[tuple[str, list[dict], list[float]]], close_all: bool) -> list[ClosedWindow]:
        prefix = int(self.config.features.subnet_prefix)
        closed: list[ClosedWindow] = []
        for version, timestamps, records, probabilities in in_order_runs(batch, self.windows.window_s):
            closed += self.windows.add(version, timestamps, record_columns(records, prefix, 64), probabilities,
                                       records)
        return closed + (self.windows.close_all() if close_all else [])

    async def _report(self, window: ClosedWindow) -> dict:
        version, sketch = window.version, window.sketch
        profile = await self.profile(version) or {}
        attribution = await self._attribution(window)
        # The column tests (scipy, thousands of values) run in a thread: never on the serving loop.
        report = await asyncio.to_thread(window_report, profile, sketch, self.settings, attribution)
        if not profile:
            report["status"] = "no_profile"
        rate = self._rates.setdefault(version, SeasonalRate(self.window_s, factor=self.config.alerts.rate_factor))
        report.update(version=version, end=sketch.start + self.window_s, late=self.windows.late(version),
                      prediction_rate=rate.update(sketch.start, sketch.rows),
                      probability_change=window.probability_change, error_change=window.error_change)
        async with self._sessions.begin() as session:
            await repo_alerts.save_drift_window(session, version, sketch.start, json.loads(json.dumps(report)))
        self.latest[version] = report
        self._hub.publish({"type": "drift_window", "version": version, "window": report})
        performance = await self.performance(version, sketch.start) if self.performance else None
        fired = signals(report, top_features(profile), (profile.get("baseline") or {}).get("f1"), performance,
                        self.engine.settings)
        for transition in self.engine.evaluate(version, sketch.start, fired):
            await self._transition(transition)
        return report

    async def _transition(self, t: Transition) -> None:
        evidence = json.loads(json.dumps(t.evidence, default=str))
        async with self._sessions.begin() as session:
            if t.kind == "opened":
                alert = await repo_alerts.open_alert(session, t.rule, t.version, t.window_start, evidence)
            else:
                alert = await repo_alerts.resolve_alert(session, t.rule, t.version, t.window_start, evidence)
        if alert is None:
            return
        plain = dataclasses.asdict(alert)
        log.warning("alert %s: %s on version %s (window %d)", t.kind, t.rule, t.version, t.window_start)
        self._hub.publish({"type": f"alert_{t.kind}", "alert": plain})
        self.webhooks.submit(plain, t.kind)

    async def _attribution(self, window: ClosedWindow) -> dict[str, float] | None:
        """Mean |SHAP| per feature group on the window's explain sample (active version only)."""
        rows = window.sketch.explain_rows
        if not rows or self._inference.version != window.version:
            return None
        sums: dict[str, float] = {}
        for record in rows:
            result = await self._inference.explain(record, None, True)
            for c in result["contributions"]:
                sums[c["feature"]] = sums.get(c["feature"], 0.0) + abs(c["shap"])
        return {g: v / len(rows) for g, v in sums.items()}

    async def profile(self, version: str) -> dict | None:
        """The version's reference profile (cached; None for versions trained without one)."""
        if version not in self._profiles:
            try:
                async with self._sessions() as session:
                    record = await repo.get_version_by_tag(session, version)
                artifact = record.artifact("profile")
                data = None if artifact is None else \
                    await asyncio.to_thread(self._blobs.read, artifact.sha256, artifact.size_bytes)
                self._profiles[version] = json.loads(data) if data else None
            except (StoreError, OSError, ValueError):
                log.warning("no reference profile for version %s: drift tests are off for it", version)
                self._profiles[version] = None
        return self._profiles[version]

    def profiles(self) -> dict[str, dict | None]:
        """Reference profiles loaded so far, by version."""
        return dict(self._profiles)

    def alert_state(self) -> list[tuple[str, str, bool]]:
        """(version, rule, open) of every rule the engine has seen."""
        return self.engine.states()

    def status(self) -> dict[str, Any]:
        """Counters and window settings for `/api/drift` (the dashboard says with them why it has no drift yet)."""
        return {"window_s": self.window_s, "min_window_rows": self.settings.min_window_rows,
                "dropped": self.dropped, "pending": self._pending_rows}


def in_order_runs(batch: list[tuple[str, list[dict], list[float]]], window_s: int):
    """Consecutive requests of one version joined while their windows do not go back in time.

    `DriftWindows.add` costs a dozen numpy calls per call, so feeding a pump's worth of single-flow
    requests one by one cost more than the flows themselves. A join is exact: it takes windows in
    ascending order, which is the requests' own order as long as no request reaches back before
    the window the previous one reached; one that does starts a new run (it may be late).
    """
    run_version, stamps, records, probabilities, reached = None, [], [], [], 0
    for version, recs, probs in batch:
        ts = np.fromiter((int(r[TIMESTAMP]) for r in recs), np.int64, len(recs))
        if not len(ts):
            continue
        first, last = int(ts.min()) // window_s, int(ts.max()) // window_s
        if records and (version != run_version or first < reached):
            yield run_version, np.concatenate(stamps), records, probabilities
            stamps, records, probabilities, reached = [], [], [], 0
        run_version = version
        stamps.append(ts)
        records.extend(recs)  # lists of our own: the requests' lists are shared with the prediction log
        probabilities.extend(probs)
        reached = max(reached, last)
    if records:
        yield run_version, np.concatenate(stamps), records, probabilities
