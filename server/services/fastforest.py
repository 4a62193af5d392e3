"""Fast probability runtime for the served classifier: a vectorised numpy forest, XGBoost in place.

Chosen by measurement (bench/forest_runtimes.py, 2 cores, 200 trees, depth 16, ms for 1 / 32
rows, max |p - sklearn|): scikit-learn 8.6 / 9.6; treelite GTIL 0.065 / 1.15, exact (0.0);
numpy traversal 0.082 / 0.85, 6e-16; onnxruntime 0.014 / 0.21 but 8e-7 (float32 thresholds and
leaves: too close to the 1e-6 budget to promise it). Forests go through treelite's GTIL (a
well-kept library, exact, and independent of tree depth); the numpy traversal stays as the
fallback when treelite cannot import a model, and as a second, readable reference in tests.
"""
from __future__ import annotations

import logging
from typing import Any, Protocol

import numpy as np

log = logging.getLogger(__name__)


class ProbaRuntime(Protocol):
    """Anything giving P(class 1) for a float matrix of model features."""

    def positive_proba(self, X: np.ndarray) -> np.ndarray: ...


class NumpyForest:
    """All trees of a fitted scikit-learn forest flattened into arrays and walked level by level."""

    def __init__(self, forest: Any) -> None:
        trees = [est.tree_ for est in forest.estimators_]
        if list(forest.classes_) != [0, 1]:
            raise ValueError("NumpyForest serves binary 0/1 classifiers only")
        offsets = np.cumsum([0] + [t.node_count for t in trees[:-1]])
        left, right, feature, threshold, value = [], [], [], [], []
        for off, tree in zip(offsets, trees):
            ids = np.arange(tree.node_count)
            leaf = tree.children_left == -1
            # A leaf points at itself and always "goes left": extra levels leave it in place.
            left.append(np.where(leaf, ids, tree.children_left) + off)
            right.append(np.where(leaf, ids, tree.children_right) + off)
            feature.append(np.where(leaf, 0, tree.feature))
            threshold.append(np.where(leaf, np.inf, tree.threshold))
            counts = tree.value[:, 0, :].astype(np.float64)
            value.append(counts[:, 1] / counts.sum(axis=1))
        self.left = np.concatenate(left).astype(np.intp)
        self.right = np.concatenate(right).astype(np.intp)
        self.feature = np.concatenate(feature).astype(np.intp)
        self.threshold = np.concatenate(threshold).astype(np.float64)
        self.value = np.concatenate(value)
        self.roots = offsets.astype(np.intp)
        self.depth = max(int(t.max_depth) for t in trees)
        self.n_features = int(forest.n_features_in_)

    def positive_proba(self, X: np.ndarray) -> np.ndarray:
        """P(class 1) per row, equal to `forest.predict_proba(X)[:, 1]` up to float summation order."""
        X = np.asarray(X, dtype=np.float32).astype(np.float64)
        n = X.shape[0]
        flat = X.ravel()
        base = (np.arange(n, dtype=np.intp) * X.shape[1])[:, None]
        node = np.broadcast_to(self.roots, (n, len(self.roots))).copy()
        left, right, feature, threshold = self.left, self.right, self.feature, self.threshold
        for _ in range(self.depth):
            go_left = flat[base + feature[node]] <= threshold[node]
            node = np.where(go_left, left[node], right[node])
        return self.value[node].mean(axis=1)


# Past this many rows scikit-learn's own vectorised traversal beats GTIL (measured on 100k rows:
# 0.36 s against 0.93 s), and it is the reference itself. GTIL wins for the 1-256-row requests
# of the server's hot path, where sklearn's per-tree Python overhead dominates.
SKLEARN_BATCH_ROWS = 4096


class TreeliteForest:
    """A scikit-learn forest imported into treelite and predicted by GTIL on one thread."""

    def __init__(self, forest: Any) -> None:
        import treelite  # imported here: only forests need it

        if list(forest.classes_) != [0, 1]:
            raise ValueError("TreeliteForest serves binary 0/1 classifiers only")
        self._gtil = treelite.gtil
        self.forest = forest
        self.model = treelite.sklearn.import_model(forest)
        # gtil.predict builds (and JSON-encodes) a config object on every call, ~10% of a small
        # predict: build it once and call the implementation it wraps, when this treelite has it.
        gtil = getattr(treelite.gtil, "gtil", None)
        impl, config_type = getattr(gtil, "_predict_impl", None), getattr(gtil, "GTILConfig", None)
        self._predict = None
        if impl is not None and config_type is not None:
            config = config_type(nthread=1, predict_type="default")
            self._predict = lambda X: impl(self.model, X, config=config)
            try:
                self._predict = _DenseGTIL(self.model, config, gtil)
            except (AttributeError, TypeError, ValueError):  # another treelite layout: its own path
                log.debug("treelite's GTIL internals differ; predicting through _predict_impl")

    def positive_proba(self, X: np.ndarray) -> np.ndarray:
        """P(class 1) per row; float32 inputs as scikit-learn casts them."""
        if len(X) >= SKLEARN_BATCH_ROWS:  # bulk scoring
            return np.asarray(self.forest.predict_proba(X), dtype=np.float64)[:, 1]
        X = np.ascontiguousarray(X, dtype=np.float32)
        raw = self._predict(X) if self._predict is not None else self._gtil.predict(self.model, X, nthread=1)
        out = np.asarray(raw, dtype=np.float64)
        return out.reshape(len(X), -1)[:, -1]


class _DenseGTIL:
    """GTIL's dense predict with the model's types and output shape read once.

    treelite's `_predict_impl` asks the model for its input and output types over ctypes five
    times a call (~2 µs each) and the library for the output shape: ~12 µs, as much as a
    small forest's traversal of a few rows. The C calls and their arguments are the same.
    """

    def __init__(self, model: Any, config: Any, gtil: Any) -> None:
        import ctypes

        from treelite.util import c_str, typestr_to_ctypes_type, typestr_to_numpy_type

        self._ctypes, self._lib, self._check = ctypes, gtil._LIB, gtil._check_call
        self._model, self._config = model, config
        in_type, out_type = model.input_type, model.output_type
        self._in_dtype, self._out_dtype = typestr_to_numpy_type(in_type), typestr_to_numpy_type(out_type)
        self._in_ptr = ctypes.POINTER(typestr_to_ctypes_type(in_type))
        self._out_ptr = ctypes.POINTER(typestr_to_ctypes_type(out_type))
        self._in_name = c_str(in_type)
        self._num_feature = model.num_feature
        shape = ctypes.POINTER(ctypes.c_uint64)()
        ndim = ctypes.c_uint64()
        self._check(self._lib.TreeliteGTILGetOutputShape(model.handle, ctypes.c_uint64(1), config.handle,
                                                         ctypes.byref(shape), ctypes.byref(ndim)))
        per_row = tuple(int(v) for v in np.ctypeslib.as_array(shape, shape=(ndim.value,)))
        if not per_row or per_row[0] != 1:
            raise ValueError(f"unexpected GTIL output shape {per_row} for one row")
        self._row_shape = per_row[1:]  # (targets, classes) for the "default" predict type

    def __call__(self, X: np.ndarray) -> np.ndarray:
        ctypes = self._ctypes
        X = np.asarray(X, dtype=self._in_dtype, order="C")
        if X.ndim != 2 or X.shape[1] != self._num_feature:
            raise ValueError(f"expected rows of {self._num_feature} features, got shape {X.shape}")
        out = np.zeros((len(X), *self._row_shape), dtype=self._out_dtype)
        self._check(self._lib.TreeliteGTILPredict(
            self._model.handle, X.ctypes.data_as(self._in_ptr), self._in_name, ctypes.c_uint64(len(X)),
            out.ctypes.data_as(self._out_ptr), self._config.handle))
        return out


class XGBoostRuntime:
    """XGBoost's own `inplace_predict` on the booster: no DMatrix, one thread per call."""

    def __init__(self, model: Any) -> None:
        self.booster = model.get_booster()
        self.booster.set_param({"nthread": 1})

    def positive_proba(self, X: np.ndarray) -> np.ndarray:
        """P(class 1) per row, the same numbers as `predict_proba(X)[:, 1]`."""
        out = self.booster.inplace_predict(np.asarray(X, dtype=np.float32))
        return np.asarray(out, dtype=np.float64).reshape(len(X), -1)[:, -1]


class SklearnRuntime:
    """Fallback for a classifier no fast runtime knows: its own predict_proba."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def positive_proba(self, X: np.ndarray) -> np.ndarray:
        """P(class 1) per row."""
        return np.asarray(self.model.predict_proba(X), dtype=np.float64)[:, 1]


def build_runtime(model: Any) -> ProbaRuntime:
    """The fastest exact runtime for a fitted classifier."""
    name = type(model).__name__
    if name in ("RandomForestClassifier", "ExtraTreesClassifier"):
        try:
            return TreeliteForest(model)
        except Exception:  # noqa: BLE001 - any import failure falls back to the exact numpy walk
            log.warning("treelite could not import the forest; serving it with the numpy traversal")
            return NumpyForest(model)
    if name in ("XGBClassifier", "XGBRFClassifier"):  # the dask engine's forest is an XGBRF
        return XGBoostRuntime(model)
    return SklearnRuntime(model)
