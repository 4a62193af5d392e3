"""Window aggregates over a time-ordered dask dataframe, exact across partition boundaries.

A flow's trailing-window aggregates depend on the flows of the previous `max(windows_s)`
seconds, which may sit in earlier partitions. Each partition therefore gets the *tails* of the
earlier partitions that reach into its window (rows with t > its first t - max window), and
runs the very same `compute_aggregates` on tail + partition, keeping its own rows. With
partitions in time order this equals one pass over the whole history, bit for bit.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from server.ml.schema import TIMESTAMP
from server.ml.windows import aggregate_names, compute_aggregates

ROW = "_row"  # global stream position: the time split and sampling need it


@dataclass(frozen=True)
class PartitionStats:
    """First and last timestamp and row count of one partition (t is None when empty)."""

    first: int | None
    last: int | None
    rows: int


def _stats(part: pd.DataFrame) -> pd.DataFrame:
    ts = part[TIMESTAMP]
    empty = len(part) == 0
    return pd.DataFrame({"first": [None if empty else int(ts.min())], "last": [None if empty else int(ts.max())],
                         "rows": [len(part)]}, dtype=object)


def partition_stats(ddf) -> list[PartitionStats]:
    """One small pass: per-partition time range and length."""
    meta = pd.DataFrame({"first": pd.Series([], dtype=object), "last": pd.Series([], dtype=object),
                         "rows": pd.Series([], dtype=object)})
    frame = ddf.map_partitions(_stats, meta=meta).compute()
    return [PartitionStats(f, l, int(r)) for f, l, r in frame.itertuples(index=False)]


def in_time_order(stats: Sequence[PartitionStats]) -> bool:
    """Whether no partition starts before the previous non-empty one ends."""
    last = None
    for s in stats:
        if s.first is None:
            continue
        if last is not None and s.first < last:
            return False
        last = s.last
    return True


def time_ordered(ddf):
    """Partitions in time order, each sorted stably by time (a dask shuffle only when needed)."""
    ddf = ddf.map_partitions(lambda p: p.sort_values(TIMESTAMP, kind="stable"))
    stats = partition_stats(ddf)
    if not in_time_order(stats):
        ddf = ddf.sort_values(TIMESTAMP)  # overlapping files: a distributed sort, then stable inside
        ddf = ddf.map_partitions(lambda p: p.sort_values(TIMESTAMP, kind="stable"))
        stats = partition_stats(ddf)
    return ddf, stats


def _tail(part: pd.DataFrame, after: int) -> pd.DataFrame:
    return part[part[TIMESTAMP].to_numpy() > after]


def _with_aggregates(part: pd.DataFrame, offset: int, windows_s: Sequence[int], prefix: int, prefix_v6: int,
                     *history: pd.DataFrame) -> pd.DataFrame:
    """The partition with its aggregates (computed over history + partition) and global row ids."""
    part = part.reset_index(drop=True)
    frame = pd.concat([*history, part], ignore_index=True) if history else part
    agg = compute_aggregates(frame, windows_s, prefix, prefix_v6).iloc[len(frame) - len(part):]
    out = pd.concat([part, agg.reset_index(drop=True)], axis=1)
    out[ROW] = np.arange(offset, offset + len(part), dtype=np.int64)
    return out


def with_aggregates(ddf, stats: Sequence[PartitionStats], windows_s: Sequence[int], prefix: int = 24,
                    prefix_v6: int = 64):
    """`ddf` plus aggregate columns and `_row`, carrying each window tail to the next partitions."""
    import dask
    import dask.dataframe as dd

    reach = max(int(w) for w in windows_s)
    parts = ddf.to_delayed()
    offsets = np.concatenate([[0], np.cumsum([s.rows for s in stats])])
    build = dask.delayed(_with_aggregates, pure=True)
    tail = dask.delayed(_tail, pure=True)
    out = []
    for k, part in enumerate(parts):
        first = stats[k].first
        history = [] if first is None else [
            tail(parts[j], first - reach) for j in range(k)
            if stats[j].last is not None and stats[j].last > first - reach]
        out.append(build(part, int(offsets[k]), tuple(windows_s), prefix, prefix_v6, *history))
    meta = ddf._meta.reset_index(drop=True)
    for name in aggregate_names(windows_s):
        meta[name] = pd.Series([], dtype=np.float64)
    meta[ROW] = pd.Series([], dtype=np.int64)
    return dd.from_delayed(out, meta=meta, verify_meta=False)
