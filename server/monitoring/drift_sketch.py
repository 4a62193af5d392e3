"""The current side of the drift tests: a bounded per-window sketch of the flows seen.

Numeric columns and probabilities share one row reservoir (Vitter's algorithm R, seeded by
the window start so a replay keeps the same rows); categorical columns are exact counts with a
cap on distinct keys. Memory is bounded by `reservoir` rows and `MAX_CATEGORIES` keys per column
whatever the traffic; with fewer rows than the reservoir holds, the sketch is the window itself,
so the tests equal a recomputation from the full log.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from server.ml.profile import MAX_CATEGORIES, OTHER

PROBABILITY = "probability"


class Reservoir:
    """Uniform sample of at most `size` rows of a fixed set of float columns."""

    def __init__(self, columns: Sequence[str], size: int, seed: int) -> None:
        self.columns = tuple(columns)
        self.size = int(size)
        self.seen = 0
        self._rows = np.empty((self.size, len(self.columns)), dtype=np.float64)
        self._rng = np.random.default_rng(seed)

    def add(self, block: np.ndarray) -> None:
        """Offer rows (n x columns) in arrival order."""
        n = len(block)
        if n == 0:
            return
        free = max(0, min(self.size - self.seen, n))
        self._rows[self.seen:self.seen + free] = block[:free]
        rest = np.arange(free, n)
        if len(rest):
            # Row i (0-based overall index seen+i) replaces a random slot with probability size/(seen+i+1).
            slots = (self._rng.random(len(rest)) * (self.seen + rest + 1)).astype(np.int64)
            for i, slot in zip(rest[slots < self.size], slots[slots < self.size]):
                self._rows[slot] = block[i]
        self.seen += n

    def column(self, name: str) -> np.ndarray:
        """The sampled values of one column."""
        return self._rows[:min(self.seen, self.size), self.columns.index(name)].copy()


class WindowSketch:
    """Everything the drift tests need from one monitoring window of one version."""

    def __init__(self, start: int, numeric: Sequence[str], categorical: Sequence[str],
                 reservoir: int, explain_sample: int = 0) -> None:
        self.start = int(start)
        self.rows = 0
        self.numeric = tuple(numeric)
        self.sample = Reservoir((*self.numeric, PROBABILITY), reservoir, seed=self.start)
        self.counts: dict[str, dict[str, int]] = {c: {} for c in categorical}
        self.explain_rows: list[dict] = []
        self.explain_sample = int(explain_sample)
        self._explain_rng = np.random.default_rng(self.start + 1)
        self.labels = {"n": 0, "errors": 0}

    def add(self, columns: Mapping[str, Sequence], probabilities: Sequence[float],
            records: Sequence[dict] | None = None) -> None:
        """Add a batch of flows: column arrays (missing numeric columns are NaN) and scores."""
        n = len(probabilities)
        block = np.full((n, len(self.numeric) + 1), np.nan)
        for j, name in enumerate(self.numeric):
            if name in columns:
                block[:, j] = np.asarray(columns[name], dtype=np.float64)
        block[:, -1] = np.asarray(probabilities, dtype=np.float64)
        self.sample.add(block)
        for name, counts in self.counts.items():
            for value in columns.get(name, ()):
                key = str(value)
                if key in counts or len(counts) < MAX_CATEGORIES:
                    counts[key] = counts.get(key, 0) + 1
                else:
                    counts[OTHER] = counts.get(OTHER, 0) + 1
        if records is not None and self.explain_sample:
            self._offer_explain(records)
        self.rows += n

    def _offer_explain(self, records: Sequence[dict]) -> None:
        """Keep a uniform sample of records for attribution (SHAP) drift."""
        for i, record in enumerate(records):
            seen = self.rows + i
            if len(self.explain_rows) < self.explain_sample:
                self.explain_rows.append(record)
            else:
                slot = int(self._explain_rng.random() * (seen + 1))
                if slot < self.explain_sample:
                    self.explain_rows[slot] = record

    def values(self, name: str) -> np.ndarray:
        """Sampled values of a numeric column (or `probability`), NaNs dropped."""
        values = self.sample.column(name)
        return values[np.isfinite(values)]
