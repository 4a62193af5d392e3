"""Streaming change detectors in river's shape: `update(x)` then read `drift_detected`.

Page-Hinkley (Page 1954; Hinkley 1971) watches the running mean of a stream, here the predicted
probabilities and, where labels arrive, the 0/1 errors, so a change inside a long window is
caught at the flow where it becomes significant rather than when the window closes.
"""
from __future__ import annotations

from collections import deque
from statistics import median


class PageHinkley:
    """Two-sided Page-Hinkley test on a stream's mean; resets itself after each detection."""

    def __init__(self, delta: float = 0.005, threshold: float = 50.0, min_instances: int = 30,
                 alpha: float = 1.0) -> None:
        self.delta = delta            # tolerated change of the mean (magnitude too small to report)
        self.threshold = threshold    # lambda: cumulative deviation that signals a change
        self.min_instances = min_instances
        self.alpha = alpha            # forgetting factor of the cumulative sums (1: none)
        self.drift_detected = False
        self._reset()

    def _reset(self) -> None:
        self.n = 0
        self.mean = 0.0
        self._up = 0.0
        self._down = 0.0

    def update(self, x: float) -> "PageHinkley":
        """Feed one value; `drift_detected` says whether this value completed a detection."""
        if self.drift_detected:
            self._reset()
        self.n += 1
        self.mean += (x - self.mean) / self.n
        self._up = max(0.0, self.alpha * self._up + x - self.mean - self.delta)
        self._down = max(0.0, self.alpha * self._down + self.mean - x - self.delta)
        self.drift_detected = self.n >= self.min_instances and max(self._up, self._down) > self.threshold
        return self

    @property
    def statistic(self) -> float:
        """The larger of the two cumulative deviations (compare with `threshold`)."""
        return max(self._up, self._down)


class SeasonalRate:
    """Flows per window against the median of the same hour of day in recent days.

    The recent level of traffic has a daily cycle: comparing a night window with the afternoon
    before it would page every evening, so each hour of day keeps its own short history.
    """

    def __init__(self, window_s: int, days: int = 7, factor: float = 3.0) -> None:
        self.window_s = window_s
        self.factor = factor
        self._history: dict[int, deque[int]] = {}
        self._days = days

    def _slot(self, start: int) -> int:
        return (start % 86_400) // max(self.window_s, 1)

    def level(self, start: int) -> float | None:
        """The recent level for a window start, or None before any history."""
        history = self._history.get(self._slot(start))
        return float(median(history)) if history else None

    def update(self, start: int, rows: int) -> dict:
        """Record one closed window; the verdict compares it with the level before it."""
        level = self.level(start)
        ratio = None if not level else rows / level
        far = ratio is not None and (ratio >= self.factor or ratio <= 1 / self.factor)
        self._history.setdefault(self._slot(start), deque(maxlen=self._days)).append(rows)
        return {"rows": rows, "level": level, "ratio": ratio, "factor": self.factor, "drift": far}
