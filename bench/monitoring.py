"""Monitoring bench: log on/off serving throughput, window queries at 1M logged rows, and the
CBPE estimate against realised F1 on replayed traffic with known shifts (ground truth).

    python bench/monitoring.py [--rows 40000] [--seeds 11,12] [--skip-throughput] [--skip-query]

Each scenario replays freshly generated flows (`data.scenario.*` knobs starting half-way
through) through /api/predict in time order, feeds the true labels back one window late over
/api/feedback, and prints per window: realised F1 (from the API; checked against sklearn on the
same rows), estimated F1 with its +-3 sigma band, |estimated - realised|, and the expected F1
under the generator's true probability (`p_true`, the same estimator fed the truth): its distance
to the realised F1 is the noise floor of a window that size.

The model is trained on as many flows per 14 days as the replay has: the generator sets its
intercept so each data set has `data.positive_rate` positives, so denser traffic (more load per
link) has a different P(congestion | flow) - a concept shift that CBPE cannot follow by design
and that a density mismatch would add to every scenario.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from bench.benchlib import ensure_model, environ  # noqa: E402

DAY = 86_400
SCENARIOS = {
    "none": {},
    "load_multiplier=2": {"load_multiplier": 2.0},
    "protocol_mix_shift=0.5": {"protocol_mix_shift": 0.5},
    "new_subnets=5": {"new_subnets": 5},
    "label_prior_shift=1.0 (concept)": {"label_prior_shift": 1.0},
}
COVARIATE = ("load_multiplier=2", "protocol_mix_shift=0.5", "new_subnets=5")


def _app(workdir: Path, **env: str):
    from server.app import create_app
    from server.config import load_config

    os.environ.update({k: v for k, v in environ(workdir, CONGESTION_API__RATE_LIMIT_PER_S="0", **env).items()
                       if k.startswith("CONGESTION_")})
    config = load_config()
    for key in env:
        os.environ.pop(key, None)
    return create_app(config)


async def _client(app):
    from aiohttp.test_utils import TestClient, TestServer

    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    return client


async def throughput(workdir: Path, enabled: bool, seconds: float = 6.0, concurrency: int = 16) -> float:
    """Single-record predictions per second with the log on or off."""
    from server.ml.data import generate_flows

    frame = generate_flows(5000, 3).drop(columns=["congestion", "p_true", "hour"], errors="ignore")
    records = frame.to_dict("records")
    client = await _client(_app(workdir, CONGESTION_MONITORING__ENABLED=str(enabled).lower()))
    done, stop_at = 0, time.monotonic() + seconds

    async def worker(k: int) -> None:
        nonlocal done
        i = k
        while time.monotonic() < stop_at:
            async with client.post("/api/predict", json=records[i % len(records)]) as response:
                assert response.status == 200, await response.text()
                await response.read()
            done += 1
            i += concurrency

    started = time.monotonic()
    await asyncio.gather(*(worker(k) for k in range(concurrency)))
    rate = done / (time.monotonic() - started)
    await client.close()
    return rate


def query_times(workdir: Path, rows: int = 1_000_000) -> None:
    """Fill a copy of the DB with `rows` logged predictions; time the API's and the README's queries."""
    import json

    db = workdir / "query.sqlite3"
    shutil.copy2(workdir / "metadata.sqlite3", db)
    conn = sqlite3.connect(db)
    rng = np.random.default_rng(0)
    started = time.monotonic()
    base = 1_764_000_000
    record = json.dumps({"packet_size": 512, "bytes_sent": 20000, "source_ip": "10.0.0.1", "dest_ip": "192.168.1.2",
                         "protocol": "TCP", "timestamp_seconds": base})
    chunk = 100_000
    for start in range(0, rows, chunk):
        p = rng.random(chunk)
        ts = base + (np.arange(start, start + chunk) * 30 * DAY // rows)
        conn.executemany(
            "insert into predictions values (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            ((f"{int(t) * 1000:012x}bench000{i:011x}", int(t), int(t - t % 3600), "2026-12-01 00:00:00.000000",
              "20260101_000000", f"10.0.{i % 250}.{i % 200}", f"192.168.{i % 50}.{i % 20}", record, float(q),
              int(q >= 0.5), 0.5, int(q > rng.random()) if i % 3 == 0 else None, None)
             for i, t, q in zip(range(start, start + chunk), ts.tolist(), p.tolist())))
        conn.commit()
    insert_s = time.monotonic() - started
    size = db.stat().st_size
    queries = {
        "window recomputation from rows (one hour)": (
            "select count(*), avg(prediction), avg(probability), sum(label is not null) from predictions "
            f"where window_start = {base + 15 * DAY} and version = '20260101_000000'"),
        "which flows did version X flag yesterday": (
            "select count(*) from predictions where version = '20260101_000000' and prediction = 1 "
            f"and window_start >= {base + 10 * DAY} and window_start < {base + 11 * DAY}"),
        "label join by flow (1 lookup)": (
            "select id from predictions where source_ip = '10.0.7.7' and dest_ip = '192.168.7.7' "
            f"and timestamp_seconds = {base}"),
        "prune one day (id range)": (
            f"delete from predictions where id < '{(base + DAY) * 1000:012x}'"),
    }
    print(f"\n{rows:,} logged rows: inserted in {insert_s:.1f} s ({rows / insert_s:,.0f} rows/s, bare executemany), "
          f"{size / rows:.0f} bytes per row on disk with indexes")
    for name, sql in queries.items():
        started = time.monotonic()
        conn.execute(sql).fetchall()
        conn.commit()
        print(f"  {name}: {(time.monotonic() - started) * 1000:.1f} ms")
    conn.close()
    db.unlink()


async def scenario(workdir: Path, name: str, knobs: dict, rows: int, window_s: int, seed: int) -> list[dict]:
    """Replay one scenario; return the API's windows (oldest first) with sklearn's F1 beside."""
    from sklearn.metrics import f1_score

    from server.ml.data import generate_flows

    copy = workdir / f"scenario-{abs(hash(name))}-{seed}"
    shutil.rmtree(copy, ignore_errors=True)
    copy.mkdir()
    shutil.copy2(workdir / "metadata.sqlite3", copy / "metadata.sqlite3")
    shutil.copytree(workdir / "blobs", copy / "blobs")
    probe = generate_flows(rows, seed)
    start_ts = int(probe.timestamp_seconds.min() + (probe.timestamp_seconds.max() - probe.timestamp_seconds.min()) // 2)
    frame = generate_flows(rows, seed, scenario={**knobs, "start_timestamp": start_ts}).sort_values("timestamp_seconds")
    labels = frame["congestion"].to_numpy()
    p_true = frame["p_true"].to_numpy()
    records = frame.drop(columns=["congestion", "p_true", "hour"], errors="ignore").to_dict("records")
    client = await _client(_app(copy, CONGESTION_MONITORING__WINDOW_S=str(window_s),
                                CONGESTION_MONITORING__FLUSH_INTERVAL_S="0.2", CONGESTION_API__MAX_BATCH="1000"))
    pending: list[dict] = []
    window_of = (frame.timestamp_seconds.to_numpy() // window_s)
    current = window_of[0]
    ids_all: list[str] = []
    truth: dict[str, float] = {}
    for start in range(0, len(records), 1000):
        async with client.post("/api/predict", json=records[start:start + 1000]) as response:
            answers = await response.json()
        for k, answer in enumerate(answers):
            ids_all.append(answer["prediction_id"])
            truth[answer["prediction_id"]] = float(p_true[start + k])
            pending.append({"prediction_id": answer["prediction_id"], "congestion": int(labels[start + k]),
                            "_window": window_of[start + k]})
        newest = window_of[min(start + 999, len(records) - 1)]
        if newest > current + 1:  # labels of a window arrive one window late
            await asyncio.sleep(0.5)
            ready = [p for p in pending if p["_window"] < newest - 1]
            await _feed(client, ready)
            pending = [p for p in pending if p["_window"] >= newest - 1]
            current = newest - 1
    await asyncio.sleep(0.6)
    await _feed(client, pending)
    async with client.get("/api/monitoring/windows?limit=1000") as response:
        windows = list(reversed(await response.json()))
    await client.close()
    decisions = {}
    conn = sqlite3.connect(copy / "metadata.sqlite3")
    for window_start, label, prediction, pid in conn.execute(
            "select window_start, label, prediction, id from predictions where label is not null"):
        decisions.setdefault(window_start, ([], [], []))
        decisions[window_start][0].append(label)
        decisions[window_start][1].append(prediction)
        decisions[window_start][2].append(truth[pid])
    conn.close()
    for window in windows:
        y, d, c = decisions.get(window["start_timestamp"], ([], [], []))
        window["sklearn_f1"] = f1_score(y, d, zero_division=0) if y else None
        window["expected_f1"] = _expected_f1(np.asarray(c), np.asarray(d)) if y else None
        window["after_shift"] = window["start_timestamp"] + window_s > start_ts
    shutil.rmtree(copy, ignore_errors=True)
    return windows


def _expected_f1(p_true: np.ndarray, decision: np.ndarray) -> float:
    """CBPE's F1 fed the true probabilities: the estimate no label-free method can beat."""
    tp, fn = float(p_true[decision == 1].sum()), float(p_true[decision == 0].sum())
    return 2 * tp / (float(decision.sum()) + tp + fn)


async def _feed(client, items: list[dict]) -> None:
    for start in range(0, len(items), 1000):
        body = [{k: v for k, v in item.items() if not k.startswith("_")} for item in items[start:start + 1000]]
        async with client.post("/api/feedback", json=body) as response:
            assert response.status == 200, await response.text()


def report(name: str, windows: list[dict]) -> tuple[float, float, float]:
    print(f"\n== {name}")
    print(f"{'window (UTC)':<22}{'rows':>6}{'shift':>7}{'realised F1':>13}{'estimated F1':>14}{'band':>17}{'|err|':>8}"
          f"{'p_true F1':>11}")
    errors, after, floor, max_api_gap = [], [], [], 0.0
    for w in windows:
        real, est = (w["realised"] or {}).get("f1"), w["estimated"]["f1"]
        if real is None or est is None:
            continue
        max_api_gap = max(max_api_gap, abs(real - w["sklearn_f1"]))
        band = w["estimated"]["band"]["f1"]
        err = abs(est - real)
        errors.append(err)
        if w["after_shift"]:
            after.append(err)
            floor.append(abs(w["expected_f1"] - real))
        print(f"{w['start']:<22}{w['predictions']:>6}{'yes' if w['after_shift'] else '':>7}{real:>13.3f}{est:>14.3f}"
              f"{f'[{band[0]:.3f}, {band[1]:.3f}]':>17}{err:>8.3f}{w['expected_f1']:>11.3f}")
    mean_all, mean_after = float(np.mean(errors)), float(np.mean(after)) if after else float("nan")
    mean_floor = float(np.mean(floor)) if floor else float("nan")
    print(f"mean |est - realised| F1: {mean_all:.4f} (after the shift: {mean_after:.4f}; noise floor "
          f"|p_true F1 - realised| {mean_floor:.4f}); API realised F1 vs sklearn max gap {max_api_gap:.2e}")
    return mean_all, mean_after, mean_floor


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=40_000, help="flows per scenario (and for training the model)")
    parser.add_argument("--seeds", default="11", help="replay seeds, comma-separated (the model trains on data.seed)")
    parser.add_argument("--window-s", type=int, default=DAY, help="monitoring window (the data spans ~2 weeks)")
    parser.add_argument("--scenarios", help="comma-separated scenario names (default: all)")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--skip-query", action="store_true")
    parser.add_argument("--workdir", help="keep the trained model here between runs")
    args = parser.parse_args()
    workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="bench-monitoring-"))
    ensure_model(workdir, CONGESTION_DATA__ROWS=str(args.rows))  # same traffic density as the replays
    if not args.skip_throughput:
        off = await throughput(workdir, enabled=False)
        on = await throughput(workdir, enabled=True)
        off2 = await throughput(workdir, enabled=False)
        print(f"single-record /api/predict, 16 concurrent clients: log off {off:,.0f} / {off2:,.0f} req/s, "
              f"log on {on:,.0f} req/s ({(on / ((off + off2) / 2) - 1) * 100:+.1f}%)")
    if not args.skip_query:
        query_times(workdir)
    summary = {}
    seeds = [int(s) for s in args.seeds.split(",")]
    chosen = args.scenarios.split(",") if args.scenarios else list(SCENARIOS)
    for name, knobs in ((n, SCENARIOS[n]) for n in chosen):
        windows = [w for seed in seeds for w in await scenario(workdir, name, knobs, args.rows, args.window_s, seed)]
        summary[name] = report(f"{name} (seeds {args.seeds})", windows)
    print(f"\nscenario                          mean |est-real| F1   after the shift   noise floor (seeds {args.seeds})")
    for name, (mean_all, mean_after, mean_floor) in summary.items():
        print(f"{name:<34}{mean_all:>18.4f}{mean_after:>18.4f}{mean_floor:>14.4f}")
    if all(n in summary for n in COVARIATE):
        covariate = float(np.mean([summary[n][1] for n in COVARIATE]))
        print(f"covariate shifts, after the shift: {covariate:.4f} (target <= 0.03)")


if __name__ == "__main__":
    asyncio.run(main())
