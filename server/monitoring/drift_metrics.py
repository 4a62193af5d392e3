"""Prometheus gauges of the latest drift report per version and of alert state, read at scrape time."""
from __future__ import annotations

from prometheus_client.core import GaugeMetricFamily


class DriftCollector:
    """Collector registered on the server's metrics registry; reads the drift service's state."""

    def __init__(self, service) -> None:
        self._service = service

    def describe(self):
        """No fixed descriptions: the families depend on what has been seen (avoids a collect at register)."""
        return []

    def collect(self):
        statistic = GaugeMetricFamily("congestion_drift_statistic",
                                      "Latest window's drift statistic per column (p-value or distance)",
                                      labels=["version", "column", "test"])
        threshold = GaugeMetricFamily("congestion_drift_threshold", "Threshold of that column's test",
                                      labels=["version", "column", "test"])
        drifted = GaugeMetricFamily("congestion_drift_column_drifted", "1 if the column drifted in the latest window",
                                    labels=["version", "column"])
        dataset = GaugeMetricFamily("congestion_drift_dataset_share",
                                    "Share of monitored columns drifting in the latest window", labels=["version"])
        dataset_drift = GaugeMetricFamily("congestion_drift_dataset_drifted",
                                          "1 if the latest window shows dataset drift", labels=["version"])
        prediction = GaugeMetricFamily("congestion_drift_prediction_statistic",
                                       "Normed Wasserstein distance of the probabilities from the hold-out's",
                                       labels=["version"])
        rows = GaugeMetricFamily("congestion_drift_window_rows", "Flows in the latest reported window",
                                 labels=["version"])
        for version, report in sorted(self._service.latest.items()):
            rows.add_metric([version], report.get("rows", 0))
            for column, test in sorted(report.get("columns", {}).items()):
                statistic.add_metric([version, column, test["test"]], test["statistic"])
                threshold.add_metric([version, column, test["test"]], test["threshold"])
                drifted.add_metric([version, column], 1.0 if test["drift"] else 0.0)
            if report.get("dataset"):
                dataset.add_metric([version], report["dataset"]["share"])
                dataset_drift.add_metric([version], 1.0 if report["dataset"]["drift"] else 0.0)
            if report.get("prediction"):
                prediction.add_metric([version], report["prediction"]["statistic"])
        baseline = GaugeMetricFamily("congestion_drift_baseline_f1", "Hold-out F1 of the version (alert baseline)",
                                     labels=["version"])
        for version, profile in sorted(self._service.profiles().items()):
            f1 = ((profile or {}).get("baseline") or {}).get("f1")
            if f1 is not None:
                baseline.add_metric([version], f1)
        alerts = GaugeMetricFamily("congestion_alert_open", "1 while an alert of the rule is open for the version",
                                   labels=["rule", "version"])
        for version, rule, is_open in self._service.alert_state():
            alerts.add_metric([rule, version], 1.0 if is_open else 0.0)
        yield from (statistic, threshold, drifted, dataset, dataset_drift, prediction, rows, baseline, alerts)
