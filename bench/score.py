"""Bulk-scoring benchmark: `congestion score` on a generated 1,000,000-row flow file.

Run by hand on an idle machine: `python bench/score.py [--rows N] [--format csv|parquet] [--explain N]`.
The flow file and a default model (`congestion pipeline`, default config) are cached under
$TMPDIR/congestion-bench-score and reused. The scorer runs as a child process; its peak RSS comes
from os.wait4's rusage for that child alone. Targets (2 cores, default RandomForest):
>= 100,000 rows/s and peak RSS < 1 GB.
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchlib import REPO, ensure_model
from benchlib import environ
sys.path.insert(0, str(REPO))


def ensure_flows(cache: Path, rows: int, fmt: str) -> Path:
    """The generated flow file (default seed), written once and reused."""
    path = cache / f"flows_{rows}.{fmt}"
    if not path.exists():
        from server.ml.data import generate_flows, write_flows

        print(f"generating {rows:,} flows into {path} ...", flush=True)
        started = time.perf_counter()
        write_flows(generate_flows(rows, seed=2024), path)
        print(f"  done in {time.perf_counter() - started:.1f} s ({path.stat().st_size / 1e6:.0f} MB)", flush=True)
    return path


def run_scorer(workdir: Path, data: Path, out: Path, extra: list[str]) -> tuple[float, int, float, str]:
    """(wall seconds, peak RSS bytes, CPU seconds, summary line) of one `congestion score` child process."""
    cmd = [sys.executable, "-m", "server", "score", "--data", str(data), "--out", str(out), "--no-progress", *extra]
    started = time.perf_counter()
    child = subprocess.Popen(cmd, cwd=REPO, env=environ(workdir), stdout=subprocess.PIPE, text=True)
    output = child.stdout.read() if child.stdout else ""
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"scorer failed ({child.returncode}): {output}")
    summary = next(line for line in output.splitlines() if line.startswith("scored "))
    return wall, usage.ru_maxrss * 1024, usage.ru_utime + usage.ru_stime, summary


def main() -> None:
    """Generate/reuse data and model, score, report rows/s and peak memory."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--format", choices=["csv", "parquet"], default="csv")
    parser.add_argument("--explain", type=int, default=0, help="also ask for the top N SHAP contributions")
    parser.add_argument("--explain-processes", type=int, default=None, help="processes computing SHAP (default: auto)")
    parser.add_argument("--chunk-rows", type=int, default=100_000)
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "congestion-bench-score")
    args = parser.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    data = ensure_flows(args.cache, args.rows, args.format)
    workdir = args.cache / "model"
    ensure_model(workdir)
    out = args.cache / "scored.parquet"
    extra = ["--chunk-rows", str(args.chunk_rows)] + (["--explain", str(args.explain)] if args.explain else [])
    if args.explain_processes:
        extra += ["--explain-processes", str(args.explain_processes)]
    load_before = os.getloadavg()[0]
    wall, rss, cpu, summary = run_scorer(workdir, data, out, extra)
    loop = re.search(r"in ([\d.]+) s \(([\d,]+) rows/s\)", summary)
    print(summary)
    print(f"rows:            {args.rows:,} ({args.format}, chunks of {args.chunk_rows:,}"
          f"{f', top {args.explain} SHAP per row' if args.explain else ''})")
    label = "explain rows/s:" if args.explain else "scoring loop:  "
    print(f"{label}  {loop.group(2) if loop else '?'} rows/s ({loop.group(1) if loop else '?'} s, scoring loop)")
    print(f"end to end:      {args.rows / wall:,.0f} rows/s ({wall:.1f} s, incl. start-up and model load)")
    print(f"CPU time:        {cpu:.1f} s ({args.rows / cpu:,.0f} rows per CPU-second, start-up included)")
    print(f"peak RSS:        {rss / 2**20:,.0f} MiB (target < 1024)")
    print(f"load average:    {load_before:.2f} before, {os.getloadavg()[0]:.2f} after ({os.cpu_count()} cores; "
          "other work on the machine slows the wall-clock figures)")


if __name__ == "__main__":
    main()
