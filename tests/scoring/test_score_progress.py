"""Scoring progress (rows done of rows total, ETA) and the quality of a labelled scored file."""
from __future__ import annotations

import os
import re
import subprocess
import sys

import numpy as np
import pyarrow.parquet as pq
from sklearn.metrics import f1_score, precision_score, recall_score, roc_auc_score

from server.config import REPO_ROOT
from server.ml.data import write_flows
from server.scoring.quality import QualityCounter
from server.scoring.reader import FlowReader
from tests.conftest import tiny_environ
from tests.scoring.conftest import flows, score


def test_csv_total_is_estimated_from_the_file_size_and_parquet_total_is_exact(tmp_path):
    frame = flows(3000, seed=31)
    write_flows(frame, tmp_path / "f.csv")
    write_flows(frame, tmp_path / "f.parquet")
    csv_reader = FlowReader(tmp_path / "f.csv", 1000)
    parquet_reader = FlowReader(tmp_path / "f.parquet", 1000)
    assert csv_reader.total_rows is None and abs(csv_reader.estimated_rows - 3000) <= 150
    assert parquet_reader.total_rows == 3000


def test_progress_shows_rows_done_of_total_with_an_eta(trained_config, tmp_path, capsys):
    write_flows(flows(60, seed=32), tmp_path / "f.parquet")
    score(trained_config, tmp_path / "f.parquet", tmp_path / "out.parquet", chunk_rows=20, progress=True)
    err = capsys.readouterr().err
    assert re.search(r"scoring: .*0\.00/60\.0 \[00:00<\?", err), err     # the first reading: total known, ETA pending
    assert re.search(r"100%.*60\.0/60\.0 \[\d\d:\d\d<\d\d:\d\d", err), err  # done of total [elapsed<remaining]


def test_csv_progress_ends_at_the_exact_count(trained_config, tmp_path, capsys):
    write_flows(flows(60, seed=33), tmp_path / "f.csv")
    score(trained_config, tmp_path / "f.csv", tmp_path / "out.csv", chunk_rows=20, progress=True)
    err = capsys.readouterr().err
    assert "total estimated from the file size" in err
    assert re.search(r"100%.*60\.0/60\.0 \[", err), err


def test_a_labelled_file_reports_precision_recall_f1_and_auc_at_the_threshold(trained_config, tmp_path):
    frame = flows(400, seed=34)
    assert frame["congestion"].nunique() == 2
    write_flows(frame, tmp_path / "f.csv")
    report = score(trained_config, tmp_path / "f.csv", tmp_path / "out.parquet", chunk_rows=150, threshold=0.3)
    scored = pq.read_table(tmp_path / "out.parquet").to_pandas()
    y, p = scored["congestion"].astype(int).to_numpy(), scored["probability"].to_numpy()
    q = report.quality
    assert q is not None and q.rows == 400 and q.threshold == 0.3 and q.unlabelled == 0
    assert q.precision == precision_score(y, p >= 0.3)
    assert q.recall == recall_score(y, p >= 0.3)
    assert np.isclose(q.f1, f1_score(y, p >= 0.3), rtol=0, atol=1e-12)
    assert abs(q.auc_roc - roc_auc_score(y, p)) < 1e-3


def test_an_unlabelled_file_has_no_quality(trained_config, tmp_path):
    write_flows(flows(30, seed=35).drop(columns=["congestion"]), tmp_path / "f.csv")
    assert score(trained_config, tmp_path / "f.csv", tmp_path / "out.parquet").quality is None


def test_quality_counts_skip_rows_without_a_usable_label():
    counter = QualityCounter(0.5)
    counter.add(np.array([1, 0, np.nan, 2, 1, 0]), np.array([0.9, 0.6, 0.9, 0.9, 0.2, 0.1]))
    q = counter.result()
    assert (q.rows, q.unlabelled) == (4, 2)
    assert (q.precision, q.recall) == (0.5, 0.5)
    assert q.auc_roc == roc_auc_score([1, 0, 1, 0], [0.9, 0.6, 0.2, 0.1])


def test_cli_prints_progress_and_the_files_quality(trained_workdir, tmp_path):
    data = tmp_path / "flows.parquet"
    write_flows(flows(90, seed=36), data)
    done = subprocess.run([sys.executable, "-m", "server", "score", "--data", str(data), "--out",
                           str(tmp_path / "out.csv"), "--chunk-rows", "30"], cwd=REPO_ROOT,
                          env={**os.environ, **tiny_environ(trained_workdir)}, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert re.search(r"90\.0/90\.0 \[\d\d:\d\d<\d\d:\d\d", done.stderr), done.stderr
    assert re.search(r"quality on 90 labelled rows at threshold [\d.]+: precision [\d.]+, recall [\d.]+, "
                     r"F1 [\d.]+, ROC AUC [\d.]+", done.stdout), done.stdout
