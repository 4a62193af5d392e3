"""`congestion feedback --data labels.csv`: the feedback route's logic in bulk, with a progress bar."""
from __future__ import annotations

import asyncio
import secrets
import sys
from pathlib import Path

from server.monitoring.feedback import FLOW_KEYS, LABEL, apply_feedback

COLUMNS_BY_ID = ("prediction_id", LABEL)
COLUMNS_BY_FLOW = (*FLOW_KEYS, LABEL)


def _items(path: Path):
    """The file's rows as feedback items (CSV or Parquet), with the columns of the API."""
    import pandas as pd

    frame = pd.read_parquet(path) if path.suffix.lower() == ".parquet" else pd.read_csv(path, dtype={"prediction_id": str})
    columns = COLUMNS_BY_ID if "prediction_id" in frame.columns else COLUMNS_BY_FLOW
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {', '.join(missing)} (need prediction_id, congestion "
                         f"or source_ip, dest_ip, timestamp_seconds, congestion)")
    records = frame[list(columns)].to_dict("records")
    for record in records:  # numpy scalars -> Python, so the item checks see plain ints
        for key, value in record.items():
            if hasattr(value, "item"):
                record[key] = value.item()
    return records


async def run_feedback(config, path: Path, progress: bool = True) -> dict:
    """Apply every row of the file in batches of api.max_batch; totals like the route's answer."""
    from tqdm import tqdm

    from server.store import db

    items = _items(path)
    engine = db.create_engine(config.storage.database_url)
    totals = {"accepted": 0, "replaced": 0, "unchanged": 0, "unknown": 0, "invalid": 0}
    node = secrets.token_hex(4)
    step = config.api.max_batch
    try:
        await db.prepare_database(engine, auto_upgrade=config.storage.auto_upgrade)
        with tqdm(total=len(items), unit="label", disable=not progress, file=sys.stderr) as bar:
            for start in range(0, len(items), step):
                chunk = items[start:start + step]
                async with engine.begin() as conn:
                    result = await apply_feedback(conn, chunk, node, config.monitoring.window_s)
                totals["accepted"] += result.accepted
                totals["replaced"] += result.replaced
                totals["unchanged"] += result.unchanged
                totals["unknown"] += len(result.unknown)
                totals["invalid"] += len(result.invalid)
                for entry in result.invalid[:5]:
                    bar.write(f"row {start + entry['index'] + 2}: {entry['fields']}")
                bar.update(len(chunk))
    finally:
        await engine.dispose()
    return totals


def run(config, data: str, progress: bool = True) -> int:
    totals = asyncio.run(run_feedback(config, Path(data), progress))
    print(f"{totals['accepted']} labels accepted ({totals['replaced']} replaced, {totals['unchanged']} unchanged), "
          f"{totals['unknown']} unknown, {totals['invalid']} invalid")
    return 0 if totals["invalid"] == 0 else 1
