"""CBPE accuracy against ground truth without the server, fast enough for many seeds.

    python bench/cbpe.py [--seeds 20-29] [--rows 20000] [--window-s 86400] [--workdir DIR]

Trains the default model (`congestion pipeline`'s config) once, then for each scenario and seed
generates flows with the shift starting half-way through, scores them, and feeds every window
through the server's own code: `apply_calibration` (the version's stored calibrator),
`PredictionsPart` and `estimate` (CBPE). Per window it compares the estimated F1 with

- the realised F1 on the window's labels (what the Live page shows), and
- the expected F1 under the generator's true probability `p_true` (the same estimator fed the
  truth instead of the calibrated score): its distance to the realised F1 is the noise floor
  that no label-free estimate can beat on a window of that size, and the estimate's distance to
  it is the estimator's own error.

bench/monitoring.py measures the same end to end through /api/predict and /api/feedback on one
seed; this one gives the per-scenario means over many seeds in a few seconds per seed.
"""
from __future__ import annotations

import argparse
import io
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import joblib  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from server.config import load_config  # noqa: E402
from server.ml.calibration import apply_calibration  # noqa: E402
from server.ml.generator import generate_flows  # noqa: E402
from server.ml.windows import compute_aggregates  # noqa: E402
from server.ml.worker import run_training  # noqa: E402
from server.monitoring.accumulators import PredictionBatch, PredictionsPart  # noqa: E402
from server.monitoring.estimate import estimate  # noqa: E402

SCENARIOS = {
    "none": {},
    "load_multiplier=2": {"load_multiplier": 2.0},
    "protocol_mix_shift=0.5": {"protocol_mix_shift": 0.5},
    "new_subnets=5": {"new_subnets": 5},
    "label_prior_shift=1.0 (concept)": {"label_prior_shift": 1.0},
}
COVARIATE = ("load_multiplier=2", "protocol_mix_shift=0.5", "new_subnets=5")


def seeds_of(text: str) -> list[int]:
    """'20-29' or '3,5,8' -> the seeds."""
    if "-" in text:
        low, high = text.split("-")
        return list(range(int(low), int(high) + 1))
    return [int(s) for s in text.split(",")]


def train(rows: int, workdir: Path | None) -> dict:
    """The default model on `rows` generated flows (data.seed), cached in workdir."""
    cache = workdir / f"cbpe-model-{rows}.joblib" if workdir else None
    if cache and cache.exists():
        return joblib.load(cache)
    cfg = load_config(environ={}).ml_snapshot()
    cfg["data"].update(rows=rows)
    result = run_training({"config": cfg})
    model = {"pipeline": result["pipeline"], "calibration": result["metrics"]["calibration"],
             "threshold": float(load_config(environ={}).api.default_threshold)}
    if cache:
        cache.parent.mkdir(parents=True, exist_ok=True)
        joblib.dump(model, cache)
    return model


def _f1(calibrated: np.ndarray, p: np.ndarray, decision: np.ndarray) -> float | None:
    part = PredictionsPart()
    part.add(PredictionBatch(p, decision, calibrated))
    return (estimate(part) or {}).get("f1")


def windows(model: dict, pipeline, rows: int, seed: int, knobs: dict, window_s: int) -> list[dict]:
    """Per window after the shift start: realised, estimated and expected (p_true) F1."""
    from sklearn.metrics import f1_score

    probe = generate_flows(rows, seed)
    ts = probe.timestamp_seconds
    start_ts = int(ts.min() + (ts.max() - ts.min()) // 2)
    flows = generate_flows(rows, seed, scenario={**knobs, "start_timestamp": start_ts})
    frame = pd.concat([flows.drop(columns=["congestion", "p_true"]), compute_aggregates(flows, [60, 600], 24)], axis=1)
    p = pipeline.predict_proba(frame)[:, 1]
    calibrated = apply_calibration(model["calibration"], p)
    decision = (p >= model["threshold"]).astype(np.int8)
    y, p_true = flows["congestion"].to_numpy(), flows["p_true"].to_numpy()
    window = flows["timestamp_seconds"].to_numpy() // window_s * window_s
    out = []
    for start in np.unique(window):
        m = window == start
        if start + window_s <= start_ts or y[m].sum() == 0:
            continue
        out.append({"rows": int(m.sum()), "realised": float(f1_score(y[m], decision[m], zero_division=0)),
                    "estimated": _f1(calibrated[m], p[m], decision[m]), "expected": _f1(p_true[m], p[m], decision[m])})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="20-29", help="replay seeds: '20-29' or '3,5,8'")
    parser.add_argument("--rows", type=int, default=20_000,
                        help="flows per replay and for training (the same traffic density: see README)")
    parser.add_argument("--train-rows", type=int, help="flows of the training data (default: --rows)")
    parser.add_argument("--window-s", type=int, default=86_400)
    parser.add_argument("--workdir", help="cache the trained model here")
    args = parser.parse_args()
    began = time.perf_counter()
    model = train(args.train_rows or args.rows, Path(args.workdir) if args.workdir else None)
    pipeline = joblib.load(io.BytesIO(model["pipeline"]))
    cal = model["calibration"]
    print(f"model: calibration {cal['method']} (ECE {cal['ece_before']:.4f} -> {cal['ece_after']:.4f}), "
          f"threshold {model['threshold']}; trained on {args.train_rows or args.rows} rows, replays of {args.rows}")
    seeds = seeds_of(args.seeds)
    print(f"seeds {args.seeds}; window {args.window_s} s; windows after the shift start only\n")
    print(f"{'scenario':<34}{'windows':>8}{'|est-real|':>12}{'|exp-real|':>12}{'|est-exp|':>11}{'est-exp':>9}")
    means = {}
    for name, knobs in SCENARIOS.items():
        rows = [w for s in seeds for w in windows(model, pipeline, args.rows, s, knobs, args.window_s)]
        est, real, exp = (np.array([w[k] for w in rows], dtype=float) for k in ("estimated", "realised", "expected"))
        means[name] = float(np.mean(np.abs(est - real)))
        print(f"{name:<34}{len(rows):>8}{means[name]:>12.4f}{np.mean(np.abs(exp - real)):>12.4f}"
              f"{np.mean(np.abs(est - exp)):>11.4f}{np.mean(est - exp):>+9.4f}", flush=True)
    print(f"\ncovariate shifts, mean |est - realised| F1: {np.mean([means[n] for n in COVARIATE]):.4f} "
          f"(target <= 0.03); {time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()
