"""`congestion score --engine dask`: score a partitioned Parquet dataset with map_partitions.

Each partition gets the window aggregates carried across partition boundaries (the same
definition as the server's online state), then the version's own pipeline: features, then the
model's probabilities. The output is a Parquet dataset, one file per input partition, written
to a temporary folder and renamed into place when every partition succeeded.
"""
from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from server.config import Config, to_plain
from server.ml.schema import FLOW_COLUMNS
from server.ml.windows import aggregate_names
from server.scale.cluster import dask_client
from server.scale.data import read_flows
from server.scale.windows import ROW, time_ordered, with_aggregates


@dataclass(frozen=True)
class DaskScoreReport:
    """Rows scored, partitions written and throughput."""

    rows: int
    partitions: int
    seconds: float

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0


def _score_partition(part: pd.DataFrame, pipeline: Any, names: list[str], threshold: float, version: str) -> pd.DataFrame:
    """The flow columns of one partition plus probability, prediction and version."""
    X = pipeline.named_steps["features"].transform(part)
    proba = np.asarray(pipeline.named_steps["model"].predict_proba(X), dtype=np.float64)[:, 1]
    out = part[list(FLOW_COLUMNS)].reset_index(drop=True)
    out["probability"] = proba
    out["prediction"] = (proba >= threshold).astype(np.int8)
    out["version"] = pd.Series([version] * len(out), dtype="string")
    return out


def score_dataset(bundle: Any, config: Config, data: str, out: Path, threshold: float) -> DaskScoreReport:
    """Score `data` (folder, glob or s3://) on the configured Dask cluster into the folder `out`."""
    started = time.perf_counter()
    windows_s, prefix, prefix_v6 = bundle.window_spec
    tmp = out.with_name(f".{out.name}.tmp-{int(time.time())}")
    with dask_client(to_plain(config.training.dask)):
        ddf = read_flows(data, to_plain(config.data), to_plain(config.storage.s3), require_label=False)
        ddf, stats = time_ordered(ddf)
        frame = with_aggregates(ddf, stats, windows_s, prefix, prefix_v6)
        meta = frame._meta[list(FLOW_COLUMNS)].reset_index(drop=True).assign(
            probability=pd.Series([], dtype=np.float64), prediction=pd.Series([], dtype=np.int8),
            version=pd.Series([], dtype="string"))
        scored = frame.map_partitions(_score_partition, bundle.pipeline, aggregate_names(windows_s),
                                      threshold, bundle.version, meta=meta)
        try:
            scored.to_parquet(tmp, write_index=False)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)
    return DaskScoreReport(sum(s.rows for s in stats), len(stats), time.perf_counter() - started)


def run(config: Config, data: str, out: str, version: str | None, threshold: float | None) -> int:
    """CLI entry of `score --engine dask`; prints a one-line summary."""
    import asyncio

    from server.scoring.cli import load_bundle

    bundle = asyncio.run(load_bundle(config, version))
    report = score_dataset(bundle, config, data, Path(out), config.api.default_threshold if threshold is None else threshold)
    print(f"scored {report.rows} rows in {report.partitions} partition(s) with version {bundle.version} "
          f"in {report.seconds:.1f} s ({report.rows_per_s:,.0f} rows/s) on dask -> {out}/")
    return 0 if report.rows else 1


__all__ = ["DaskScoreReport", "ROW", "run", "score_dataset"]
