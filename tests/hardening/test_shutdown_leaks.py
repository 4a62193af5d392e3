"""Issue 11 item 16: no "leaked semaphore objects" warning when a server stops mid-fit."""
from __future__ import annotations

import asyncio
import os
import signal
import time

import aiohttp
import pytest


LEAK = "leaked semaphore"
# Forest fits (not the XGBoost default) on two threads: joblib's ThreadPool makes semaphores for
# each fit and predict (none with n_jobs=1). Fits take ~0.7 s: 0.3 s after the first one reports,
# the next one is running.
FITS_ON_THREADS = {"CONGESTION_MODEL__PRIMARY": "random_forest", "CONGESTION_MODEL__N_JOBS": "2",
                   "CONGESTION_DATA__ROWS": "4000",
                   "CONGESTION_MODEL__RANDOM_FOREST__PARAM_GRID": "{n_estimators: [400], max_depth: [10]}"}


def _wait_for_group_exit(server, timeout: float = 10) -> None:
    """The resource tracker writes its warning after the server exits: wait for the whole group."""
    deadline = time.monotonic() + timeout
    while server.group_pids() and time.monotonic() < deadline:
        time.sleep(0.1)


@pytest.mark.slow
async def test_a_server_stopped_mid_fit_leaves_no_leaked_semaphores(server_factory, trained_workdir):
    """Stopping the server kills the busy training worker; that must not strand named semaphores."""
    server = server_factory(trained_workdir, CONGESTION_SERVER__SHUTDOWN_TIMEOUT_S="5", **FITS_ON_THREADS)
    async with aiohttp.ClientSession() as session:
        ws = await session.ws_connect(server.url + "/ws")
        assert (await ws.receive_json())["type"] == "hello"
        async with session.post(server.url + "/api/train/async", json={}) as response:
            assert response.status == 202, await response.text()

        async def first_fit_done():
            while True:
                event = await ws.receive_json()
                if event["type"] == "progress" and event.get("done", 0) >= 1:
                    return event
                assert event["type"] not in ("run_finished", "run_failed"), event
        await asyncio.wait_for(first_fit_done(), 120)
        await asyncio.sleep(0.3)
        os.kill(server.proc.pid, signal.SIGTERM)  # the next fit is running on its thread pool
        await ws.close()
    assert server.proc.wait(timeout=30) == 0
    _wait_for_group_exit(server)
    log = server.log.read_text()
    assert LEAK not in log, log[-3000:]
