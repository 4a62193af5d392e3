"""Process entry point for training: plain spec in, plain data out, progress as small events."""

import io
import math
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import joblib
import numpy as np
import pandas as pd

from .data import generate_flows, load_flows
from .errors import DataError, TrainingError
from .compare import compare_with_champion
from .calibration import fit_calibration
from .evaluate import evaluate
from .incremental import champion_frame, continue_training
from .explain import Explainer
from .pipeline import build_pipeline, param_grid
from .plots import eda_plots, evaluation_plots
from .profile import build_profile
from .schema import FLOW_COLUMNS, LABEL, P_TRUE, TIMESTAMP
from .search import run_search
from .summary import data_summary, distribution
from .windows import compute_aggregates

PHASES = ("data", "features", "training", "scoring", "shap", "plots")
MIN_ROWS = 50
Progress = Callable[[dict], None]


def _dump(obj: object) -> bytes:
    """joblib bytes of an object."""
    buf = io.BytesIO()
    joblib.dump(obj, buf)
    return buf.getvalue()


def load_pipeline(blob: bytes) -> object:
    """Load a pipeline (or preprocessor) from run_training's bytes. Only for trusted, hash-checked blobs."""
    return joblib.load(io.BytesIO(blob))


def _plain(value: object) -> object:
    """numpy scalars/containers to JSON-safe Python values."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_plain(v) for v in value]
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return None if not math.isfinite(float(value)) else float(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class _Phases:
    """Emits phase_started/phase_finished events and records durations."""

    def __init__(self, progress: Progress | None):
        self.progress = progress
        self.durations: list[dict] = []

    def emit(self, event: dict) -> None:
        """Forward one event if anyone listens."""
        if self.progress is not None:
            self.progress(event)

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Time one phase."""
        self.emit({"type": "phase_started", "phase": name})
        start = time.perf_counter()
        yield
        duration = time.perf_counter() - start
        self.durations.append({"phase": name, "duration_s": duration})
        self.emit({"type": "phase_finished", "phase": name, "duration_s": duration})


def _load(spec: Mapping, data_cfg: Mapping) -> tuple[pd.DataFrame, str]:
    """User file or generated data, time-sorted and checked for trainability."""
    path = spec.get("data_path")
    if path:
        try:
            df = load_flows(path, column_map=data_cfg.get("column_map") or None, require_label=True)
        except DataError as exc:
            raise TrainingError(f"cannot train on {Path(path).name}: {exc.message}") from exc
        source = f"file:{Path(path).name}"
    else:
        rows = int(spec.get("rows") or data_cfg.get("rows", 20_000))
        seed = int(spec["seed"] if spec.get("seed") is not None else data_cfg.get("seed", 7))
        df = generate_flows(rows, seed, float(data_cfg.get("positive_rate", 0.15)), data_cfg.get("scenario") or None)
        source = f"generated:seed={seed}"
    if len(df) < MIN_ROWS:
        raise TrainingError(f"need at least {MIN_ROWS} rows to train, got {len(df)}")
    if df[LABEL].nunique() < 2:
        raise TrainingError("the data has only one class of 'congestion'; training needs both 0 and 1")
    return df.sort_values(TIMESTAMP, kind="stable").reset_index(drop=True), source


def run_training(spec: dict, progress: Progress | None = None) -> dict:
    """Train, evaluate and explain one model from a plain spec; returns plain data and bytes."""
    if spec.get("engine") == "dask":  # the same phases and result, computed on a Dask cluster
        from server.scale.training import run_dask_training

        return run_dask_training(spec, progress)
    cfg = spec["config"]
    data_cfg, feat_cfg, model_cfg = cfg.get("data", {}), cfg.get("features", {}), dict(cfg.get("model", {}))
    model_type = spec.get("model_type") or model_cfg.get("primary", "xgboost")
    n_iter = int(spec.get("search_iterations") or model_cfg.get("search_iterations", 8))
    random_state = int(data_cfg.get("random_state", 42))
    phases = _Phases(progress)

    with phases.phase("data"):
        df, source = _load(spec, data_cfg)
    with phases.phase("features"):
        windows = [int(w) for w in feat_cfg.get("windows_s", [60, 600])]
        # Aggregates over the whole time-sorted history (trailing windows only: no look-ahead), as
        # the server's WindowState sees it; the pipeline then passes these columns through.
        agg = compute_aggregates(df, windows, int(feat_cfg.get("subnet_prefix", 24)), int(feat_cfg.get("subnet_prefix_v6", 64)))
        X = pd.concat([df[list(FLOW_COLUMNS)], agg], axis=1)
        y = df[LABEL].to_numpy()
        n_test = max(1, int(math.ceil(float(data_cfg.get("test_size", 0.2)) * len(df))))
        split = len(df) - n_test  # hold-out = the most recent rows
        if len(np.unique(y[:split])) < 2 or len(np.unique(y[split:])) < 2:
            raise TrainingError("both classes must occur in the training part and in the most recent "
                                f"{n_test} rows (hold-out); add more data or change data.test_size")
    with phases.phase("training"):
        pipeline = build_pipeline(feat_cfg, model_cfg, model_type, random_state, y[:split])

        def report(done: int, total: int) -> None:
            phases.emit({"type": "progress", "phase": "training", "done": done, "total": total})

        champion = spec.get("champion") or {}
        if model_cfg.get("update") == "continue" and champion.get("pipeline"):
            # Grow the champion on these rows instead of searching anew (seed roadmap: incremental).
            X = champion_frame(joblib.load(io.BytesIO(champion["pipeline"])), df)
            result = continue_training(champion["pipeline"], X.iloc[:split], y[:split], model_cfg)
            model_type = champion.get("model_type", model_type)
        else:
            result = run_search(
                pipeline, X.iloc[:split], y[:split], param_grid(model_cfg, model_type), n_iter=n_iter,
                cv_splits=int(model_cfg.get("cv_splits", 3)), scoring=str(model_cfg.get("scoring", "average_precision")),
                tolerance=float(model_cfg.get("cost_tolerance", 0.0)), random_state=random_state, progress=report,
            )
        fitted = result.estimator
    with phases.phase("scoring"):
        proba = fitted.predict_proba(X.iloc[split:])[:, 1]
        feature_names = [str(n) for n in fitted.named_steps["features"].get_feature_names_out()]
        p_true = df[P_TRUE].to_numpy()[split:] if P_TRUE in df else None
        metrics = evaluate(y[split:], proba, float(spec.get("threshold", 0.5)), p_true, len(df), len(feature_names))
        # stored with the version (metrics.extra): the live CBPE estimate needs calibrated probabilities
        metrics["calibration"] = fit_calibration(proba, y[split:])
        comparison = compare_with_champion(spec.get("champion"), df, split, y[split:], proba,
                                           float(spec.get("threshold", 0.5)))
    with phases.phase("shap"):
        rng = np.random.default_rng(random_state)
        n_sample = min(int(model_cfg.get("shap_sample", 400)), n_test)
        rows = np.sort(rng.choice(n_test, size=n_sample, replace=False)) + split
        features = fitted.named_steps["features"].transform(X.iloc[rows])
        shap_global = Explainer(fitted).global_importance(features)
        profile = build_profile(X.iloc[split:], proba, shap_global, windows, int(feat_cfg.get("subnet_prefix", 24)),
                                int(feat_cfg.get("subnet_prefix_v6", 64)), metrics)
    with phases.phase("plots"):
        plots = {**eda_plots(df), **evaluation_plots(y[split:], proba, metrics, shap_global)}

    model = fitted.named_steps["model"]
    if hasattr(model, "n_jobs"):
        model.n_jobs = 1  # serving predicts a row at a time, where thread start-up dominates
    return {
        "pipeline": _dump(fitted),
        "preprocessor": _dump(fitted.named_steps["features"]),
        "metrics": _plain(metrics),
        "shap_global": _plain(shap_global),
        "plots": plots,
        "feature_names": feature_names,
        "model_type": model_type,
        "params": _plain({k.removeprefix("model__"): v for k, v in result.best_params.items()}),
        "data_summary": _plain({**data_summary(df, source), "train_rows": split, "test_rows": n_test}),
        "distribution": _plain(distribution(df, random_state)),
        "profile": _plain(profile),
        "phases": phases.durations,
        # Hold-out labels and probabilities: threshold curves and later comparisons use them.
        "holdout": {"y": [int(v) for v in y[split:]], "proba": [float(v) for v in proba],
                    "timestamp_seconds": [int(v) for v in df[TIMESTAMP].to_numpy()[split:]]},
        "comparison": _plain(comparison),
        "cv": _plain({
            "scoring": model_cfg.get("scoring", "average_precision"), "best_score": result.best_score,
            "best_index": result.best_index, "candidates": len(result.cv_results["params"]),
            "folds": int(model_cfg.get("cv_splits", 3)),
            "results": [{"params": {k.removeprefix("model__"): v for k, v in p.items()}, "mean": m, "std": s, "cost": c}
                        for p, m, s, c in zip(result.cv_results["params"], result.cv_results["mean_test_score"],
                                              result.cv_results["std_test_score"], result.cv_results["cost"])],
        }),
    }
