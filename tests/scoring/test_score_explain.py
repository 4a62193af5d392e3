"""Issue 11 item 15: `score --explain` batches TreeSHAP per chunk, with the answers of one call per row."""
from __future__ import annotations

import asyncio

import numpy as np
import pyarrow.parquet as pq
import pytest

from server.ml.data import write_flows
from server.scoring import cli as scoring
from server.scoring.explain import ChunkExplainer
from server.scoring.features import StreamWindows, feature_matrix
from server.scoring.reader import FlowReader, rename_columns
from server.scoring.rows import check_chunk
from server.store import repo
from tests.scoring.conftest import flows, score

ROWS, CHUNK, TOP = 300, 100, 3


def _version(config, model_type: str) -> str:
    """The tag of the template's version of `model_type` (random forest is the active one)."""
    async def tags():
        from server.commands import open_registry

        async with open_registry(config) as (sessions, _r, _h):
            async with sessions() as session:
                return [(v.tag, v.model_type) for v in await repo.list_versions(session)]

    return next(tag for tag, kind in asyncio.run(tags()) if kind == model_type)


def _features(bundle, config, data) -> np.ndarray:
    """Model features of every row of a time-sorted file, read as one chunk (the windows carry over)."""
    reader = FlowReader(data, ROWS)
    columns = rename_columns(reader.columns, {})
    windows = StreamWindows.for_bundle(bundle, config.features.max_window_keys)
    chunk = next(iter(reader))
    checked = check_chunk(chunk.table, columns, chunk.lines)
    reader.close()
    return feature_matrix(bundle, checked.frame, windows.aggregates(checked.frame))


@pytest.mark.parametrize("model_type", ["random_forest", "xgboost"])
def test_chunk_shap_equals_one_explainer_call_per_row(trained_config, tmp_path, model_type):
    """The scored file's top-N contributions, from whole-chunk calls, equal per-row calls bit for bit."""
    data, out = tmp_path / "flows.parquet", tmp_path / "scored.parquet"
    write_flows(flows(ROWS, seed=31), data)
    tag = _version(trained_config, model_type)
    score(trained_config, data, out, version=tag, chunk_rows=CHUNK, explain=TOP, explain_processes=1)
    scored = pq.read_table(out).to_pandas()

    bundle = asyncio.run(scoring.load_bundle(trained_config, tag))
    X = _features(bundle, trained_config, data)
    per_row = np.vstack([bundle.explainer.shap_values(X[i:i + 1])[0] for i in range(len(X))])
    whole = ChunkExplainer(bundle.explainer).values(X)
    assert np.array_equal(whole, per_row), "one call over the chunk gives each row's own values"

    names = np.asarray(bundle.feature_names, dtype=object)
    top = np.argsort(-np.abs(per_row), axis=1, kind="stable")[:, :TOP]
    for k in range(TOP):
        assert scored[f"explain_{k + 1}_feature"].tolist() == names[top[:, k]].tolist()
        assert np.array_equal(scored[f"explain_{k + 1}_shap"].to_numpy(), per_row[np.arange(ROWS), top[:, k]])


def test_explain_calls_the_explainer_once_per_chunk(trained_config, tmp_path, monkeypatch):
    """Not once per row: a forest's per-row TreeSHAP calls are ~8x slower than one call per chunk."""
    from server.ml.explain import Explainer

    data = tmp_path / "flows.parquet"
    write_flows(flows(ROWS, seed=32), data)
    bundle = asyncio.run(scoring.load_bundle(trained_config, None))  # its warm-up explains one row
    calls: list[int] = []
    original = Explainer.shap_values

    def counted(self, X):
        calls.append(len(X))
        return original(self, X)

    monkeypatch.setattr(Explainer, "shap_values", counted)
    options = scoring.ScoreOptions(data, tmp_path / "scored.parquet", explain=TOP, chunk_rows=CHUNK,
                                   progress=False, explain_processes=1)
    report = scoring.score_file(bundle, options, max_window_keys=trained_config.features.max_window_keys)
    assert report.rows_scored == ROWS
    assert calls == [CHUNK] * (ROWS // CHUNK)
