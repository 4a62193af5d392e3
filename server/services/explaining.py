"""The body of a local explanation: contributions named per feature or per raw input field."""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from server.ml.explain import contributions, feature_group
from server.ml.schema import HOUR, TIMESTAMP


def explanation(bundle: Any, record: Mapping[str, Any], vector: list[float], aggregates: Mapping[str, float],
                probability: float, shap_row: np.ndarray, expected: float, n: int | None,
                collapse: bool) -> dict[str, Any]:
    """The explain answer for one record of one bundle."""
    names, values, shaps = _named(bundle.feature_names, vector, shap_row, record, aggregates, collapse)
    return {"probability": probability, "expected_value": expected, "version": bundle.version,
            "model_type": bundle.model_type, "contributions": contributions(names, values, shaps, n),
            "warnings": list(bundle.alignment.warnings)}


def _named(feature_names: tuple[str, ...], vector: list[float], shap_row: np.ndarray, record: Mapping[str, Any],
           aggregates: Mapping[str, float], collapse: bool) -> tuple[list[str], list[Any], list[float]]:
    """(names, display values, shap) per feature, or per raw input field when collapsing pairs."""
    def display(name: str, group: str, value: float) -> Any:
        if group == HOUR:
            return record.get(HOUR, (int(record[TIMESTAMP]) // 3600) % 24)
        if group in record and group != TIMESTAMP:
            return record[group]
        return aggregates.get(name, value)

    groups = [feature_group(name) for name in feature_names]
    if not collapse:
        return (list(feature_names), [display(n, g, v) for n, g, v in zip(feature_names, groups, vector)],
                [float(s) for s in shap_row])
    sums: dict[str, float] = {}
    shown: dict[str, Any] = {}
    for name, group, value, s in zip(feature_names, groups, vector, shap_row):
        sums[group] = sums.get(group, 0.0) + float(s)
        shown.setdefault(group, display(name, group, value))
    return list(sums), [shown[g] for g in sums], list(sums.values())
