"""Plain-data summaries of a training frame: headline facts and per-field distributions."""

import numpy as np
import pandas as pd

from .schema import BYTES_SENT, DEST_IP, HOUR, LABEL, PACKET_SIZE, PROTOCOL, SOURCE_IP, TIMESTAMP

_QUANTILES = {"p1": 0.01, "p5": 0.05, "p25": 0.25, "p50": 0.5, "p75": 0.75, "p95": 0.95, "p99": 0.99}
_IP_SAMPLE = 50


def data_summary(df: pd.DataFrame, source: str) -> dict:
    """Rows, time span and positive rate."""
    ts = df[TIMESTAMP]
    return {
        "source": source, "rows": int(len(df)),
        "start_timestamp": int(ts.min()), "end_timestamp": int(ts.max()),
        "span_days": float((ts.max() - ts.min()) / 86_400),
        "positive_rate": float(df[LABEL].mean()) if LABEL in df else None,
    }


def distribution(df: pd.DataFrame, seed: int = 0) -> dict:
    """Quantiles of numeric fields, protocol frequencies and a sample of real IPs."""
    out: dict = {}
    for col in (PACKET_SIZE, BYTES_SENT, TIMESTAMP, HOUR):
        values = df[col].to_numpy(dtype=np.float64)
        stats = {k: float(np.quantile(values, q)) for k, q in _QUANTILES.items()}
        out[col] = {"min": float(values.min()), "max": float(values.max()), **stats}
    freq = df[PROTOCOL].value_counts(normalize=True)
    out[PROTOCOL] = {str(k): float(v) for k, v in freq.items()}
    rng = np.random.default_rng(seed)
    for col in (SOURCE_IP, DEST_IP):
        uniques = np.array(sorted(pd.unique(df[col].astype(str))))
        pick = rng.choice(len(uniques), size=min(_IP_SAMPLE, len(uniques)), replace=False)
        out[col] = {"unique": int(len(uniques)), "sample": [str(v) for v in uniques[np.sort(pick)]]}
    return out
