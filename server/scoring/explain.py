"""SHAP columns for bulk scoring: the version's explainer over whole chunks, optionally on several cores.

TreeSHAP on a forest runs in shap's C++ code while holding the GIL, so threads cannot share the work
(measured: two threads are slower than one). Large jobs therefore split each chunk between this
process and helper processes (spawned, each holding a copy of the explainer); rows are independent,
so the values are exactly those of one call over the whole chunk.
"""
from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np
import pyarrow as pa

AUTO_PARALLEL_ROWS = 20_000  # below this, starting helper processes costs more than it saves
MIN_PART_ROWS = 256          # never ship a part smaller than this to a helper

_helper_explainer: Any = None


def _init_helper(explainer: Any) -> None:
    global _helper_explainer
    _helper_explainer = explainer


def _helper_values(X: np.ndarray) -> np.ndarray:
    return _helper_explainer.shap_values(X)[0]


def auto_processes(explain: int, rows: int | None) -> int:
    """Processes to explain with when the user did not say: all usable cores for large inputs."""
    if explain <= 0 or rows is None or rows < AUTO_PARALLEL_ROWS:
        return 1
    return max(1, len(os.sched_getaffinity(0)))


class ChunkExplainer:
    """SHAP values for chunks of model features, over `processes` processes (this one included)."""

    def __init__(self, explainer: Any, processes: int = 1) -> None:
        self.explainer = explainer
        self.helpers = max(0, processes - 1)
        self._pool: ProcessPoolExecutor | None = None

    def values(self, X: np.ndarray) -> np.ndarray:
        """(rows, features) SHAP in probability units."""
        parts = min(self.helpers + 1, max(1, len(X) // MIN_PART_ROWS))
        if parts == 1:
            return self.explainer.shap_values(X)[0]
        if self._pool is None:
            self._pool = ProcessPoolExecutor(self.helpers, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=_init_helper, initargs=(self.explainer,))
        chunks = np.array_split(X, parts)
        futures = [self._pool.submit(_helper_values, part) for part in chunks[1:]]
        first = self.explainer.shap_values(chunks[0])[0]
        return np.vstack([first, *(f.result() for f in futures)])

    def close(self) -> None:
        """Stop the helpers (joining them releases the pool's queues and their semaphores)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


def explanation_columns(feature_names: tuple[str, ...] | list[str], values: np.ndarray,
                        n: int) -> dict[str, pa.Array]:
    """Top-n features by |SHAP| per row: explain_<k>_feature and explain_<k>_shap (probability units)."""
    names = np.asarray(feature_names, dtype=object)
    n = min(n, len(names))
    rows = len(values)
    top = np.argsort(-np.abs(values), axis=1, kind="stable")[:, :n]
    index = np.arange(rows)
    out: dict[str, pa.Array] = {}
    for k in range(n):
        out[f"explain_{k + 1}_feature"] = pa.array(names[top[:, k]].tolist() if rows else [], pa.string())
        out[f"explain_{k + 1}_shap"] = pa.array(values[index, top[:, k]] if rows else [], pa.float64())
    return out
