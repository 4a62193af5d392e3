"""The serving bundle: everything one model version serves with, built once and swapped whole."""
from __future__ import annotations

import io
import json
import logging
from dataclasses import dataclass, field
from typing import Any

import joblib
import numpy as np

from server.ml.explain import Explainer
from server.ml.rows import RowBuilder
from server.ml.vectorise import FeatureVectoriser
from server.services.fastforest import ProbaRuntime, build_runtime

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Alignment:
    """Maps the vectoriser's columns onto the order the version recorded at training."""

    index: tuple[int, ...]      # per model column: the vectoriser column, or -1 to fill
    warnings: tuple[str, ...]
    identity: bool

    @classmethod
    def between(cls, recorded: tuple[str, ...], built: list[str]) -> "Alignment":
        """Fill recorded columns the code no longer builds; drop built columns nobody recorded."""
        if not recorded or tuple(built) == tuple(recorded):
            return cls(tuple(range(len(built))), (), True)
        position = {name: i for i, name in enumerate(built)}
        index = tuple(position.get(name, -1) for name in recorded)
        missing = [n for n, i in zip(recorded, index) if i < 0]
        extra = [n for n in built if n not in set(recorded)]
        warnings = []
        if missing:
            warnings.append(f"feature(s) {', '.join(missing)} not built by this server; filled with 0")
        if extra:
            warnings.append(f"feature(s) {', '.join(extra)} not known to version; dropped")
        return cls(index, tuple(warnings), False)

    def apply(self, vector: list[float]) -> list[float]:
        """The vector in model column order."""
        if self.identity:
            return vector
        return [vector[i] if i >= 0 else 0.0 for i in self.index]

    def apply_matrix(self, X: np.ndarray) -> np.ndarray:
        """Rows in model column order (a copy only when the orders differ)."""
        if self.identity:
            return X
        index = np.asarray(self.index, dtype=np.intp)
        return np.where(index >= 0, X[:, np.maximum(index, 0)], 0.0)


@dataclass(frozen=True)
class ServingBundle:
    """Everything one model version serves with; swapped as a whole, never mutated."""

    version: str
    model_type: str
    pipeline: Any
    feature_names: tuple[str, ...]
    shap_global: dict[str, Any] = field(default_factory=dict)
    distribution: dict[str, Any] = field(default_factory=dict)
    vectoriser: FeatureVectoriser | None = None
    runtime: ProbaRuntime | None = None
    explainer: Explainer | None = None
    alignment: Alignment | None = None
    rows: RowBuilder | None = None
    window_spec: tuple[tuple[int, ...], int, int] = ((60, 600), 24, 64)


def _window_spec(pipeline: Any) -> tuple[tuple[int, ...], int, int]:
    windows = pipeline.named_steps["features"].named_transformers["windows"]
    return (tuple(int(w) for w in windows.windows_s), int(windows.subnet_prefix),
            int(getattr(windows, "subnet_prefix_v6", 64)))


def prepare_bundle(tag: str, model_type: str, pipeline: Any, feature_names: tuple[str, ...] | list[str] = (),
                   shap_global: dict | None = None, distribution: dict | None = None) -> ServingBundle:
    """Build everything serving needs once: vectoriser, fast runtime, explainer, column alignment."""
    vectoriser = FeatureVectoriser.from_pipeline(pipeline)
    model = pipeline.named_steps["model"]
    recorded = tuple(feature_names) or tuple(vectoriser.feature_names)
    if len(recorded) != int(getattr(model, "n_features_in_", len(recorded))):
        log.warning("version %s recorded %d features but its model takes %d; using the pipeline's order",
                    tag, len(recorded), model.n_features_in_)
        recorded = tuple(vectoriser.feature_names)
    explainer = Explainer(pipeline)
    bundle = ServingBundle(
        version=tag, model_type=model_type, pipeline=pipeline, feature_names=recorded,
        shap_global=shap_global or {}, distribution=distribution or {}, vectoriser=vectoriser,
        runtime=build_runtime(model), explainer=explainer,
        alignment=Alignment.between(recorded, vectoriser.feature_names),
        rows=RowBuilder(pipeline.named_steps["features"]), window_spec=_window_spec(pipeline))
    zero = np.zeros((1, len(recorded)))
    bundle.runtime.positive_proba(zero)  # type: ignore[union-attr]  # warm up both paths now,
    explainer.shap_values(zero)          # not in the first user's request
    return bundle


def _read_json(blobs, artifact) -> dict[str, Any]:
    return json.loads(blobs.read(artifact.sha256, artifact.size_bytes))


def build_bundle(version, artifacts: dict[str, Any], blobs) -> ServingBundle:
    """Read and verify a version's blobs, then unpickle (runs in a thread, off the loop).

    The hash is checked by `blobs.read` before joblib ever sees the bytes: a tampered
    pickle is refused without being loaded.
    """
    pipeline_bytes = blobs.read(artifacts["pipeline"].sha256, artifacts["pipeline"].size_bytes)
    shap_global = _read_json(blobs, artifacts["shap"])
    distribution = _read_json(blobs, artifacts["distribution"])
    pipeline = joblib.load(io.BytesIO(pipeline_bytes))
    return prepare_bundle(version.tag, version.model_type, pipeline, tuple(version.feature_names),
                          shap_global, distribution)
