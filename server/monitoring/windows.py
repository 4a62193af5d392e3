"""Windows of event time and their summaries: a pure function of the parts' merged states.

A window is `[k * window_s, (k + 1) * window_s)` of the flows' `timestamp_seconds` (UTC), per
version. Parts are accumulators keyed by name: the built-in `predictions` (fed by the log
writer) and `labels` (fed by feedback). Other per-window accumulators (drift sketches, a shadow
challenger's scores) register a class in PREDICTION_PARTS with `add(PredictionBatch)`,
`merge`, `state()` and `from_state()`; the writer then feeds and persists them with the rest,
keyed by prediction_id's window, and `merged_parts` hands them back merged across processes.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from server.monitoring.accumulators import LabelsPart, PredictionsPart
from server.monitoring.counts import auc, quantile

PREDICTION_PARTS: dict[str, Any] = {PredictionsPart.part: PredictionsPart}
LABEL_PARTS: dict[str, Any] = {LabelsPart.part: LabelsPart}


def register_part(cls: Any) -> Any:
    """Class decorator: feed this accumulator every logged prediction batch (see module doc)."""
    PREDICTION_PARTS[cls.part] = cls
    return cls


def all_parts() -> dict[str, Any]:
    return {**PREDICTION_PARTS, **LABEL_PARTS}


def window_start(timestamp_seconds: int, window_s: int) -> int:
    return timestamp_seconds - timestamp_seconds % window_s


def merged_parts(states: list[tuple[int, str, str, dict]]) -> dict[tuple[int, str], dict[str, Any]]:
    """(window_start, version) -> part name -> accumulator merged over every writer's state."""
    registry = all_parts()
    out: dict[tuple[int, str], dict[str, Any]] = {}
    for start, version, part, state in states:
        cls = registry.get(part)
        if cls is None:
            continue
        parts = out.setdefault((start, version), {})
        loaded = cls.from_state(state)
        if part in parts:
            parts[part].merge(loaded)
        else:
            parts[part] = loaded
    return out


def _iso(unix_s: int) -> str:
    return datetime.fromtimestamp(unix_s, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def realised(labels: LabelsPart) -> dict[str, Any] | None:
    """Metrics on the labelled predictions at the decisions served (threshold of the time)."""
    if labels.labelled <= 0:
        return None
    tp, fp, fn, tn = labels.tp, labels.fp, labels.fn, labels.tn
    precision = tp / (tp + fp) if tp + fp else None
    recall = tp / (tp + fn) if tp + fn else None
    f1 = 2 * tp / (2 * tp + fp + fn) if 2 * tp + fp + fn else None
    values, weights = labels.scores.sorted()
    return {"precision": precision, "recall": recall, "f1": f1, "sigma": {"f1": f1_sigma(tp, fp, fn)},
            "roc_auc": auc(values, weights[:, 0], weights[:, 1]) if len(values) else None,
            "brier": labels.squared_error / labels.labelled,
            "confusion": {"tp": tp, "fp": fp, "fn": fn, "tn": tn}}


def f1_sigma(tp: float, fp: float, fn: float) -> float:
    """Standard error of F1 = 2TP / (2TP + FP + FN) over a multinomial sample of labelled rows.

    Delta method; F1 is scale-free in the counts, so the sample size cancels out:
    var = 4 TP (FP + FN) (TP + FP + FN) / (2TP + FP + FN)^4.
    """
    denominator = 2 * tp + fp + fn
    if denominator <= 0:
        return 0.0
    return 2.0 * (tp * (fp + fn) * (tp + fp + fn)) ** 0.5 / denominator**2


def summarise_span(parts_by_start: dict[int, dict[str, Any]], first: int, last: int, version: str,
                   window_s: int) -> dict[str, Any] | None:
    """One summary of the windows starting in [first, last], their parts summed (None if empty).

    The given parts are left as they are: spans that overlap can be cut from the same dict.
    """
    total: dict[str, Any] = {}
    for start in range(first, last + 1, window_s):
        for name, part in parts_by_start.get(start, {}).items():
            if name in total:
                total[name].merge(part)
            else:
                total[name] = type(part).from_state(part.state())
    return summarise(first, version, total, last + window_s - first) if total else None


def summarise(start: int, version: str, parts: dict[str, Any], window_s: int) -> dict[str, Any]:
    """One window as the API and the `monitoring_window` event show it."""
    from server.monitoring.estimate import estimate

    predictions: PredictionsPart = parts.get(PredictionsPart.part) or PredictionsPart()
    labels: LabelsPart = parts.get(LabelsPart.part) or LabelsPart()
    n = predictions.n
    lag_values, lag_counts = labels.lags.sorted()
    lag_counts = lag_counts[:, 0] if len(lag_values) else lag_counts
    return {
        "start": _iso(start), "end": _iso(start + window_s), "start_timestamp": start,
        "version": version, "predictions": n,
        "positive_rate": predictions.positives / n if n else None,
        "mean_probability": predictions.sum_probability / n if n else None,
        "labelled": labels.labelled,
        "label_coverage": labels.labelled / n if n else None,
        "label_lag_p50_s": quantile(lag_values, lag_counts, 0.5) if len(lag_values) else None,
        "label_lag_p95_s": quantile(lag_values, lag_counts, 0.95) if len(lag_values) else None,
        "realised": realised(labels),
        "estimated": estimate(predictions),
    }
