"""The drift pump joins consecutive requests before feeding the windows: the windows must not tell."""
from __future__ import annotations

import numpy as np

from server.monitoring.drift_service import in_order_runs
from server.monitoring.drift_windows import DriftWindows, record_columns

WINDOW_S = 600


def _requests(seed: int) -> list[tuple[str, list[dict], list[float]]]:
    """Single flows and small batches, mostly in time order, some reaching back windows (late)."""
    rng = np.random.default_rng(seed)
    out, t = [], 1_700_000_000
    for k in range(400):
        t += int(rng.integers(0, 20))
        back = int(rng.integers(0, 3 * WINDOW_S)) if rng.random() < 0.05 else 0
        records = [{"timestamp_seconds": t - back + int(rng.integers(0, 5)), "packet_size": float(rng.integers(40, 1500)),
                    "bytes_sent": float(rng.integers(40, 10**5)), "protocol": str(rng.choice(["TCP", "UDP"])),
                    "dest_ip": f"10.0.{int(rng.integers(0, 4))}.1", "source_ip": "10.9.9.9"}
                   for _ in range(int(rng.choice([1, 1, 1, 3])))]
        version = "v2" if k // 100 == 2 else "v1"  # a promotion, then a rollback
        out.append((version, records, rng.random(len(records)).tolist()))
    return out


def _windows() -> DriftWindows:
    return DriftWindows(WINDOW_S, ("packet_size", "bytes_sent"), ("protocol", "dest_subnet"), reservoir=50,
                        ph_threshold=5.0)


def _feed(windows: DriftWindows, version: str, ts, records: list[dict], probabilities: list[float]) -> list:
    return windows.add(version, np.asarray(ts, dtype=np.int64), record_columns(records, 24, 64), probabilities,
                       records)


def _sampled(reservoir) -> bytes:
    return reservoir._rows[:min(reservoir.seen, reservoir.size)].tobytes()  # unfilled slots are uninitialised


def _summary(windows: DriftWindows, closed: list) -> list:
    closed = closed + windows.close_all()
    return [(w.version, w.sketch.start, w.sketch.rows, _sampled(w.sketch.sample), w.sketch.counts,
             w.probability_change) for w in closed] + [
        (v, windows._state(v).late) for v in ("v1", "v2")]


def test_joined_requests_leave_the_windows_exactly_as_one_by_one():
    for seed in (1, 2, 3):
        batch = _requests(seed)
        one_by_one, closed = _windows(), []
        for version, records, probabilities in batch:
            closed += _feed(one_by_one, version, [r["timestamp_seconds"] for r in records], records, probabilities)
        joined, closed_joined = _windows(), []
        runs = list(in_order_runs(batch, WINDOW_S))
        for version, ts, records, probabilities in runs:
            closed_joined += _feed(joined, version, ts, records, probabilities)
        assert len(runs) < len(batch) / 2  # the point: far fewer calls
        assert _summary(joined, closed_joined) == _summary(one_by_one, closed)
        assert sum(late for _, late in _summary(joined, [])[-2:]) > 0  # the late path was exercised


def test_joining_never_changes_the_requests_own_lists():
    batch = _requests(5)
    before = [(list(records), list(probabilities)) for _, records, probabilities in batch]
    list(in_order_runs(batch, WINDOW_S))
    assert [(records, probabilities) for _, records, probabilities in batch] == before
