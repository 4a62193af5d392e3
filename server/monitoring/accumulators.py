"""Per-window accumulators of the built-in performance parts, fed column-wise from logged rows.

`predictions` is fed by the log writer as traffic passes (every served prediction, sampled or
not); `labels` by the feedback route as labels arrive (a replaced label is removed, then the new
one added). Both are sums and weighted counts, so states of several processes merge by addition
and a window recomputed from its logged rows gives the same numbers.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from server.monitoring.counts import Counts, round_probability, round_significant


@dataclass
class PredictionBatch:
    """Columns of predictions of one window and version (the unit every accumulator is fed)."""

    probability: np.ndarray
    prediction: np.ndarray         # decision at the threshold applied, 0/1
    calibrated: np.ndarray         # the version's calibrated probability (CBPE)
    records: list[dict[str, Any]] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)


class PredictionsPart:
    """Counts and sums over served predictions; enough for rates and the CBPE estimate."""

    part = "predictions"

    def __init__(self) -> None:
        self.n = 0
        self.positives = 0
        self.sum_probability = 0.0
        # per decision d (index 0/1): predictions, sum of calibrated p, sum of p(1-p)
        self.count = [0, 0]
        self.sum_calibrated = [0.0, 0.0]
        self.sum_variance = [0.0, 0.0]
        self.calibrated = Counts(2, round_probability)  # calibrated p -> [sum(1-p), sum(p)]

    def add(self, batch: PredictionBatch) -> None:
        decisions = batch.prediction.astype(bool)
        c = batch.calibrated
        self.n += len(c)
        self.positives += int(decisions.sum())
        self.sum_probability += float(batch.probability.sum())
        for d, mask in ((0, ~decisions), (1, decisions)):
            cd = c[mask]
            self.count[d] += len(cd)
            self.sum_calibrated[d] += float(cd.sum())
            self.sum_variance[d] += float((cd * (1.0 - cd)).sum())
        self.calibrated.add(c, np.column_stack([1.0 - c, c]))

    def merge(self, other: "PredictionsPart") -> None:
        self.n += other.n
        self.positives += other.positives
        self.sum_probability += other.sum_probability
        for d in (0, 1):
            self.count[d] += other.count[d]
            self.sum_calibrated[d] += other.sum_calibrated[d]
            self.sum_variance[d] += other.sum_variance[d]
        self.calibrated.merge(other.calibrated)

    def state(self) -> dict[str, Any]:
        return {"n": self.n, "positives": self.positives, "sum_probability": self.sum_probability,
                "count": self.count, "sum_calibrated": self.sum_calibrated,
                "sum_variance": self.sum_variance, "calibrated": self.calibrated.state()}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> "PredictionsPart":
        part = cls()
        part.n, part.positives = int(state["n"]), int(state["positives"])
        part.sum_probability = float(state["sum_probability"])
        part.count = [int(v) for v in state["count"]]
        part.sum_calibrated = [float(v) for v in state["sum_calibrated"]]
        part.sum_variance = [float(v) for v in state["sum_variance"]]
        part.calibrated.load(state["calibrated"])
        return part


@dataclass
class LabelBatch:
    """Labelled predictions of one window and version (sign -1 removes replaced labels)."""

    probability: np.ndarray
    prediction: np.ndarray
    label: np.ndarray
    lag_s: np.ndarray
    sign: float = 1.0


class LabelsPart:
    """Confusion counts, squared error, score counts and label lags of labelled predictions."""

    part = "labels"

    def __init__(self) -> None:
        self.labelled = 0
        self.tp = self.fp = self.fn = self.tn = 0
        self.squared_error = 0.0
        self.scores = Counts(2, round_probability)  # probability -> [negatives, positives]
        self.lags = Counts(1, round_significant)    # seconds from arrival to label -> [count]

    def add(self, batch: LabelBatch) -> None:
        s = int(batch.sign)
        y, d, p = batch.label.astype(bool), batch.prediction.astype(bool), batch.probability
        self.labelled += s * len(y)
        self.tp += s * int((y & d).sum())
        self.fp += s * int((~y & d).sum())
        self.fn += s * int((y & ~d).sum())
        self.tn += s * int((~y & ~d).sum())
        self.squared_error += batch.sign * float(((p - y) ** 2).sum())
        yf = y.astype(float)
        self.scores.add(p, np.column_stack([1.0 - yf, yf]), batch.sign)
        self.lags.add(batch.lag_s, np.ones((len(y), 1)), batch.sign)

    def merge(self, other: "LabelsPart") -> None:
        self.labelled += other.labelled
        self.tp, self.fp = self.tp + other.tp, self.fp + other.fp
        self.fn, self.tn = self.fn + other.fn, self.tn + other.tn
        self.squared_error += other.squared_error
        self.scores.merge(other.scores)
        self.lags.merge(other.lags)

    def state(self) -> dict[str, Any]:
        return {"labelled": self.labelled, "confusion": [self.tp, self.fp, self.fn, self.tn],
                "squared_error": self.squared_error, "scores": self.scores.state(),
                "lags": self.lags.state()}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> "LabelsPart":
        part = cls()
        part.labelled = int(state["labelled"])
        part.tp, part.fp, part.fn, part.tn = (int(v) for v in state["confusion"])
        part.squared_error = float(state["squared_error"])
        part.scores.load(state["scores"])
        part.lags.load(state["lags"])
        return part
