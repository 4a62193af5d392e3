"""Generator determinism/schema, ingestion validation and atomic writes."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from server.ml import ingest
from server.ml.data import generate_flows, load_flows, write_flows
from server.ml.errors import DataError
from server.ml.schema import FLOW_COLUMNS, LABEL, P_TRUE


def test_generator_is_deterministic_and_seed_dependent():
    a, b, c = generate_flows(800, 5), generate_flows(800, 5), generate_flows(800, 6)
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(c)


def test_generator_schema_and_shape():
    df = generate_flows(3000, 1, positive_rate=0.2)
    assert list(df.columns) == [*FLOW_COLUMNS, LABEL, P_TRUE]
    assert len(df) == 3000 and df["timestamp_seconds"].is_monotonic_increasing
    assert df["timestamp_seconds"].max() - df["timestamp_seconds"].min() > 7 * 86_400
    assert df["hour"].between(0, 23).all() and set(df[LABEL]) == {0, 1}
    assert {"TCP", "UDP", "ICMP"} <= set(df["protocol"]) and len(set(df["protocol"])) >= 5
    assert abs(df[P_TRUE].mean() - 0.2) < 0.01
    assert df["bytes_sent"].max() > 50 * df["bytes_sent"].median()  # heavy tail


def test_scenario_shifts_apply_from_start_timestamp():
    mid = int(generate_flows(3000, 2)["timestamp_seconds"].median())
    base = generate_flows(3000, 2, scenario={"start_timestamp": mid})
    shifted = generate_flows(3000, 2, scenario={"label_prior_shift": 2.0, "new_subnets": 2, "start_timestamp": mid})
    before, after = shifted["timestamp_seconds"] < mid, shifted["timestamp_seconds"] >= mid
    assert np.allclose(shifted.loc[before, P_TRUE], base.loc[before, P_TRUE])
    assert abs(shifted.loc[before, P_TRUE].mean() - 0.15) < 0.01  # calibrated on pre-scenario traffic
    assert shifted.loc[after, P_TRUE].mean() > base.loc[after, P_TRUE].mean() + 0.05
    assert shifted.loc[after, "dest_ip"].str.startswith("172.31.").any()
    assert not shifted.loc[before, "dest_ip"].str.startswith("172.31.").any()


@pytest.mark.parametrize("ext", ["csv", "parquet"])
def test_load_derives_hour_and_ignores_extra_columns(tmp_path: Path, ext: str):
    df = generate_flows(300, 4)
    path = tmp_path / f"flows.{ext}"
    write_flows(df.drop(columns=["hour"]).assign(site="lab", note="x"), path)
    loaded = load_flows(path)
    assert list(loaded.columns) == [*FLOW_COLUMNS, LABEL, P_TRUE]
    assert (loaded["hour"].to_numpy() == df["hour"].to_numpy()).all()
    assert (loaded["bytes_sent"].to_numpy() == df["bytes_sent"].to_numpy()).all()


def test_load_accepts_ipv6_odd_protocols_huge_bytes_and_column_map(tmp_path: Path):
    raw = pd.DataFrame({
        "size": [60, 1500, 800], "bytes_sent": [10**15, 5, 123456789012],
        "source_ip": ["2001:db8::1", "10.0.0.1", "fe80::1"], "dest_ip": ["10.1.1.1", "2001:db8:1::9", "192.168.0.1"],
        "protocol": ["gre", "47", "Sctp"], "timestamp_seconds": [1_700_000_000, 1_700_000_030, 1_700_000_060],
        "congestion": [0, 1, 0],
    })
    path = tmp_path / "mixed.csv"
    raw.to_csv(path, index=False)
    df = load_flows(path, column_map={"size": "packet_size"})
    assert df["protocol"].tolist() == ["GRE", "GRE", "SCTP"]
    assert df["bytes_sent"].iloc[0] == 10**15 and df["hour"].tolist() == [22, 22, 22]
    assert df["source_ip"].iloc[0] == "2001:db8::1"


def _bad_file(tmp_path: Path, ext: str, column: str, values: dict) -> Path:
    df = generate_flows(20, 4).astype({column: str})
    for row, value in values.items():
        df.loc[row, column] = value
    path = tmp_path / f"bad.{ext}"
    write_flows(df, path)
    return path


@pytest.mark.parametrize("ext", ["csv", "parquet"])
@pytest.mark.parametrize(("column", "values", "rows"), [
    ("packet_size", {2: "abc", 6: "12x"}, [3, 7]),
    ("bytes_sent", {4: "-5"}, [5]),
    ("source_ip", {0: "999.1.1.1", 9: "nonsense"}, [1, 10]),
    ("dest_ip", {3: ""}, [4]),
    ("hour", {1: "24"}, [2]),
    ("congestion", {5: "2"}, [6]),
])
def test_bad_files_name_column_and_rows(tmp_path: Path, ext: str, column: str, values: dict, rows: list[int]):
    with pytest.raises(DataError) as info:
        load_flows(_bad_file(tmp_path, ext, column, values))
    assert info.value.column == column and info.value.rows == rows
    assert column in str(info.value) and str(rows[0]) in str(info.value)


def test_missing_column_empty_file_and_single_class(tmp_path: Path):
    df = generate_flows(50, 4)
    write_flows(df.drop(columns=["dest_ip"]), tmp_path / "a.csv")
    with pytest.raises(DataError, match="dest_ip") as info:
        load_flows(tmp_path / "a.csv")
    assert info.value.column == "dest_ip"
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(DataError, match="empty"):
        load_flows(tmp_path / "empty.csv")
    write_flows(df.assign(congestion=0), tmp_path / "one.csv")
    with pytest.raises(DataError, match="one class") as info:
        load_flows(tmp_path / "one.csv")
    assert info.value.column == "congestion"
    assert len(load_flows(tmp_path / "one.csv", require_label=False)) == 50


def test_write_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    path = tmp_path / "flows.csv"
    write_flows(generate_flows(30, 1), path)
    before = path.read_bytes()

    def half_write(self: pd.DataFrame, target: str, **kwargs: object) -> None:
        Path(target).write_text("packet_size,bytes\n1,")
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_csv", half_write)
    with pytest.raises(OSError):
        write_flows(generate_flows(30, 2), path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["flows.csv"]  # no temp file left behind
    assert ingest.write_flows is write_flows
