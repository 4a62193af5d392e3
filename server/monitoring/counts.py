"""Weighted value counts: exact while small, coarsened past a cap, mergeable and subtractable.

Exact counts make ROC AUC and quantiles equal to scikit-learn's and numpy's on small windows;
past `cap` distinct values they are rounded (`coarsen`) so memory stays bounded whatever the
traffic, and the results become approximations whose error is set by the rounding.
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np

DEFAULT_CAP = 4096


def round_probability(value: float) -> float:
    """Probabilities to 1/2048: AUC error below ~1e-3 once a window is coarsened."""
    return round(value * 2048) / 2048


def round_significant(value: float) -> float:
    """Durations to 3 significant digits: quantiles within 0.5%."""
    return float(f"{value:.3g}") if value > 0 else 0.0


class Counts:
    """value -> [w0, w1, ...] weights; e.g. score -> [negatives, positives]."""

    def __init__(self, width: int, coarsen: Callable[[float], float], cap: int = DEFAULT_CAP) -> None:
        self.width = width
        self.coarsen = coarsen
        self.cap = cap
        self.coarse = False
        self.table: dict[float, list[float]] = {}

    def add(self, values: np.ndarray, weights: np.ndarray, sign: float = 1.0) -> None:
        """Add (or with sign=-1 remove) rows: `weights` has shape (len(values), width)."""
        if len(values) == 0:
            return
        if self.coarse:
            values = np.fromiter((self.coarsen(float(v)) for v in values), float, len(values))
        uniques, inverse = np.unique(values, return_inverse=True)
        sums = np.zeros((len(uniques), self.width))
        np.add.at(sums, inverse, weights)
        table = self.table
        for value, row in zip(uniques.tolist(), (sign * sums).tolist()):
            entry = table.get(value)
            if entry is None:
                table[value] = row
            else:
                for i, w in enumerate(row):
                    entry[i] += w
                if not any(entry):  # fully removed (replaced labels)
                    del table[value]
        if len(table) > self.cap and not self.coarse:
            self._coarsen()

    def _coarsen(self) -> None:
        self.coarse = True
        table: dict[float, list[float]] = {}
        for value, row in self.table.items():
            entry = table.setdefault(self.coarsen(value), [0.0] * self.width)
            for i, w in enumerate(row):
                entry[i] += w
        self.table = table

    def merge(self, other: "Counts") -> None:
        """Add another Counts' rows (coarsening both if either is coarse)."""
        if other.coarse and not self.coarse:
            self._coarsen()
        values = np.fromiter(other.table, float, len(other.table))
        weights = np.asarray(list(other.table.values()), dtype=float).reshape(len(values), self.width)
        self.add(values, weights)

    def sorted(self) -> tuple[np.ndarray, np.ndarray]:
        """(values ascending, weights) as arrays."""
        values = np.asarray(sorted(self.table), dtype=float)
        weights = np.asarray([self.table[v] for v in values.tolist()], dtype=float).reshape(len(values), self.width)
        return values, weights

    def state(self) -> dict:
        values, weights = self.sorted()
        return {"coarse": self.coarse, "rows": [[v, *w] for v, w in zip(values.tolist(), weights.tolist())]}

    def load(self, state: dict) -> "Counts":
        self.coarse = bool(state.get("coarse", False))
        self.table = {float(r[0]): [float(w) for w in r[1:]] for r in state.get("rows", [])}
        return self


def auc(values: np.ndarray, negatives: np.ndarray, positives: np.ndarray) -> float | None:
    """Mann-Whitney ROC AUC of weighted scores, ties counted half (= sklearn's roc_auc_score)."""
    total_pos, total_neg = float(positives.sum()), float(negatives.sum())
    if total_pos <= 0 or total_neg <= 0:
        return None
    below = np.cumsum(negatives) - negatives  # negatives scored strictly lower
    wins = float(np.sum(positives * (below + 0.5 * negatives)))
    return wins / (total_pos * total_neg)


def quantile(values: np.ndarray, counts: np.ndarray, q: float) -> float | None:
    """numpy's default (linear) quantile of values repeated `counts` times."""
    n = int(round(float(counts.sum())))
    if n <= 0:
        return None
    cumulative = np.cumsum(np.rint(counts).astype(np.int64))
    position = q * (n - 1)
    low, high = math.floor(position), math.ceil(position)
    v_low = float(values[np.searchsorted(cumulative, low, side="right")])
    v_high = float(values[np.searchsorted(cumulative, high, side="right")])
    return v_low + (v_high - v_low) * (position - low)
