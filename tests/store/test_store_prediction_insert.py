"""The log writer's driver-level INSERT stores exactly what SQLAlchemy's own INSERT would.

Users read `predictions` with plain SQL, so the bytes matter: the record's JSON, the arrival
time's text on SQLite, the numbers. Both paths write a row of the same values; every column
but the id must then read back equal, raw and through the ORM.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone

from sqlalchemy import insert, select, text

from server.monitoring import store
from server.monitoring.feedback import flow_query
from server.store.tables_monitoring import PredictionLog

RECORDS = [
    {"packet_size": 1500, "bytes_sent": 2**70, "source_ip": "10.0.0.1", "dest_ip": "10.0.0.2",
     "protocol": "TCP", "timestamp_seconds": 1_780_000_123, "note": "héllo \"quoted\" ✓"},
    {"packet_size": 64, "bytes_sent": 0, "source_ip": "fe80::1", "dest_ip": "fe80::2",
     "protocol": "UDP", "timestamp_seconds": 1_780_000_999},
]
ARRIVALS = [datetime(2026, 12, 3, 6, 0, 0, tzinfo=timezone.utc),  # no microseconds: a format edge
            datetime(2026, 12, 3, 6, 0, 1, 250_001, tzinfo=timezone.utc)]


def _values(i: int, id_: str) -> dict:
    record = RECORDS[i]
    return {"id": id_, "timestamp_seconds": record["timestamp_seconds"],
            "window_start": record["timestamp_seconds"] // 3600 * 3600, "arrived_at": ARRIVALS[i],
            "version": "v000001", "source_ip": record["source_ip"], "dest_ip": record["dest_ip"],
            "record": record, "probability": 0.123456789012345 + i, "prediction": i, "threshold": 0.5}


async def test_driver_insert_matches_the_orm_insert(engine):
    orm_rows = [_values(i, f"orm{i}") for i in range(len(RECORDS))]
    driver_rows = [_values(i, f"drv{i}") for i in range(len(RECORDS))]
    columns = {name: [row[name] for row in driver_rows] for name in store.PREDICTION_COLUMNS}
    columns["record"] = [store.encode_record(r) for r in columns["record"]]
    async with engine.begin() as conn:
        await conn.execute(insert(PredictionLog), orm_rows)
        await store.insert_predictions(conn, columns)
        await store.insert_predictions(conn, {name: [] for name in store.PREDICTION_COLUMNS})  # a no-op

    names = ", ".join(store.PREDICTION_COLUMNS[1:])
    async with engine.connect() as conn:
        raw = {row[0]: row[1:] for row in (await conn.execute(text(
            f"select id, {names} from predictions order by id"))).all()}
        orm = {row.id: row for row in (await conn.execute(select(PredictionLog))).all()}
    assert sorted(raw) == ["drv0", "drv1", "orm0", "orm1"]
    for i in range(len(RECORDS)):
        by_orm, by_driver = raw[f"orm{i}"], raw[f"drv{i}"]
        record_at = store.PREDICTION_COLUMNS.index("record") - 1
        decoded = [json.loads(v) if isinstance(v, str) else v for v in (by_orm[record_at], by_driver[record_at])]
        assert decoded[0] == decoded[1] == RECORDS[i]
        assert by_orm[:record_at] + by_orm[record_at + 1:] == by_driver[:record_at] + by_driver[record_at + 1:]
        assert orm[f"drv{i}"].arrived_at == ARRIVALS[i]
        assert orm[f"drv{i}"].record == RECORDS[i]


async def test_flow_feedback_and_event_time_ranges_use_the_event_time_index(engine):
    """Feedback by flow and the README's event-time query search the index, not the table."""
    if engine.dialect.name != "sqlite":
        return  # the planner's words are SQLite's; PostgreSQL has the same index (migration 0008)
    flows = [("10.0.0.1", "10.0.0.2", 1_780_000_123), ("10.0.0.3", "10.0.0.4", 1_780_000_124)]
    feedback = flow_query(flows)
    by_time = select(PredictionLog.id).where(PredictionLog.timestamp_seconds >= 1_780_000_000,
                                             PredictionLog.timestamp_seconds < 1_780_086_400)
    async with engine.connect() as conn:
        for statement in (feedback, by_time):
            compiled = statement.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True})
            plan = " ".join(str(row[-1]) for row in (await conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}")).all())
            assert "ix_predictions_event_time" in plan, plan
