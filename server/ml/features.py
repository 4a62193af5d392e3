"""scikit-learn transformers turning raw flow records into model features.

Each transformer also offers `transform_record(record, aggregates)`, a pure-Python path used by
FeatureVectoriser for single records; tests pin it to `transform` exactly.
"""

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.pipeline import FeatureUnion

from .iputil import ip_feature
from .schema import (
    BYTES_SENT, EPOCH_WEEKDAY, HOUR, IP_COLUMNS, NUMERIC_COLUMNS, PACKET_SIZE, PROTOCOL, SECONDS_PER_DAY,
    TIMESTAMP, normalise_protocol,
)
from .windows import aggregate_names, compute_aggregates

# Lookup tables so the vectorised and the single-record paths produce identical floats.
_HOURS = np.arange(24)
HOUR_SIN = np.sin(2 * np.pi * _HOURS / 24)
HOUR_COS = np.cos(2 * np.pi * _HOURS / 24)
_HOUR_SIN_LIST = [float(v) for v in HOUR_SIN]
_HOUR_COS_LIST = [float(v) for v in HOUR_COS]


class _Stateless(TransformerMixin, BaseEstimator):
    """Base for transformers whose fit only records that it happened."""

    def fit(self, X: pd.DataFrame, y: object = None) -> "_Stateless":
        """Remember the input width; nothing else is learned."""
        self.n_features_in_ = X.shape[1]
        return self


class IpEncoder(_Stateless):
    """IPv4 as an integer; IPv6 as a stable 32-bit fold plus an `*_is_ipv6` flag."""

    def __init__(self, columns: Sequence[str] = IP_COLUMNS):
        self.columns = columns

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        """Two columns per IP field."""
        return np.array([n for c in self.columns for n in (f"{c}_int", f"{c}_is_ipv6")], dtype=object)

    def describe_features(self) -> dict[str, str]:
        """One line per output feature, in get_feature_names_out order (the dashboard's glossary)."""
        out = {}
        for col in self.columns:
            field = {"source_ip": "source IP", "dest_ip": "destination IP"}.get(col, col.replace("_", " "))
            out[f"{col}_int"] = (f"the {field} as a number (IPv4 as its 32-bit integer, IPv6 folded to 32 bits); "
                                 "nearby addresses get nearby numbers, so trees can split on address ranges")
            out[f"{col}_is_ipv6"] = f"1 when the {field} is an IPv6 address, else 0"
        return out

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        """Encode each IP column; ValueError naming the field on an invalid address."""
        out = []
        for col in self.columns:
            values = X[col].astype(str).to_numpy()
            uniques, inverse = np.unique(values, return_inverse=True)
            enc = np.array([_encode_ip(col, u) for u in uniques], dtype=np.float64).reshape(-1, 2)
            out.append(enc[inverse.ravel()])
        return np.hstack(out) if out else np.empty((len(X), 0))

    def transform_record(self, record: Mapping[str, object], aggregates: Mapping[str, float]) -> list[float]:
        """Single-record path."""
        out: list[float] = []
        for col in self.columns:
            out.extend(_encode_ip(col, str(record[col])))
        return out


def _encode_ip(field: str, text: str) -> tuple[float, float]:
    """ip_feature with an error message naming the field."""
    try:
        return ip_feature(text)
    except ValueError:
        raise ValueError(f"{field}: invalid IP address {text!r}") from None


class TimeEncoder(_Stateless):
    """Cyclical hour (sin/cos) and a UTC weekend flag from the timestamp."""

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        """hour_sin, hour_cos, is_weekend."""
        return np.array(["hour_sin", "hour_cos", "is_weekend"], dtype=object)

    def describe_features(self) -> dict[str, str]:
        """One line per output feature (the dashboard's glossary)."""
        circle = "the hour of day (UTC) placed on a 24-hour circle, so 23:00 and 00:00 are neighbours"
        return {
            "hour_sin": f"sine of {circle}",
            "hour_cos": f"cosine of {circle}",
            "is_weekend": "1 when the flow's timestamp falls on a Saturday or Sunday (UTC), else 0",
        }

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        """Vectorised encoding."""
        ts = X[TIMESTAMP].to_numpy(dtype=np.int64)
        derived = (ts // 3600) % 24
        if HOUR in X.columns:  # rows without an hour derive it, as transform_record does
            given = pd.to_numeric(X[HOUR], errors="coerce").to_numpy(dtype=np.float64)
            hours = np.where(np.isnan(given), derived, given).astype(np.int64)
        else:
            hours = derived
        if hours.size and (hours.min() < 0 or hours.max() > 23):
            raise ValueError(f"{HOUR}: values must be in 0..23")
        weekend = ((ts // SECONDS_PER_DAY + EPOCH_WEEKDAY) % 7 >= 5).astype(np.float64)
        return np.column_stack([HOUR_SIN[hours], HOUR_COS[hours], weekend])

    def transform_record(self, record: Mapping[str, object], aggregates: Mapping[str, float]) -> list[float]:
        """Single-record path."""
        ts = int(record[TIMESTAMP])  # type: ignore[call-overload]
        hour = record.get(HOUR)
        h = (ts // 3600) % 24 if hour is None else int(hour)  # type: ignore[call-overload]
        if not 0 <= h <= 23:
            raise ValueError(f"{HOUR}: values must be in 0..23")
        weekend = 1.0 if (ts // SECONDS_PER_DAY + EPOCH_WEEKDAY) % 7 >= 5 else 0.0
        return [_HOUR_SIN_LIST[h], _HOUR_COS_LIST[h], weekend]


class ProtocolEncoder(TransformerMixin, BaseEstimator):
    """Case-insensitive one-hot over the protocols seen at fit, plus `protocol_other`."""

    def fit(self, X: pd.DataFrame, y: object = None) -> "ProtocolEncoder":
        """Learn the known protocol set."""
        self.categories_ = sorted({normalise_protocol(v) for v in pd.unique(X[PROTOCOL])})
        self.n_features_in_ = X.shape[1]
        return self

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        """protocol_<NAME> per known protocol, then protocol_other."""
        return np.array([f"protocol_{c}" for c in self.categories_] + ["protocol_other"], dtype=object)

    def describe_features(self) -> dict[str, str]:
        """One line per output feature (the dashboard's glossary); needs a fitted encoder."""
        out = {f"protocol_{c}": f"1 when the flow's protocol is {c}, else 0" for c in self.categories_}
        seen = ", ".join(self.categories_) or "none"
        out["protocol_other"] = f"1 when the protocol is none of those seen in training ({seen}), else 0"
        return out

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        """Vectorised one-hot."""
        index = {c: i for i, c in enumerate(self.categories_)}
        other = len(self.categories_)
        raw = X[PROTOCOL].to_numpy()
        uniques, inverse = np.unique(raw.astype(str), return_inverse=True)
        codes = np.array([index.get(normalise_protocol(u), other) for u in uniques], dtype=np.int64)
        out = np.zeros((len(X), other + 1))
        out[np.arange(len(X)), codes[inverse.ravel()]] = 1.0
        return out

    def transform_record(self, record: Mapping[str, object], aggregates: Mapping[str, float]) -> list[float]:
        """Single-record path."""
        out = [0.0] * (len(self.categories_) + 1)
        name = normalise_protocol(record[PROTOCOL])
        out[self.categories_.index(name) if name in self.categories_ else -1] = 1.0
        return out


class NumericPassthrough(_Stateless):
    """Packet size and bytes as floats (trees need no scaling)."""

    def __init__(self, columns: Sequence[str] = NUMERIC_COLUMNS):
        self.columns = columns

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        """The numeric column names."""
        return np.array(list(self.columns), dtype=object)

    def describe_features(self) -> dict[str, str]:
        """One line per output feature (the dashboard's glossary)."""
        known = {PACKET_SIZE: "mean packet size of the flow, in bytes, as sent",
                 BYTES_SENT: "total bytes of the flow, as sent"}
        return {c: known.get(c, f"the record's {c.replace('_', ' ')}, as sent") for c in self.columns}

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        """Columns as float64."""
        return X[list(self.columns)].to_numpy(dtype=np.float64)

    def transform_record(self, record: Mapping[str, object], aggregates: Mapping[str, float]) -> list[float]:
        """Single-record path."""
        return [float(record[c]) for c in self.columns]  # type: ignore[arg-type]


class WindowAggregates(_Stateless):
    """Trailing-window flows/bytes per source IP and destination subnet.

    Passes precomputed aggregate columns through when X already has them (the server's online
    WindowState values, or the worker's whole-history pass); otherwise computes them from X.
    """

    def __init__(self, windows_s: Sequence[int] = (60, 600), subnet_prefix: int = 24, subnet_prefix_v6: int = 64):
        self.windows_s = windows_s
        self.subnet_prefix = subnet_prefix
        self.subnet_prefix_v6 = subnet_prefix_v6

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        """Aggregate names in canonical order."""
        return np.array(aggregate_names(self.windows_s), dtype=object)

    def describe_features(self) -> dict[str, str]:
        """One line per output feature (the dashboard's glossary), from the window definitions."""
        subnet = f"destination /{self.subnet_prefix} subnet (/{self.subnet_prefix_v6} for IPv6)"
        texts = {
            "src_flows": "flows from the same source IP",
            "src_bytes": "bytes sent by the same source IP",
            "dst_subnet_flows": f"flows to the same {subnet}",
            "dst_subnet_bytes": f"bytes sent to the same {subnet}",
        }
        out = {}
        for name in aggregate_names(self.windows_s):
            kind, _, window = name.rpartition("_")
            out[name] = f"{texts[kind]} in the {window[:-1]} seconds up to this flow, this flow included (online windows)"
        return out

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        """Pass through or compute offline."""
        names = aggregate_names(self.windows_s)
        if all(n in X.columns for n in names):
            return X[names].to_numpy(dtype=np.float64)
        agg = compute_aggregates(X, self.windows_s, self.subnet_prefix, self.subnet_prefix_v6)
        return agg[names].to_numpy(dtype=np.float64)

    def transform_record(self, record: Mapping[str, object], aggregates: Mapping[str, float]) -> list[float]:
        """Single-record path: aggregates come from WindowState (or the record itself)."""
        return [float(aggregates[n] if n in aggregates else record[n]) for n in aggregate_names(self.windows_s)]  # type: ignore[arg-type]


def build_features(features_cfg: Mapping[str, object]) -> FeatureUnion:
    """The feature-engineering union configured by the `features` config section."""
    windows = tuple(int(w) for w in features_cfg.get("windows_s", (60, 600)))  # type: ignore[union-attr]
    return FeatureUnion(
        [
            ("numeric", NumericPassthrough()),
            ("ip", IpEncoder()),
            ("time", TimeEncoder()),
            ("protocol", ProtocolEncoder()),
            ("windows", WindowAggregates(windows, int(features_cfg.get("subnet_prefix", 24)),  # type: ignore[call-overload]
                                         int(features_cfg.get("subnet_prefix_v6", 64)))),  # type: ignore[call-overload]
        ],
        verbose_feature_names_out=False,
    )
