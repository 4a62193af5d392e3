"""Score the server's drift detectors on generated traffic with shifts injected at a known time.

One reference model (and its profile) is trained on scenario-free traffic; then for every seed
and scenario the generator's flows around the shift start are scored and fed, window by window,
through the server's own `DriftWindows`, `window_report`, `PageHinkley` and `SeasonalRate`.
Thresholds are calibrated on seeds 0-9 to a target false-alarm rate (`--target-fa`, share of
shift-free windows: every window of `none` and those before the start elsewhere): one threshold per
test kind (Wasserstein, Jensen-Shannon, prediction, unseen-category share) at the quantile of
quiet windows' statistics that keeps the dataset verdict under the target, and the Page-Hinkley
(threshold, forgetting) pair that detects best among those under it. The table is reported on
seeds 10-29, which calibrate nothing. Labels reach the error-stream detector one window late.
Usage: python bench/drift.py [--seeds 30] [--rows 40000] [--target-fa 0.03] [--workdir DIR]
"""
from __future__ import annotations

import argparse
import io
import time
from pathlib import Path

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
DETECTORS = ("dataset_share_0.5", "dataset_any", "prediction", "probability_ph", "rate", "label_free_any",
             "error_ph", "f1_drop", "estimated_f1_drop")
PH_GRID = tuple((t, a) for t in (5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 60.0, 80.0) for a in (1.0, 0.999))
RATE_GRID = (1.5, 2.0, 3.0)
DISTANCE_TESTS = ("wasserstein", "jensenshannon")
F1_DROP = 0.05  # alerts.f1_drop; the calibration picks alerts.f1_drop_sigmas on top of it
SIGMA_GRID = (0.0, 1.0, 2.0, 3.0)
SPAN_GRID = (1, 6, 12, 24)  # alerts.f1_span_s in windows


def reference(rows: int) -> tuple[object, dict]:
    """Train the reference model on shift-free seed-1000 traffic of the same volume."""
    cfg = load_config(environ={}).ml_snapshot()
    cfg["data"].update(rows=rows, seed=1000)
    cfg["model"].update(search_iterations=1, cv_splits=2, shap_sample=200, n_jobs=1)
    result = run_training({"config": cfg})
    profile = {**result["profile"], "calibration": result["metrics"].get("calibration")}
    return joblib.load(io.BytesIO(result["pipeline"])), profile


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
    ph = {(t, a): PageHinkley(delta=0.005, threshold=t, alpha=a) for t, a in PH_GRID}
    ph_err = {(t, a): PageHinkley(delta=0.005, threshold=t, alpha=a) for t, a in PH_GRID}
    settings = DriftSettings(min_window_rows=100)
    probabilities = {}  # per window, scored once: the detectors and the F1 spans (a day of history) share them
    for w in range(first - max(SPAN_GRID) * WINDOW_S, last, WINDOW_S):
        part = frame[starts == w]
        if len(part):
            features = part[[c for c in part.columns if c not in ("congestion", "p_true")]]
            probabilities[w] = pipeline.predict_proba(features)[:, 1]
    spans = f1_spans(probabilities, profile, frame, starts, first, last)
    out, pending_errors = [], None
    for w in range(first, last, WINDOW_S):
        part = frame[starts == w]
        proba = probabilities[w]
        # One DriftWindows per window: close_all() ends a replay (later flows count as late), so a
        # shared one scored only the first window of each run and reported every later one empty.
        windows = DriftWindows(WINDOW_S, numeric, CATEGORICAL, reservoir=1000)
        closed = windows.add("v", part["timestamp_seconds"].to_numpy(), frame_columns(part, numeric), proba)
        closed += windows.close_all()
        report = window_report(profile, closed[0].sketch, settings) if closed else {"status": "empty"}
        row = {"window": (w - START) // WINDOW_S, "rows": len(part), "status": report["status"]}
        if report["status"] == "ok":
            row["columns"] = {c: t["statistic"] for c, t in report["columns"].items() if t["monitored"]}
            row["tests"] = {c: t["test"] for c, t in report["columns"].items() if t["monitored"]}
            row["unseen"] = {c: t["unseen"]["share"] for c, t in report["columns"].items()
                             if t["monitored"] and "unseen" in t}
            row["prediction"] = report["prediction"]["statistic"]
        row["ph"] = {t: any(d.update(float(p)).drift_detected for p in proba) for t, d in ph.items()}
        row["rate"] = {f: r.update(w, len(part))["drift"] for f, r in rates.items()}
        # Labels of the previous window arrive now: 0/1 errors at the server's default threshold.
        row["ph_err"] = {t: False for t in PH_GRID}
        if pending_errors is not None:
            row["ph_err"] = {t: any(d.update(float(e)).drift_detected for e in pending_errors) for t, d in ph_err.items()}
        pending_errors = (proba >= 0.5).astype(int) != part["congestion"].to_numpy()
        row["f1"], row["est_f1"] = spans[w]
        out.append(row)
    return out


def f1_spans(probabilities: dict[int, np.ndarray], profile: dict, frame: pd.DataFrame, starts: np.ndarray,
             first: int, last: int) -> dict:
    """Per scored window: the f1_drop / estimated_f1_drop verdicts per (span in windows, sigmas).

    As the server's rules: the realised F1 of the span's windows before this one (labels come a
    window late), the CBPE estimate of the span up to this one, both from counts summed over the
    span, against the pooled hold-out F1 less alerts.f1_drop and sigmas standard errors. Windows
    of the day before the first scored one count as history.
    """
    from server.ml.calibration import apply_calibration
    from server.monitoring.accumulators import LabelsPart, PredictionBatch, PredictionsPart
    from server.monitoring.alerts import f1_drops
    from server.monitoring.windows import summarise_span

    parts: dict[int, dict] = {}
    for w, proba in probabilities.items():
        part = frame[starts == w]
        decisions = (proba >= 0.5).astype(int)
        predictions, labels = PredictionsPart(), LabelsPart()
        predictions.add(PredictionBatch(probability=proba, prediction=decisions,
                                        calibrated=apply_calibration(profile.get("calibration"), proba)))
        y = part["congestion"].to_numpy()
        labels.tp, labels.fp = int((y & decisions).sum()), int(((1 - y) & decisions).sum())
        labels.fn, labels.tn = int((y & (1 - decisions)).sum()), int(((1 - y) & (1 - decisions)).sum())
        labels.labelled = len(y)
        parts[w] = {"predictions": predictions, "labels": labels}

    def merged(since: int, until: int) -> dict:
        return summarise_span(parts, since, until, "v", WINDOW_S) or {}

    baseline = (profile.get("baseline") or {}).get("f1")
    out = {}
    for w in range(first, last, WINDOW_S):
        real, est = {}, {}
        for k in SPAN_GRID:
            perf = {"realised": merged(w - k * WINDOW_S, w - WINDOW_S).get("realised"),
                    "estimated": merged(w - (k - 1) * WINDOW_S, w).get("estimated")}
            for z in SIGMA_GRID:
                verdict = f1_drops(perf, baseline, F1_DROP, z)
                real[(k, z)], est[(k, z)] = verdict["f1_drop"][0], verdict["estimated_f1_drop"][0]
        out[w] = (real, est)
    return out


def _quiet(runs: dict[str, list[list[dict]]]) -> list[dict]:
    """Shift-free windows: all of `none`, and those before the start in the other scenarios."""
    return [r for name, seed_runs in runs.items() for run in seed_runs for r in run
            if name == "none" or r["window"] < 0]


def _drifted(row: dict, cal: dict) -> list[str]:
    out = []
    for column, value in row.get("columns", {}).items():
        test = row["tests"][column]
        fired = value >= cal[test] if test in DISTANCE_TESTS else value < cal.get(test, 0.05)
        if fired or row.get("unseen", {}).get(column, 0.0) >= cal["unseen"]:
            out.append(column)
    return out


def _first_hits(runs: dict[str, list[list[dict]]], fired) -> list[int | None]:
    """Per shifted run: the first window >= 0 where `fired(row)` holds."""
    out = []
    for name, seed_runs in runs.items():
        if name != "none":
            for run in seed_runs:
                out.append(next((r["window"] for r in run if r["window"] >= 0 and fired(r)), None))
    return out


def _best(runs, grid, key: str, target: float):
    """The grid point under the target false-alarm rate that detects most, then soonest."""
    quiet = _quiet(runs)
    best, best_score = grid[-1], None
    for g in grid:
        if np.mean([r[key][g] for r in quiet]) > target:
            continue
        hits = _first_hits(runs, lambda r: r[key][g])
        score = (sum(h is None for h in hits), float(np.mean([h for h in hits if h is not None] or [99])))
        if best_score is None or score < best_score:
            best, best_score = g, score
    return best


def calibrate(runs: dict[str, list[list[dict]]], target: float) -> dict:
    """Thresholds that keep each detector's false alarms on shift-free windows under `target`."""
    quiet = [r for r in _quiet(runs) if r["status"] == "ok"]
    cal: dict = {"unseen": 1.0}
    per_test: dict[str, list[float]] = {}
    for r in quiet:  # the largest statistic of each kind per window: 'any column of that kind drifts'
        top: dict[str, float] = {}
        for column, value in r["columns"].items():
            test = r["tests"][column]
            top[test] = max(top.get(test, 0.0), value)
        for test, value in top.items():
            per_test.setdefault(test, []).append(value)
    unseen = [max(r.get("unseen", {}).values() or [0.0]) for r in quiet]
    # Bisect the common quantile q of every kind so that the any-column verdict stays under target.
    low, high = 1.0 - target, 1.0
    for _ in range(30):
        q = (low + high) / 2
        trial = {test: float(np.quantile(v, q)) for test, v in per_test.items()}
        trial["unseen"] = max(0.02, float(np.quantile(unseen, q)) * 1.5)
        fa = np.mean([bool(_drifted(r, trial)) for r in quiet])
        low, high = (q, high) if fa > target else (low, q)
    cal.update({test: float(np.quantile(v, high)) for test, v in per_test.items()})
    cal["unseen"] = max(0.02, float(np.quantile(unseen, high)) * 1.5)
    cal["quantile"] = high
    cal["prediction"] = float(np.quantile([r["prediction"] for r in quiet], 1.0 - target))
    cal["ph"] = _best(runs, PH_GRID, "ph", target)
    cal["ph_err"] = _best(runs, PH_GRID, "ph_err", target)
    cal["rate"] = _best(runs, RATE_GRID, "rate", target)
    f1_grid = [(k, z) for k in SPAN_GRID for z in SIGMA_GRID]
    cal["f1"] = _best(runs, f1_grid, "f1", target)
    cal["est_f1"] = _best(runs, f1_grid, "est_f1", target)
    return cal


def verdicts(row: dict, cal: dict) -> dict[str, bool]:
    """Each detector's verdict on one window under calibrated thresholds."""
    ok = row["status"] == "ok"
    drifted = _drifted(row, cal) if ok else []
    columns = max(len(row.get("columns", {})), 1)
    out = {"dataset_share_0.5": ok and len(drifted) / columns >= 0.5, "dataset_any": ok and bool(drifted),
           "prediction": ok and row["prediction"] >= cal["prediction"],
           "probability_ph": row["ph"][cal["ph"]], "rate": row["rate"][cal["rate"]],
           "error_ph": row["ph_err"][cal["ph_err"]],
           "f1_drop": row["f1"][cal["f1"]], "estimated_f1_drop": row["est_f1"][cal["est_f1"]]}
    out["label_free_any"] = out["dataset_any"] or out["prediction"] or out["probability_ph"] or out["rate"]
    return out


def table(runs: dict[str, list[list[dict]]], cal: dict) -> None:
    """Delay (windows, median over seeds), misses, false-alarm rate before the shift and on none."""
    print(f"{'scenario':24} {'detector':18} {'delay p50':>9} {'max':>4} {'missed':>7} {'FA before':>9}")
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
            print(f"{name:24} {detector:18} {p50:>9} {worst:>4} {missed:>7} {rate:>9.1%}")


def f1_sigmas(runs: dict[str, list[list[dict]]]) -> None:
    """The f1_drop rules per (span, sigmas): false alarms per shift-free window, misses, delay."""
    quiet = _quiet(runs)
    print(f"\nf1_drop (alerts.f1_drop {F1_DROP}) by span (windows) and alerts.f1_drop_sigmas, over every "
          "shifted scenario: false alarms per shift-free window, missed shifts, median delay")
    for k in SPAN_GRID:
        for z in SIGMA_GRID:
            cells = []
            for key in ("f1", "est_f1"):
                hits = _first_hits(runs, lambda r: r[key][(k, z)])
                found = [h for h in hits if h is not None]
                delay = f"{np.median(found):4.0f}" if found else "   -"
                cells.append(f"{np.mean([r[key][(k, z)] for r in quiet]):6.1%} {len(hits) - len(found):>3}/{len(hits)} {delay}")
            print(f"  span {k:>2} sigmas {z:3.1f}: realised {cells[0]}   estimated {cells[1]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=30)
    parser.add_argument("--rows", type=int, default=40_000)
    parser.add_argument("--target-fa", type=float, default=0.03,
                        help="false-alarm rate per shift-free window the calibration aims under")
    parser.add_argument("--workdir", help="cache the scored streams here (re-calibrate without re-scoring)")
    args = parser.parse_args()
    began = time.perf_counter()
    cache = Path(args.workdir) / f"drift-runs-{args.rows}-{args.seeds}.joblib" if args.workdir else None
    calibration = list(range(min(10, args.seeds)))
    report = list(range(10, args.seeds)) or calibration
    if cache and cache.exists():
        runs = joblib.load(cache)
    else:
        pipeline, profile = reference(args.rows)
        print(f"reference model trained in {time.perf_counter() - began:.0f} s ({profile['rows']} hold-out rows)")
        runs = {name: {s: stream(pipeline, profile, args.rows, s, scen) for s in calibration + report}
                for name, scen in SCENARIOS.items()}
        if cache:
            joblib.dump(runs, cache)
    cal = calibrate({name: [runs[name][s] for s in calibration] for name in SCENARIOS}, args.target_fa)
    print(f"calibrated on seeds {calibration[0]}-{calibration[-1]} (target {args.target_fa:.0%} false alarms):",
          {k: round(v, 4) if isinstance(v, float) else v for k, v in cal.items()})
    print(f"reported on seeds {report[0]}-{report[-1]}; window {WINDOW_S} s, shift at window 0, "
          f"{BEFORE} windows before, {AFTER} after; delay in windows from the start")
    reported = {name: [runs[name][s] for s in report] for name in SCENARIOS}
    table(reported, cal)
    f1_sigmas(reported)
    print(f"total {time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()
