"""Closing the loop end to end: shift -> alert -> retrain from feedback -> shadow -> promotion.

    python bench/loop.py [--rows 40000] [--window-s 3600] [--scenario new_subnets=5] [--update continue]

Replays generated flows (seed 11) whose scenario starts half-way through, in time order, through
/api/predict of an in-process server with the default model trained at the replay's traffic
density; true labels come back one window late over /api/feedback. After every 250-record batch
the server's own retrain triggers (alerts named in `retrain.on_alerts`, 2,000 new labels, the
default 7-day lookback, no schedule) and challenger rules (a paired win over 1,000 labelled rows)
run, exactly as the server's background loop runs them. Prints per window and per day the served
version and its realised F1 (sklearn on the logged rows), the moves (alert, retrain run, shadow,
promotion), each shadow's standing at the end, and the time from the shift to the first
promotion, in windows of flow time and in wall-clock seconds.
"""
from __future__ import annotations

import argparse
import asyncio
import sqlite3
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.benchlib import ensure_model  # noqa: E402
from bench.monitoring import _app, _client, _feed  # noqa: E402


BATCH = 250  # records per predict call: the triggers and rules run after each, ~2 windows of flow time


def _knobs(text: str) -> dict:
    name, value = text.split("=")
    return {name: float(value)}


async def replay(workdir: Path, knobs: dict, rows: int, window_s: int, update: str = "retrain",
                 mix_ratio: float = 0.0) -> None:
    from sklearn.metrics import f1_score

    from server import keys
    from server.ml.data import generate_flows

    probe = generate_flows(rows, 11)
    t0, t1 = int(probe.timestamp_seconds.min()), int(probe.timestamp_seconds.max())
    shift_ts = t0 + (t1 - t0) // 2
    frame = generate_flows(rows, 11, scenario={**knobs, "start_timestamp": shift_ts}).sort_values("timestamp_seconds")
    labels = frame["congestion"].to_numpy()
    windows = frame.timestamp_seconds.to_numpy() // window_s
    records = frame.drop(columns=["congestion", "p_true", "hour"], errors="ignore").to_dict("records")
    app = _app(workdir, CONGESTION_MONITORING__WINDOW_S=str(window_s), CONGESTION_MONITORING__FLUSH_INTERVAL_S="0.2",
               CONGESTION_API__MAX_BATCH="1000", CONGESTION_VERSIONING__FOLLOW_INTERVAL_S="0",
               CONGESTION_MODEL__UPDATE=update, CONGESTION_RETRAIN__MIX_RATIO=str(mix_ratio),
               CONGESTION_VERSIONING__PROMOTION__MIN_LABELS="1000", CONGESTION_RETRAIN__DEBOUNCE_S="0",
               CONGESTION_RETRAIN__MIN_NEW_LABELS="2000", CONGESTION_RETRAIN__LOOKBACK_S=str(7 * 86_400),
               CONGESTION_RETRAIN__ON_ALERTS="[dataset_drift, feature_drift, prediction_drift, f1_drop, "
                                             "estimated_f1_drop, error_change]")
    client = await _client(app)
    triggers, rules, training = app[keys.TRIGGERS], app[keys.RULES], app[keys.TRAINING]
    started = time.monotonic()
    moves: list[tuple[int, float, str]] = []
    pending: list[dict] = []
    served_window = windows[0]
    for start in range(0, len(records), BATCH):
        async with client.post("/api/predict", json=records[start:start + BATCH]) as response:
            answers = await response.json()
        for k, answer in enumerate(answers):
            pending.append({"prediction_id": answer["prediction_id"], "congestion": int(labels[start + k]),
                            "_window": windows[start + k]})
        newest = windows[min(start + BATCH - 1, len(records) - 1)]
        if newest > served_window + 1:  # a window's labels arrive one window late
            await asyncio.sleep(0.4)
            await _feed(client, [p for p in pending if p["_window"] < newest - 1])
            pending = [p for p in pending if p["_window"] >= newest - 1]
            served_window = newest - 1
        elapsed = time.monotonic() - started
        run_id = await triggers.check()
        if run_id is not None:
            moves.append((int(newest), elapsed, f"retrain run {run_id} started ({triggers.last_reason})"))
            await training.wait(run_id)
            moves.append((int(newest), time.monotonic() - started,
                          f"run {run_id} ended; shadows: {app[keys.SHADOWS].versions}"))
        await app[keys.SHADOWS]._score_pending()
        for move in await rules.evaluate():
            moves.append((int(newest), time.monotonic() - started, _move_text(move)))
    await asyncio.sleep(0.6)
    await _feed(client, pending)
    async with client.get("/api/alerts?status=all") as response:
        alerts = (await response.json()).get("alerts", [])
    verdicts = await _shadow_verdicts(app)
    await client.close()

    by_window: dict[tuple[int, str], tuple[list, list]] = defaultdict(lambda: ([], []))
    conn = sqlite3.connect(workdir / "metadata.sqlite3")
    for window_start, version, label, prediction in conn.execute(
            "select window_start, version, label, prediction from predictions where label is not null"):
        by_window[(window_start, version)][0].append(label)
        by_window[(window_start, version)][1].append(prediction)
    conn.close()
    shift_window = shift_ts // window_s
    print(f"\nscenario {knobs} from window {shift_window} ({rows:,} flows, {window_s} s windows, "
          f"model.update={update}, retrain.mix_ratio={mix_ratio})")
    print(f"{'window':>8} {'version':>16} {'rows':>6} {'F1':>6}  phase")
    for (window_start, version), (y, d) in sorted(by_window.items()):
        w = window_start // window_s
        phase = "before" if w < shift_window else "after"
        print(f"{w - shift_window:>+8} {version:>16} {len(y):>6} {f1_score(y, d, zero_division=0):>6.3f}  {phase}")
    print("\nper day of flow time (F1 of the day's labelled rows, by serving version):")
    days: dict[tuple[int, str], tuple[list, list]] = defaultdict(lambda: ([], []))
    for (window_start, version), (y, d) in by_window.items():
        day = (window_start - shift_window * window_s) // 86_400
        days[(day, version)][0].extend(y)
        days[(day, version)][1].extend(d)
    for (day, version), (y, d) in sorted(days.items()):
        print(f"  day {day:+3d} {version:>16} {len(y):>6} rows  F1 {f1_score(y, d, zero_division=0):.3f}")
    print("\nalerts:", ", ".join(f"{a['rule']}@{(a['window_start'] // window_s) - shift_window:+d}" for a in alerts) or "none")
    print("moves:")
    for window, seconds, text in moves:
        print(f"  window {window - shift_window:+d}, {seconds:7.1f} s: {text}")
    print("shadows at the end, against the champion on the rows it served:")
    for line in verdicts or ["  none"]:
        print(line)
    promotions = [(w, s) for w, s, text in moves if "promoted" in text]
    if promotions:
        w, s = promotions[0]
        print(f"\nshift -> promotion: {w - shift_window} windows of flow time, {s:.1f} s of wall clock")
    else:
        print("\nno promotion happened in this replay")


def _move_text(move: dict) -> str:
    """A promotion or rollback with the paired evidence it was made on."""
    comparison = move.get("comparison") or {}
    e = comparison.get("evidence") or {}
    kind = "promoted" if comparison else "rolled back"
    if not e:
        return f"{move.get('version')} now serves ({kind})"
    return (f"{move.get('version')} now serves ({kind} on {comparison['labelled']} paired rows: F1 "
            f"{e['candidate']['f1_score']:.3f} vs {e['champion']['f1_score']:.3f}, PR AUC "
            f"{e['candidate'].get('pr_auc', float('nan')):.3f} vs {e['champion'].get('pr_auc', float('nan')):.3f}, "
            f"McNemar p={e['mcnemar']['p_value']:.3g} ({e['mcnemar']['a_only']} vs {e['mcnemar']['b_only']}), "
            f"DeLong p={e['delong']['p_value'] if e['delong']['p_value'] is None else format(e['delong']['p_value'], '.3g')})")


async def _shadow_verdicts(app) -> list[str]:
    from server import keys
    from server.lifecycle import challenge
    from server.store import repo

    async with app[keys.SESSIONS]() as session:
        active = await repo.active_version(session)
    lines = []
    for tag in app[keys.SHADOWS].versions:
        c = await challenge.compare(app[keys.SESSIONS], app[keys.CONFIG], tag, served_by=active.tag)
        e = c.get("evidence") or {}
        f1 = (f"F1 {e['candidate']['f1_score']:.3f} vs {e['champion']['f1_score']:.3f}, McNemar p="
              f"{e['mcnemar']['p_value']:.3g}" if e else "no evidence")
        lines.append(f"  {tag}: {c['verdict']} on {c['labelled']} paired labelled rows ({f1})")
    return lines


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=40_000)
    parser.add_argument("--window-s", type=int, default=3600)
    # new_subnets: flows to subnets the model never saw, on small links; a model retrained on the
    # field's labels knows them. label_prior_shift=1.0 barely moves a day's F1 (see README).
    parser.add_argument("--scenario", default="new_subnets=5")
    parser.add_argument("--update", choices=["retrain", "continue"], default="retrain",
                        help="model.update of the triggered retrains: full retrain or incremental")
    parser.add_argument("--mix-ratio", type=float, default=0.0,
                        help="retrain.mix_ratio: generated rows mixed into each retrain per labelled row")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="congestion-loop-") as tmp:
        workdir = Path(tmp)
        # At the replay's traffic density: per-source flow counts of a denser stream are a shift
        # the model would see from the first window (bench/monitoring.py does the same).
        ensure_model(workdir, CONGESTION_DATA__ROWS=str(args.rows))
        await replay(workdir, _knobs(args.scenario), args.rows, args.window_s, args.update, args.mix_ratio)


if __name__ == "__main__":
    asyncio.run(main())
