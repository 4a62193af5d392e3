"""A trained app whose drift windows are small enough for a test to fill, and traffic builders."""
from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import pytest

from server.app import create_app
from server.ml.generator import BASE_EPOCH, generate_flows
from server.ml.schema import BYTES_SENT, DEST_IP, PACKET_SIZE, PROTOCOL, SOURCE_IP, TIMESTAMP
from tests.conftest import tiny_config

WINDOW_S = 3600
ROWS_PER_WINDOW = 60
DRIFT_ENV = {"CONGESTION_DRIFT__MIN_WINDOW_ROWS": "30", "CONGESTION_DRIFT__EXPLAIN_SAMPLE": "5",
             "CONGESTION_DRIFT__SEGMENT_MIN_ROWS": "10",
             "CONGESTION_MONITORING__FLUSH_INTERVAL_S": "0.05",
             "CONGESTION_ALERTS__FOR_WINDOWS": "2", "CONGESTION_ALERTS__RESOLVE_WINDOWS": "2"}


@functools.lru_cache(maxsize=1)
def _holdout() -> pd.DataFrame:
    """The hold-out of the trained template (data.seed 7, 1500 rows, the latest 20%)."""
    return generate_flows(1500, 7).iloc[1200:].reset_index(drop=True)


def window_flows(window: int, shifted: bool, seed: int = 0) -> list[dict]:
    """ROWS_PER_WINDOW flows drawn from the reference's own traffic into window `window`;
    shifted ones go over GRE to new subnets with large packets and three times the bytes."""
    pick = np.random.default_rng(1000 * seed + window).choice(len(_holdout()), ROWS_PER_WINDOW, replace=False)
    flows = _holdout().iloc[np.sort(pick)]
    records = []
    for i, row in enumerate(flows.itertuples(index=False)):
        record = {PACKET_SIZE: int(getattr(row, PACKET_SIZE)), BYTES_SENT: int(getattr(row, BYTES_SENT)),
                  SOURCE_IP: getattr(row, SOURCE_IP), DEST_IP: getattr(row, DEST_IP),
                  PROTOCOL: getattr(row, PROTOCOL), TIMESTAMP: BASE_EPOCH + window * WINDOW_S + i * 50}
        if shifted:
            record.update({PROTOCOL: "GRE", DEST_IP: f"172.31.{i % 5}.{1 + i % 20}", PACKET_SIZE: 1400,
                           BYTES_SENT: int(record[BYTES_SENT]) * 3})
        records.append(record)
    return records


@pytest.fixture
def drift_config(trained_workdir):
    """The trained template's config with test-sized drift windows."""
    return tiny_config(trained_workdir, **DRIFT_ENV)


@pytest.fixture
async def drift_client(aiohttp_client, drift_config):
    """A client on the trained app with test-sized drift windows."""
    return await aiohttp_client(create_app(drift_config))
