"""model.update: continue grows the active model on new rows instead of searching anew."""

import io
import json

import joblib
import numpy as np
import pytest

from server import commands
from server.services.training import TrainRequest
from tests.backends import execute_sql
from tests.conftest import tiny_config

CONTINUE = {"CONGESTION_MODEL__UPDATE": "continue", "CONGESTION_DATA__SEED": "99"}


def _pipelines(config) -> list:
    """Every version's pipeline, oldest first, read from the blob folder by its sha256."""
    from pathlib import Path

    from server.store.blobs import LocalBlobStore

    rows = execute_sql(config.storage.database_url,
                       "SELECT a.sha256, a.size_bytes FROM artifacts a JOIN model_versions v ON v.id = a.version_id "
                       "WHERE a.kind = 'pipeline' ORDER BY v.id")
    store = LocalBlobStore(Path(config.storage.blob_dir))
    return [joblib.load(io.BytesIO(store.read(sha, size))) for sha, size in rows]


@pytest.mark.slow
async def test_a_forest_keeps_its_trees_and_grows_new_ones_on_the_new_rows(trained_workdir):
    config = tiny_config(trained_workdir, **CONTINUE)
    assert await commands.pipeline(config, TrainRequest()) == 0
    (params,), = execute_sql(config.storage.database_url, "SELECT params FROM model_versions ORDER BY id DESC LIMIT 1")
    params = params if isinstance(params, dict) else json.loads(params)
    champion_forest, grown_forest = (p.named_steps["model"] for p in _pipelines(config)[-2:])
    assert params["added_trees"] == 20 and len(grown_forest.estimators_) == len(champion_forest.estimators_) + 20
    X = np.random.default_rng(0).random((5, champion_forest.n_features_in_))
    for old, kept in zip(champion_forest.estimators_, grown_forest.estimators_):
        assert np.array_equal(old.predict_proba(X), kept.predict_proba(X))  # the old trees are untouched
