"""Feature matrices for chunks of a flow stream, equal to what the server builds record by record.

The server counts each record into its online `WindowState` in arrival order. `StreamWindows` gives
the same aggregates for a stream read in chunks: while the stream is in time order and no trailing
window can hold more keys than the server's key limit, `compute_aggregates` over the chunk plus the
rows still inside the longest window (the carry) is exactly that state's answer, vectorised. On the
first row out of time order, or a window dense enough for the server's LRU to evict live keys, it
replays the carry into a real `WindowState` and continues record by record: slower, still exact.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd

from server.ml.features import IpEncoder, ProtocolEncoder
from server.ml.schema import BYTES_SENT, DEST_IP, PROTOCOL, SOURCE_IP, TIMESTAMP
from server.ml.windows import WindowState, aggregate_names, compute_aggregates
from server.services.inference import ServingBundle

log = logging.getLogger(__name__)

_WINDOW_INPUTS = [TIMESTAMP, BYTES_SENT, SOURCE_IP, DEST_IP]


class StreamWindows:
    """Trailing-window aggregates for consecutive chunks of one stream, state carried between them."""

    def __init__(self, windows_s: Sequence[int], subnet_prefix: int, subnet_prefix_v6: int, max_keys: int) -> None:
        self.windows_s = tuple(int(w) for w in windows_s)
        self.subnet_prefix, self.subnet_prefix_v6 = subnet_prefix, subnet_prefix_v6
        self.max_keys = max_keys
        self.horizon = max(self.windows_s)
        self.names = aggregate_names(self.windows_s)
        self.carry = pd.DataFrame({c: pd.Series(dtype=object) for c in _WINDOW_INPUTS}).astype(
            {TIMESTAMP: np.int64, BYTES_SENT: np.float64})
        self.online: WindowState | None = None
        self.online_reason: str | None = None

    @classmethod
    def for_bundle(cls, bundle: ServingBundle, max_keys: int) -> "StreamWindows":
        """Windows as the bundle's pipeline defines them, with the server's key limit."""
        windows_s, prefix, prefix_v6 = bundle.window_spec
        return cls(windows_s, prefix, prefix_v6, max_keys)

    def aggregates(self, frame: pd.DataFrame) -> np.ndarray:
        """(rows, aggregates) float64 for the chunk's rows, in `self.names` order; advances the state."""
        if self.online is None:
            reason = self._blocker(frame[TIMESTAMP].to_numpy(dtype=np.int64))
            if reason is None:
                return self._vectorised(frame)
            self._go_online(reason)
        return self._per_record(frame)

    def _blocker(self, t: np.ndarray) -> str | None:
        """Why the vectorised path would differ from the server's state here, or None."""
        prior = self.carry[TIMESTAMP].to_numpy(dtype=np.int64)
        times = np.concatenate([prior, t])
        if len(times) > 1 and (np.diff(times) < 0).any():
            return "rows are not in time order"
        inside = np.arange(len(times)) - np.searchsorted(times, times - self.horizon, side="right") + 1
        if len(times) and 2 * int(inside.max()) > self.max_keys:  # each flow touches at most 2 keys
            return (f"over {self.max_keys // 2} flows within {self.horizon} s: the server's "
                    f"features.max_window_keys={self.max_keys} limit may evict live keys")
        return None

    def _vectorised(self, frame: pd.DataFrame) -> np.ndarray:
        stream = pd.concat([self.carry, frame[_WINDOW_INPUTS]], ignore_index=True)
        agg = compute_aggregates(stream, self.windows_s, self.subnet_prefix, self.subnet_prefix_v6)
        t = stream[TIMESTAMP].to_numpy(dtype=np.int64)
        if len(t):
            self.carry = stream[t > t[-1] - self.horizon].reset_index(drop=True)
        return agg[self.names].to_numpy(dtype=np.float64)[len(stream) - len(frame):]

    def _go_online(self, reason: str) -> None:
        log.warning("window aggregates continue record by record (slower, same answers): %s", reason)
        self.online_reason = reason
        self.online = WindowState(self.windows_s, self.subnet_prefix, self.max_keys, self.subnet_prefix_v6)
        self._per_record(self.carry)

    def _per_record(self, frame: pd.DataFrame) -> np.ndarray:
        assert self.online is not None
        update, names = self.online.update, self.names
        out = np.empty((len(frame), len(names)), dtype=np.float64)
        columns = [frame[c].tolist() for c in _WINDOW_INPUTS]
        for i, (t, b, s, d) in enumerate(zip(*columns)):
            aggs = update({TIMESTAMP: t, BYTES_SENT: b, SOURCE_IP: s, DEST_IP: d})
            out[i] = [aggs[n] for n in names]
        return out


def _distinct_rows(part: object, frame: pd.DataFrame, column: str) -> np.ndarray:
    """part.transform on each distinct value of a text column once, spread back to every row.

    Row-wise transformers only: flow logs repeat a few thousand addresses across millions of rows,
    and hashing them beats the string sort inside the transformers' np.unique by ~10x.
    """
    codes, uniques = pd.factorize(frame[column])
    return part.transform(pd.DataFrame({column: np.asarray(uniques, dtype=object)}))[codes]  # type: ignore[attr-defined]


def _part_matrix(part: object, frame: pd.DataFrame) -> np.ndarray:
    if isinstance(part, IpEncoder):
        return np.hstack([_distinct_rows(IpEncoder(columns=(c,)), frame, c) for c in part.columns])
    if isinstance(part, ProtocolEncoder):
        return _distinct_rows(part, frame, PROTOCOL)
    return np.asarray(part.transform(frame), dtype=np.float64)  # type: ignore[attr-defined]


def feature_matrix(bundle: ServingBundle, frame: pd.DataFrame, aggregates: np.ndarray) -> np.ndarray:
    """Model-ordered features for checked rows and their aggregates, from the fitted union's own transformers.

    The union's parts in its order, hstacked as FeatureUnion.transform does; WindowAggregates passes
    the aggregate columns through.
    """
    assert bundle.vectoriser is not None and bundle.alignment is not None
    union = bundle.pipeline.named_steps["features"]
    inputs = frame.assign(**{name: aggregates[:, j] for j, name in enumerate(bundle.vectoriser.aggregate_names)})
    parts = [t for _, t in union.transformer_list if t not in (None, "drop")]
    X = np.hstack([_part_matrix(part, inputs) for part in parts]) if len(inputs) else np.empty(
        (0, len(bundle.vectoriser.feature_names)))
    if bundle.alignment.identity:
        return X
    index = np.asarray(bundle.alignment.index, dtype=np.intp)
    return np.where(index >= 0, X[:, np.maximum(index, 0)], 0.0)
