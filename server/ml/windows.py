"""Trailing-window traffic aggregates: one definition, computed offline (vectorised) and online.

Definition: for a flow i in stream order (time-sorted, ties in arrival order), the aggregate of a
key over window w counts every earlier-or-same flow j of that key with t_j > t_i - w, including
flow i itself. Bytes are summed as exact integers (floor of bytes_sent) so both paths agree
bit for bit after conversion to float.
"""

from collections import OrderedDict, deque
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from .iputil import parse_ip, subnet_key
from .schema import BYTES_SENT, DEST_IP, SOURCE_IP, TIMESTAMP

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


class _KeyWindows:
    """Per-key deques, one per window, with exact running integer byte sums."""

    __slots__ = ("deques", "sums")

    def __init__(self, n_windows: int):
        self.deques: list[deque] = [deque() for _ in range(n_windows)]
        self.sums: list[int] = [0] * n_windows

    def add(self, t: int, nbytes: int, windows_s: Sequence[int]) -> list[tuple[float, float]]:
        """Append one flow, expire old ones and return (count, bytes) per window."""
        out = []
        for i, w in enumerate(windows_s):
            dq = self.deques[i]
            dq.append((t, nbytes))
            self.sums[i] += nbytes
            cutoff = t - w
            while dq and dq[0][0] <= cutoff:
                self.sums[i] -= dq.popleft()[1]
            out.append((float(len(dq)), float(self.sums[i])))
        return out


def _peek_window(dq: deque, total: int, t: int, nbytes: int, w: int) -> tuple[float, float]:
    """What `_KeyWindows.add` would report for one window, computed without changing it."""
    count, sums = len(dq) + 1, total + nbytes
    cutoff = t - w
    for ts, size in dq:  # `add` expires from the left only, so mirror exactly that
        if ts > cutoff:
            break
        count -= 1
        sums -= size
    return float(count), float(sums)


class WindowState:
    """Bounded online state producing the same aggregates as compute_aggregates."""

    def __init__(self, windows_s: Sequence[int], subnet_prefix: int, max_keys: int, subnet_prefix_v6: int = 64):
        self.windows_s = tuple(int(w) for w in windows_s)
        self.subnet_prefix = subnet_prefix
        self.subnet_prefix_v6 = subnet_prefix_v6
        self.max_keys = max_keys
        self._keys: OrderedDict[tuple, _KeyWindows] = OrderedDict()

    def __len__(self) -> int:
        return len(self._keys)

    def _slot(self, key: tuple) -> _KeyWindows:
        slot = self._keys.get(key)
        if slot is None:
            slot = self._keys[key] = _KeyWindows(len(self.windows_s))
            while len(self._keys) > self.max_keys:  # least recently seen key goes first
                self._keys.popitem(last=False)
        else:
            self._keys.move_to_end(key)
        return slot

    def peek(self, record: Mapping[str, object]) -> dict[str, float]:
        """The aggregates `update` would return for this flow, leaving the state untouched."""
        t = int(record[TIMESTAMP])  # type: ignore[call-overload]
        nbytes = int(float(record[BYTES_SENT]))  # type: ignore[arg-type]
        src = self._keys.get(("src",) + parse_ip(str(record[SOURCE_IP])))
        dst = self._keys.get(("dst",) + subnet_key(str(record[DEST_IP]), self.subnet_prefix,
                                                   self.subnet_prefix_v6))
        out: dict[str, float] = {}
        for i, w in enumerate(self.windows_s):
            sc, sb = _peek_window(src.deques[i], src.sums[i], t, nbytes, w) if src else (1.0, float(nbytes))
            dc, db = _peek_window(dst.deques[i], dst.sums[i], t, nbytes, w) if dst else (1.0, float(nbytes))
            out[f"src_flows_{w}s"], out[f"src_bytes_{w}s"] = sc, sb
            out[f"dst_subnet_flows_{w}s"], out[f"dst_subnet_bytes_{w}s"] = dc, db
        return out

    def update(self, record: Mapping[str, object]) -> dict[str, float]:
        """Add one flow to the state and return its aggregates (counting the flow itself)."""
        t = int(record[TIMESTAMP])  # type: ignore[call-overload]
        nbytes = int(float(record[BYTES_SENT]))  # type: ignore[arg-type]
        src = self._slot(("src",) + parse_ip(str(record[SOURCE_IP])))
        dst = self._slot(("dst",) + subnet_key(str(record[DEST_IP]), self.subnet_prefix, self.subnet_prefix_v6))
        out: dict[str, float] = {}
        src_vals = src.add(t, nbytes, self.windows_s)
        dst_vals = dst.add(t, nbytes, self.windows_s)
        for w, (sc, sb), (dc, db) in zip(self.windows_s, src_vals, dst_vals):
            out[f"src_flows_{w}s"], out[f"src_bytes_{w}s"] = sc, sb
            out[f"dst_subnet_flows_{w}s"], out[f"dst_subnet_bytes_{w}s"] = dc, db
        return out
