"""Quality of a scored file that carries the label: precision, recall, F1 at the threshold, and ROC AUC.

Streamed chunk by chunk so memory stays bounded: confusion counts for the thresholded metrics and
per-class histograms of the probability (AUC_BINS bins) for the AUC. Pairs inside one bin count as
ties, so the AUC is exact to within the share of such pairs (negligible at 2**16 bins).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

AUC_BINS = 1 << 16


@dataclass(frozen=True)
class FileQuality:
    """Metrics over the labelled scored rows of one file."""

    rows: int
    threshold: float
    precision: float
    recall: float
    f1: float
    auc_roc: float | None  # None when the labels hold one class only
    unlabelled: int       # scored rows whose label was empty or not 0/1

    def __str__(self) -> str:
        auc = f"{self.auc_roc:.4f}" if self.auc_roc is not None else "n/a (one class)"
        skipped = f" ({self.unlabelled} rows without a 0/1 label left out)" if self.unlabelled else ""
        return (f"quality on {self.rows} labelled rows at threshold {self.threshold:g}: precision "
                f"{self.precision:.4f}, recall {self.recall:.4f}, F1 {self.f1:.4f}, ROC AUC {auc}{skipped}")


class QualityCounter:
    """Accumulates labels and probabilities chunk by chunk."""

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold
        self.tp = self.fp = self.fn = self.tn = self.unlabelled = 0
        self.hist = np.zeros((2, AUC_BINS), dtype=np.int64)  # [label, bin]

    def add(self, labels: np.ndarray, probability: np.ndarray) -> None:
        """labels: float 0/1, NaN (or anything else) where a row has no usable label."""
        usable = (labels == 0) | (labels == 1)
        self.unlabelled += int((~usable).sum())
        y, p = labels[usable].astype(bool), probability[usable]
        predicted = p >= self.threshold
        self.tp += int((predicted & y).sum())
        self.fp += int((predicted & ~y).sum())
        self.fn += int((~predicted & y).sum())
        self.tn += int((~predicted & ~y).sum())
        bins = np.minimum((p * AUC_BINS).astype(np.int64), AUC_BINS - 1)
        self.hist[1] += np.bincount(bins[y], minlength=AUC_BINS)
        self.hist[0] += np.bincount(bins[~y], minlength=AUC_BINS)

    def result(self) -> FileQuality | None:
        """The metrics, or None when no row had a usable label."""
        rows = self.tp + self.fp + self.fn + self.tn
        if rows == 0:
            return None
        precision = self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0
        recall = self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return FileQuality(rows, self.threshold, precision, recall, f1, self._auc(), self.unlabelled)

    def _auc(self) -> float | None:
        negatives, positives = self.hist[0], self.hist[1]
        n_neg, n_pos = int(negatives.sum()), int(positives.sum())
        if n_neg == 0 or n_pos == 0:
            return None
        below = np.cumsum(negatives) - negatives  # negatives in lower bins
        wins = float((positives * below).sum()) + 0.5 * float((positives * negatives).sum())
        return wins / (n_pos * n_neg)
