"""Serving: the active bundle, the online window state, and the predict/explain hot paths.

A predict batch is built in three steps so that a bad item fails alone and nothing is counted
twice: each item's static features and window keys (may fail: the item fails, nothing counted),
then its window update (cannot fail), then one model call for the whole batch (if that fails, the
items are re-scored one by one from the rows already built, without touching the windows again).
"""
from __future__ import annotations

import asyncio
import logging
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from server.errors import Unavailable, ValidationFailed
from server.ml.schema import BYTES_SENT, DEST_IP, SOURCE_IP, TIMESTAMP
from server.ml.window_state import DEFAULT_MAX_ENTRIES
from server.ml.windows import WindowState
from server.services.batching import MicroBatcher
from server.services.bundle import Alignment, ServingBundle, build_bundle, prepare_bundle
from server.services.explaining import explanation

__all__ = ["Alignment", "InferenceService", "Prediction", "ServingBundle", "build_bundle", "prepare_bundle"]

log = logging.getLogger(__name__)

EXPLAIN_CACHE_SIZE = 512


@dataclass(frozen=True)
class Prediction:
    """P(congestion) for each record of one request, and the version that computed them."""

    version: str
    probabilities: list[float]
    warnings: tuple[str, ...]


def _feature_error(exc: ValueError) -> ValidationFailed:
    """A feature builder's 'field: message' ValueError as a 400 naming the field."""
    text = str(exc)
    name, _, message = text.partition(": ")
    return ValidationFailed(f"invalid flow record: {text}", fields={name if message else "body": message or text})


class InferenceService:
    """Holds the active bundle; readers take one reference and use it for a whole request."""

    def __init__(self, max_window_keys: int = 50_000, *, max_window_entries: int = DEFAULT_MAX_ENTRIES,
                 batch_max_records: int = 1024, inline_records: int = 64) -> None:
        self.bundle: ServingBundle | None = None
        self.degraded: str | None = None
        self.max_window_keys = max_window_keys
        self.max_window_entries = max_window_entries
        self._windows: WindowState | None = None
        self._windows_lock = threading.Lock()  # the state is shared by the loop, the predict and explain threads
        self._predict_pool = ThreadPoolExecutor(1, thread_name_prefix="predict")
        self._explain_pool = ThreadPoolExecutor(1, thread_name_prefix="explain")
        self._explain_cache: OrderedDict[tuple, tuple[np.ndarray, float]] = OrderedDict()
        self.batcher: MicroBatcher[tuple[list[dict], bool], Prediction] = MicroBatcher(
            self._predict_batch, self._predict_pool, max_items=batch_max_records,
            inline_records=inline_records, size=lambda item: len(item[0]))

    @property
    def version(self) -> str | None:
        bundle = self.bundle
        return bundle.version if bundle else None

    def swap(self, bundle: ServingBundle | None, degraded: str | None = None) -> None:
        """Replace the serving bundle in one assignment: requests see old or new, never a mix."""
        self.bundle = bundle
        self.degraded = degraded

    def active(self) -> ServingBundle:
        """The serving bundle, or 503 when no model is loaded."""
        bundle = self.bundle
        if bundle is None:
            reason = f": {self.degraded}" if self.degraded else ""
            raise Unavailable(f"no model is active; train one first{reason}")
        return bundle

    async def predict(self, records: list[dict], observe: bool = True) -> Prediction:
        """Probabilities for validated records, batched with concurrent requests.

        `observe=False` answers "what if" questions (dashboard samples) without adding the
        flows to the online windows, so they cannot skew the aggregates of real traffic. Both
        kinds share the batches, in arrival order.
        """
        self.active()
        return await self.batcher.submit((records, observe))

    async def explain(self, record: dict, n: int | None, collapse: bool) -> dict[str, Any]:
        """Local SHAP explanation of one validated record (peeks at, never feeds, the windows)."""
        bundle = self.active()
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._explain_pool, self._explain, bundle, record, n, collapse)

    async def close(self) -> None:
        """Stop the batcher and the worker threads."""
        await self.batcher.close()
        self._predict_pool.shutdown(wait=False, cancel_futures=True)
        self._explain_pool.shutdown(wait=False, cancel_futures=True)

    # -- batch side (on the loop for small batches, in the predict thread for big ones) -------

    def _window_state(self, bundle: ServingBundle) -> WindowState:
        windows_s, prefix, prefix_v6 = bundle.window_spec
        state = self._windows
        if state is None or (state.windows_s, state.subnet_prefix, state.subnet_prefix_v6) != (
                windows_s, prefix, prefix_v6):
            if state is not None:
                log.info("window definition changed with version %s; online aggregates restart", bundle.version)
            state = self._windows = WindowState(windows_s, prefix, self.max_window_keys, prefix_v6,
                                                max_entries=self.max_window_entries)
        return state

    def _rows(self, bundle: ServingBundle, items: list[tuple[list[dict], bool]],
              flat: list) -> tuple[list[int], list[Exception | None]]:
        """Fill every item's rows into `flat`; per item its first row, or the error that failed it."""
        rows = bundle.rows
        assert rows is not None
        width, window_at = rows.width, rows.window_at
        fill, starts, errors, base = rows.fill, [], [], 0
        with self._windows_lock:
            state = self._window_state(bundle)
            for records, observe in items:
                try:  # 1. static features and window keys: nothing is counted yet
                    keys = []
                    for j, record in enumerate(records):
                        fill(record, flat, (base + j) * width)
                        keys.append(state.keys_for(record[SOURCE_IP], record[DEST_IP]))
                except ValueError as exc:
                    starts.append(base)
                    errors.append(_feature_error(exc))
                    continue  # the next item overwrites this one's rows
                if window_at is not None:  # 2. the window update: cannot fail any more
                    count = state.observe if observe else state.look
                    for j, (record, (src, dst)) in enumerate(zip(records, keys)):
                        count(int(record[TIMESTAMP]), int(float(record[BYTES_SENT])), src, dst, flat,
                              (base + j) * width + window_at)
                starts.append(base)
                errors.append(None)
                base += len(records)
        del flat[base * width:]
        return starts, errors

    def _predict_batch(self, items: list[tuple[list[dict], bool]]) -> list[Prediction | Exception]:
        bundle = self.active()  # one reference for the whole batch: every answer names its version
        assert bundle.rows is not None and bundle.alignment is not None and bundle.runtime is not None
        width = bundle.rows.width
        flat = [0.0] * (sum(len(records) for records, _ in items) * width)
        starts, errors = self._rows(bundle, items, flat)
        X = bundle.alignment.apply_matrix(np.array(flat, dtype=np.float64).reshape(-1, width))
        try:  # 3. one model call for the batch
            probabilities = bundle.runtime.positive_proba(X).tolist() if len(X) else []
        except Exception:  # noqa: BLE001 - re-score item by item from the built rows, windows untouched
            log.exception("batch model call failed; scoring its requests one by one")
            probabilities = None
        out: list[Prediction | Exception] = []
        for (records, _), start, error in zip(items, starts, errors):
            if error is not None:
                out.append(error)
                continue
            try:
                chunk = (probabilities[start:start + len(records)] if probabilities is not None
                         else bundle.runtime.positive_proba(X[start:start + len(records)]).tolist())
            except Exception as exc:  # noqa: BLE001 - this item's own failure
                out.append(exc)
                continue
            out.append(Prediction(bundle.version, chunk, bundle.alignment.warnings))
        return out

    # -- explain thread --------------------------------------------------------------------------

    def _shap(self, bundle: ServingBundle, vector: list[float]) -> tuple[np.ndarray, float]:
        key = (bundle.version, tuple(vector))
        cached = self._explain_cache.get(key)
        if cached is None:
            values, expected, _ = bundle.explainer.shap_values(np.asarray([vector], dtype=np.float64))  # type: ignore[union-attr]
            cached = (np.asarray(values[0], dtype=np.float64), float(expected))
            self._explain_cache[key] = cached
            while len(self._explain_cache) > EXPLAIN_CACHE_SIZE:
                self._explain_cache.popitem(last=False)
        return cached

    def _explain(self, bundle: ServingBundle, record: dict, n: int | None, collapse: bool) -> dict[str, Any]:
        # Explaining a flow is not seeing it again: it must not count twice in the windows.
        assert bundle.rows is not None and bundle.alignment is not None and bundle.runtime is not None
        rows = bundle.rows
        built = [0.0] * rows.width
        try:
            rows.fill(record, built)
        except ValueError as exc:
            raise _feature_error(exc) from None
        aggregates: dict[str, float] = {}
        if rows.window_at is not None:
            with self._windows_lock:
                state = self._window_state(bundle)
                src, dst = state.keys_for(record[SOURCE_IP], record[DEST_IP])
                state.look(int(record[TIMESTAMP]), int(float(record[BYTES_SENT])), src, dst, built, rows.window_at)
            names = bundle.vectoriser.aggregate_names  # type: ignore[union-attr]
            aggregates = {name: built[rows.window_at + i] for i, name in enumerate(names)}
        vector = bundle.alignment.apply(built)
        probability = float(bundle.runtime.positive_proba(np.asarray([vector], dtype=np.float64))[0])
        shap_row, expected = self._shap(bundle, vector)
        return explanation(bundle, record, vector, aggregates, probability, shap_row, expected, n, collapse)
