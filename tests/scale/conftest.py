"""Dask fixtures: one real 2-worker LocalCluster on loopback per module, and dense flow data."""
from __future__ import annotations

from typing import Iterator

import pytest

from server.ml.data import generate_flows


@pytest.fixture(scope="module")
def dask_cluster() -> Iterator[str]:
    """Address of a 2-worker LocalCluster bound to 127.0.0.1 (started and stopped here)."""
    from distributed import LocalCluster

    from tests.s3server import s3_environ

    with pytest.MonkeyPatch.context() as patch:  # workers read s3:// Parquet with the test keys
        for name, value in s3_environ().items():
            patch.setenv(name, value)
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address="127.0.0.1:0",
                               memory_limit="1GiB")
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close()


def dense_flows(rows: int, seed: int = 3, squeeze: int = 200):
    """Generated flows with time compressed `squeeze`-fold: windows reach across partitions."""
    df = generate_flows(rows, seed)
    start = int(df["timestamp_seconds"].min())
    df["timestamp_seconds"] = start + (df["timestamp_seconds"] - start) // squeeze
    df["hour"] = (df["timestamp_seconds"] // 3600) % 24
    return df
