"""Output rows of a scored chunk: the good input rows as the model read them, plus scores and SHAP columns."""
from __future__ import annotations

import numpy as np
import pyarrow as pa

from server.ml.schema import FLOW_COLUMNS, HOUR
from server.scoring.rows import CheckedChunk
from server.services.inference import ServingBundle

OUTPUT_COLUMNS = ("probability", "prediction", "version")


def output_table(table: pa.Table, checked: CheckedChunk, columns: dict[str, str], probability: np.ndarray,
                 threshold: float, bundle: ServingBundle, X: np.ndarray, explain: int) -> pa.Table:
    """Good input rows (schema columns as the model read them) plus the scores."""
    kept = table.filter(pa.array(checked.ok)) if not checked.ok.all() else table
    for name in FLOW_COLUMNS:
        if name in columns and (name != HOUR or HOUR in columns):
            index = kept.schema.get_field_index(columns[name])
            kept = kept.set_column(index, columns[name], pa.array(checked.frame[name].to_numpy()))
    extra = {"probability": pa.array(probability, pa.float64()),
             "prediction": pa.array((probability >= threshold).astype(np.int8)),
             "version": pa.array([bundle.version] * len(probability), pa.string())}
    if explain > 0:
        extra.update(_explanations(bundle, X, explain))
    for name, values in extra.items():
        if name in kept.column_names:
            kept = kept.drop_columns([name])
        kept = kept.append_column(name, values)
    return kept


def _explanations(bundle: ServingBundle, X: np.ndarray, n: int) -> dict[str, pa.Array]:
    """Top-n features by |SHAP| per row: explain_<k>_feature and explain_<k>_shap (probability units)."""
    names = np.asarray(bundle.feature_names, dtype=object)
    n = min(n, len(names))
    if len(X):
        values, _, _ = bundle.explainer.shap_values(X)  # type: ignore[union-attr]
    else:
        values = np.empty((0, len(names)))
    top = np.argsort(-np.abs(values), axis=1, kind="stable")[:, :n]
    rows = np.arange(len(X))[:, None]
    out: dict[str, pa.Array] = {}
    for k in range(n):
        out[f"explain_{k + 1}_feature"] = pa.array(names[top[:, k]].tolist() if len(X) else [], pa.string())
        out[f"explain_{k + 1}_shap"] = pa.array(values[rows[:, 0], top[:, k]] if len(X) else [], pa.float64())
    return out
