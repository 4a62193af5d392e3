"""The serving bundle: one immutable reference to everything a version needs to answer."""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

import joblib
import io

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServingBundle:
    """Everything one model version serves with; swapped as a whole, never mutated."""

    version: str
    model_type: str
    pipeline: Any
    feature_names: tuple[str, ...]
    shap_global: dict[str, Any] = field(default_factory=dict)
    distribution: dict[str, Any] = field(default_factory=dict)


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
    return ServingBundle(
        version=version.tag, model_type=version.model_type, pipeline=pipeline,
        feature_names=tuple(version.feature_names), shap_global=shap_global,
        distribution=distribution)


class InferenceService:
    """Holds the active bundle; readers take one reference and use it for a whole request."""

    def __init__(self) -> None:
        self.bundle: ServingBundle | None = None
        self.degraded: str | None = None

    @property
    def version(self) -> str | None:
        bundle = self.bundle
        return bundle.version if bundle else None

    def swap(self, bundle: ServingBundle | None, degraded: str | None = None) -> None:
        """Replace the serving bundle in one assignment: requests see old or new, never a mix."""
        self.bundle = bundle
        self.degraded = degraded
