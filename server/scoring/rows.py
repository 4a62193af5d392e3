"""Row checks for bulk scoring: the prediction API's per-field rules, applied to a whole chunk at once.

A row the API would answer with a 400 is a bad row here, named by its data line and first bad column.
CSV cells are trimmed first (the API takes JSON values as they are).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from server.ml.errors import DataError
from server.ml.iputil import is_valid_ip
from server.ml.schema import BYTES_SENT, DEST_IP, HOUR, PACKET_SIZE, PROTOCOL, SOURCE_IP, TIMESTAMP
from server.schemas import MAX_TEXT, NUMBER_RULES, REQUIRED_FIELDS
from server.scoring.reader import BadRow

# NUMBER_RULES (column -> (low, high, whole numbers only)) come from the FlowRecord model; a file
# must also give the timestamp, which the API defaults to now.
REQUIRED = (*REQUIRED_FIELDS, TIMESTAMP)


@dataclass
class CheckedChunk:
    """The good rows as model inputs, which input rows they are, and the bad ones."""

    frame: pd.DataFrame
    ok: np.ndarray
    bad: list[BadRow]


def missing_columns(columns: Mapping[str, str]) -> None:
    """DataError naming the first required column the file lacks."""
    for name in REQUIRED:
        if name not in columns:
            raise DataError("missing column", name)


def _numbers(col: pa.ChunkedArray, name: str) -> np.ndarray:
    """float64 values, NaN where a cell is empty or not a number; datetimes as epoch seconds."""
    kind = col.type
    if pa.types.is_timestamp(kind) or pa.types.is_date(kind):
        stamps = pd.to_datetime(pd.Series(col.to_pandas()), utc=True)
        seconds = (stamps - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)
        return seconds.to_numpy(dtype=np.float64, na_value=np.nan)
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        return pc.cast(col, pa.float64()).to_numpy(zero_copy_only=False)
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        text = pc.utf8_trim_whitespace(col)
        try:
            return pc.cast(text, pa.float64()).to_numpy(zero_copy_only=False)
        except pa.ArrowInvalid:  # some cell is not a number: find which
            values = pd.Series(text.to_numpy(zero_copy_only=False), dtype=object)
            return pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    return np.full(len(col), np.nan)  # booleans, lists...: the API refuses them too


def _number_problems(values: np.ndarray, name: str) -> list[tuple[np.ndarray, str]]:
    low, high, whole = NUMBER_RULES[name]
    nan = np.isnan(values)
    finite = np.isfinite(values)
    problems = [(nan, "expected a number"), (~nan & ~finite, "must be a finite number")]
    if whole:
        problems.append((finite & (values != np.floor(np.where(finite, values, 0))), "expected a whole number"))
    problems.append((finite & ((values < low) | (values > high)), f"must be between {low:g} and {high:g}"))
    return problems


def _text(col: pa.ChunkedArray) -> np.ndarray:
    """Trimmed strings as an object array (None where empty/null)."""
    if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
        col = pc.cast(col, pa.string())
    return pc.utf8_trim_whitespace(col).to_numpy(zero_copy_only=False)


def _valid_by_unique(values: np.ndarray, check) -> np.ndarray:
    """check() once per distinct value (flow logs repeat addresses endlessly)."""
    codes, uniques = pd.factorize(pd.Series(values, dtype=object), use_na_sentinel=True)
    valid = np.fromiter((check(u) for u in uniques), dtype=bool, count=len(uniques))
    return np.where(codes >= 0, valid[np.maximum(codes, 0)], False)


def _ip_ok(text: object) -> bool:
    return isinstance(text, str) and 0 < len(text) <= MAX_TEXT and is_valid_ip(text)


def _protocol_ok(text: object) -> bool:
    return isinstance(text, str) and 0 < len(text) <= MAX_TEXT and text.isprintable()


def check_chunk(table: pa.Table, columns: Mapping[str, str], lines: np.ndarray) -> CheckedChunk:
    """Validate one chunk; `columns` maps schema names to the file's column names."""
    n = table.num_rows
    bad_col = np.full(n, None, dtype=object)
    bad_why = np.full(n, None, dtype=object)

    def flag(mask: np.ndarray, name: str, reason: str) -> None:
        fresh = mask & (bad_col == None)  # noqa: E711 - elementwise on an object array
        bad_col[fresh] = name
        bad_why[fresh] = reason

    out: dict[str, np.ndarray] = {}
    for name in (PACKET_SIZE, BYTES_SENT, TIMESTAMP):
        values = _numbers(table.column(columns[name]), name)
        for mask, reason in _number_problems(values, name):
            flag(mask, name, reason)
        out[name] = values
    for name in (SOURCE_IP, DEST_IP):
        out[name] = _text(table.column(columns[name]))
        flag(~_valid_by_unique(out[name], _ip_ok), name, "expected an IPv4 or IPv6 address")
    out[PROTOCOL] = _text(table.column(columns[PROTOCOL]))
    flag(~_valid_by_unique(out[PROTOCOL], _protocol_ok), PROTOCOL,
         f"expected a protocol name of 1 to {MAX_TEXT} printable characters")
    ts = np.where(np.isfinite(out[TIMESTAMP]), out[TIMESTAMP], 0).astype(np.int64)
    derived = ((ts // 3600) % 24).astype(np.float64)
    if HOUR in columns:  # an empty hour cell is an absent field: derived from the timestamp, as the API does
        col = table.column(columns[HOUR])
        hour = _numbers(col, HOUR)
        empty = np.isnan(hour) & _empty_cells(col)
        hour = np.where(empty, derived, hour)
        for mask, reason in _number_problems(hour, HOUR):
            flag(mask, HOUR, reason)
        out[HOUR] = hour
    else:
        out[HOUR] = derived
    ok = bad_col == None  # noqa: E711
    frame = pd.DataFrame({
        PACKET_SIZE: out[PACKET_SIZE][ok], BYTES_SENT: out[BYTES_SENT][ok],
        SOURCE_IP: out[SOURCE_IP][ok], DEST_IP: out[DEST_IP][ok], PROTOCOL: out[PROTOCOL][ok],
        TIMESTAMP: ts[ok], HOUR: out[HOUR][ok].astype(np.int64),
    })
    bad = [BadRow(int(lines[i]), bad_col[i], bad_why[i]) for i in np.flatnonzero(~ok)]
    return CheckedChunk(frame, ok, bad)


def _empty_cells(col: pa.ChunkedArray) -> np.ndarray:
    if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
        trimmed = pc.utf8_trim_whitespace(col)
        return pc.fill_null(pc.equal(trimmed, ""), True).to_numpy(zero_copy_only=False)
    return pc.is_null(col).to_numpy(zero_copy_only=False)


def label_values(table: pa.Table, column: str, ok: np.ndarray) -> np.ndarray:
    """The good rows' labels as float64 (NaN where empty or not a number); booleans count as 0/1."""
    col = table.column(column)
    if pa.types.is_boolean(col.type):
        col = pc.cast(col, pa.int8())
    return _numbers(col, column)[ok]
