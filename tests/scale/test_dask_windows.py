"""Window aggregates on a multi-partition dask dataframe equal the single pass and the online state."""
from __future__ import annotations

import dask.dataframe as dd
import numpy as np
import pandas as pd
from distributed import Client

from server.ml.windows import WindowState, aggregate_names, compute_aggregates
from server.scale.windows import ROW, in_time_order, time_ordered, with_aggregates
from tests.scale.conftest import dense_flows

WINDOWS = (60, 600)
NAMES = aggregate_names(WINDOWS)


def chunks(df: pd.DataFrame, n: int) -> list[pd.DataFrame]:
    """`df` cut into n consecutive pieces."""
    edges = np.linspace(0, len(df), n + 1).astype(int)
    return [df.iloc[a:b] for a, b in zip(edges[:-1], edges[1:])]


def online(df: pd.DataFrame) -> np.ndarray:
    """The server's WindowState replayed over the stream, one record at a time."""
    state = WindowState(WINDOWS, 24, max_keys=10**7)
    rows = [state.update(record) for record in df.to_dict("records")]
    return np.array([[row[n] for n in NAMES] for row in rows])


def test_windows_equal_across_partition_boundaries(dask_cluster):
    df = dense_flows(3000).sort_values("timestamp_seconds", kind="stable").reset_index(drop=True)
    offline = compute_aggregates(df, WINDOWS, 24)[NAMES].to_numpy()
    with Client(dask_cluster):
        ddf, stats = time_ordered(dd.from_pandas(df, npartitions=9, sort=False))
        assert len(stats) == 9 and in_time_order(stats)
        out = with_aggregates(ddf, stats, WINDOWS).compute()
    assert out[ROW].tolist() == list(range(len(df)))
    np.testing.assert_array_equal(out[NAMES].to_numpy(), offline)
    np.testing.assert_array_equal(out[NAMES].to_numpy(), online(df))
    # Without the carried tails the partitions' first rows would be wrong: the test has teeth.
    naive = pd.concat([compute_aggregates(p.reset_index(drop=True), WINDOWS, 24)
                       for p in chunks(df, 9)])[NAMES].to_numpy()
    assert (naive != offline).any(axis=1).sum() > 50


def test_partitions_out_of_time_order_are_sorted_first(dask_cluster):
    df = dense_flows(2000, seed=5, squeeze=1)  # one-second resolution: no timestamp ties
    df = df.drop_duplicates("timestamp_seconds").sort_values("timestamp_seconds").reset_index(drop=True)
    shuffled = pd.concat(chunks(df, 6)[::-1], ignore_index=True)
    with Client(dask_cluster):
        ddf = dd.from_pandas(shuffled, npartitions=6, sort=False)
        ordered, stats = time_ordered(ddf)
        assert in_time_order(stats)
        out = with_aggregates(ordered, stats, WINDOWS).compute()
    np.testing.assert_array_equal(out["timestamp_seconds"].to_numpy(), df["timestamp_seconds"].to_numpy())
    np.testing.assert_array_equal(out[NAMES].to_numpy(), compute_aggregates(df, WINDOWS, 24)[NAMES].to_numpy())
