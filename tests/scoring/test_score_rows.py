"""Bad rows by data line (skip and fail), atomic output, --version, and the CLI end to end."""
from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import numpy as np
import pyarrow.parquet as pq
import pytest

from server.config import REPO_ROOT
from server.ml.data import write_flows
from server.ml.errors import DataError
from server.store import repo
from tests.conftest import tiny_environ
from tests.scoring.conftest import flows, score

# data line -> (raw CSV line, column named in the report)
BAD = {
    3: ("abc,100,10.1.0.1,172.16.0.1,TCP,1704067200,0", "packet_size"),
    5: ("60,100,999.1.1.1,172.16.0.1,TCP,1704067200,0", "source_ip"),
    7: ("60,100,10.1.0.1,172.16.0.1,TCP,1704067200,0,extra", None),
    9: ("60,100,10.1.0.1,172.16.0.1,,1704067200,0", "protocol"),
    12: ("60,100,10.1.0.1,172.16.0.1,TCP,1704067200.5,0", "timestamp_seconds"),
    14: ("60,100,10.1.0.1,172.16.0.1,TCP,1704067200,25", "hour"),
    15: ("70000,100,10.1.0.1,172.16.0.1,TCP,1704067200,0", "packet_size"),
}


def _bad_csv(tmp_path, rows=40):
    frame = flows(rows, seed=8)[["packet_size", "bytes_sent", "source_ip", "dest_ip", "protocol",
                                 "timestamp_seconds", "hour"]]
    good = frame.to_csv(index=False, header=False).splitlines()
    lines, kept = [], []
    for line_no in range(1, rows + 1):
        if line_no in BAD:
            lines.append(BAD[line_no][0])
        else:
            lines.append(good[line_no - 1])
            kept.append(line_no - 1)
    path = tmp_path / "flows.csv"
    path.write_text(",".join(frame.columns) + "\n" + "\n".join(lines) + "\n")
    return path, frame.iloc[kept].reset_index(drop=True)


def test_skip_reports_bad_rows_by_line_and_scores_the_rest(trained_config, tmp_path):
    data, good = _bad_csv(tmp_path)
    report = score(trained_config, data, tmp_path / "out.parquet", chunk_rows=6, on_error="skip")
    assert [(b.line, b.column) for b in report.bad_rows] == [(k, v[1]) for k, v in BAD.items()]
    assert report.bad_count == len(BAD) and report.rows_scored == len(good) and report.rows_read == 40
    scored = pq.read_table(tmp_path / "out.parquet").to_pandas()
    assert scored["timestamp_seconds"].tolist() == good["timestamp_seconds"].tolist()
    assert scored["source_ip"].tolist() == good["source_ip"].tolist()
    assert "expected 7 fields, found 8" in str(report.bad_rows[2])


def test_fail_names_the_first_bad_line_and_leaves_the_old_output(trained_config, tmp_path):
    data, _ = _bad_csv(tmp_path)
    out = tmp_path / "scored.parquet"
    out.write_bytes(b"yesterday's results")
    with pytest.raises(DataError, match="line 3: column 'packet_size': expected a number"):
        score(trained_config, data, out, chunk_rows=2, on_error="fail")  # two chunks written first
    assert out.read_bytes() == b"yesterday's results"
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == ["flows.csv", "scored.parquet"]


def test_empty_hour_cells_are_derived_like_an_absent_field(trained_config, tmp_path):
    frame = flows(50, seed=9)
    with_hour, blank = tmp_path / "a.csv", tmp_path / "b.csv"
    write_flows(frame, with_hour)
    write_flows(frame.assign(hour=""), blank)
    a = score(trained_config, with_hour, tmp_path / "a.parquet")
    b = score(trained_config, blank, tmp_path / "b.parquet")
    assert a.bad_count == b.bad_count == 0
    pa_, pb = (pq.read_table(tmp_path / n)["probability"].to_numpy() for n in ("a.parquet", "b.parquet"))
    assert np.array_equal(pa_, pb)


def test_version_selects_an_older_model(trained_config, tmp_path):
    async def tags():
        from server.commands import open_registry

        async with open_registry(trained_config) as (sessions, _r, _h):
            async with sessions() as session:
                return [(v.tag, v.model_type) for v in await repo.list_versions(session)]

    older = next(tag for tag, kind in asyncio.run(tags()) if kind == "xgboost")
    data = tmp_path / "flows.parquet"
    write_flows(flows(300), data)
    score(trained_config, data, tmp_path / "new.parquet")
    report = score(trained_config, data, tmp_path / "old.parquet", version=older, explain=2)
    old, new = (pq.read_table(tmp_path / n).to_pandas() for n in ("old.parquet", "new.parquet"))
    assert report.version == older and set(old["version"]) == {older} != set(new["version"])
    assert not np.allclose(old["probability"], new["probability"])
    assert {"explain_1_feature", "explain_1_shap", "explain_2_feature", "explain_2_shap"} <= set(old.columns)
    assert (old["explain_1_shap"].abs() >= old["explain_2_shap"].abs()).all()


def test_cli_score_fail_mode_exit_code_and_message(trained_workdir, tmp_path):
    data, _ = _bad_csv(tmp_path)
    out = tmp_path / "out.parquet"
    env = {**os.environ, **tiny_environ(trained_workdir)}
    done = subprocess.run([sys.executable, "-m", "server", "score", "--data", str(data), "--out", str(out),
                           "--on-error", "fail", "--no-progress"], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "line 3: column 'packet_size'" in done.stderr, done.stderr
    assert not out.exists()
    done = subprocess.run([sys.executable, "-m", "server", "score", "--data", str(data), "--out", str(out),
                           "--threshold", "0.2", "--no-progress"], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "skipped line 7: expected 7 fields, found 8" in done.stderr
    assert "scored 33 of 40 rows" in done.stdout and out.exists()
