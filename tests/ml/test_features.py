"""Online == offline aggregates, transformer contracts and the single-record vectoriser."""

import pickle

import numpy as np
import pandas as pd
import pytest

from server.ml.features import IpEncoder, ProtocolEncoder, WindowAggregates, build_features
from server.ml.vectorise import FeatureVectoriser
from server.ml.windows import WindowState, aggregate_names, compute_aggregates


def test_online_window_state_equals_offline_aggregates(flows: pd.DataFrame):
    offline = compute_aggregates(flows, [60, 600], 24)
    state = WindowState([60, 600], 24, max_keys=100_000)
    online = pd.DataFrame([state.update(r) for r in flows.to_dict("records")])
    assert list(online.columns) == aggregate_names([60, 600])
    assert np.array_equal(online.to_numpy(), offline.to_numpy())
    assert offline["dst_subnet_flows_600s"].max() > 5  # the windows actually see bursts


def test_offline_aggregates_follow_time_order_not_row_order(flows: pd.DataFrame):
    unique = flows.drop_duplicates("timestamp_seconds")  # ties legitimately follow arrival order
    shuffled = unique.sample(frac=1.0, random_state=0)
    assert np.array_equal(compute_aggregates(shuffled, [60], 24).loc[unique.index].to_numpy(),
                          compute_aggregates(unique, [60], 24).to_numpy())


def test_peek_answers_what_update_would_without_changing_state(flows: pd.DataFrame):
    state = WindowState([60, 600], 24, max_keys=100_000)
    records = flows.to_dict("records")
    for record in records[:400]:
        state.update(record)
    for record in records[400:450]:  # later flows, unseen keys among them
        keys_before = len(state)
        peeked = state.peek(record)
        assert len(state) == keys_before, "peek adds no key"
        assert state.peek(record) == peeked, "peeking twice changes nothing"
        assert state.update(record) == peeked


def test_window_state_is_bounded_and_counts_current_flow():
    state = WindowState([60], 24, max_keys=4)
    for i in range(10):
        agg = state.update({"timestamp_seconds": 1000 + i, "bytes_sent": 10, "source_ip": f"10.0.{i}.1",
                            "dest_ip": f"10.1.{i}.1"})
        assert agg["src_flows_60s"] == 1.0 and agg["src_bytes_60s"] == 10.0
    assert len(state) == 4
    same = {"timestamp_seconds": 5000, "bytes_sent": 7, "source_ip": "::1", "dest_ip": "2001:db8::5"}
    state.update(same)
    assert state.update({**same, "timestamp_seconds": 5059})["src_flows_60s"] == 2.0
    assert state.update({**same, "timestamp_seconds": 5118})["src_flows_60s"] == 2.0  # 5000 expired, 5059 kept


def test_vectoriser_equals_pipeline_transform(flows: pd.DataFrame):
    union = build_features({"windows_s": [60, 600]}).fit(flows.iloc[:2000])
    state = WindowState([60, 600], 24, max_keys=100_000)
    records = flows.to_dict("records")
    aggregates = [state.update(r) for r in records]
    expected = union.transform(flows)
    vec = FeatureVectoriser.from_pipeline(pickle.loads(pickle.dumps(union)))
    got = np.array([vec.vector(r, a) for r, a in zip(records, aggregates)])
    assert vec.feature_names == list(union.get_feature_names_out())
    assert got.shape == expected.shape and np.array_equal(got, expected)


def test_aggregates_pass_through_when_present(frame: tuple[pd.DataFrame, np.ndarray]):
    X, _ = frame
    fake = X.copy()
    fake["src_flows_60s"] = 123.0
    out = WindowAggregates([60, 600]).fit(fake).transform(fake)
    assert (out[:, 0] == 123.0).all()
    recomputed = WindowAggregates([60, 600]).fit(X).transform(X.drop(columns=aggregate_names([60, 600])))
    assert np.array_equal(recomputed, X[aggregate_names([60, 600])].to_numpy())


def test_protocol_and_ip_encoders():
    df = pd.DataFrame({"protocol": ["tcp", "UDP", "Gre"], "source_ip": ["10.0.0.1", "::1", "2001:db8::1"],
                       "dest_ip": ["1.2.3.4", "10.0.0.2", "fe80::1"]})
    enc = ProtocolEncoder().fit(df)
    assert list(enc.get_feature_names_out()) == ["protocol_GRE", "protocol_TCP", "protocol_UDP", "protocol_other"]
    out = enc.transform(pd.DataFrame({"protocol": ["ICMP", " tcp "]}))
    assert out.tolist() == [[0, 0, 0, 1], [0, 1, 0, 0]]
    ips = IpEncoder().fit(df).transform(df)
    assert ips[0, :2].tolist() == [167772161.0, 0.0] and ips[1, :2].tolist() == [1.0, 1.0]
    with pytest.raises(ValueError, match="dest_ip"):
        IpEncoder().fit(df).transform(df.assign(dest_ip=["1.2.3.4", "300.1.1.1", "::1"]))
