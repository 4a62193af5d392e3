"""Shadow challengers on live traffic: answers unchanged, paired evidence, promotion, rollback."""

import numpy as np
import pytest
from sklearn.metrics import f1_score
from statsmodels.stats.contingency_tables import mcnemar

from server import keys
from server.app import create_app
from server.ml.generator import generate_flows
from server.ml.schema import FLOW_COLUMNS
from tests.backends import execute_sql
from tests.conftest import check_error, check_json, tiny_config

SMALL = {"CONGESTION_VERSIONING__PROMOTION__MIN_LABELS": "20",
         "CONGESTION_VERSIONING__FOLLOW_INTERVAL_S": "0",  # the tests run the rules themselves
         "CONGESTION_MONITORING__WINDOW_S": "604800"}  # the replayed traffic falls in one window


def _traffic(n: int = 120) -> list[dict]:
    flows = generate_flows(n, 11)
    return [{k: (int(v) if k == "timestamp_seconds" else v) for k, v in row.items()}
            for row in flows[list(FLOW_COLUMNS)].to_dict("records")]


async def _versions(client) -> tuple[str, str]:
    versions = (await check_json(await client.get("/api/versions/detail"), 200))["versions"]
    active = next(v["timestamp"] for v in versions if v["active"])
    other = next(v["timestamp"] for v in versions if not v["active"])
    return active, other


async def _serve(client, traffic: list[dict]) -> list[dict]:
    answers = []
    for start in range(0, len(traffic), 40):  # a few batches: the shadow replays them in order
        answers += await check_json(await client.post("/api/predict", json=traffic[start:start + 40]), 200)
    return answers


async def _drain(client) -> None:
    await client.app[keys.SHADOWS]._score_pending()
    await client.app[keys.MONITORING].stop()  # flush the prediction log (the SIGTERM path)


def _label(config, pairs) -> None:
    execute_sql(config.storage.database_url,
                *[f"UPDATE predictions SET label = {int(y)} WHERE id = '{pid}'" for pid, y in pairs])


@pytest.fixture
def config(trained_workdir):
    return tiny_config(trained_workdir, **SMALL)


async def test_a_shadow_never_changes_answers_and_scores_what_it_would_serve(aiohttp_client, config):
    traffic = _traffic()
    plain = await aiohttp_client(create_app(config))
    champion, challenger = await _versions(plain)
    baseline = await _serve(plain, traffic)
    await plain.close()

    shadowed = await aiohttp_client(create_app(config))
    on = await check_json(await shadowed.post(f"/api/versions/{challenger}/shadow", json={"reason": "try"}), 200)
    assert on["changed"] and on["shadows"] == [challenger]
    answers = await _serve(shadowed, traffic)
    assert [a["probability"] for a in answers] == [a["probability"] for a in baseline]
    assert {a["version"] for a in answers} == {champion}
    await _drain(shadowed)
    rows = execute_sql(config.storage.database_url,
                       "SELECT s.prediction_id, s.probability FROM shadow_predictions s "
                       f"JOIN predictions p ON p.id = s.prediction_id WHERE s.version = '{challenger}' "
                       "ORDER BY s.prediction_id")
    assert [r[0] for r in rows] == sorted(a["prediction_id"] for a in answers)
    await shadowed.close()

    # Serving the challenger on the same traffic gives exactly the probabilities it scored in shadow.
    serving = await aiohttp_client(create_app(config))
    await check_json(await serving.post(f"/api/versions/rollback/{challenger}", json={}), 200)
    direct = {a["prediction_id"]: a for a in await _serve(serving, traffic)}
    by_order = [a["probability"] for a in direct.values()]
    assert by_order == [p for _, p in sorted(zip([a["prediction_id"] for a in answers], [r[1] for r in rows]))]


async def test_the_paired_comparison_equals_statsmodels_and_promotion_attaches_it(aiohttp_client, config):
    client = await aiohttp_client(create_app(config))
    champion, challenger = await _versions(client)
    await check_json(await client.post(f"/api/versions/{challenger}/shadow"), 200)
    early = await check_json(await client.get(f"/api/versions/{challenger}/shadow"), 200)
    assert early["verdict"] == "too_few_labels" and early["evidence"] is None

    traffic = _traffic(160)
    answers = await _serve(client, traffic)
    await client.app[keys.SHADOWS]._score_pending()
    truth = generate_flows(160, 11)["congestion"].to_numpy()
    await _wait_logged(config, len(answers))
    _label(config, zip([a["prediction_id"] for a in answers], truth))

    comparison = await check_json(await client.get(f"/api/versions/{challenger}/shadow"), 200)
    assert comparison["labelled"] == 160 and comparison["verdict"] != "too_few_labels"
    shadow_pred = dict(execute_sql(config.storage.database_url,
                                   f"SELECT prediction_id, prediction FROM shadow_predictions WHERE version = '{challenger}'"))
    served = np.array([a["prediction"] for a in answers])
    shadowed = np.array([shadow_pred[a["prediction_id"]] for a in answers])
    right_s, right_c = shadowed == truth, served == truth
    table = [[np.sum(right_s & right_c), np.sum(right_s & ~right_c)], [np.sum(~right_s & right_c), np.sum(~right_s & ~right_c)]]
    assert comparison["evidence"]["mcnemar"]["p_value"] == pytest.approx(mcnemar(table, exact=True).pvalue, rel=1e-12)
    assert sum(w["labelled"] for w in comparison["windows"]) == 160

    # The monitoring windows carry the same pairing: both versions' metrics on each window's labelled rows.
    windows = await check_json(await client.get(f"/api/monitoring/windows?version={champion}"), 200)
    entries = [(w, s) for w in windows for s in w["shadows"]]
    assert {s["version"] for _, s in entries} == {challenger}
    assert sum(s["labelled"] for _, s in entries) == 160
    by_id = {a["prediction_id"]: (a, y) for a, y in zip(answers, truth)}
    window_of = dict(execute_sql(config.storage.database_url, "SELECT id, window_start FROM predictions"))
    for window, entry in entries:
        rows = [by_id[pid] for pid, start in window_of.items() if start == window["start_timestamp"]]
        y = np.array([t for _, t in rows])
        assert entry["champion"]["f1_score"] == pytest.approx(
            f1_score(y, [a["prediction"] for a, _ in rows], zero_division=0), abs=1e-12)
        assert entry["shadow"]["f1_score"] == pytest.approx(
            f1_score(y, [shadow_pred[a["prediction_id"]] for a, _ in rows], zero_division=0), abs=1e-12)

    await check_error(await client.post(f"/api/versions/{challenger}/promote", json={}), 400, field="reason")
    await check_error(await client.post(f"/api/versions/{champion}/promote", json={"reason": "x"}), 409)
    promoted = await check_json(await client.post(f"/api/versions/{challenger}/promote",
                                                  json={"reason": "wins on live traffic"}), 200)
    assert promoted["version"] == challenger and promoted["comparison"]["labelled"] == 160
    assert client.app[keys.SHADOWS].versions == [champion]  # the old champion now shadows it
    (kind, actor, reason), = execute_sql(config.storage.database_url,
                                         "SELECT kind, actor, reason FROM model_events ORDER BY id DESC LIMIT 1 OFFSET 1")
    assert (kind, actor, reason) == ("promoted", "api", "wins on live traffic")


async def _wait_logged(config, n: int) -> None:
    import asyncio

    for _ in range(100):
        (count,), = execute_sql(config.storage.database_url, "SELECT count(*) FROM predictions")
        if count >= n:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"only {count} of {n} predictions logged")


async def _auto_client_with_a_winning_shadow(aiohttp_client, config):
    """An auto-promotion server whose shadow's decisions are the labels of 160 served flows."""
    client = await aiohttp_client(create_app(tiny_config(config_dir(config), CONGESTION_VERSIONING__PROMOTION__MODE="auto", **SMALL)))
    champion, challenger = await _versions(client)
    # The challenger decides at its own (lower) threshold, so the two disagree on enough flows.
    await check_json(await client.post("/api/threshold", json={
        "threshold": 0.2, "reason": "challenger tuned for recall", "version": challenger}), 200)
    await check_json(await client.post(f"/api/versions/{challenger}/shadow"), 200)
    traffic = _traffic(160)
    answers = await _serve(client, traffic)
    await client.app[keys.SHADOWS]._score_pending()
    await _wait_logged(config, len(answers))
    shadow_pred = dict(execute_sql(config.storage.database_url,
                                   f"SELECT prediction_id, prediction FROM shadow_predictions WHERE version = '{challenger}'"))
    # Labels that agree with the challenger: it wins significantly unless both decide alike everywhere.
    _label(config, [(a["prediction_id"], shadow_pred[a["prediction_id"]]) for a in answers])
    disagreements = sum(shadow_pred[a["prediction_id"]] != a["prediction"] for a in answers)
    if disagreements < 8:
        pytest.skip(f"the two template models disagree on only {disagreements} flows")
    return client, champion, challenger


async def test_a_shadow_is_promoted_only_on_rows_the_current_champion_served(aiohttp_client, config):
    client, champion, challenger = await _auto_client_with_a_winning_shadow(aiohttp_client, config)
    # Say an earlier champion served those rows: the win says nothing about this champion.
    execute_sql(config.storage.database_url, "UPDATE predictions SET version = '20000101_000000'")
    assert await client.app[keys.RULES].evaluate() == []
    execute_sql(config.storage.database_url, f"UPDATE predictions SET version = '{champion}'")
    moves = await client.app[keys.RULES].evaluate()
    assert moves and moves[0]["version"] == challenger
    evidence = moves[0]["comparison"]
    assert evidence["served_by"] == [champion] and evidence["evidence"]["alpha"] == 0.05  # one shadow


async def test_rules_promote_a_winning_shadow_then_roll_back_a_live_degradation(aiohttp_client, config):
    client, champion, challenger = await _auto_client_with_a_winning_shadow(aiohttp_client, config)
    rules = client.app[keys.RULES]
    moves = await rules.evaluate()
    assert moves and moves[0]["version"] == challenger
    assert client.app[keys.SHADOWS].versions == [champion]

    # Replayed degradation: labels now follow the old champion; the new one falls behind live.
    answers = await _serve(client, _traffic(160))
    await client.app[keys.SHADOWS]._score_pending()
    await _wait_logged(config, 320)
    old_pred = dict(execute_sql(config.storage.database_url,
                                f"SELECT prediction_id, prediction FROM shadow_predictions WHERE version = '{champion}'"))
    _label(config, [(a["prediction_id"], old_pred[a["prediction_id"]]) for a in answers])
    moves = await rules.evaluate()
    assert moves and moves[0]["version"] == champion
    (kind, actor, reason), = execute_sql(config.storage.database_url,
                                         "SELECT kind, actor, reason FROM model_events ORDER BY id DESC LIMIT 1")
    assert kind == "rolled_back" and actor == "rule" and "realised F1" in reason


def config_dir(config):
    from pathlib import Path

    return Path(config.storage.blob_dir).parent


async def test_shadow_input_errors(client):
    await check_error(await client.post("/api/versions/bad/shadow"), 400, field="timestamp")
    await check_error(await client.post("/api/versions/20000101_000000/shadow"), 404)
    champion, _ = await _versions(client)
    await check_error(await client.post(f"/api/versions/{champion}/shadow"), 409)
    await check_error(await client.post(f"/api/versions/{champion}/shadow", json={"colour": 1}), 400)
