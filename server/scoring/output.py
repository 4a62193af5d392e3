"""Output rows of a scored chunk: the good input rows as the model read them, plus scores and SHAP columns."""
from __future__ import annotations

import numpy as np
import pyarrow as pa

from server.ml.schema import FLOW_COLUMNS, HOUR
from server.monitoring.ids import IdIssuer
from server.scoring.explain import explanation_columns
from server.scoring.rows import CheckedChunk
from server.services.inference import ServingBundle

OUTPUT_COLUMNS = ("probability", "prediction", "version", "prediction_id")
# Bulk scores get ids like /api/predict answers (time-ordered, unique across processes), so labels
# fed back for them name the same kind of key; bulk scores are not written to the prediction log.
_IDS = IdIssuer()


def _ids(n: int) -> list[str]:
    prefix, first = _IDS.reserve(n)
    return [f"{prefix}{seq:012x}" for seq in range(first, first + n)]


def output_table(table: pa.Table, checked: CheckedChunk, columns: dict[str, str], probability: np.ndarray,
                 threshold: float, bundle: ServingBundle, shap: np.ndarray | None, explain: int) -> pa.Table:
    """Good input rows (schema columns as the model read them) plus the scores (and top SHAP columns)."""
    kept = table.filter(pa.array(checked.ok)) if not checked.ok.all() else table
    for name in FLOW_COLUMNS:
        if name in columns and (name != HOUR or HOUR in columns):
            index = kept.schema.get_field_index(columns[name])
            kept = kept.set_column(index, columns[name], pa.array(checked.frame[name].to_numpy()))
    extra = {"probability": pa.array(probability, pa.float64()),
             "prediction": pa.array((probability >= threshold).astype(np.int8)),
             "version": pa.array([bundle.version] * len(probability), pa.string()),
             "prediction_id": pa.array(_ids(len(probability)), pa.string())}
    if explain > 0 and shap is not None:
        extra.update(explanation_columns(bundle.feature_names, shap, explain))
    for name, values in extra.items():
        if name in kept.column_names:
            kept = kept.drop_columns([name])
        kept = kept.append_column(name, values)
    return kept
