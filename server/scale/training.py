"""`training.engine: dask`: the run's phases on a Dask cluster; returns what run_training returns.

The training worker process is the Dask client: it starts (or connects to) the cluster, builds
the graph and gathers only small things (stats, a sampled fold, hold-out labels and scores,
samples for SHAP, profile and plots). Features are the same fitted transformers, applied per
partition; window aggregates carry tails across partitions (server/scale/windows.py).
"""
from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np
import pandas as pd

from server.ml.errors import TrainingError
from server.ml.evaluate import evaluate
from server.ml.explain import Explainer
from server.ml.features import build_features
from server.ml.plots import eda_plots, evaluation_plots
from server.ml.profile import build_profile
from server.ml.schema import FLOW_COLUMNS, LABEL, P_TRUE, PROTOCOL
from server.ml.summary import data_summary, distribution
from server.ml.windows import aggregate_names
from server.ml.worker import Progress, _dump, _Phases, _plain
from server.scale import models
from server.scale.cluster import dask_client
from server.scale.data import load_dataset
from server.scale.windows import ROW, time_ordered, with_aggregates

SEARCH_SAMPLE_ROWS = 200_000  # the sampled fold of the search
SUMMARY_SAMPLE_ROWS = 100_000  # plots, distribution and the reference profile


def _feature_frame(part: pd.DataFrame, union: Any, names: list[str]) -> pd.DataFrame:
    """The fitted feature union on one partition (aggregate columns pass straight through)."""
    return pd.DataFrame(union.transform(part), columns=names, index=part.index)


def _distinct(values: pd.Series) -> pd.Series:
    """One partition's distinct values (a per-partition reduction: no shuffle, unlike unique())."""
    return pd.Series(pd.unique(values.astype(str)), dtype=object)


def _sample(frame, rows: int, total: int, seed: int) -> pd.DataFrame:
    frac = min(1.0, rows / max(total, 1))
    return frame.sample(frac=frac, random_state=seed).compute().sort_values(ROW) if frac < 1 else frame.compute()


def _fit_union(feat_cfg: Mapping, sample: pd.DataFrame, protocols: list[str]):
    """Fit on the sample plus one row per protocol seen anywhere (the one-hot needs them all)."""
    extra = sample.iloc[[0] * len(protocols)].copy()
    extra[PROTOCOL] = protocols
    union = build_features(feat_cfg)
    union.fit(pd.concat([sample, extra], ignore_index=True))
    return union, [str(n) for n in union.get_feature_names_out()]


def run_dask_training(spec: dict, progress: Progress | None = None) -> dict:
    """Train one version on Dask; same phases, events and result shape as the local engine.

    Any cluster failure (a worker killed or out of memory breaks XGBoost's allreduce ring)
    becomes a TrainingError with a one-line reason: the run fails and nothing is registered.
    """
    try:
        return _train(spec, progress)
    except TrainingError:
        raise
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [""])[0][:300]
        raise TrainingError(f"dask training failed: {type(exc).__name__}: {first}") from None


def _train(spec: dict, progress: Progress | None) -> dict:
    with dask_client(spec.get("dask") or {}) as client:
        workers = _workers(client)
        try:
            return _train_on(client, spec, progress)
        except TrainingError:
            raise
        except Exception as exc:
            lost = workers - _workers(client)
            if not lost:
                raise
            # XGBoost's allreduce ring breaks when a member dies; what surfaces on the surviving
            # workers is an opaque error, so say what happened instead.
            raise TrainingError(f"dask training failed: {len(lost)} of {len(workers)} Dask workers were lost "
                                f"during the run ({type(exc).__name__} on the rest); the run registered "
                                "nothing, retry once the cluster is healthy") from None


def _workers(client) -> set[str]:
    """The ids of the workers the scheduler knows now (a restarted worker gets a new id)."""
    try:
        return {w.get("id", addr) for addr, w in client.scheduler_info()["workers"].items()}
    except Exception:  # the scheduler itself is gone: no worker is known
        return set()


def _train_on(client, spec: dict, progress: Progress | None) -> dict:
    cfg = spec["config"]
    data_cfg, feat_cfg, model_cfg = cfg.get("data", {}), cfg.get("features", {}), dict(cfg.get("model", {}))
    model_type = spec.get("model_type") or model_cfg.get("primary", "xgboost")
    n_iter = int(spec.get("search_iterations") or model_cfg.get("search_iterations", 8))
    seed = int(data_cfg.get("random_state", 42))
    windows = [int(w) for w in feat_cfg.get("windows_s", [60, 600])]
    prefix, prefix_v6 = int(feat_cfg.get("subnet_prefix", 24)), int(feat_cfg.get("subnet_prefix_v6", 64))
    phases = _Phases(progress)
    with phases.phase("data"):
        ddf, source = load_dataset(spec, data_cfg)
        ddf, stats = time_ordered(ddf)
        total = sum(s.rows for s in stats)
        if total < 50:
            raise TrainingError(f"need at least 50 rows to train, got {total}")
    with phases.phase("features"):
        frame = with_aggregates(ddf, stats, windows, prefix, prefix_v6).persist()
        split = total - max(1, int(math.ceil(float(data_cfg.get("test_size", 0.2)) * total)))
        train, test = frame[frame[ROW] < split], frame[frame[ROW] >= split]
        fold_rows = _sample(train, SEARCH_SAMPLE_ROWS, split, seed)
        protocols = sorted(set(frame[PROTOCOL].map_partitions(_distinct, meta=(PROTOCOL, object)).compute()))
        union, names = _fit_union(feat_cfg, fold_rows, protocols)
        meta = pd.DataFrame({n: pd.Series([], dtype=np.float64) for n in names})
        X_train = train.map_partitions(_feature_frame, union, names, meta=meta)
        X_test = test.map_partitions(_feature_frame, union, names, meta=meta)
        y_rate = float(fold_rows[LABEL].mean())
        if not 0 < y_rate < 1:
            raise TrainingError("the training rows have only one class of 'congestion'")
    with phases.phase("training"):
        def report(done: int, total_steps: int) -> None:
            phases.emit({"type": "progress", "phase": "training", "done": done, "total": total_steps})

        base = models.base_params(model_type, model_cfg, seed, y_rate)
        grid = models.candidates(model_cfg, model_type, n_iter, seed)
        best, scores = models.search(client, _fold(fold_rows, union, client), model_type, grid, base,
                                     str(model_cfg.get("scoring", "average_precision")), report)
        params = {**base, **grid[best]}
        booster = models.final_fit(client, X_train, train[LABEL], model_type, params)
        model = models.to_local(booster, model_type, params)
        report(len(grid) + 1, len(grid) + 1)
    with phases.phase("scoring"):
        import dask
        import xgboost as xgb

        proba_d = xgb.dask.inplace_predict(client, model.get_booster(), X_test.to_dask_array(lengths=True))
        wanted = [proba_d, test[LABEL].to_dask_array(lengths=True)]
        if P_TRUE in frame.columns:
            wanted.append(test[P_TRUE].to_dask_array(lengths=True))
        proba, y_test, *p_true = dask.compute(*wanted)
        proba = np.asarray(proba, dtype=np.float64).reshape(len(y_test), -1)[:, -1]
        metrics = evaluate(np.asarray(y_test), proba, float(spec.get("threshold", 0.5)),
                           p_true[0] if p_true else None, total, len(names))
    pipeline = _pipeline(union, model)
    with phases.phase("shap"):
        held = _sample(test, SUMMARY_SAMPLE_ROWS, total - split, seed)
        held_proba = model.predict_proba(union.transform(held))[:, 1]
        shap_rows = held.sample(n=min(int(model_cfg.get("shap_sample", 400)), len(held)), random_state=seed)
        shap_global = Explainer(pipeline).global_importance(union.transform(shap_rows))
        profile = build_profile(held[[*FLOW_COLUMNS, *aggregate_names(windows)]], held_proba, shap_global,
                                windows, prefix, prefix_v6)
    with phases.phase("plots"):
        summary_rows = _sample(frame, SUMMARY_SAMPLE_ROWS, total, seed)
        plots = {**eda_plots(summary_rows), **evaluation_plots(np.asarray(y_test), proba, metrics, shap_global)}
    return _result(pipeline, union, model_type, metrics, shap_global, plots, names, grid, scores, best,
               {**data_summary(summary_rows, source), "rows": total, "train_rows": split,
                "test_rows": total - split, "engine": "dask", "partitions": len(stats)},
               distribution(summary_rows, seed), profile, phases.durations)


def _fold(rows: pd.DataFrame, union: Any, client) -> tuple:
    """The sampled fold in time order: its first 75% fit, the last 25% validate."""
    import dask.dataframe as dd

    cut = int(len(rows) * 0.75)
    X = pd.DataFrame(union.transform(rows), columns=[str(n) for n in union.get_feature_names_out()])
    y = rows[LABEL].to_numpy()
    parts = max(1, len(client.scheduler_info().get("workers", {})))
    X_fit = dd.from_pandas(X.iloc[:cut], npartitions=parts)
    y_fit = dd.from_pandas(pd.Series(y[:cut]), npartitions=parts)
    return X_fit, y_fit, X.iloc[cut:].to_numpy(), y[cut:]


def _pipeline(union: Any, model: Any):
    """The same Pipeline shape the local engine saves: features -> passthrough -> model."""
    from imblearn.pipeline import Pipeline

    return Pipeline([("features", union), ("sampler", "passthrough"), ("model", model)])


def _result(pipeline, union, model_type, metrics, shap_global, plots, names, grid, scores, best,
            summary, dist, profile, durations) -> dict[str, Any]:
    return {
        "pipeline": _dump(pipeline), "preprocessor": _dump(union), "metrics": _plain(metrics),
        "shap_global": _plain(shap_global), "plots": plots, "feature_names": names, "model_type": model_type,
        "params": _plain(grid[best]), "data_summary": _plain(summary), "distribution": _plain(dist),
        "profile": _plain(profile), "phases": durations,
        "cv": _plain({"scoring": "average_precision (sampled fold)", "best_score": scores[best], "best_index": best,
                      "candidates": len(grid), "folds": 1,
                      "results": [{"params": p, "mean": s, "std": 0.0, "cost": 0.0} for p, s in zip(grid, scores)]}),
    }
