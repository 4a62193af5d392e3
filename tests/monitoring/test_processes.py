"""Real server processes: ids unique across two servers on one DB; SIGTERM and SIGKILL losses."""
from __future__ import annotations

import asyncio
import signal
import time

import aiohttp
import pytest

from tests import backends
from tests.monitoring.conftest import flow

pytestmark = pytest.mark.slow


async def _predict_many(url: str, start: int, requests: int, per_request: int) -> list[str]:
    ids: list[str] = []
    async with aiohttp.ClientSession() as session:
        for r in range(requests):
            body = [flow(start + r * per_request + k) for k in range(per_request)]
            async with session.post(url + "/api/predict", json=body) as response:
                assert response.status == 200, await response.text()
                ids += [a["prediction_id"] for a in await response.json()]
    return ids


def _logged(workdir) -> set[str]:
    return {r[0] for r in backends.execute_sql(workdir, "select id from predictions")}


async def test_two_servers_on_one_database_issue_distinct_ids_and_sigterm_loses_nothing(
        server_factory, trained_workdir):
    one, two = server_factory(trained_workdir), server_factory(trained_workdir)
    first, second = await asyncio.gather(_predict_many(one.url, 0, 30, 5), _predict_many(two.url, 10_000, 30, 5))
    for server in (one, two):
        server.proc.send_signal(signal.SIGTERM)
    for server in (one, two):
        assert server.proc.wait(timeout=30) == 0
    assert len(set(first) | set(second)) == 300, "no id is shared between the two processes"
    assert _logged(trained_workdir) == set(first) | set(second), "SIGTERM flushes every answer"
    writers = backends.execute_sql(trained_workdir, "select issued, logged, clean from monitoring_writers")
    assert sorted(tuple(w) for w in writers) == [(150, 150, True), (150, 150, True)]


async def test_sigkill_loses_at_most_the_last_interval_and_the_next_start_says_so(
        server_factory, trained_workdir):
    server = server_factory(trained_workdir, CONGESTION_MONITORING__FLUSH_INTERVAL_S="0.2")
    flushed = await _predict_many(server.url, 0, 10, 4)
    deadline = time.monotonic() + 20
    while not set(flushed) <= _logged(trained_workdir):  # one interval later they are on disk
        assert time.monotonic() < deadline, "answers were not flushed within the interval"
        await asyncio.sleep(0.1)
    await _predict_many(server.url, 1_000, 3, 4)
    server.kill_group()  # SIGKILL, at most one interval after the last answers
    logged = _logged(trained_workdir)
    assert set(flushed) <= logged, "everything older than the flush interval survived"

    restarted = server_factory(trained_workdir)
    restarted.proc.send_signal(signal.SIGTERM)
    restarted.proc.wait(timeout=30)
    log = restarted.log.read_text()
    assert "ended without a clean shutdown" in log, log[-2000:]
    rows = backends.execute_sql(trained_workdir, "select issued, logged, clean, stopped_at is not null "
                                                 "from monitoring_writers order by started_at")
    killed = rows[0]
    assert killed[2] in (False, 0) and killed[3] in (True, 1)
    assert killed[1] == killed[0] <= len(logged), "its last heartbeat accounts for what it had issued"
