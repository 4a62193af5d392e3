"""Scoring progress on stderr: rows done of rows total, rate and ETA.

Parquet files carry their row count; a CSV's total is estimated from its size and sampled line
lengths, so the bar says so and grows the total if the estimate was short.
"""
from __future__ import annotations

import sys
import threading

from tqdm import tqdm


class ScoreProgress:
    """A tqdm bar over input rows; `advance` may be called from the scoring worker thread."""

    def __init__(self, total: int | None, estimated: int | None, enabled: bool = True) -> None:
        self.estimated = total is None and estimated is not None
        desc = "scoring (total estimated from the file size)" if self.estimated else "scoring"
        self._lock = threading.Lock()
        self._bar = tqdm(total=total if total is not None else estimated, unit=" rows", unit_scale=True,
                         desc=desc, file=sys.stderr, disable=not enabled, dynamic_ncols=True, smoothing=0.1)

    @property
    def done(self) -> int:
        return int(self._bar.n)

    @property
    def total(self) -> int | None:
        return None if self._bar.total is None else int(self._bar.total)

    def advance(self, rows: int) -> None:
        """Count `rows` more input rows as scored."""
        with self._lock:
            if self.estimated and self._bar.total is not None and self._bar.n + rows > self._bar.total:
                self._bar.total = self._bar.n + rows  # the estimate was short: never show more than 100 %
            self._bar.update(rows)

    def close(self, finished: bool) -> None:
        """End the bar; a finished CSV job's total becomes the exact count."""
        with self._lock:
            if finished and self.estimated:
                self._bar.total = self._bar.n
                self._bar.refresh()
            self._bar.close()
