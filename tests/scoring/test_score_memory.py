"""Scoring memory is bounded by the chunk size: it runs under an address-space limit that loading the file breaks."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from server.config import REPO_ROOT
from tests.conftest import tiny_environ
from tests.scoring.conftest import flows

BUDGET_MB = 100  # address space allowed above the warmed-up process (imports, model, one tiny job)

CHILD = """
import asyncio, resource, sys
from pathlib import Path
import pyarrow
pyarrow.set_cpu_count(1)  # arrow's pools start their threads in the warm-up, not under the limit
pyarrow.set_io_thread_count(1)
from server.config import load_config
from server.scoring import cli as scoring

mode, small, big, out = sys.argv[1:5]
config = load_config()
bundle = asyncio.run(scoring.load_bundle(config, None))
def run(path, target):
    options = scoring.ScoreOptions(Path(path), Path(target), progress=False, chunk_rows=5000)
    return scoring.score_file(bundle, options, max_window_keys=config.features.max_window_keys)
run(small, out + ".warm.parquet")  # every lazy import, thread and allocator arena exists now
if mode == "load":
    from server.ml.data import load_flows
    load_flows(small, require_label=False)
vm_kb = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmSize:"))
limit = (vm_kb + int(sys.argv[5]) * 1024) * 1024
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
try:
    if mode == "load":
        frame = load_flows(big, require_label=False)
        print("loaded", len(frame))
    else:
        print("scored", run(big, out).rows_scored)
except MemoryError:
    print("MemoryError")
except Exception as exc:  # the loader wraps parser failures; a thread stack that cannot be mapped is OOM too
    oom = ("memory", "malloc", "can't start new thread")
    print("MemoryError" if any(w in str(exc).lower() for w in oom) else repr(exc))
"""


def _big_csv(path, copies: int) -> int:
    """The same 5,000 generated flows repeated, each copy 14 days later (cheap to make, large to load)."""
    base = flows(5000, seed=12)
    span = int(base["timestamp_seconds"].max() - base["timestamp_seconds"].min()) + 3600
    parts = [base.assign(timestamp_seconds=base["timestamp_seconds"] + k * span) for k in range(copies)]
    frame = pd.concat(parts, ignore_index=True)
    frame["hour"] = (frame["timestamp_seconds"] // 3600) % 24
    pacsv.write_csv(pa.Table.from_pandas(frame, preserve_index=False), path)
    return len(frame)


def _child(mode: str, workdir, small, big, out) -> str:
    env = {**os.environ, **tiny_environ(workdir), "MALLOC_ARENA_MAX": "2", "ARROW_DEFAULT_MEMORY_POOL": "system",
           "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", CHILD, mode, str(small), str(big), str(out), str(BUDGET_MB)],
                          cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip().splitlines()[-1]


def test_scoring_fits_where_loading_the_file_does_not(trained_workdir, tmp_path):
    small, big = tmp_path / "small.csv", tmp_path / "big.csv"
    pacsv.write_csv(pa.Table.from_pandas(flows(300, seed=1), preserve_index=False), small)
    rows = _big_csv(big, copies=80)
    assert big.stat().st_size > 20 * 2**20 and rows == 400_000
    assert _child("load", trained_workdir, small, big, tmp_path / "o.parquet") == "MemoryError"
    assert _child("score", trained_workdir, small, big, tmp_path / "o.parquet") == f"scored {rows}"
    assert np.isfinite(pd.read_parquet(tmp_path / "o.parquet", columns=["probability"])["probability"]).all()
