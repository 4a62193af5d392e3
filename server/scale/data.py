"""Training data as a dask dataframe: a Parquet dataset (folder, glob or s3://) or generated rows."""
from __future__ import annotations

from typing import Mapping

import pandas as pd

from server.ml.errors import TrainingError
from server.ml.schema import HOUR, LABEL, REQUIRED_COLUMNS, TIMESTAMP

GENERATED_PARTITION_ROWS = 250_000


def storage_options(path: str, s3_cfg: Mapping | None) -> dict | None:
    """s3fs options for an s3:// path: the blob store's endpoint/region; keys from the AWS chain."""
    if not path.startswith("s3://"):
        return None
    client: dict = {}
    if s3_cfg and s3_cfg.get("endpoint_url"):
        client["endpoint_url"] = s3_cfg["endpoint_url"]
    if s3_cfg and s3_cfg.get("region"):
        client["region_name"] = s3_cfg["region"]
    return {"client_kwargs": client} if client else {}


def _normalise(part: pd.DataFrame, column_map: Mapping[str, str]) -> pd.DataFrame:
    """Rename mapped columns and derive `hour` when missing (as single-file ingestion does)."""
    part = part.rename(columns=dict(column_map))
    if HOUR not in part:
        part[HOUR] = (part[TIMESTAMP].astype("int64") // 3600) % 24
    part[TIMESTAMP] = part[TIMESTAMP].astype("int64")
    return part


def read_flows(path: str, data_cfg: Mapping, s3_cfg: Mapping | None = None, require_label: bool = True):
    """A Parquet dataset as a dask dataframe of the flow schema (plus the label for training)."""
    import dask.dataframe as dd

    try:
        ddf = dd.read_parquet(path, storage_options=storage_options(path, s3_cfg))
    except (OSError, ValueError) as exc:
        raise TrainingError(f"cannot read the Parquet dataset {path}: {exc}") from None
    column_map = dict(data_cfg.get("column_map") or {})
    present = {column_map.get(c, c) for c in ddf.columns}
    missing = [c for c in (*REQUIRED_COLUMNS, *([LABEL] if require_label else [])) if c not in present]
    if missing:
        raise TrainingError(f"the Parquet dataset lacks column(s): {', '.join(missing)}")
    meta = _normalise(ddf._meta.copy(), column_map)
    return ddf.map_partitions(_normalise, column_map, meta=meta)


def generated_flows(rows: int, seed: int, data_cfg: Mapping, partition_rows: int = GENERATED_PARTITION_ROWS):
    """Generated rows (the same generator and seed as the local engine) split into partitions."""
    import dask.dataframe as dd

    from server.ml.data import generate_flows

    df = generate_flows(rows, seed, float(data_cfg.get("positive_rate", 0.15)), data_cfg.get("scenario") or None)
    return dd.from_pandas(df, npartitions=max(1, -(-len(df) // partition_rows)), sort=False)


def load_dataset(spec: Mapping, data_cfg: Mapping):
    """(dask dataframe, source label) for a run spec, from data.path or the generator."""
    path = spec.get("data_path")
    if path:
        return read_flows(str(path), data_cfg, spec.get("s3")), f"parquet:{str(path).rstrip('/').rsplit('/', 1)[-1]}"
    rows = int(spec.get("rows") or data_cfg.get("rows", 20_000))
    seed = int(spec["seed"] if spec.get("seed") is not None else data_cfg.get("seed", 7))
    partition_rows = int((spec.get("dask") or {}).get("partition_rows", GENERATED_PARTITION_ROWS))
    return generated_flows(rows, seed, data_cfg, partition_rows), f"generated:seed={seed}"
