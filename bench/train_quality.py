"""Train on the default config with generated data; print hold-out quality vs the Bayes ceiling."""

import argparse
import time

import numpy as np

from server.config import load_config
from server.ml.explain import Explainer
from server.ml.generator import generate_flows
from server.ml.windows import WindowState
from server.ml.worker import load_pipeline, run_training



def main() -> None:
    """Run the benchmark from the command line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=None)
    parser.add_argument("--model", choices=["random_forest", "xgboost"], default=None)
    parser.add_argument("--imbalance", choices=["smote", "random", "none"], default=None)
    args = parser.parse_args()
    spec_cfg = load_config().ml_snapshot()  # config.yaml plus any CONGESTION_* overrides
    if args.imbalance:
        spec_cfg["model"]["imbalance"]["method"] = args.imbalance
    start = time.perf_counter()
    result = run_training({"config": spec_cfg, "data_path": None, "model_type": args.model, "rows": args.rows}, None)
    total = time.perf_counter() - start
    m = result["metrics"]
    print(f"model {result['model_type']}  params {result['params']}  rows {m['samples']}  features {m['features']}")
    print(f"ROC AUC  {m['auc_roc']:.4f}  Bayes {m['bayes_auc_roc']:.4f}  gap {m['bayes_auc_roc'] - m['auc_roc']:+.4f}")
    print(f"best F1  {m['f1_at_best_threshold']:.4f}  Bayes {m['bayes_f1']:.4f}  gap {m['bayes_f1'] - m['f1_at_best_threshold']:+.4f}")
    print(f"F1@{m['threshold']:.2f} {m['f1']:.4f}  PR AUC {m['pr_auc']:.4f}  Brier {m['brier']:.4f} (Bayes {m['bayes_brier']:.4f})")
    for p in result["phases"]:
        print(f"  {p['phase']:<9} {p['duration_s']:7.2f} s")
    print(f"total train time {total:.1f} s")

    pipeline = load_pipeline(result["pipeline"])
    explainer = Explainer(pipeline)
    flows = generate_flows(300, 12345)
    state = WindowState(spec_cfg["features"]["windows_s"], spec_cfg["features"]["subnet_prefix"], 50_000)
    pairs = [(r, state.update(r)) for r in flows.to_dict("records")]
    explainer.explain_record(*pairs[0])  # builds the shap cache once, as the server would
    t = time.perf_counter()
    for record, agg in pairs[:200]:
        explainer.explain_record(record, agg)
    shap_ms = (time.perf_counter() - t) / 200 * 1000
    t = time.perf_counter()
    for record, agg in pairs[:200]:
        explainer.vectoriser.vector(record, agg)
    vec_us = (time.perf_counter() - t) / 200 * 1e6
    print(f"single-row local SHAP {shap_ms:.2f} ms/row (incl. features + probability); vector {vec_us:.1f} us/row")
    print(f"phases OK: {[p['phase'] for p in result['phases']]}; plots {len(result['plots'])}; "
          f"pipeline {len(result['pipeline']) / 1e6:.2f} MB; mean |SHAP| top: {result['shap_global']['groups'][0]}")
    assert np.isfinite(m["auc_roc"])


if __name__ == "__main__":
    main()
