"""`congestion score --engine dask`: a partitioned Parquet dataset in, a partitioned one out, same scores."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from server.config import REPO_ROOT
from tests.conftest import tiny_environ
from tests.scale.conftest import dense_flows

pytestmark = pytest.mark.slow


def cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "server", *args], cwd=REPO_ROOT, capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=600)


def test_dask_scoring_writes_partitioned_output_equal_to_local_scoring(dask_cluster, trained_workdir, tmp_path):
    df = dense_flows(3000, seed=11, squeeze=20).drop(columns=["congestion", "p_true"])
    folder = tmp_path / "flows"
    folder.mkdir()
    edges = np.linspace(0, len(df), 5).astype(int)
    for i in range(4):
        df.iloc[edges[i]:edges[i + 1]].to_parquet(folder / f"part-{i}.parquet", index=False)
    df.to_parquet(tmp_path / "all.parquet", index=False)
    env = {**tiny_environ(trained_workdir), "CONGESTION_TRAINING__DASK__SCHEDULER": dask_cluster}

    done = cli(["score", "--engine", "dask", "--data", str(folder), "--out", str(tmp_path / "scored")], env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "scored 3000 rows in 4 partition(s)" in done.stdout
    parts = sorted((tmp_path / "scored").glob("*.parquet"))
    assert len(parts) == 4
    remote = pd.read_parquet(tmp_path / "scored")
    local_run = cli(["score", "--data", str(tmp_path / "all.parquet"), "--out", str(tmp_path / "local.parquet"),
                     "--no-progress"], env)
    assert local_run.returncode == 0, local_run.stderr[-2000:]
    local = pd.read_parquet(tmp_path / "local.parquet")
    assert len(remote) == len(local) == 3000
    np.testing.assert_allclose(remote["probability"].to_numpy(), local["probability"].to_numpy(), rtol=0, atol=1e-9)
    assert (remote["prediction"].to_numpy() == local["prediction"].to_numpy()).all()
    assert set(remote["version"]) == set(local["version"])


def test_dask_scoring_names_a_missing_column(dask_cluster, trained_workdir, tmp_path):
    folder = tmp_path / "flows"
    folder.mkdir()
    dense_flows(200).drop(columns=["protocol"]).to_parquet(folder / "part-0.parquet", index=False)
    env = {**tiny_environ(trained_workdir), "CONGESTION_TRAINING__DASK__SCHEDULER": dask_cluster}
    done = cli(["score", "--engine", "dask", "--data", str(folder), "--out", str(tmp_path / "scored")], env)
    assert done.returncode != 0 and "protocol" in done.stderr
    assert not (tmp_path / "scored").exists()
