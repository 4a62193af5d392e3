"""Trailing-window traffic aggregates: one definition, computed offline (vectorised) and online.

Definition: for a flow i in stream order (time-sorted, ties in arrival order), the aggregate of a
key over window w counts every earlier-or-same flow j of that key with t_j > t_i - w, including
flow i itself. Bytes are summed as exact integers (floor of bytes_sent) so both paths agree
bit for bit after conversion to float.
"""

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from .iputil import parse_ip, subnet_key
from .schema import BYTES_SENT, DEST_IP, SOURCE_IP, TIMESTAMP
from .window_state import WindowState

__all__ = ["WindowState", "aggregate_names", "bytes_as_int", "compute_aggregates"]

_INT_SAFE = 2**62


def aggregate_names(windows_s: Sequence[int]) -> list[str]:
    """Return aggregate column names in their canonical order."""
    names = []
    for w in windows_s:
        names += [f"src_flows_{w}s", f"src_bytes_{w}s", f"dst_subnet_flows_{w}s", f"dst_subnet_bytes_{w}s"]
    return names


def _codes(keys: Iterable[object]) -> np.ndarray:
    """Factorise hashable keys into dense integer codes."""
    return pd.factorize(pd.Series(list(keys), dtype=object))[0].astype(np.int64)


def _window_counts(codes: np.ndarray, t: np.ndarray, b: np.ndarray, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-row trailing count and byte sum for one key kind; inputs already in stream order."""
    n = len(t)
    g = np.argsort(codes, kind="stable")  # stable: keeps stream order inside each key
    t_rel = t[g] - (t.min() if n else 0)
    big = int(t_rel.max() if n else 0) + int(w) + 1  # separates keys on one sorted axis
    comp = codes[g] * big + t_rel
    lower = np.searchsorted(comp, comp - w, side="right")
    idx = np.arange(n)
    bg = b[g]
    if n and (bg.dtype == object or int(bg.sum()) >= _INT_SAFE):
        cs = np.concatenate([[0], np.cumsum(bg.astype(object))])  # exact Python ints
    else:
        cs = np.concatenate([[0], np.cumsum(bg)])
    counts = np.empty(n, dtype=np.float64)
    sums = np.empty(n, dtype=np.float64)
    counts[g] = (idx - lower + 1).astype(np.float64)
    sums[g] = np.array([float(v) for v in cs[idx + 1] - cs[lower]]) if cs.dtype == object else (cs[idx + 1] - cs[lower]).astype(np.float64)
    return counts, sums


def bytes_as_int(values: np.ndarray) -> np.ndarray:
    """Floor non-negative byte counts to integers (object ints when beyond int64)."""
    f = np.asarray(values, dtype=np.float64)
    if f.size and f.max() >= _INT_SAFE:
        return np.array([int(v) for v in f], dtype=object)
    return f.astype(np.int64)


def compute_aggregates(
    df: pd.DataFrame, windows_s: Sequence[int], subnet_prefix: int, subnet_prefix_v6: int = 64
) -> pd.DataFrame:
    """Compute all aggregates for a frame, in stable timestamp order, aligned to df's index."""
    order = np.argsort(df[TIMESTAMP].to_numpy(dtype=np.int64), kind="stable")
    t = df[TIMESTAMP].to_numpy(dtype=np.int64)[order]
    b = bytes_as_int(df[BYTES_SENT].to_numpy())[order]
    src = _codes(parse_ip(s) for s in df[SOURCE_IP].to_numpy()[order])
    dst = _codes(subnet_key(s, subnet_prefix, subnet_prefix_v6) for s in df[DEST_IP].to_numpy()[order])
    out = {}
    for w in windows_s:
        out[f"src_flows_{w}s"], out[f"src_bytes_{w}s"] = _window_counts(src, t, b, int(w))
        out[f"dst_subnet_flows_{w}s"], out[f"dst_subnet_bytes_{w}s"] = _window_counts(dst, t, b, int(w))
    result = pd.DataFrame(out, columns=aggregate_names(windows_s))
    inverse = np.empty_like(order)
    inverse[order] = np.arange(len(order))
    return result.iloc[inverse].set_axis(df.index)
