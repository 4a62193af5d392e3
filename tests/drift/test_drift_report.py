"""Reference profile vs window sketch: tests equal scipy on the rows, shifts are named."""
import numpy as np
import pandas as pd
import pytest
from scipy import spatial, stats

from server.ml.generator import BASE_EPOCH, generate_flows
from server.ml.profile import DEST_SUBNET, QUANTILE_POINTS, build_profile, categorical_frame, numeric_columns
from server.ml.windows import compute_aggregates
from server.monitoring.drift import DriftSettings, window_report
from server.monitoring.drift_sketch import WindowSketch

WINDOWS = [60, 600]
SHAP = {"groups": [{"feature": "bytes_sent", "importance": 0.2}, {"feature": "dest_ip", "importance": 0.1}]}


def _frame(rows: int, seed: int, scenario: dict | None = None) -> pd.DataFrame:
    flows = generate_flows(rows, seed, scenario=scenario)
    return pd.concat([flows, compute_aggregates(flows, WINDOWS, 24)], axis=1)


def _sketch(frame: pd.DataFrame, proba: np.ndarray, reservoir: int = 5000) -> WindowSketch:
    sketch = WindowSketch(int(frame["timestamp_seconds"].min()), numeric_columns(WINDOWS),
                          ("protocol", DEST_SUBNET), reservoir)
    columns = {c: frame[c].to_numpy() for c in numeric_columns(WINDOWS)}
    columns.update(categorical_frame(frame, 24, 64))
    sketch.add(columns, proba)
    return sketch


@pytest.fixture(scope="module")
def reference() -> tuple[pd.DataFrame, dict]:
    frame = _frame(6000, 4)
    proba = frame["p_true"].to_numpy()
    return frame, build_profile(frame, proba, SHAP, WINDOWS)


def test_profile_is_small_and_holds_no_records(reference):
    frame, profile = reference
    assert profile["rows"] == len(frame)
    assert all(len(c["sketch"]) == QUANTILE_POINTS for c in profile["numeric"].values())
    assert set(profile["categorical"]) == {"protocol", DEST_SUBNET}
    assert profile["categorical"]["protocol"]["TCP"] == int((frame["protocol"] == "TCP").sum())
    assert profile["shap_groups"] == {"bytes_sent": 0.2, "dest_ip": 0.1}
    assert "source_ip" not in profile["numeric"] and "source_ip" not in profile["categorical"]


def test_window_statistics_equal_scipy_on_the_window_rows(reference):
    frame, profile = reference
    window = _frame(3000, 9).iloc[:800]
    sketch = _sketch(window, window["p_true"].to_numpy())
    report = window_report(profile, sketch, DriftSettings())
    ref_sketch = np.asarray(profile["numeric"]["bytes_sent"]["sketch"])
    expected = stats.wasserstein_distance(ref_sketch, window["bytes_sent"].to_numpy(float))
    assert report["columns"]["bytes_sent"]["test"] == "wasserstein"
    assert report["columns"]["bytes_sent"]["statistic"] == pytest.approx(
        expected / profile["numeric"]["bytes_sent"]["std"], rel=1e-12)
    ref_counts = profile["categorical"]["protocol"]
    cur_counts = window["protocol"].value_counts()
    keys = sorted(set(ref_counts) | set(cur_counts.index))
    p = np.array([ref_counts.get(k, 0) for k in keys], float)
    q = np.array([cur_counts.get(k, 0) for k in keys], float)
    assert report["columns"]["protocol"]["statistic"] == pytest.approx(
        spatial.distance.jensenshannon(p / p.sum(), q / q.sum()), rel=1e-12)


def test_new_subnets_are_named(reference):
    _, profile = reference
    start = BASE_EPOCH + 3 * 86_400
    shifted = _frame(6000, 9, {"new_subnets": 5, "start_timestamp": start})
    after = shifted[shifted["timestamp_seconds"] >= start]
    report = window_report(profile, _sketch(after, after["p_true"].to_numpy()), DriftSettings(segment_min_rows=10))
    assert report["columns"][DEST_SUBNET]["drift"]
    appeared = [s for s in report["segments"] if s["change"] == "appeared"]
    assert appeared and all(s["segment"].startswith("172.31.") for s in appeared)
    assert "appeared" in appeared[0]["message"]


def test_small_windows_are_reported_as_too_small(reference):
    _, profile = reference
    window = _frame(3000, 9).iloc[:20]
    report = window_report(profile, _sketch(window, window["p_true"].to_numpy()), DriftSettings(min_window_rows=50))
    assert report["status"] == "too_small" and report["dataset"] is None


def test_reservoir_is_bounded_and_exact_below_its_size():
    sketch = WindowSketch(0, ("x",), (), reservoir=100)
    values = np.arange(50, dtype=float)
    sketch.add({"x": values}, values / 100)
    assert sorted(sketch.values("x")) == list(values)
    sketch.add({"x": np.arange(50, 10_000, dtype=float)}, np.zeros(9950))
    assert len(sketch.values("x")) == 100 and sketch.rows == 10_000
    assert sketch.values("x").max() > 1000  # later rows do get in


def test_flows_to_subnets_the_reference_never_saw_drift_the_column_by_their_share(reference):
    frame, profile = reference
    window = _frame(3000, 9).iloc[:400].copy()
    window.loc[window.index[:100], "dest_ip"] = [f"172.31.{i % 5}.{1 + i % 20}" for i in range(100)]
    sketch = _sketch(window, window["p_true"].to_numpy())
    seen = set(profile["categorical"][DEST_SUBNET])
    expected = float(np.mean([b not in seen for b in categorical_frame(window, 24, 64)[DEST_SUBNET]]))
    assert expected >= 0.25
    off = window_report(profile, sketch, DriftSettings(columns=(DEST_SUBNET,)))
    column = off["columns"][DEST_SUBNET]
    assert column["unseen"]["share"] == pytest.approx(expected, abs=1e-12)
    assert column["unseen"]["drift"] is False  # the unseen check is off by default (Evidently's tests only)
    assert column["drift"] is (column["statistic"] >= column["threshold"])
    on = window_report(profile, sketch, DriftSettings(columns=(DEST_SUBNET,), unseen_share=0.2,
                                                      thresholds={"jensen_shannon": 1.0}))
    assert on["columns"][DEST_SUBNET]["unseen"] == {"share": pytest.approx(expected), "threshold": 0.2, "drift": True}
    assert on["columns"][DEST_SUBNET]["drift"] and on["dataset"]["drift"]
    assert on["columns"][DEST_SUBNET]["statistic"] < 1.0  # the distribution test alone would not fire
    quiet = window_report(profile, _sketch(_frame(3000, 9).iloc[:400], np.zeros(400)),
                          DriftSettings(columns=(DEST_SUBNET,), unseen_share=0.2, thresholds={"jensen_shannon": 1.0}))
    assert quiet["columns"][DEST_SUBNET]["unseen"]["share"] == 0.0 and not quiet["dataset"]["drift"]
