"""The chunked feature path equals the server's record-by-record path, value for value."""
from __future__ import annotations

import numpy as np

from server.ml.windows import WindowState
from server.scoring.features import StreamWindows, feature_matrix
from server.services.inference import prepare_bundle
from tests.scoring.conftest import api_records, flows


def _per_record(bundle, frame, max_keys=50_000):
    windows_s, prefix, prefix_v6 = bundle.window_spec
    state = WindowState(windows_s, prefix, max_keys, prefix_v6)
    return np.array([bundle.alignment.apply(bundle.vectoriser.vector(r, state.update(r)))
                     for r in api_records(frame)])


def _chunked(bundle, frame, size):
    windows = StreamWindows.for_bundle(bundle, 50_000)
    parts = [frame.iloc[i:i + size].reset_index(drop=True) for i in range(0, len(frame), size)]
    return np.vstack([feature_matrix(bundle, p, windows.aggregates(p)) for p in parts])


def test_batch_features_equal_the_vectoriser_across_chunk_boundaries(active_bundle):
    frame = flows(1500, seed=4)
    frame.loc[::7, "protocol"] = " udp "  # normalised the same way on both paths
    frame.loc[::11, "dest_ip"] = "2001:db8:a::5"
    assert np.array_equal(_chunked(active_bundle, frame, 256), _per_record(active_bundle, frame))


def test_batch_features_follow_a_versions_recorded_column_order(active_bundle):
    b = active_bundle
    recorded = tuple(reversed(b.feature_names[1:])) + ("feature_from_the_future",)  # moved, dropped, unknown
    bundle = prepare_bundle("x", b.model_type, b.pipeline, recorded)
    frame = flows(300, seed=5)
    assert not bundle.alignment.identity
    assert np.array_equal(_chunked(bundle, frame, 100), _per_record(bundle, frame))
