"""Reference profile of a version: what its hold-out looked like, small enough to store with it.

Never raw records: per monitored column a quantile sketch (`QUANTILE_POINTS` quantiles, or the
exact sorted column when the hold-out has at most `SKETCH_POINTS` rows, so a KS test on it is exact), its mean and
standard deviation; per categorical column the category counts (capped); the hold-out's
probability sketch; mean |SHAP| per feature group. The drift tests of `server/monitoring/`
compare live windows against it.
"""
from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache

import numpy as np
import pandas as pd

from .schema import BYTES_SENT, DEST_IP, PACKET_SIZE, PROTOCOL
from .windows import aggregate_names

PROFILE_FORMAT = 1
SKETCH_POINTS = 1_000   # up to this many rows the sketch is the sorted column (KS stays exact)
QUANTILE_POINTS = 256   # above, Wasserstein on 256 quantiles is within ~1% of the exact distance
MAX_CATEGORIES = 64  # subnet buckets beyond these are counted as OTHER
OTHER = "other"
DEST_SUBNET = "dest_subnet"
RAW_NUMERIC = (PACKET_SIZE, BYTES_SENT)
CATEGORICAL = (PROTOCOL, DEST_SUBNET)


@lru_cache(maxsize=65_536)
def subnet_bucket(ip: str, prefix_v4: int = 24, prefix_v6: int = 64) -> str:
    """The destination subnet a flow belongs to, as CIDR text (`172.16.3.0/24`)."""
    addr = ipaddress.ip_address(str(ip).strip())
    prefix = prefix_v4 if addr.version == 4 else prefix_v6
    return str(ipaddress.ip_network(f"{addr}/{prefix}", strict=False))


def numeric_columns(windows_s: Sequence[int]) -> tuple[str, ...]:
    """Monitored numeric columns: raw inputs and the engineered window aggregates."""
    return RAW_NUMERIC + tuple(aggregate_names(windows_s))


def quantile_sketch(values: np.ndarray) -> list[float]:
    """Sorted values when few, else QUANTILE_POINTS evenly spaced quantiles (midpoint rule)."""
    arr = np.sort(np.asarray(values, dtype=np.float64))
    if len(arr) <= SKETCH_POINTS:
        return arr.tolist()
    return np.quantile(arr, (np.arange(QUANTILE_POINTS) + 0.5) / QUANTILE_POINTS).tolist()


def numeric_summary(values: np.ndarray) -> dict:
    """Sketch plus the moments and the unique count the test registry needs."""
    arr = np.asarray(values, dtype=np.float64)
    return {"n": int(len(arr)), "mean": float(arr.mean()) if len(arr) else 0.0,
            "std": float(arr.std()) if len(arr) else 0.0, "unique": int(len(np.unique(arr))),
            "sketch": quantile_sketch(arr)}


def capped_counts(values: Iterable[str], known: Iterable[str] | None = None,
                  cap: int = MAX_CATEGORIES) -> dict[str, int]:
    """Category counts, at most `cap` categories (the rarest folded into OTHER)."""
    counts = pd.Series(list(values), dtype=object).value_counts()
    out: dict[str, int] = {}
    for key, n in counts.items():
        if len(out) < cap or (known is not None and key in known):
            out[str(key)] = int(n)
        else:
            out[OTHER] = out.get(OTHER, 0) + int(n)
    return out


def categorical_frame(frame: pd.DataFrame, prefix_v4: int, prefix_v6: int) -> dict[str, list[str]]:
    """Protocol and destination subnet bucket of each row."""
    return {PROTOCOL: [str(p) for p in frame[PROTOCOL]],
            DEST_SUBNET: [subnet_bucket(ip, prefix_v4, prefix_v6) for ip in frame[DEST_IP]]}


def shap_groups(shap_global: Mapping) -> dict[str, float]:
    """Mean |SHAP| per raw-field group from the version's global SHAP summary."""
    return {str(g["feature"]): float(g["importance"]) for g in shap_global.get("groups", [])}


def build_profile(frame: pd.DataFrame, probabilities: np.ndarray, shap_global: Mapping,
                  windows_s: Sequence[int], prefix_v4: int = 24, prefix_v6: int = 64,
                  baseline: Mapping | None = None) -> dict:
    """The reference profile of a hold-out frame (flow columns plus aggregates) and its scores."""
    numeric = {c: numeric_summary(frame[c].to_numpy(dtype=np.float64))
               for c in numeric_columns(windows_s) if c in frame}
    categorical = {c: capped_counts(v) for c, v in categorical_frame(frame, prefix_v4, prefix_v6).items()}
    return {
        "format": PROFILE_FORMAT, "rows": int(len(frame)),
        "subnet_prefix": [int(prefix_v4), int(prefix_v6)], "windows_s": [int(w) for w in windows_s],
        "numeric": numeric, "categorical": categorical,
        "probability": numeric_summary(np.asarray(probabilities, dtype=np.float64)),
        "shap_groups": shap_groups(shap_global),
        "baseline": {k: baseline.get(k) for k in ("f1", "auc_roc", "threshold")} if baseline else {},
    }
