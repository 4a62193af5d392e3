"""Training and scoring rows/s, local engine vs Dask LocalCluster, with peak memory per process.

Usage: python bench/scale.py [--rows 2000000 5000000 10000000] [--workers 2] [--memory-limit 3GiB]

Data: generated flows written once per size as a partitioned Parquet dataset (250k rows per
file) under a temp folder. Local training reads every file into one frame (what the local
engine holds); Dask training reads the folder. Peak memory: ru_maxrss of the process that did
the work (local: this one, measured in a fresh child per step; dask: each worker's peak RSS,
sampled every 0.5 s, and the client's own).
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

GRID = "{n_estimators: [100], max_depth: [6], learning_rate: [0.1]}"
PART_ROWS = 250_000


def _config_env() -> dict[str, str]:
    return {"CONGESTION_MODEL__XGBOOST__PARAM_GRID": GRID, "CONGESTION_MODEL__SHAP_SAMPLE": "200",
            "CONGESTION_MODEL__CV_SPLITS": "2", "CONGESTION_LOGGING__DIR": ""}


def write_dataset(rows: int, folder: Path) -> None:
    """Generated flows, time-sorted, one Parquet file per PART_ROWS."""
    from server.ml.data import generate_flows

    folder.mkdir(parents=True)
    df = generate_flows(rows, 7)
    for i, start in enumerate(range(0, rows, PART_ROWS)):
        df.iloc[start:start + PART_ROWS].to_parquet(folder / f"part-{i:04d}.parquet", index=False)


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _local_train(folder: str, out) -> None:
    import pandas as pd

    from server.config import load_config
    from server.ml import worker

    config = load_config(environ=_config_env())
    frame = pd.read_parquet(folder)
    original = worker._load
    worker._load = lambda spec, data_cfg: (frame.sort_values("timestamp_seconds", kind="stable")
                                           .reset_index(drop=True), "bench")
    started = time.perf_counter()
    result = worker.run_training({"config": config.ml_snapshot(), "model_type": "xgboost", "search_iterations": 1})
    worker._load = original
    out.put({"seconds": time.perf_counter() - started, "auc": result["metrics"]["auc_roc"], "peak_mb": _peak_mb()})


def _worker_peaks(client, peaks: dict, stop: threading.Event) -> None:
    import psutil

    while not stop.is_set():
        try:
            for addr, pid in client.run(os.getpid).items():
                rss = psutil.Process(pid).memory_info().rss / 2**20
                peaks[addr] = max(peaks.get(addr, 0.0), rss)
        except Exception:  # noqa: BLE001 - a worker restarting: sample again
            pass
        stop.wait(0.5)


def _dask_run(kind: str, folder: str, workers: int, memory_limit: str, model_dir: str, out) -> None:
    from distributed import Client, LocalCluster

    from server.config import load_config
    from server.scale.training import run_dask_training

    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, host="127.0.0.1",
                           dashboard_address="127.0.0.1:0", memory_limit=memory_limit)
    client = Client(cluster)
    peaks: dict = {}
    stop = threading.Event()
    sampler = threading.Thread(target=_worker_peaks, args=(client, peaks, stop), daemon=True)
    sampler.start()
    config = load_config(environ=_config_env())
    started = time.perf_counter()
    record: dict = {}
    if kind == "train":
        result = run_dask_training({"config": config.ml_snapshot(), "model_type": "xgboost", "search_iterations": 1,
                                    "data_path": folder, "engine": "dask",
                                    "dask": {"scheduler": cluster.scheduler_address}})
        record["auc"] = result["metrics"]["auc_roc"]
        Path(model_dir, "pipeline.joblib").write_bytes(result["pipeline"])
    else:
        _dask_score(config, cluster.scheduler_address, folder, model_dir)
    record["seconds"] = time.perf_counter() - started
    stop.set()
    sampler.join()
    record.update(peak_mb=_peak_mb(), worker_peak_mb=max(peaks.values()) if peaks else None)
    client.close()
    cluster.close()
    out.put(record)


class _Bundle:
    """What score_dataset reads from a serving bundle."""

    def __init__(self, pipeline) -> None:
        from server.services.bundle import _window_spec

        self.pipeline, self.version, self.window_spec = pipeline, "bench", _window_spec(pipeline)


def _dask_score(config, scheduler: str, folder: str, model_dir: str) -> None:
    from server.config import replace
    from server.ml.worker import load_pipeline
    from server.scale.scoring import score_dataset

    pipeline = load_pipeline(Path(model_dir, "pipeline.joblib").read_bytes())
    config = replace(config, training=replace(config.training, dask=replace(config.training.dask, scheduler=scheduler)))
    score_dataset(_Bundle(pipeline), config, folder, Path(model_dir, "scored"), 0.5)


def _local_score(folder: str, model_dir: str, out) -> None:
    import pandas as pd

    from server.ml.windows import compute_aggregates
    from server.ml.worker import load_pipeline

    pipeline = load_pipeline(Path(model_dir, "pipeline.joblib").read_bytes())
    started = time.perf_counter()
    frame = pd.read_parquet(folder)
    windows, prefix, prefix_v6 = _Bundle(pipeline).window_spec
    frame = pd.concat([frame, compute_aggregates(frame, windows, prefix, prefix_v6)], axis=1)
    proba = pipeline.predict_proba(frame)[:, 1]
    frame.assign(probability=proba).to_parquet(Path(model_dir, "local_scored.parquet"))
    out.put({"seconds": time.perf_counter() - started, "peak_mb": _peak_mb()})


def _in_child(target, *args) -> dict:
    """Run one step in a fresh spawned process so its peak RSS is its own."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=target, args=(*args, queue))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[2_000_000, 5_000_000, 10_000_000])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--memory-limit", default="3GiB")
    parser.add_argument("--skip-local-above", type=int, default=10**9, help="rows past which local is not run")
    args = parser.parse_args()
    print(f"{'rows':>10} {'engine':>6} {'train rows/s':>13} {'score rows/s':>13} {'AUC':>6} "
          f"{'peak MB (client)':>17} {'peak MB/worker':>15}")
    for rows in args.rows:
        with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
            folder = Path(tmp, "flows")
            write_dataset(rows, folder)
            models = Path(tmp, "models")
            models.mkdir()
            train = _in_child(_dask_run, "train", str(folder), args.workers, args.memory_limit, str(models))
            score = _in_child(_dask_run, "score", str(folder), args.workers, args.memory_limit, str(models))
            print(f"{rows:>10} {'dask':>6} {rows / train['seconds']:>13,.0f} {rows / score['seconds']:>13,.0f} "
                  f"{train['auc']:>6.3f} {max(train['peak_mb'], score['peak_mb']):>17,.0f} "
                  f"{max(train['worker_peak_mb'] or 0, score['worker_peak_mb'] or 0):>15,.0f}", flush=True)
            if rows <= args.skip_local_above:
                ltrain = _in_child(_local_train, str(folder))
                lscore = _in_child(_local_score, str(folder), str(models))
                print(f"{rows:>10} {'local':>6} {rows / ltrain['seconds']:>13,.0f} {rows / lscore['seconds']:>13,.0f} "
                      f"{ltrain['auc']:>6.3f} {max(ltrain['peak_mb'], lscore['peak_mb']):>17,.0f} {'-':>15}", flush=True)
            print(json.dumps({"rows": rows, "dask_train": train, "dask_score": score,
                              **({"local_train": ltrain, "local_score": lscore} if rows <= args.skip_local_above else {})}),
                  file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
