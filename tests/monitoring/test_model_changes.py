"""GET /api/monitoring/events: serving-version changes placed on the windows' event time."""
from __future__ import annotations

from tests.conftest import check_error, check_json
from tests.monitoring.conftest import BASE_TS, flow
from tests.monitoring.helpers import fast_client, predict, wait_logged


async def test_a_rollback_is_placed_at_the_first_flow_the_new_version_served(aiohttp_client, trained_workdir):
    client = await fast_client(aiohttp_client, trained_workdir)
    before = await predict(client, [flow(i) for i in range(5)])
    active = before[0]["version"]
    await wait_logged(trained_workdir, 5)
    versions = (await check_json(await client.get("/api/versions/detail"), 200))["versions"]
    other = next(v["timestamp"] for v in versions if v["timestamp"] != active)
    await check_json(await client.post(f"/api/versions/rollback/{other}", json={"reason": "drill"}), 200)

    changes = await check_json(await client.get("/api/monitoring/events"), 200)
    newest = changes[0]
    assert (newest["kind"], newest["version"], newest["from_version"], newest["reason"]) == (
        "rolled_back", other, active, "drill")
    assert newest["event_timestamp"] is None  # the new version has served nothing yet
    activation = next(c for c in changes if c["version"] == active and c["kind"] != "rolled_back")
    assert activation["event_timestamp"] == BASE_TS  # its first served flow (replayed: not the wall clock)
    earlier = next(c for c in changes if c["version"] == other and c["kind"] != "rolled_back")
    assert earlier["event_timestamp"] is None  # it served nothing before the next change

    later = BASE_TS + 7200 + 17
    await predict(client, [flow(i, ts=later + i) for i in range(3)])
    await wait_logged(trained_workdir, 8)
    changes = await check_json(await client.get("/api/monitoring/events"), 200)
    assert changes[0]["version"] == other and changes[0]["event_timestamp"] == later
    assert next(c for c in changes if c["version"] == other and c["kind"] != "rolled_back")["event_timestamp"] is None
    assert len(await check_json(await client.get("/api/monitoring/events?limit=1"), 200)) == 1


async def test_limit_is_checked(aiohttp_client, trained_workdir):
    client = await fast_client(aiohttp_client, trained_workdir)
    await check_error(await client.get("/api/monitoring/events?limit=0"), 400, field="limit")
