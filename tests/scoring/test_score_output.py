"""Outputs longer than one chunk: CSV and Parquet, with and without SHAP columns, equal a one-chunk run."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from server.config import REPO_ROOT
from server.ml.data import write_flows
from tests.conftest import tiny_environ
from tests.scoring.conftest import flows, score

ROWS, CHUNK = 60, 20  # three chunks


def _read(path) -> pd.DataFrame:
    table = pq.read_table(path) if path.suffix == ".parquet" else pacsv.read_csv(path)
    return table.to_pandas()


@pytest.mark.parametrize("source", ["csv", "parquet"])
@pytest.mark.parametrize("target", ["csv", "parquet"])
@pytest.mark.parametrize("explain", [0, 2])
def test_three_chunks_write_every_row_as_one_chunk_would(trained_config, tmp_path, source, target, explain):
    data = tmp_path / f"flows.{source}"
    write_flows(flows(ROWS, seed=21), data)
    chunked, whole = tmp_path / f"chunked.{target}", tmp_path / "whole.parquet"
    report = score(trained_config, data, chunked, chunk_rows=CHUNK, explain=explain)
    score(trained_config, data, whole, chunk_rows=ROWS, explain=explain)
    assert report.rows_scored == ROWS
    got, want = _read(chunked), _read(whole)
    assert len(got) == ROWS
    assert np.allclose(got["probability"], want["probability"], rtol=0, atol=1e-12)
    assert got["timestamp_seconds"].tolist() == want["timestamp_seconds"].tolist()
    shap_columns = [c for c in want.columns if c.startswith("explain_")]
    assert len(shap_columns) == 2 * explain
    for column in shap_columns:
        if column.endswith("_feature"):
            assert got[column].tolist() == want[column].tolist()
        else:
            assert np.allclose(got[column], want[column], rtol=0, atol=1e-12)


def test_cli_writes_a_csv_longer_than_one_chunk(trained_workdir, tmp_path):
    data, out = tmp_path / "flows.csv", tmp_path / "x.csv"
    write_flows(flows(ROWS, seed=22), data)
    done = subprocess.run([sys.executable, "-m", "server", "score", "--data", str(data), "--out", str(out),
                           "--chunk-rows", str(CHUNK), "--explain", "1", "--no-progress"], cwd=REPO_ROOT,
                          env={**os.environ, **tiny_environ(trained_workdir)}, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    scored = _read(out)
    assert len(scored) == ROWS and scored["explain_1_feature"].notna().all()
    assert f"scored {ROWS} of {ROWS} rows" in done.stdout


def test_shap_split_across_processes_equals_one_process(trained_config, tmp_path):
    data = tmp_path / "flows.parquet"
    write_flows(flows(1200, seed=23), data)
    one, two = tmp_path / "one.parquet", tmp_path / "two.parquet"
    score(trained_config, data, one, chunk_rows=600, explain=3, explain_processes=1)
    score(trained_config, data, two, chunk_rows=600, explain=3, explain_processes=2)
    a, b = _read(one), _read(two)
    assert len(a) == len(b) == 1200
    assert not set(a["prediction_id"]) & set(b["prediction_id"]), "every scoring gets fresh ids"
    # rows are independent: the split changes nothing else, bit for bit
    assert a.drop(columns="prediction_id").equals(b.drop(columns="prediction_id"))


def test_auto_processes_use_every_core_only_for_large_explained_inputs():
    from server.scoring.explain import AUTO_PARALLEL_ROWS, auto_processes

    assert auto_processes(0, 10 * AUTO_PARALLEL_ROWS) == 1
    assert auto_processes(3, AUTO_PARALLEL_ROWS - 1) == 1
    assert auto_processes(3, AUTO_PARALLEL_ROWS) == len(os.sched_getaffinity(0))
