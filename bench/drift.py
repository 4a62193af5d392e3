"""Score the server's drift detectors on generated traffic with shifts injected at a known time.

One reference model (and its profile) is trained on scenario-free traffic; then for every seed
and scenario the generator's flows around the shift start are scored and fed, window by window,
through the server's own `DriftWindows`, `window_report`, `PageHinkley` and `SeasonalRate`.
Thresholds are calibrated on seeds 0-9 (the 99th percentile of each column's statistic on
shift-free windows) and the table is reported on seeds 10-29. Labels reach the error-stream detector one
window late. Usage: python bench/drift.py [--seeds 30] [--rows 40000]
"""
from __future__ import annotations

import argparse
import io
import time

import joblib
import numpy as np
import pandas as pd

from server.config import load_config
from server.ml.generator import BASE_EPOCH, generate_flows
from server.ml.profile import CATEGORICAL, numeric_columns
from server.ml.windows import compute_aggregates
from server.ml.worker import run_training
from server.monitoring.detectors import PageHinkley, SeasonalRate
from server.monitoring.drift import DriftSettings, window_report
from server.monitoring.drift_windows import DriftWindows, frame_columns

WINDOW_S = 3600
START = BASE_EPOCH + 10 * 86_400 + 12 * 3600  # Thursday noon, day 10
BEFORE, AFTER = 24, 12  # windows scored before and after the start
SCENARIOS = {"none": {}, "load_multiplier=2": {"load_multiplier": 2.0}, "load_multiplier=3": {"load_multiplier": 3.0},
             "peak_hour_shift=6": {"peak_hour_shift": 6}, "protocol_mix_shift=0.5": {"protocol_mix_shift": 0.5},
             "new_subnets=5": {"new_subnets": 5}, "label_prior_shift=1.0": {"label_prior_shift": 1.0}}
DETECTORS = ("dataset", "prediction", "probability_ph", "rate", "label_free_any", "error_ph")
PH_GRID = (5.0, 10.0, 20.0, 40.0, 80.0)
RATE_GRID = (1.5, 2.0, 3.0)


def reference(rows: int) -> tuple[object, dict]:
    """Train the reference model on shift-free seed-1000 traffic of the same volume."""
    cfg = load_config(environ={}).ml_snapshot()
    cfg["data"].update(rows=rows, seed=1000)
    cfg["model"].update(search_iterations=1, cv_splits=2, shap_sample=200, n_jobs=1)
    result = run_training({"config": cfg})
    return joblib.load(io.BytesIO(result["pipeline"])), result["profile"]


def stream(pipeline, profile: dict, rows: int, seed: int, scenario: dict) -> list[dict]:
    """Per scored window: statistics of every detector (verdicts are applied after calibration)."""
    flows = generate_flows(rows, seed, scenario={**scenario, "start_timestamp": START})
    agg = compute_aggregates(flows, [60, 600], 24)
    frame = pd.concat([flows, agg], axis=1)
    ts = frame["timestamp_seconds"].to_numpy()
    starts = ts // WINDOW_S * WINDOW_S
    rates = {f: SeasonalRate(WINDOW_S, factor=f) for f in RATE_GRID}
    first, last = START - BEFORE * WINDOW_S, START + AFTER * WINDOW_S
    for w in range(first - 7 * 86_400, first, WINDOW_S):  # a week of traffic counts as the rate's history
        for rate in rates.values():
            rate.update(w, int((starts == w).sum()))
    numeric = numeric_columns([60, 600])
    windows = DriftWindows(WINDOW_S, numeric, CATEGORICAL, reservoir=1000)
    ph = {t: PageHinkley(delta=0.005, threshold=t) for t in PH_GRID}
    ph_err = {t: PageHinkley(delta=0.005, threshold=t) for t in PH_GRID}
    settings = DriftSettings(min_window_rows=100)
    out, pending_errors = [], None
    for w in range(first, last, WINDOW_S):
        part = frame[starts == w]
        proba = pipeline.predict_proba(part[[c for c in part.columns if c not in ("congestion", "p_true")]])[:, 1]
        closed = windows.add("v", part["timestamp_seconds"].to_numpy(), frame_columns(part, numeric), proba)
        closed += windows.close_all()
        report = window_report(profile, closed[0].sketch, settings) if closed else {"status": "empty"}
        row = {"window": (w - START) // WINDOW_S, "rows": len(part), "status": report["status"]}
        if report["status"] == "ok":
            row["columns"] = {c: t["statistic"] for c, t in report["columns"].items() if t["monitored"]}
            row["tests"] = {c: t["test"] for c, t in report["columns"].items() if t["monitored"]}
            row["prediction"] = report["prediction"]["statistic"]
        row["ph"] = {t: any(d.update(float(p)).drift_detected for p in proba) for t, d in ph.items()}
        row["rate"] = {f: r.update(w, len(part))["drift"] for f, r in rates.items()}
        # Labels of the previous window arrive now: 0/1 errors at the server's default threshold.
        row["ph_err"] = {t: False for t in PH_GRID}
        if pending_errors is not None:
            row["ph_err"] = {t: any(d.update(float(e)).drift_detected for e in pending_errors) for t, d in ph_err.items()}
        pending_errors = (proba >= 0.5).astype(int) != part["congestion"].to_numpy()
        out.append(row)
    return out


def calibrate(runs: list[list[dict]]) -> dict:
    """Thresholds: the 99th percentile of each statistic on shift-free windows; smallest quiet PH/rate."""
    quiet = [r for run in runs for r in run if r["window"] < 0 and r["status"] == "ok"]
    cal = {}
    for column in quiet[0]["columns"]:  # per column: their quiet spread differs (heavy-tailed bytes)
        cal[column] = float(np.quantile([r["columns"][column] for r in quiet if column in r["columns"]], 0.99))
    cal["prediction"] = float(np.quantile([r["prediction"] for r in quiet], 0.99))
    for key, grid in (("ph", PH_GRID), ("rate", RATE_GRID), ("ph_err", PH_GRID)):
        rows = [r for run in runs for r in run if r["window"] < 0]
        cal[key] = next((g for g in grid if np.mean([r[key][g] for r in rows]) <= 0.02), grid[-1])
    return cal


def verdicts(row: dict, cal: dict, share: float = 0.5) -> dict[str, bool]:
    """Each detector's verdict on one window under calibrated thresholds."""
    ok = row["status"] == "ok"
    drifted = [c for c, v in row.get("columns", {}).items() if v >= cal[c]] if ok else []
    out = {"dataset": ok and len(drifted) / max(len(row["columns"]), 1) >= share,
           "prediction": ok and row["prediction"] >= cal["prediction"],
           "probability_ph": row["ph"][cal["ph"]], "rate": row["rate"][cal["rate"]],
           "error_ph": row["ph_err"][cal["ph_err"]]}
    out["label_free_any"] = out["dataset"] or out["prediction"] or out["probability_ph"] or out["rate"]
    return out


def table(runs: dict[str, list[list[dict]]], cal: dict) -> None:
    """Delay (windows, median over seeds), misses, false-alarm rate before the shift and on none."""
    print(f"{'scenario':24} {'detector':16} {'delay p50':>9} {'max':>4} {'missed':>7} {'FA before':>9}")
    for name, seed_runs in runs.items():
        for detector in DETECTORS:
            delays, fa = [], []
            for run in seed_runs:
                v = [(r["window"], verdicts(r, cal)[detector]) for r in run]
                fa += [fired for w, fired in v if w < 0]
                hits = [w for w, fired in v if w >= 0 and fired]
                delays.append(hits[0] if hits else None)
            found = [d for d in delays if d is not None]
            missed = "-" if name == "none" else f"{len(delays) - len(found)}/{len(delays)}"
            p50 = "-" if name == "none" or not found else f"{np.median(found):.0f}"
            worst = "-" if name == "none" or not found else f"{max(found)}"
            rate = np.mean(fa + ([fired for run in seed_runs for r in run if r["window"] >= 0
                                  for fired in [verdicts(r, cal)[detector]]] if name == "none" else []))
            print(f"{name:24} {detector:16} {p50:>9} {worst:>4} {missed:>7} {rate:>9.1%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=30)
    parser.add_argument("--rows", type=int, default=40_000)
    args = parser.parse_args()
    began = time.perf_counter()
    pipeline, profile = reference(args.rows)
    print(f"reference model trained in {time.perf_counter() - began:.0f} s ({profile['rows']} hold-out rows)")
    calibration = list(range(min(10, args.seeds)))
    report = list(range(10, args.seeds)) or calibration
    runs = {name: {s: stream(pipeline, profile, args.rows, s, scen) for s in calibration + report}
            for name, scen in SCENARIOS.items()}
    cal = calibrate([runs[name][s] for name in SCENARIOS for s in calibration])
    print("calibrated on seeds 0-9:", {k: round(v, 4) if isinstance(v, float) else v for k, v in cal.items()})
    print(f"reported on seeds {report[0]}-{report[-1]}; window {WINDOW_S} s, shift at window 0, "
          f"{BEFORE} windows before, {AFTER} after; delay in windows from the start")
    table({name: [runs[name][s] for s in report] for name in SCENARIOS}, cal)
    print(f"total {time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()
