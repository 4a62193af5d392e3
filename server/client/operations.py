"""Every REST operation once, as a `Call`; the sync and async clients only differ in how they send it.

Answers are parsed with the same pydantic models that generate the OpenAPI document
(server.schemas); the models allow extra keys, so a newer server never breaks an older client.
"""
from __future__ import annotations

import abc
import datetime as dt
from typing import Any, Iterable, Mapping
from urllib.parse import quote

from server.client.call import Call, json_value
from server.schemas.answers import (
    ActiveMetrics, Cancelled, Explanation, GlobalExplanation, Glossary, Health, MetricsHistory, Prediction, Pruned,
    Readiness, Rollback, Run, RunList, TrainStarted, VersionInfo, VersionList,
)
from server.schemas.monitoring import FeedbackAnswer, MonitoringSummary, Window
from server.schemas.oversight import AlertList, DeliveryList, DriftReport, Promoted, ShadowChanged, ShadowComparison, \
    ShadowList
from server.schemas.threshold import ThresholdChanged, ThresholdCurve, ThresholdState


def _tag(tag: str) -> str:
    return quote(str(tag), safe="")


def _body(**values: Any) -> dict[str, Any]:
    return {k: json_value(v) for k, v in values.items() if v is not None}


class Operations(abc.ABC):
    """The API's operations; subclasses implement `_call(call)` (a value, or an awaitable of one).

    In AsyncClient every method returns an awaitable of the type written here.
    """

    @abc.abstractmethod
    def _call(self, call: Call) -> Any:
        """Send one call: Client returns its value, AsyncClient an awaitable of it."""

    # health
    def health(self) -> Health:
        """GET /healthz."""
        return self._call(Call("GET", "/healthz", answer=Health))

    def ready(self) -> Readiness:
        """GET /readyz (a 503 raises ApiError whose `error` holds the readiness body)."""
        return self._call(Call("GET", "/readyz", answer=Readiness))

    # predict and explain
    def predict(self, record: Mapping[str, Any], *, threshold: float | None = None,
                observe: bool | None = None) -> Prediction:
        """Score one flow; `observe=False` keeps it out of the online windows (a what-if query)."""
        return self._call(Call("POST", "/api/predict", {"threshold": threshold, "observe": observe},
                               dict(record), Prediction))

    def predict_batch(self, records: Iterable[Mapping[str, Any]], *, threshold: float | None = None,
                      observe: bool | None = None) -> list[Prediction]:
        """Score a list of flows (at most `api.max_batch`); answers in the same order."""
        return self._call(Call("POST", "/api/predict", {"threshold": threshold, "observe": observe},
                               [dict(r) for r in records], list[Prediction]))

    def explain(self, record: Mapping[str, Any], *, n: int | None = None, collapse_pairs: bool | None = None,
                threshold: float | None = None) -> Explanation:
        """Local SHAP explanation of one flow: the `n` top contributions plus `other`."""
        query = {"n": n, "collapse_pairs": collapse_pairs, "threshold": threshold}
        return self._call(Call("POST", "/api/explain", query, dict(record), Explanation))

    def explain_global(self) -> GlobalExplanation:
        """Mean |SHAP| of the active version."""
        return self._call(Call("GET", "/api/explain/global", answer=GlobalExplanation))

    def glossary(self) -> Glossary:
        """What each feature of the active version means."""
        return self._call(Call("GET", "/api/glossary", answer=Glossary))

    # versions and metrics
    def metrics(self) -> ActiveMetrics:
        """Hold-out metrics of the active version."""
        return self._call(Call("GET", "/api/metrics", answer=ActiveMetrics))

    def metrics_history(self, limit: int | None = None) -> MetricsHistory:
        """Metrics of recent versions and rollbacks, oldest first."""
        return self._call(Call("GET", "/api/metrics/history", {"limit": limit}, answer=MetricsHistory))

    def versions(self) -> list[VersionInfo]:
        """Every version, newest first."""
        return self._call(Call("GET", "/api/versions/detail", answer=VersionList, unwrap="versions"))

    def rollback(self, tag: str, reason: str | None = None) -> Rollback:
        """Activate version `tag` (YYYYMMDD_HHMMSS); the active one gives changed=False."""
        return self._call(Call("POST", f"/api/versions/rollback/{_tag(tag)}", body=_body(reason=reason),
                               answer=Rollback))

    activate = rollback  # the API activates an older version through its rollback route

    def prune(self) -> Pruned:
        """Apply the retention policy now."""
        return self._call(Call("POST", "/api/versions/prune", answer=Pruned))

    # shadows and promotion
    def shadow_on(self, tag: str, reason: str | None = None) -> ShadowChanged:
        """Put a version in shadow: it scores live traffic beside the champion."""
        return self._call(Call("POST", f"/api/versions/{_tag(tag)}/shadow", body=_body(reason=reason),
                               answer=ShadowChanged))

    def shadow_off(self, tag: str) -> ShadowChanged:
        """Stop shadowing a version."""
        return self._call(Call("DELETE", f"/api/versions/{_tag(tag)}/shadow", answer=ShadowChanged))

    def shadow(self, tag: str) -> ShadowComparison:
        """A shadow's paired comparison with the champion."""
        return self._call(Call("GET", f"/api/versions/{_tag(tag)}/shadow", answer=ShadowComparison))

    def shadows(self) -> ShadowList:
        """Versions in shadow and their verdicts."""
        return self._call(Call("GET", "/api/shadows", answer=ShadowList))

    def promote(self, tag: str, reason: str) -> Promoted:
        """Promote a shadow to champion (the reason is required)."""
        return self._call(Call("POST", f"/api/versions/{_tag(tag)}/promote", body={"reason": reason},
                               answer=Promoted))

    # threshold
    def threshold(self, version: str | None = None, limit: int | None = None) -> ThresholdState:
        """The live threshold of the active (or a named) version and its audited changes."""
        return self._call(Call("GET", "/api/threshold", {"version": version, "limit": limit}, answer=ThresholdState))

    def set_threshold(self, threshold: float, reason: str, *, version: str | None = None,
                      cost_fn: float | None = None, cost_fp: float | None = None) -> ThresholdChanged:
        """Set the serving threshold without retraining (an audited change)."""
        body = _body(threshold=threshold, reason=reason, version=version, cost_fn=cost_fn, cost_fp=cost_fp)
        return self._call(Call("POST", "/api/threshold", body=body, answer=ThresholdChanged))

    def threshold_curve(self, version: str | None = None, cost_fn: float | None = None,
                        cost_fp: float | None = None) -> ThresholdCurve:
        """Precision, recall, F1 and expected cost per threshold."""
        query = {"version": version, "cost_fn": cost_fn, "cost_fp": cost_fp}
        return self._call(Call("GET", "/api/threshold/curve", query, answer=ThresholdCurve))

    # training
    def start_training(self, *, model_type: str | None = None, search_iterations: int | None = None,
                       rows: int | None = None, generate_data: bool | None = None, source: str | None = None,
                       since: int | str | dt.datetime | None = None, until: int | str | dt.datetime | None = None,
                       shadow: bool | None = None) -> TrainStarted:
        """Start a run and return at once (409 while another run is active)."""
        body = _body(model_type=model_type, search_iterations=search_iterations, rows=rows,
                     generate_data=generate_data, source=source, since=since, until=until, shadow=shadow)
        return self._call(Call("POST", "/api/train/async", body=body, answer=TrainStarted))

    def cancel(self, run_id: int) -> Cancelled:
        """Stop the active run."""
        return self._call(Call("POST", f"/api/train/{int(run_id)}/cancel", answer=Cancelled))

    def runs(self, limit: int | None = None) -> RunList:
        """Recent runs, newest first, and the active run's id."""
        return self._call(Call("GET", "/api/train/runs", {"limit": limit}, answer=RunList))

    def run(self, run_id: int) -> Run:
        """One run with its phases."""
        return self._call(Call("GET", f"/api/train/runs/{int(run_id)}", answer=Run))

    # monitoring
    def feedback(self, labels: Mapping[str, int] | Iterable[Mapping[str, Any]]) -> FeedbackAnswer:
        """Delayed labels: ``{prediction_id: 0 or 1}``, or items ``{"prediction_id", "congestion"}``
        (or ``{"source_ip", "dest_ip", "timestamp_seconds", "congestion"}``)."""
        if isinstance(labels, Mapping):
            items = [{"prediction_id": pid, "congestion": label} for pid, label in labels.items()]
        else:
            items = [dict(item) for item in labels]
        return self._call(Call("POST", "/api/feedback", body=items, answer=FeedbackAnswer))

    def windows(self, version: str | None = None, limit: int | None = None) -> list[Window]:
        """Monitoring windows, newest first."""
        return self._call(Call("GET", "/api/monitoring/windows", {"version": version, "limit": limit},
                               answer=list[Window]))

    def monitoring_summary(self, version: str | None = None) -> MonitoringSummary:
        """The latest window of a version beside its training-time baseline."""
        return self._call(Call("GET", "/api/monitoring/summary", {"version": version}, answer=MonitoringSummary))

    def drift(self, version: str | None = None, limit: int | None = None) -> DriftReport:
        """Drift reports per monitoring window, newest first."""
        return self._call(Call("GET", "/api/drift", {"version": version, "limit": limit}, answer=DriftReport))

    def alerts(self, status: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        """Alerts, newest first; status one of open, acknowledged, resolved, all."""
        return self._call(Call("GET", "/api/alerts", {"status": status, "limit": limit}, answer=AlertList,
                               unwrap="alerts"))

    def ack_alert(self, alert_id: int, by: str | None = None) -> dict[str, Any]:
        """Acknowledge an alert; the answer is the alert."""
        return self._call(Call("POST", f"/api/alerts/{int(alert_id)}/ack", body=_body(by=by)))

    def deliveries(self, alert_id: int) -> list[dict[str, Any]]:
        """Webhook delivery attempts of an alert."""
        return self._call(Call("GET", f"/api/alerts/{int(alert_id)}/deliveries", answer=DeliveryList,
                               unwrap="deliveries"))
