"""Serving: one immutable bundle per active version, online window state, batched predictions."""
from __future__ import annotations

import io
import json
import logging
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Mapping

import joblib
import numpy as np

from server.errors import Unavailable, ValidationFailed
from server.ml.explain import Explainer, contributions, feature_group
from server.ml.schema import HOUR, TIMESTAMP
from server.ml.vectorise import FeatureVectoriser
from server.ml.windows import WindowState
from server.services.batching import MicroBatcher
from server.services.fastforest import ProbaRuntime, build_runtime

log = logging.getLogger(__name__)

EXPLAIN_CACHE_SIZE = 512


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
        alignment=Alignment.between(recorded, vectoriser.feature_names), window_spec=_window_spec(pipeline))
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


@dataclass(frozen=True)
class Prediction:
    """P(congestion) for each record of one request, and the version that computed them."""

    version: str
    probabilities: list[float]
    warnings: tuple[str, ...]


def _feature_error(exc: ValueError) -> ValidationFailed:
    """A feature builder's 'field: message' ValueError as a 400 naming the field."""
    text = str(exc)
    name, _, message = text.partition(": ")
    return ValidationFailed(f"invalid flow record: {text}", fields={name if message else "body": message or text})


class InferenceService:
    """Holds the active bundle; readers take one reference and use it for a whole request."""

    def __init__(self, max_window_keys: int = 50_000, *, batch_max_records: int = 256,
                 batch_wait_s: float = 0.001) -> None:
        self.bundle: ServingBundle | None = None
        self.degraded: str | None = None
        self.max_window_keys = max_window_keys
        self._windows: WindowState | None = None
        self._windows_lock = threading.Lock()  # WindowState is shared by the predict and explain threads
        self._predict_pool = ThreadPoolExecutor(1, thread_name_prefix="predict")
        self._explain_pool = ThreadPoolExecutor(1, thread_name_prefix="explain")
        self._explain_cache: OrderedDict[tuple, tuple[np.ndarray, float]] = OrderedDict()
        self.batcher: MicroBatcher[list[dict], Prediction] = MicroBatcher(
            self._predict_batch, self._predict_pool, max_items=batch_max_records,
            max_wait_s=batch_wait_s, size=len)

    @property
    def version(self) -> str | None:
        bundle = self.bundle
        return bundle.version if bundle else None

    def swap(self, bundle: ServingBundle | None, degraded: str | None = None) -> None:
        """Replace the serving bundle in one assignment: requests see old or new, never a mix."""
        self.bundle = bundle
        self.degraded = degraded

    def active(self) -> ServingBundle:
        """The serving bundle, or 503 when no model is loaded."""
        bundle = self.bundle
        if bundle is None:
            reason = f": {self.degraded}" if self.degraded else ""
            raise Unavailable(f"no model is active; train one first{reason}")
        return bundle

    async def predict(self, records: list[dict], observe: bool = True) -> Prediction:
        """Probabilities for validated records, batched with concurrent requests, off the loop.

        `observe=False` answers "what if" questions (dashboard samples) without adding the
        flows to the online windows, so they cannot skew the aggregates of real traffic.
        """
        self.active()
        if not observe:
            import asyncio

            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._predict_pool, self._predict_unobserved, records)
        return await self.batcher.submit(records)

    def _predict_unobserved(self, records: list[dict]) -> Prediction:
        bundle = self.active()
        vectors, _ = self._vectors(bundle, records, observe=False)
        probabilities = bundle.runtime.positive_proba(np.asarray(vectors, dtype=np.float64))  # type: ignore[union-attr]
        return Prediction(bundle.version, [float(p) for p in probabilities],
                          bundle.alignment.warnings)  # type: ignore[union-attr]

    async def explain(self, record: dict, n: int | None, collapse: bool) -> dict[str, Any]:
        """Local SHAP explanation of one validated record (peeks at, never feeds, the windows)."""
        import asyncio

        bundle = self.active()
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._explain_pool, self._explain, bundle, record, n, collapse)

    async def close(self) -> None:
        """Stop the batcher and the worker threads."""
        await self.batcher.close()
        self._predict_pool.shutdown(wait=False, cancel_futures=True)
        self._explain_pool.shutdown(wait=False, cancel_futures=True)

    # -- worker-thread side -------------------------------------------------------------------

    def _window_state(self, bundle: ServingBundle) -> WindowState:
        windows_s, prefix, prefix_v6 = bundle.window_spec
        state = self._windows
        if state is None or (state.windows_s, state.subnet_prefix, state.subnet_prefix_v6) != (
                windows_s, prefix, prefix_v6):
            if state is not None:
                log.info("window definition changed with version %s; online aggregates restart", bundle.version)
            state = self._windows = WindowState(windows_s, prefix, self.max_window_keys, prefix_v6)
        return state

    def _vectors(self, bundle: ServingBundle, records: list[dict],
                 observe: bool = True) -> tuple[list[list[float]], list[dict]]:
        """Model-ordered feature vectors and window aggregates; predicted flows join the windows."""
        assert bundle.vectoriser is not None and bundle.alignment is not None
        vectors, aggregates = [], []
        with self._windows_lock:
            state = self._window_state(bundle)
            aggregate = state.update if observe else state.peek
            for record in records:
                aggs = aggregate(record)
                try:
                    vectors.append(bundle.alignment.apply(bundle.vectoriser.vector(record, aggs)))
                except ValueError as exc:
                    raise _feature_error(exc) from None
                aggregates.append(aggs)
        return vectors, aggregates

    def _predict_batch(self, requests: list[list[dict]]) -> list[Prediction]:
        bundle = self.active()  # one reference for the whole batch: every answer names its version
        flat = [record for records in requests for record in records]
        vectors, _ = self._vectors(bundle, flat)
        probabilities = bundle.runtime.positive_proba(np.asarray(vectors, dtype=np.float64))  # type: ignore[union-attr]
        out, start = [], 0
        for records in requests:
            chunk = [float(p) for p in probabilities[start:start + len(records)]]
            out.append(Prediction(bundle.version, chunk, bundle.alignment.warnings))  # type: ignore[union-attr]
            start += len(records)
        return out

    def _shap(self, bundle: ServingBundle, vector: list[float]) -> tuple[np.ndarray, float]:
        key = (bundle.version, tuple(vector))
        cached = self._explain_cache.get(key)
        if cached is None:
            values, expected, _ = bundle.explainer.shap_values(np.asarray([vector], dtype=np.float64))  # type: ignore[union-attr]
            cached = (np.asarray(values[0], dtype=np.float64), float(expected))
            self._explain_cache[key] = cached
            while len(self._explain_cache) > EXPLAIN_CACHE_SIZE:
                self._explain_cache.popitem(last=False)
        return cached

    def _explain(self, bundle: ServingBundle, record: dict, n: int | None, collapse: bool) -> dict[str, Any]:
        # Explaining a flow is not seeing it again: it must not count twice in the windows.
        vectors, aggregates = self._vectors(bundle, [record], observe=False)
        vector, aggs = vectors[0], aggregates[0]
        probability = float(bundle.runtime.positive_proba(np.asarray(vectors))[0])  # type: ignore[union-attr]
        shap_row, expected = self._shap(bundle, vector)
        names, values, shaps = _named(bundle.feature_names, vector, shap_row, record, aggs, collapse)
        return {"probability": probability, "expected_value": expected, "version": bundle.version,
                "model_type": bundle.model_type, "contributions": contributions(names, values, shaps, n),
                "warnings": list(bundle.alignment.warnings)}  # type: ignore[union-attr]


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
