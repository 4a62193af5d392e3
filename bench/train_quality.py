"""Train on the default config with generated data; print hold-out quality vs the Bayes ceiling.

`--seeds 1-8` trains once per data seed and adds the mean and standard deviation of the gaps: one
seed's 4,000-row hold-out moves the F1 gap by ~0.006, so compare settings on several seeds. The
"expected" gaps redraw the hold-out labels from p_true (server.ml.evaluate.expected_ceiling_gap):
the model's own distance from the ceiling, without the luck of one set of labels.
"""

import argparse
import time

import numpy as np

from server.config import load_config
from server.ml.evaluate import expected_ceiling_gap
from server.ml.explain import Explainer
from server.ml.generator import generate_flows
from server.ml.schema import P_TRUE, TIMESTAMP
from server.ml.windows import WindowState
from server.ml.worker import load_pipeline, run_training


def _seeds(text: str) -> list[int]:
    """'1-8' or '1,3,5' -> seeds."""
    if "-" in text:
        lo, hi = (int(v) for v in text.split("-"))
        return list(range(lo, hi + 1))
    return [int(v) for v in text.split(",")]


def flows_seed(spec_cfg: dict, seed: int | None) -> int:
    """The data seed a run used."""
    return int(spec_cfg["data"]["seed"] if seed is None else seed)


def main() -> None:
    """Run the benchmark from the command line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=None)
    parser.add_argument("--model", choices=["random_forest", "xgboost"], default=None)
    parser.add_argument("--imbalance", choices=["smote", "random", "none"], default=None)
    parser.add_argument("--seeds", type=_seeds, default=None, help="data seeds, e.g. 1-8 (default: data.seed)")
    args = parser.parse_args()
    spec_cfg = load_config().ml_snapshot()  # config.yaml plus any CONGESTION_* overrides
    if args.imbalance:
        spec_cfg["model"]["imbalance"]["method"] = args.imbalance
    gaps = []
    for seed in args.seeds or [None]:
        start = time.perf_counter()
        result = run_training({"config": spec_cfg, "data_path": None, "model_type": args.model, "rows": args.rows,
                               "seed": seed}, None)
        total = time.perf_counter() - start
        m = result["metrics"]
        proba = np.array(result["holdout"]["proba"])
        flows = generate_flows(m["samples"], flows_seed(spec_cfg, seed),
                               spec_cfg["data"]["positive_rate"], spec_cfg["data"]["scenario"])
        p_true = flows.sort_values(TIMESTAMP, kind="stable")[P_TRUE].to_numpy()[-len(proba):]  # the worker's order
        expected = expected_ceiling_gap(p_true, proba)
        gaps.append((m["bayes_f1"] - m["f1_at_best_threshold"], m["bayes_auc_roc"] - m["auc_roc"],
                     expected["f1_gap"], expected["auc_roc_gap"], total))
        print(f"seed {flows_seed(spec_cfg, seed):>3}  F1 gap {gaps[-1][0]:+.4f} (expected {gaps[-1][2]:+.4f})  ROC AUC gap "
              f"{gaps[-1][1]:+.4f} (expected {gaps[-1][3]:+.4f})  train {total:5.1f} s  params {result['params']}",
              flush=True)
    if len(gaps) > 1:
        f1, auc, ef1, eauc, secs = (np.array(v) for v in zip(*gaps))
        print(f"over seeds {args.seeds[0]}..{args.seeds[-1]} ({len(gaps)}), mean ± sd: F1 gap {f1.mean():+.4f} ± {f1.std():.4f} "
              f"(expected {ef1.mean():+.4f} ± {ef1.std():.4f}), ROC AUC gap {auc.mean():+.4f} ± {auc.std():.4f} (expected "
              f"{eauc.mean():+.4f} ± {eauc.std():.4f}), train {secs.mean():.1f} s; the lines below are the last seed's")
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
