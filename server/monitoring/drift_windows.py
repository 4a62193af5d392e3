"""Event-time windows of drift sketches per version, plus the streaming detectors.

Flows land in the window `[k * window_s, (k + 1) * window_s)` of their `timestamp_seconds`,
so replayed traffic gives the windows live traffic gives. A window closes when a flow of a later
window of the same version arrives (event time moved on); late flows of a closed window are
counted, not added. At most `MAX_OPEN` windows per version stay open: memory is bounded.
Synchronous and free of I/O: the server runs it in a thread, `bench/drift.py` calls it directly.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from server.ml.profile import DEST_SUBNET, subnet_bucket
from server.ml.schema import BYTES_SENT, DEST_IP, PACKET_SIZE, PROTOCOL
from server.monitoring.detectors import PageHinkley
from server.monitoring.drift_sketch import WindowSketch

MAX_OPEN = 3


@dataclass
class ClosedWindow:
    """A window that will take no more flows, ready for its drift report."""

    version: str
    sketch: WindowSketch
    probability_change: dict = field(default_factory=dict)
    error_change: dict = field(default_factory=dict)


@dataclass
class _VersionState:
    open: dict[int, WindowSketch] = field(default_factory=dict)
    closed_before: int = -(2**62)
    ph_probability: PageHinkley | None = None
    ph_error: PageHinkley | None = None
    changes: dict[int, dict[str, int]] = field(default_factory=dict)
    late: int = 0


def record_columns(records: Sequence[Mapping], prefix_v4: int, prefix_v6: int) -> dict[str, list]:
    """The monitored raw columns of validated flow records (aggregates are not in a record)."""
    return {PACKET_SIZE: [float(r[PACKET_SIZE]) for r in records],
            BYTES_SENT: [float(r[BYTES_SENT]) for r in records],
            PROTOCOL: [str(r[PROTOCOL]) for r in records],
            DEST_SUBNET: [subnet_bucket(str(r[DEST_IP]), prefix_v4, prefix_v6) for r in records]}


class DriftWindows:
    """Window sketches and detectors of every version seen."""

    def __init__(self, window_s: int, numeric: Sequence[str], categorical: Sequence[str], *, reservoir: int,
                 explain_sample: int = 0, ph_threshold: float = 50.0, ph_delta: float = 0.005,
                 error_ph_threshold: float | None = None, ph_alpha: float = 1.0) -> None:
        self.window_s = int(window_s)
        self.numeric, self.categorical = tuple(numeric), tuple(categorical)
        self.reservoir, self.explain_sample = reservoir, explain_sample
        self._ph = (ph_delta, ph_threshold)
        self._ph_alpha = ph_alpha
        self._error_ph_threshold = error_ph_threshold if error_ph_threshold is not None else ph_threshold
        self._versions: dict[str, _VersionState] = {}

    def _state(self, version: str) -> _VersionState:
        state = self._versions.get(version)
        if state is None:
            delta, threshold = self._ph
            state = self._versions[version] = _VersionState(
                ph_probability=PageHinkley(delta=delta, threshold=threshold, alpha=self._ph_alpha),
                # Forgetting is for the probability stream's daily cycle; errors have none (bench/drift.py).
                ph_error=PageHinkley(delta=delta, threshold=self._error_ph_threshold))
        return state

    def late(self, version: str) -> int:
        """Flows that arrived after their window had closed."""
        return self._state(version).late

    def add(self, version: str, timestamps: np.ndarray, columns: Mapping[str, Sequence],
            probabilities: Sequence[float], records: Sequence[dict] | None = None) -> list[ClosedWindow]:
        """Add a batch of flows in arrival order; returns the windows this closed."""
        ts = np.asarray(timestamps, dtype=np.int64)
        starts = ts // self.window_s * self.window_s
        probabilities = np.asarray(probabilities, dtype=np.float64)
        state, closed = self._state(version), []
        for start in np.unique(starts):  # ascending: earlier windows first
            pick = np.flatnonzero(starts == start)
            start = int(start)
            if start < state.closed_before:
                state.late += len(pick)
                continue
            closed += self._close_before(version, state, start)
            sketch = state.open.get(start)
            if sketch is None:
                sketch = state.open[start] = WindowSketch(start, self.numeric, self.categorical, self.reservoir,
                                                          self.explain_sample)
            sketch.add({k: np.asarray(v, dtype=object)[pick] if k in self.categorical else np.asarray(v)[pick]
                        for k, v in columns.items()}, probabilities[pick],
                       [records[i] for i in pick] if records is not None else None)
            self._detect(state, "probability", state.ph_probability, probabilities[pick], start)
        while len(state.open) > MAX_OPEN:
            closed += self._close_before(version, state, sorted(state.open)[1])
        return closed

    def add_errors(self, version: str, timestamps: np.ndarray, errors: Sequence[float]) -> None:
        """Feed 0/1 errors of labelled predictions (in label arrival order) to the error detector."""
        state = self._state(version)
        values = np.asarray(errors, dtype=np.float64)
        # Labels come late: a change found now is reported with the newest open window.
        start = max(state.open) if state.open else int(np.max(timestamps)) // self.window_s * self.window_s
        self._detect(state, "error", state.ph_error, values, start)

    def _detect(self, state: _VersionState, stream: str, detector: PageHinkley | None, values: np.ndarray,
                start: int) -> None:
        assert detector is not None
        hits = sum(detector.update(float(x)).drift_detected for x in values)
        if hits:
            counts = state.changes.setdefault(start, {})
            counts[stream] = counts.get(stream, 0) + hits

    def _close_before(self, version: str, state: _VersionState, start: int) -> list[ClosedWindow]:
        out = []
        for begin in sorted(s for s in state.open if s < start):
            out.append(self._closed(version, state, state.open.pop(begin)))
        state.closed_before = max(state.closed_before, start)
        for stale in [s for s in state.changes if s < state.closed_before and s not in state.open]:
            del state.changes[stale]  # detections for windows already reported
        return out

    def _closed(self, version: str, state: _VersionState, sketch: WindowSketch) -> ClosedWindow:
        changes = state.changes.pop(sketch.start, {})
        return ClosedWindow(version, sketch,
                            {"drift": bool(changes.get("probability")), "detections": changes.get("probability", 0)},
                            {"drift": bool(changes.get("error")), "detections": changes.get("error", 0)})

    def close_all(self) -> list[ClosedWindow]:
        """Close every open window (end of a replay)."""
        out = []
        for version, state in self._versions.items():
            out += self._close_before(version, state, 2**62)
        return out


def frame_columns(frame, numeric: Sequence[str], prefix_v4: int = 24, prefix_v6: int = 64) -> dict[str, Sequence]:
    """Monitored columns of a flow frame (with aggregates, when it has them): the bench's input."""
    columns: dict[str, Sequence] = {c: frame[c].to_numpy(dtype=np.float64) for c in numeric if c in frame}
    columns[PROTOCOL] = frame[PROTOCOL].astype(str).to_numpy()
    columns[DEST_SUBNET] = np.array([subnet_bucket(ip, prefix_v4, prefix_v6) for ip in frame[DEST_IP]], dtype=object)
    return columns

