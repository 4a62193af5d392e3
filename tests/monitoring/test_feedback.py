"""POST /api/feedback: idempotent labels by id or by flow, replacements, per-item errors (both backends)."""
from __future__ import annotations

from tests import backends
from tests.conftest import check_error
from tests.monitoring.conftest import flow
from tests.monitoring.helpers import fast_client, feedback, predict, wait_logged


def _labels(workdir) -> dict[str, int | None]:
    return dict(backends.execute_sql(workdir, "select id, label from predictions"))


async def test_labels_by_id_are_idempotent_and_replacements_are_counted(aiohttp_client, trained_workdir):
    client = await fast_client(aiohttp_client, trained_workdir)
    answers = await predict(client, [flow(i) for i in range(6)])
    ids = [a["prediction_id"] for a in answers]
    await wait_logged(trained_workdir, 6)

    first = await feedback(client, [{"prediction_id": ids[0], "congestion": 1},
                                    {"prediction_id": ids[1], "congestion": 0}])
    assert (first["accepted"], first["replaced"], first["unknown"]) == (2, 0, [])
    again = await feedback(client, [{"prediction_id": ids[0], "congestion": 1}])
    assert (again["accepted"], again["replaced"], again["unchanged"]) == (1, 0, 1)
    changed = await feedback(client, [{"prediction_id": ids[0], "congestion": 0}])
    assert (changed["accepted"], changed["replaced"]) == (1, 1)
    labels = _labels(trained_workdir)
    assert (labels[ids[0]], labels[ids[1]], labels[ids[2]]) == (0, 0, None)

    windows = await (await client.get("/api/monitoring/windows")).json()
    assert sum(w["labelled"] for w in windows) == 2, "a replaced label is counted once"
    confusion = windows[0]["realised"]["confusion"]
    assert confusion["tp"] + confusion["fn"] == 0, "both labels are now negative"


async def test_labels_by_flow_and_unknown_and_malformed_items_are_named(aiohttp_client, trained_workdir):
    client = await fast_client(aiohttp_client, trained_workdir)
    sent = [flow(i) for i in range(3)]
    answers = await predict(client, sent)
    await wait_logged(trained_workdir, 3)
    by_flow = {k: sent[2][k] for k in ("source_ip", "dest_ip", "timestamp_seconds")}
    result = await feedback(client, [
        {**by_flow, "congestion": 1},
        {"prediction_id": "f" * 32, "congestion": 1},
        {"prediction_id": "not-an-id", "congestion": 1},
        {"prediction_id": answers[0]["prediction_id"], "congestion": 7},
        {"source_ip": "10.0.0.1", "congestion": 0},
        "label",
        {**by_flow, "timestamp_seconds": by_flow["timestamp_seconds"] + 1, "congestion": 0},
    ])
    assert result["accepted"] == 1 and result["replaced"] == 0
    assert _labels(trained_workdir)[answers[2]["prediction_id"]] == 1
    assert result["unknown"] == [{"index": 1, "prediction_id": "f" * 32},
                                 {"index": 6, **by_flow, "timestamp_seconds": by_flow["timestamp_seconds"] + 1}]
    invalid = {entry["index"]: entry["fields"] for entry in result["invalid"]}
    assert set(invalid) == {2, 3, 4, 5}
    assert "prediction_id" in invalid[2] and "congestion" in invalid[3]
    assert {"dest_ip", "timestamp_seconds"} <= set(invalid[4]) and "item" in invalid[5]


async def test_bad_bodies_are_400_and_the_route_needs_the_token(aiohttp_client, trained_workdir):
    client = await fast_client(aiohttp_client, trained_workdir, CONGESTION_SERVER__TOKEN="s3cret",
                               CONGESTION_API__MAX_BATCH="3")
    auth = {"Authorization": "Bearer s3cret"}
    await check_error(await client.post("/api/feedback", json=[{"prediction_id": "0" * 32, "congestion": 1}]), 401)
    await check_error(await client.post("/api/feedback", json={"congestion": 1}, headers=auth), 400, field="body")
    await check_error(await client.post("/api/feedback", json=[], headers=auth), 400, field="body")
    too_many = [{"prediction_id": "0" * 32, "congestion": 1}] * 4
    await check_error(await client.post("/api/feedback", json=too_many, headers=auth), 400, field="body")
    ok = await feedback(client, too_many[:3], headers=auth)
    assert ok["accepted"] == 0 and len(ok["unknown"]) == 3


async def test_cli_feeds_a_csv_of_labels_like_the_route(aiohttp_client, trained_workdir, tmp_path):
    import asyncio
    import csv
    import os
    import sys

    from tests.conftest import tiny_environ

    client = await fast_client(aiohttp_client, trained_workdir)
    answers = await predict(client, [flow(i) for i in range(5)])
    await wait_logged(trained_workdir, 5)
    await client.close()
    path = tmp_path / "labels.csv"
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["prediction_id", "congestion"])
        for i, answer in enumerate(answers):
            writer.writerow([answer["prediction_id"], i % 2])
        writer.writerow(["f" * 32, 1])
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "server", "feedback", "--data", str(path),
        env={**os.environ, **tiny_environ(trained_workdir)},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    assert "5 labels accepted (0 replaced, 0 unchanged), 1 unknown, 0 invalid" in out.decode()
    assert "label" in err.decode(), "a progress bar on stderr"
    labels = _labels(trained_workdir)
    assert [labels[a["prediction_id"]] for a in answers] == [0, 1, 0, 1, 0]
