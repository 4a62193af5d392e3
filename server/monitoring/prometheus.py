"""Prometheus series of live monitoring: latest window per version, and the log's own health."""
from __future__ import annotations

from prometheus_client import CollectorRegistry, Gauge
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily


class MonitoringGauges:
    """Gauges set from the latest window of each version (refreshed by the service)."""

    def __init__(self, registry: CollectorRegistry, recorder) -> None:
        self.f1 = Gauge("congestion_monitoring_f1", "F1 of the latest monitoring window (realised or CBPE-estimated)",
                        ["version", "kind"], registry=registry)
        self.coverage = Gauge("congestion_monitoring_label_coverage",
                              "Share of the latest window's predictions that have a label", ["version"], registry=registry)
        self.rate = Gauge("congestion_monitoring_prediction_rate",
                          "Predictions per second of event time in the latest window", ["version"], registry=registry)
        registry.register(_LogHealth(recorder))

    def update(self, windows: list[dict], window_s: int) -> None:
        latest: dict[str, dict] = {}
        for window in windows:  # newest first: keep each version's first
            latest.setdefault(window["version"], window)
        for version, window in latest.items():
            for kind in ("realised", "estimated"):
                value = (window[kind] or {}).get("f1")
                self.f1.labels(version, kind).set(float("nan") if value is None else value)
            coverage = window["label_coverage"]
            self.coverage.labels(version).set(float("nan") if coverage is None else coverage)
            self.rate.labels(version).set(window["predictions"] / window_s)


class _LogHealth:
    """The recorder's counters, read at scrape time."""

    def __init__(self, recorder) -> None:
        self._recorder = recorder

    def collect(self):
        dropped = CounterMetricFamily("congestion_prediction_log_dropped",
                                      "Predictions served but not logged because the log queue was full")
        dropped.add_metric([], self._recorder.dropped)
        queued = GaugeMetricFamily("congestion_prediction_log_queued", "Predictions waiting for the log writer")
        queued.add_metric([], self._recorder.queued)
        yield dropped
        yield queued
