"""Issue 11 item 16: no "leaked semaphore objects" warning when training ends or a server stops mid-fit."""
from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time

import aiohttp
import pytest

from server.config import REPO_ROOT
from tests.conftest import tiny_environ

LEAK = "leaked semaphore"
# Forest fits on two threads: joblib's ThreadPool makes semaphores for each fit and predict (none
# with n_jobs=1). Fits take ~0.7 s: 0.3 s after the first one reports, the next one is running.
FITS_ON_THREADS = {"CONGESTION_MODEL__N_JOBS": "2", "CONGESTION_DATA__ROWS": "4000",
                   "CONGESTION_MODEL__RANDOM_FOREST__PARAM_GRID": "{n_estimators: [400], max_depth: [10]}"}


@pytest.mark.slow
def test_cli_training_exits_without_leaked_semaphores(empty_config, tmp_path):
    """`congestion pipeline` (the real CLI, small rows) leaves nothing for the resource tracker."""
    env = {**os.environ, **tiny_environ(tmp_path / "empty", **FITS_ON_THREADS)}
    env.update(CONGESTION_DATA__ROWS="1500", CONGESTION_MODEL__SEARCH_ITERATIONS="2", CONGESTION_MODEL__CV_SPLITS="2")
    done = subprocess.run([sys.executable, "-m", "server", "pipeline"], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "registered" in done.stdout
    assert LEAK not in done.stderr, done.stderr[-3000:]


def _wait_for_group_exit(server, timeout: float = 10) -> None:
    """The resource tracker writes its warning after the server exits: wait for the whole group."""
    deadline = time.monotonic() + timeout
    while server.group_pids() and time.monotonic() < deadline:
        time.sleep(0.1)


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_a_server_stopped_mid_fit_leaves_no_leaked_semaphores(server_factory, trained_workdir, signum):
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
        os.kill(server.proc.pid, signum)  # the next fit is running on its thread pool
        await ws.close()
    assert server.proc.wait(timeout=30) == 0
    _wait_for_group_exit(server)
    log = server.log.read_text()
    assert LEAK not in log, log[-3000:]
