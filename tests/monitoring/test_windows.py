"""Windows from the API equal a pandas/scikit-learn recomputation on the logged rows; CBPE equals numpy's."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import brier_score_loss, f1_score, precision_score, recall_score, roc_auc_score

from tests import backends
from tests.monitoring.conftest import BASE_TS, flow
from tests.monitoring.helpers import fast_client, feedback, predict, wait_logged


def _logged(workdir) -> pd.DataFrame:
    rows = backends.execute_sql(workdir, "select id, window_start, version, probability, prediction, label, "
                                         "arrived_at, labelled_at from predictions")
    frame = pd.DataFrame(rows, columns=["id", "window_start", "version", "probability", "prediction", "label",
                                        "arrived_at", "labelled_at"])
    for column in ("arrived_at", "labelled_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True, format="ISO8601")
    return frame


def _calibrated(workdir, version: str, p: np.ndarray) -> np.ndarray:
    """The version's stored isotonic breakpoints applied by linear interpolation (identity if none)."""
    (extra,), = backends.execute_sql(workdir, "select m.extra from version_metrics m join model_versions v "
                                              f"on v.id = m.version_id where v.tag = '{version}'")
    calibration = (json.loads(extra) if isinstance(extra, str) else extra)["calibration"]
    if calibration["method"] != "isotonic":
        return p
    return np.interp(p, calibration["x"], calibration["y"])


def cbpe_f1(calibrated: np.ndarray, decisions: np.ndarray) -> float:
    """Independent CBPE: expected confusion matrix from calibrated probabilities."""
    tp = calibrated[decisions == 1].sum()
    fp = (1 - calibrated[decisions == 1]).sum()
    fn = calibrated[decisions == 0].sum()
    return 2 * tp / (2 * tp + fp + fn)


async def test_windows_equal_a_recomputation_from_the_logged_rows(aiohttp_client, trained_workdir):
    client = await fast_client(aiohttp_client, trained_workdir)
    rng = np.random.default_rng(5)
    sent = [flow(i, ts=BASE_TS + int(t)) for i, t in enumerate(rng.integers(0, 3 * 3600, 240))]
    answers = await predict(client, sent[:120], "?threshold=0.3") + await predict(client, sent[120:])
    await wait_logged(trained_workdir, 240)
    labels = rng.integers(0, 2, 240)
    chosen = rng.random(240) < 0.7
    items = [{"prediction_id": a["prediction_id"], "congestion": int(y)}
             for a, y, c in zip(answers, labels, chosen) if c]
    await feedback(client, items[:100])
    await feedback(client, items[100:])
    # a third of them change their mind: replaced labels must leave no trace
    flipped = [{**item, "congestion": 1 - item["congestion"]} for item in items[::3]]
    assert (await feedback(client, flipped))["replaced"] == len(flipped)
    windows = await (await client.get("/api/monitoring/windows?limit=10")).json()

    frame = _logged(trained_workdir)
    assert len(windows) == frame.groupby(["window_start", "version"]).ngroups == 3
    assert [w["start_timestamp"] for w in windows] == sorted(frame.window_start.unique(), reverse=True)
    for window in windows:
        rows = frame[(frame.window_start == window["start_timestamp"]) & (frame.version == window["version"])]
        labelled = rows[rows.label.notna()]
        y, d, p = labelled.label.astype(int), labelled.prediction, labelled.probability
        lag = (labelled.labelled_at - labelled.arrived_at).dt.total_seconds()
        assert window["predictions"] == len(rows)
        assert window["positive_rate"] == pytest.approx(rows.prediction.mean(), abs=1e-12)
        assert window["mean_probability"] == pytest.approx(rows.probability.mean(), abs=1e-12)
        assert window["labelled"] == len(labelled)
        assert window["label_coverage"] == pytest.approx(len(labelled) / len(rows), abs=1e-12)
        assert window["label_lag_p50_s"] == pytest.approx(np.quantile(lag, 0.5), abs=1e-6)
        assert window["label_lag_p95_s"] == pytest.approx(np.quantile(lag, 0.95), abs=1e-6)
        realised = window["realised"]
        assert realised["precision"] == pytest.approx(precision_score(y, d, zero_division=0), abs=1e-9)
        assert realised["recall"] == pytest.approx(recall_score(y, d), abs=1e-9)
        assert realised["f1"] == pytest.approx(f1_score(y, d), abs=1e-9)
        assert realised["roc_auc"] == pytest.approx(roc_auc_score(y, p), abs=1e-9)
        assert realised["brier"] == pytest.approx(brier_score_loss(y, p), abs=1e-9)
        estimated = window["estimated"]
        calibrated = _calibrated(trained_workdir, window["version"], rows.probability.to_numpy())
        assert estimated["f1"] == pytest.approx(cbpe_f1(calibrated, rows.prediction.to_numpy()), abs=1e-9)
        low, high = estimated["band"]["f1"]
        assert low <= estimated["f1"] <= high


def test_a_window_state_survives_json_and_merges_by_addition():
    from server.monitoring.accumulators import PredictionBatch, PredictionsPart
    from server.monitoring.estimate import estimate

    rng = np.random.default_rng(1)
    p = rng.random(500)
    d = (p >= 0.4).astype(int)
    whole, a, b = PredictionsPart(), PredictionsPart(), PredictionsPart()
    whole.add(PredictionBatch(p, d, p))
    a.add(PredictionBatch(p[:200], d[:200], p[:200]))
    b.add(PredictionBatch(p[200:], d[200:], p[200:]))
    merged = PredictionsPart.from_state(json.loads(json.dumps(a.state())))
    merged.merge(PredictionsPart.from_state(json.loads(json.dumps(b.state()))))
    assert estimate(merged)["f1"] == pytest.approx(estimate(whole)["f1"], abs=1e-12)
    assert estimate(merged)["roc_auc"] == pytest.approx(estimate(whole)["roc_auc"], abs=1e-12)
    assert estimate(whole)["f1"] == pytest.approx(cbpe_f1(p, d), abs=1e-12)


@pytest.mark.parametrize("span_windows", [1, 3])
async def test_the_f1_rules_read_a_span_of_windows_with_counts_summed(aiohttp_client, trained_workdir, span_windows):
    """alerts.f1_span_s: realised F1 over the span before the closing window, estimated up to it."""
    from server import keys
    from server.monitoring.windows import f1_sigma

    client = await fast_client(aiohttp_client, trained_workdir,
                               CONGESTION_ALERTS__F1_SPAN_S=str(span_windows * 3600))
    rng = np.random.default_rng(8)
    sent = [flow(i, ts=BASE_TS + int(t)) for i, t in enumerate(rng.integers(0, 4 * 3600, 320))]
    answers = await predict(client, sent)
    await wait_logged(trained_workdir, 320)
    labels = rng.integers(0, 2, 320)
    await feedback(client, [{"prediction_id": a["prediction_id"], "congestion": int(y)} for a, y in zip(answers, labels)])

    frame = _logged(trained_workdir)
    version = frame.version.iloc[0]
    closing = int(frame.window_start.max())  # the fourth window
    performance = await client.app[keys.DRIFT].performance(version, closing)
    realised_rows = frame[(frame.window_start < closing) & (frame.window_start >= closing - span_windows * 3600)]
    y, d = realised_rows.label.astype(int), realised_rows.prediction
    assert performance["span_windows"] == span_windows
    assert performance["realised"]["f1"] == pytest.approx(f1_score(y, d), abs=1e-9)
    tp, fp, fn = int(((y == 1) & (d == 1)).sum()), int(((y == 0) & (d == 1)).sum()), int(((y == 1) & (d == 0)).sum())
    assert performance["realised"]["sigma"]["f1"] == pytest.approx(f1_sigma(tp, fp, fn))
    estimated_rows = frame[frame.window_start > closing - span_windows * 3600]
    calibrated = _calibrated(trained_workdir, version, estimated_rows.probability.to_numpy())
    assert performance["estimated"]["f1"] == pytest.approx(cbpe_f1(calibrated, estimated_rows.prediction.to_numpy()),
                                                           abs=1e-9)
    previous = frame[frame.window_start == closing - 3600]
    assert performance["label_coverage"] == pytest.approx(previous.label.notna().mean())
    # A span reaching back before the version's first window is not judged: it would compare
    # part of a daily cycle with whole days.
    from server.monitoring.drift_service import window_performance

    monitoring = client.app[keys.MONITORING]
    too_long = await window_performance(monitoring, 3600, 4 * 3600)(version, closing)
    assert too_long["realised"] is None and too_long["estimated"] is not None  # 4 before; 4 up to it
    assert too_long["label_coverage"] == performance["label_coverage"]
    longest = await window_performance(monitoring, 3600, 3 * 3600)(version, closing)
    assert longest["realised"] is not None
