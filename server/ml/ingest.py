"""Reading users' flow files (CSV/Parquet) into the schema, and atomic writes."""

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import DataError
from .iputil import is_valid_ip
from .schema import (
    BYTES_SENT, FLOW_COLUMNS, HOUR, IP_COLUMNS, LABEL, P_TRUE, PACKET_SIZE, PROTOCOL, REQUIRED_COLUMNS,
    TIMESTAMP, normalise_protocol,
)

_PARQUET = (".parquet", ".pq")
_CSV = (".csv", ".csv.gz", ".txt")
_INT_MAX = 2**63 - 1


def _kind(path: Path) -> str:
    """'csv' or 'parquet' from the file name."""
    name = path.name.lower()
    if name.endswith(_PARQUET):
        return "parquet"
    if name.endswith(_CSV):
        return "csv"
    raise DataError(f"unsupported file type '{path.suffix}': use .csv or .parquet")


def write_flows(df: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write a frame as CSV or Parquet by extension, via a temp file renamed into place."""
    target = Path(path)
    kind = _kind(target)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        if kind == "parquet":
            df.to_parquet(tmp, index=False)
        else:
            df.to_csv(tmp, index=False)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read(path: Path) -> pd.DataFrame:
    """Read raw columns, keeping text as text so validation can name bad rows."""
    if not path.exists():
        raise DataError(f"file not found: {path.name}")
    if path.stat().st_size == 0:
        raise DataError("the file is empty")
    try:
        if _kind(path) == "parquet":
            return pd.read_parquet(path)
        return pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except DataError:
        raise
    except pd.errors.EmptyDataError:
        raise DataError("the file is empty") from None
    except Exception as exc:  # parser errors differ by engine; the user needs one message
        raise DataError(f"could not read the file: {exc}") from None


def _bad_rows(mask: np.ndarray) -> list[int]:
    """First five 1-based data row numbers where mask is true."""
    return [int(i) + 1 for i in np.flatnonzero(mask)[:5]]


def _numeric(df: pd.DataFrame, col: str) -> pd.Series:
    """Column as numbers; DataError naming non-numeric or negative rows."""
    raw = df[col]
    num = pd.to_numeric(raw, errors="coerce")
    bad = num.isna().to_numpy() | ~np.isfinite(num.to_numpy(dtype=np.float64, na_value=np.nan))
    if bad.any():
        raise DataError("expected a number", col, _bad_rows(bad))
    neg = (num < 0).to_numpy()
    if neg.any():
        raise DataError("negative values are not allowed", col, _bad_rows(neg))
    f = num.to_numpy(dtype=np.float64)
    if np.all(f == np.floor(f)) and f.max(initial=0) < _INT_MAX:
        return pd.Series(num.to_numpy().astype(np.int64), index=df.index)
    return pd.Series(f, index=df.index)


def _timestamps(df: pd.DataFrame) -> pd.Series:
    """Epoch seconds; datetime columns and ISO date-times are accepted when every value parses."""
    raw = df[TIMESTAMP]
    if pd.api.types.is_datetime64_any_dtype(raw):
        return (pd.to_datetime(raw, utc=True) - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)
    num = pd.to_numeric(raw, errors="coerce")
    if num.isna().any():
        parsed = pd.to_datetime(raw.astype(str), utc=True, errors="coerce", format="ISO8601")
        if parsed.notna().all():
            return (parsed - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)
        raise DataError("expected Unix epoch seconds", TIMESTAMP, _bad_rows(num.isna().to_numpy()))
    neg = (num < 0).to_numpy()
    if neg.any():
        raise DataError("negative timestamps are not allowed", TIMESTAMP, _bad_rows(neg))
    return pd.Series(np.floor(num.to_numpy(dtype=np.float64)).astype(np.int64), index=df.index)


def _label(df: pd.DataFrame, require_label: bool) -> pd.Series | None:
    """0/1 label (true/false accepted); None when absent and not required."""
    if LABEL not in df.columns:
        if require_label:
            raise DataError("missing column (the label is required for training)", LABEL)
        return None
    text = df[LABEL].astype(str).str.strip().str.lower()
    mapped = text.map({"0": 0, "1": 1, "0.0": 0, "1.0": 1, "false": 0, "true": 1})
    bad = mapped.isna().to_numpy()
    if bad.any():
        raise DataError("label must be 0 or 1", LABEL, _bad_rows(bad))
    if require_label and mapped.nunique() < 2:
        raise DataError(f"only one class present (all {int(mapped.iloc[0])}); training needs both 0 and 1", LABEL)
    return mapped.astype(np.int64)


def load_flows(path: str | os.PathLike, column_map: Mapping[str, str] | None = None,
               require_label: bool = True) -> pd.DataFrame:
    """Load and validate a user's flow file into the schema columns (+ label, + p_true if present)."""
    df = _read(Path(path))
    df = df.rename(columns={k: v for k, v in (column_map or {}).items()})
    df.columns = [str(c).strip().lower() for c in df.columns]
    if len(df) == 0:
        raise DataError("the file has a header but no data rows")
    for col in REQUIRED_COLUMNS:
        if col not in df.columns:
            raise DataError("missing column", col)
    out = pd.DataFrame(index=df.index)
    for col in (PACKET_SIZE, BYTES_SENT):
        out[col] = _numeric(df, col)
    for col in IP_COLUMNS:
        text = df[col].astype(str).str.strip()
        valid = text.map(is_valid_ip).to_numpy(dtype=bool)
        if not valid.all():
            raise DataError("invalid IP address", col, _bad_rows(~valid))
        out[col] = text.astype(object)
    proto = df[PROTOCOL].astype(str).str.strip()
    empty = (proto == "").to_numpy() | df[PROTOCOL].isna().to_numpy()
    if empty.any():
        raise DataError("protocol is empty", PROTOCOL, _bad_rows(empty))
    out[PROTOCOL] = proto.map(normalise_protocol).astype(object)
    out[TIMESTAMP] = _timestamps(df)
    if HOUR in df.columns:
        hour = pd.to_numeric(df[HOUR], errors="coerce")
        bad = (hour.isna() | (hour < 0) | (hour > 23) | (hour != hour.round())).to_numpy()
        if bad.any():
            raise DataError("hour must be an integer in 0..23", HOUR, _bad_rows(bad))
        out[HOUR] = hour.astype(np.int64)
    else:
        out[HOUR] = (out[TIMESTAMP] // 3600) % 24  # UTC hour of the epoch timestamp
    label = _label(df, require_label)
    if label is not None:
        out[LABEL] = label
    if P_TRUE in df.columns:  # only the generator writes it; kept for the Bayes ceiling
        out[P_TRUE] = pd.to_numeric(df[P_TRUE], errors="coerce")
    return out[[c for c in (*FLOW_COLUMNS, LABEL, P_TRUE) if c in out.columns]].reset_index(drop=True)
