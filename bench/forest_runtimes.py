"""Compare forest runtimes on one row and on 32 rows: sklearn, numpy traversal, treelite GTIL, onnxruntime.

Run by hand: `python bench/forest_runtimes.py`. Trains a 200-tree depth-16 forest on generated flows.
"""
from __future__ import annotations

import statistics
import time

import numpy as np
from sklearn.ensemble import RandomForestClassifier

from server.ml.features import build_features
from server.ml.generator import generate_flows
from server.ml.schema import LABEL
from server.services.fastforest import NumpyForest


def timed(fn, repeat: int = 200) -> float:
    """Median wall time of fn in ms."""
    fn()
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(samples)


def main() -> None:
    df = generate_flows(8000, seed=3)
    union = build_features({"windows_s": (60, 600)})
    X = union.fit_transform(df)
    y = df[LABEL].to_numpy()
    forest = RandomForestClassifier(n_estimators=200, max_depth=16, n_jobs=1, random_state=0).fit(X, y)
    ref = forest.predict_proba(X)[:, 1]
    rows = {"1 row": X[:1], "32 rows": X[:32]}
    results: dict[str, dict[str, float]] = {}
    err: dict[str, float] = {}

    results["sklearn predict_proba"] = {k: timed(lambda v=v: forest.predict_proba(v), 20) for k, v in rows.items()}
    err["sklearn predict_proba"] = 0.0
    npf = NumpyForest(forest)
    results["numpy traversal"] = {k: timed(lambda v=v: npf.positive_proba(v)) for k, v in rows.items()}
    err["numpy traversal"] = float(np.abs(npf.positive_proba(X) - ref).max())
    try:
        import treelite
        tl = treelite.sklearn.import_model(forest)
        gtil = lambda v: treelite.gtil.predict(tl, v.astype(np.float32), nthread=1)  # noqa: E731
        results["treelite GTIL"] = {k: timed(lambda v=v: gtil(v)) for k, v in rows.items()}
        err["treelite GTIL"] = float(np.abs(np.asarray(gtil(X)).reshape(len(X), -1)[:, -1] - ref).max())
    except Exception as exc:  # noqa: BLE001 - a missing optional runtime is reported, not fatal
        print("treelite:", exc)
    try:
        import onnxruntime as ort
        from skl2onnx import to_onnx
        onx = to_onnx(forest, X[:1].astype(np.float32), options={"zipmap": False})
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        sess = ort.InferenceSession(onx.SerializeToString(), opts, providers=["CPUExecutionProvider"])
        name = sess.get_inputs()[0].name
        run = lambda v: sess.run(None, {name: v.astype(np.float32)})[1]  # noqa: E731
        results["onnxruntime"] = {k: timed(lambda v=v: run(v)) for k, v in rows.items()}
        err["onnxruntime"] = float(np.abs(run(X)[:, 1] - ref).max())
    except Exception as exc:  # noqa: BLE001
        print("onnxruntime:", exc)

    print(f"{'runtime':24} {'1 row ms':>10} {'32 rows ms':>11} {'max |p - sklearn|':>18}")
    for name, r in results.items():
        print(f"{name:24} {r['1 row']:10.3f} {r['32 rows']:11.3f} {err[name]:18.2e}")


if __name__ == "__main__":
    main()
