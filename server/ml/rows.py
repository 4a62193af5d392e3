"""The serving hot path's feature rows: one fitted union compiled into a flat list of fill steps.

Same floats as `FeatureVectoriser.vector` (and so as the union's `transform`), bit for bit: the
steps call the very helpers the transformers' `transform_record` use, in the union's column order,
but without a dict of aggregates, a list per part or a name formatted per record. The window
aggregates are written into the row by `WindowState.observe` at `window_at`, in canonical order.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import lru_cache

from sklearn.pipeline import FeatureUnion

from .features import (
    _HOUR_COS_LIST, _HOUR_SIN_LIST, IpEncoder, NumericPassthrough, ProtocolEncoder, TimeEncoder, WindowAggregates,
    _encode_ip,
)
from .schema import EPOCH_WEEKDAY, HOUR, PROTOCOL, SECONDS_PER_DAY, TIMESTAMP, normalise_protocol

Step = Callable[[Mapping[str, object], list, int], None]


@lru_cache(maxsize=131_072)
def _ip_pair(field: str, text: str) -> tuple[float, float]:
    return _encode_ip(field, text)


def _numeric(columns: tuple[str, ...], at: int) -> Step:
    def fill(record: Mapping[str, object], row: list, base: int) -> None:
        for k, name in enumerate(columns):
            row[base + at + k] = float(record[name])  # type: ignore[arg-type]
    return fill


def _ips(columns: tuple[str, ...], at: int) -> Step:
    def fill(record: Mapping[str, object], row: list, base: int) -> None:
        for k, name in enumerate(columns):
            row[base + at + 2 * k], row[base + at + 2 * k + 1] = _ip_pair(name, str(record[name]))
    return fill


def _time(at: int) -> Step:
    def fill(record: Mapping[str, object], row: list, base: int) -> None:
        ts = int(record[TIMESTAMP])  # type: ignore[call-overload]
        hour = record.get(HOUR)
        h = (ts // 3600) % 24 if hour is None else int(hour)  # type: ignore[call-overload]
        if not 0 <= h <= 23:
            raise ValueError(f"{HOUR}: values must be in 0..23")
        i = base + at
        row[i], row[i + 1] = _HOUR_SIN_LIST[h], _HOUR_COS_LIST[h]
        row[i + 2] = 1.0 if (ts // SECONDS_PER_DAY + EPOCH_WEEKDAY) % 7 >= 5 else 0.0
    return fill


def _protocol(categories: list[str], at: int) -> Step:
    width = len(categories) + 1
    index: dict[object, int] = {}

    def fill(record: Mapping[str, object], row: list, base: int) -> None:
        raw = record[PROTOCOL]
        k = index.get(raw)
        if k is None:
            name = normalise_protocol(raw)
            k = categories.index(name) if name in categories else width - 1
            if len(index) < 4096:  # a bounded memo of the spellings clients send
                index[raw] = k
        i = base + at
        for j in range(width):
            row[i + j] = 0.0
        row[i + k] = 1.0
    return fill


def _fallback(part: object, at: int, width: int) -> Step:
    """Any other (non-window) transformer through its own transform_record."""
    def fill(record: Mapping[str, object], row: list, base: int) -> None:
        row[base + at:base + at + width] = part.transform_record(record, {})  # type: ignore[attr-defined]
    return fill


class RowBuilder:
    """Fills one record's model features (vectoriser order) into a flat row buffer."""

    def __init__(self, union: FeatureUnion) -> None:
        self.feature_names = [str(n) for n in union.get_feature_names_out()]
        self.width = len(self.feature_names)
        self.window_at: int | None = None
        self.windows_s: tuple[int, ...] = ()
        self._steps: list[Step] = []
        at = 0
        for _, part in union.transformer_list:
            if part in (None, "drop"):
                continue
            width = len(part.get_feature_names_out())
            self._steps.extend(self._compile(part, at, width))
            at += width

    def _compile(self, part: object, at: int, width: int) -> list[Step]:
        kind = type(part)
        if kind is NumericPassthrough:
            return [_numeric(tuple(part.columns), at)]  # type: ignore[attr-defined]
        if kind is IpEncoder:
            return [_ips(tuple(part.columns), at)]  # type: ignore[attr-defined]
        if kind is TimeEncoder:
            return [_time(at)]
        if kind is ProtocolEncoder:
            return [_protocol(list(part.categories_), at)]  # type: ignore[attr-defined]
        if kind is WindowAggregates:
            self.window_at = at
            self.windows_s = tuple(int(w) for w in part.windows_s)  # type: ignore[attr-defined]
            return []  # filled by WindowState.observe / look
        return [_fallback(part, at, width)]

    def fill(self, record: Mapping[str, object], row: list, base: int = 0) -> None:
        """Everything but the window aggregates; ValueError 'field: message' on a bad value."""
        for step in self._steps:
            step(record, row, base)
