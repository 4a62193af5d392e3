"""run_training end to end on tiny data, plots, and user-facing training errors."""

import json
from pathlib import Path

import numpy as np
import pytest

from server.ml.data import generate_flows, write_flows
from server.ml.errors import TrainingError
from server.ml.plots import eda_plots, evaluation_plots
from server.ml.worker import PHASES, load_pipeline, run_training

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("model_type", ["random_forest", "xgboost"])
def test_run_training_phases_progress_and_result(small_config: dict, model_type: str):
    events: list[dict] = []
    result = run_training({"config": small_config, "data_path": None, "model_type": model_type,
                           "search_iterations": 2, "rows": 1500}, events.append)
    phases = [e for e in events if e["type"] != "progress"]
    assert [e["phase"] for e in phases] == [p for p in PHASES for _ in (0, 1)]
    assert [e["type"] for e in phases] == ["phase_started", "phase_finished"] * len(PHASES)
    assert all(e["duration_s"] >= 0 for e in phases if e["type"] == "phase_finished")
    progress = [e for e in events if e["type"] == "progress"]
    assert progress[-1]["done"] == progress[-1]["total"] == 2 * 2 + 1
    assert [p["phase"] for p in result["phases"]] == list(PHASES)
    json.dumps({k: result[k] for k in ("metrics", "shap_global", "feature_names", "params", "data_summary",
                                       "distribution", "phases", "cv", "model_type")})
    assert result["metrics"]["auc_roc"] > 0.7 and "bayes_auc_roc" in result["metrics"]
    assert result["data_summary"]["rows"] == 1500 and result["model_type"] == model_type
    assert all(png.startswith(PNG) for png in result["plots"].values()) and len(result["plots"]) >= 9
    pipeline, pre = load_pipeline(result["pipeline"]), load_pipeline(result["preprocessor"])
    assert list(pre.get_feature_names_out()) == result["feature_names"]
    flows = generate_flows(50, 99)
    assert pipeline.predict_proba(flows).shape == (50, 2)
    assert len(result["distribution"]["source_ip"]["sample"]) > 0 and "TCP" in result["distribution"]["protocol"]
    profile = json.loads(json.dumps(result["profile"]))  # a small JSON artifact of the hold-out
    assert profile["rows"] == result["data_summary"]["test_rows"] == len(profile["probability"]["sketch"])
    assert {"bytes_sent", "src_flows_60s", "dst_subnet_bytes_600s"} <= set(profile["numeric"])
    assert set(profile["categorical"]) == {"protocol", "dest_subnet"} and profile["shap_groups"]


def test_single_class_file_is_a_training_error(tmp_path: Path, small_config: dict):
    path = tmp_path / "flows.csv"
    write_flows(generate_flows(300, 1).assign(congestion=0), path)
    with pytest.raises(TrainingError, match="one class"):
        run_training({"config": small_config, "data_path": str(path)}, None)


def test_plots_are_png():
    df = generate_flows(500, 2)
    y, p = df["congestion"].to_numpy(), df["p_true"].to_numpy()
    metrics = {"tn": 1, "fp": 2, "fn": 3, "tp": 4, "auc_roc": 0.9, "pr_auc": 0.5, "threshold": 0.5}
    plots = {**eda_plots(df), **evaluation_plots(y, p, metrics, {"features": [{"feature": "a", "importance": 1.0}]})}
    assert set(plots) >= {"class_balance", "rate_by_hour", "rate_by_weekday", "feature_distributions",
                          "confusion_matrix", "roc", "pr", "calibration", "shap_global"}
    assert all(v.startswith(PNG) for v in plots.values())
    assert np.isfinite(p).all()
