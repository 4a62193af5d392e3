"""Every /api/predict answer is logged with its id, inputs, decision and threshold (both backends)."""
from __future__ import annotations

import json

from server.app import create_app
from tests import backends
from tests.conftest import check_json
from tests.monitoring.conftest import flow


async def _predict(client, body, query: str = ""):
    return await check_json(await client.post(f"/api/predict{query}", json=body), 200)


async def test_single_and_batch_answers_are_logged_exactly(aiohttp_client, trained_config, trained_workdir):
    client = await aiohttp_client(create_app(trained_config))
    single = await _predict(client, flow(0), "?threshold=0.3")
    batch = await _predict(client, [flow(i) for i in range(1, 8)])
    what_if = await _predict(client, flow(99), "?observe=false")
    await client.close()  # app cleanup: the writer flushes everything queued

    answers = [single, *batch]
    rows = backends.execute_sql(
        trained_workdir, "select id, timestamp_seconds, window_start, version, source_ip, dest_ip, record, "
                         "probability, prediction, threshold, label from predictions order by id")
    assert [r[0] for r in rows] == [a["prediction_id"] for a in answers], "ids in issue order, all logged"
    assert what_if["prediction_id"] not in {r[0] for r in rows}, "what-if calls are not traffic"
    sent = [flow(0), *[flow(i) for i in range(1, 8)]]
    for row, answer, record in zip(rows, answers, sent):
        _, ts, window, version, src, dst, raw, p, decision, threshold, label = row
        raw = json.loads(raw) if isinstance(raw, str) else raw
        assert (ts, src, dst) == (record["timestamp_seconds"], record["source_ip"], record["dest_ip"])
        assert window == ts - ts % 3600
        assert raw == record
        assert (version, p, decision, threshold) == (
            answer["version"], answer["probability"], answer["prediction"], answer["threshold"])
        assert label is None
    writer = backends.execute_sql(trained_workdir, "select issued, logged, dropped, clean from monitoring_writers")
    assert [tuple(w) for w in writer] == [(8, 8, 0, True)]


async def test_sampled_log_keeps_a_share_of_rows_but_windows_count_every_prediction(
        aiohttp_client, trained_workdir):
    from tests.conftest import tiny_config

    config = tiny_config(trained_workdir, CONGESTION_MONITORING__LOG_SAMPLE_RATE="0.0")
    client = await aiohttp_client(create_app(config))
    await _predict(client, [flow(i) for i in range(20)])
    await client.close()
    assert backends.execute_sql(trained_workdir, "select count(*) from predictions") == [(0,)]
    assert backends.execute_sql(trained_workdir, "select logged, sampled_out from monitoring_writers") == [(0, 20)]
    states = backends.execute_sql(trained_workdir, "select state from monitoring_window_states "
                                                   "where part = 'predictions'")
    counted = sum((json.loads(s) if isinstance(s, str) else s)["n"] for (s,) in states)
    assert counted == 20


async def test_retention_prunes_old_predictions_and_their_shadow_scores(aiohttp_client, trained_config,
                                                                         trained_workdir):
    from sqlalchemy.ext.asyncio import create_async_engine

    from server.monitoring import store

    client = await aiohttp_client(create_app(trained_config))
    answers = await _predict(client, [flow(i) for i in range(5)])
    await client.close()
    ids = [a["prediction_id"] for a in answers]
    for pid in ids:  # shadow scores of the same predictions, as the shadow scorer writes them
        backends.execute_sql(trained_workdir, "insert into shadow_predictions (prediction_id, version, window_start, "
                             f"probability, prediction, threshold, scored_at) values ('{pid}', 'v-shadow', 0, 0.5, 1, "
                             "0.5, '2026-01-01 00:00:00')")
    # Three predictions "arrived" in 1990: their ids carry the arrival time, so rewrite that part.
    for pid in ids[:3]:
        old = "00" + pid[2:]
        for table, column in (("predictions", "id"), ("shadow_predictions", "prediction_id")):
            backends.execute_sql(trained_workdir, f"update {table} set {column} = '{old}' where {column} = '{pid}'")

    engine = create_async_engine(trained_config.storage.database_url)
    try:
        async with engine.begin() as conn:
            removed = await store.prune(conn, retention_days=30)
    finally:
        await engine.dispose()
    assert removed == 3
    assert [r[0] for r in backends.execute_sql(trained_workdir, "select id from predictions order by id")] == ids[3:]
    kept = backends.execute_sql(trained_workdir, "select prediction_id from shadow_predictions order by prediction_id")
    assert [r[0] for r in kept] == ids[3:]


async def test_arrival_time_is_the_millisecond_in_the_prediction_id(aiohttp_client, trained_config, trained_workdir):
    from datetime import datetime, timezone

    from server.monitoring.ids import id_time

    client = await aiohttp_client(create_app(trained_config))
    before = datetime.now(timezone.utc).replace(microsecond=0)
    for i in range(5):
        await _predict(client, [flow(i), flow(i + 100)])
    await client.close()
    rows = backends.execute_sql(trained_workdir, "select id, arrived_at from predictions order by id")
    assert len(rows) == 10
    for prediction_id, arrived in rows:
        if isinstance(arrived, str):  # SQLite keeps naive UTC text
            arrived = datetime.fromisoformat(arrived).replace(tzinfo=timezone.utc)
        assert arrived == datetime.fromtimestamp(id_time(prediction_id), timezone.utc)
        assert before <= arrived <= datetime.now(timezone.utc)
