"""Helpers for bulk-scoring tests: generated flow files, the scorer run in-process, API records."""
from __future__ import annotations

import asyncio
from pathlib import Path

import pandas as pd
import pytest

from server.ml.data import generate_flows
from server.ml.schema import FLOW_COLUMNS
from server.scoring import cli as scoring
from server.scoring.job import ScoreReport


def flows(rows: int, seed: int = 11) -> pd.DataFrame:
    """Generated, time-sorted flows with the label and p_true columns."""
    return generate_flows(rows, seed)


def api_records(frame: pd.DataFrame) -> list[dict]:
    """The frame's rows as /api/predict records (schema fields only, JSON types)."""
    return [{k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}
            for row in frame[list(FLOW_COLUMNS)].to_dict(orient="records")]


def score(config, data: Path, out: Path, **options) -> ScoreReport:
    """Run the scorer in this process with the config's key limit, column map and threshold."""
    bundle = asyncio.run(scoring.load_bundle(config, options.pop("version", None)))
    opts = scoring.ScoreOptions(Path(data), Path(out), **{"progress": False, **options})
    return scoring.score_file(bundle, opts, max_window_keys=config.features.max_window_keys,
                              column_map=dict(config.data.column_map), threshold=config.api.default_threshold)


@pytest.fixture
def active_bundle(trained_config):
    """The active (random forest) version's serving bundle, hash-verified from the tmp registry."""
    return asyncio.run(scoring.load_bundle(trained_config, None))
