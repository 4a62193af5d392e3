"""SHAP explanations in probability units, global (mean |SHAP|) and per record."""

import copy
import warnings
from collections.abc import Mapping

import numpy as np
import xgboost as xgb

from .schema import DEST_IP, HOUR, PROTOCOL, SOURCE_IP, TIMESTAMP
from .vectorise import FeatureVectoriser

_GROUP_PREFIXES = ((f"{SOURCE_IP}_", SOURCE_IP), (f"{DEST_IP}_", DEST_IP), ("protocol_", PROTOCOL), ("hour_", HOUR))


def feature_group(name: str) -> str:
    """The raw input field an engineered feature comes from (hour sin/cos -> hour, one-hots -> protocol...)."""
    for prefix, group in _GROUP_PREFIXES:
        if name.startswith(prefix):
            return group
    return name


def _import_shap() -> object:
    """Import shap lazily (heavy; only forests need it), muting the matplotlib deprecation it triggers."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)  # shap.plots colormap set_bad, shap 0.51
        import shap
    return shap


def _sigmoid(x: np.ndarray) -> np.ndarray:
    """Logistic function in float64."""
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64)))


class Explainer:
    """Reusable per-model-version explainer; picklable (the shap tree cache is rebuilt lazily)."""

    def __init__(self, pipeline: object):
        self.model = copy.copy(pipeline.named_steps["model"])  # type: ignore[attr-defined]
        if hasattr(self.model, "n_jobs"):
            self.model.n_jobs = 1  # shallow copy: thread-pool start-up costs ~10 ms per single-row call
        self.vectoriser = FeatureVectoriser.from_pipeline(pipeline)
        self.feature_names = self.vectoriser.feature_names
        self.groups = [feature_group(n) for n in self.feature_names]
        self.model_type = "xgboost" if isinstance(self.model, xgb.XGBClassifier) else "random_forest"
        if self.model_type == "xgboost":
            self.model.get_booster().set_param({"nthread": 1})  # OpenMP spin-up dominates one-row calls
        self._tree: object | None = None

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_tree"] = None  # shap's C++ tree cache is cheap to rebuild and not reliably picklable
        return state

    def _forest_tree(self) -> object:
        """Lazily built shap TreeExplainer (path-dependent: forest outputs already are probabilities)."""
        if self._tree is None:
            self._tree = _import_shap().TreeExplainer(self.model)
        return self._tree

    def shap_values(self, X: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
        """(SHAP matrix in probability units, expected value, model probability) for feature rows X."""
        X = np.asarray(X, dtype=np.float64)
        if self.model_type == "xgboost":
            contribs = self.model.get_booster().predict(xgb.DMatrix(X), pred_contribs=True).astype(np.float64)
            phi, bias = contribs[:, :-1], contribs[:, -1]
            margin = phi.sum(axis=1) + bias
            p, p0 = _sigmoid(margin), _sigmoid(bias)
            delta = margin - bias
            # Rescale log-odds SHAP to probability units so they add up exactly to p - p0; needs no
            # background data and keeps the exact TreeSHAP ranking (slope p(1-p) when delta ~ 0).
            safe = np.abs(delta) > 1e-12
            scale = np.where(safe, (p - p0) / np.where(safe, delta, 1.0), p * (1 - p))
            proba = self.model.predict_proba(X)[:, 1].astype(np.float64)
            return phi * scale[:, None], float(p0[0]) if len(p0) else 0.0, proba
        tree = self._forest_tree()
        values = np.asarray(tree.shap_values(X, check_additivity=False))  # type: ignore[attr-defined]
        values = values[..., 1] if values.ndim == 3 else values
        expected = np.atleast_1d(tree.expected_value)  # type: ignore[attr-defined]
        return values, float(expected[-1]), self.model.predict_proba(X)[:, 1]

    def global_importance(self, X: np.ndarray) -> dict:
        """Mean |SHAP| per feature and per raw field (member SHAP summed per row first)."""
        values, _, _ = self.shap_values(X)
        per_feature = np.abs(values).mean(axis=0)
        features = sorted(({"feature": n, "importance": float(v)} for n, v in zip(self.feature_names, per_feature)),
                          key=lambda d: -d["importance"])
        groups: dict[str, np.ndarray] = {}
        for j, g in enumerate(self.groups):
            groups[g] = groups.get(g, 0.0) + values[:, j]
        grouped = sorted(({"feature": g, "importance": float(np.abs(v).mean())} for g, v in groups.items()),
                         key=lambda d: -d["importance"])
        return {"features": features, "groups": grouped}

    def explain_record(self, record: Mapping[str, object], aggregates: Mapping[str, float] | None = None,
                       n: int | None = None, collapse: bool = False) -> dict:
        """Local explanation of one raw record; contributions sorted by |shap|, optional top n + other."""
        vector = self.vectoriser.vector(record, aggregates or {})
        values, expected, proba = self.shap_values(np.array([vector]))
        names, shap_vals, raw = self._named_contributions(record, aggregates or {}, vector, values[0], collapse)
        return {
            "probability": float(proba[0]), "expected_value": expected, "model_type": self.model_type,
            "contributions": contributions(names, raw, shap_vals, n),
        }

    def _named_contributions(self, record: Mapping[str, object], aggregates: Mapping[str, float],
                             vector: list[float], shap_row: np.ndarray, collapse: bool) -> tuple[list, list, list]:
        """Feature (or raw-field) names, SHAP values and display values for one record."""
        def raw_value(name: str, group: str, value: float) -> object:
            if group in record and group not in (TIMESTAMP,):
                return record[group]
            if group == HOUR and TIMESTAMP in record:
                return (int(record[TIMESTAMP]) // 3600) % 24  # type: ignore[call-overload]
            return aggregates.get(name, value)

        if not collapse:
            raws = [raw_value(n, g, v) for n, g, v in zip(self.feature_names, self.groups, vector)]
            return list(self.feature_names), [float(s) for s in shap_row], raws
        order: dict[str, float] = {}
        for g, s in zip(self.groups, shap_row):
            order[g] = order.get(g, 0.0) + float(s)
        first = {g: (n, v) for n, g, v in reversed(list(zip(self.feature_names, self.groups, vector)))}
        return list(order), list(order.values()), [raw_value(first[g][0], g, first[g][1]) for g in order]


def contributions(names: list[str], raw: list[object], shap_vals: list[float], n: int | None = None) -> list[dict]:
    """Sorted contribution rows with percent of total |shap| and a cumulative percent."""
    total = sum(abs(s) for s in shap_vals) or 1.0
    rows = sorted(zip(names, raw, shap_vals), key=lambda r: -abs(r[2]))
    out, cumulative = [], 0.0
    for i, (name, value, s) in enumerate(rows):
        if n is not None and i >= n:
            rest = rows[n:]
            pct = sum(abs(r[2]) for r in rest) / total * 100
            out.append({"feature": "other", "value": None, "shap": float(sum(r[2] for r in rest)),
                        "percent": pct, "cumulative_percent": min(100.0, cumulative + pct)})
            break
        pct = abs(s) / total * 100
        cumulative += pct
        out.append({"feature": name, "value": _plain(value), "shap": float(s), "percent": pct,
                    "cumulative_percent": min(100.0, cumulative)})
    return out


def _plain(value: object) -> object:
    """JSON-safe scalar."""
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    return value
