"""Crashes and signals against a real server process: nothing half-registered, nothing lost."""
from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import time

import aiohttp
import pytest

pytestmark = pytest.mark.slow


async def _start_run_and_wait_for(session, server, phase_event: str = "phase_started"):
    ws = await session.ws_connect(server.url + "/ws")
    assert (await ws.receive_json())["type"] == "hello"
    async with session.post(server.url + "/api/train/async", json={}) as response:
        assert response.status == 202, await response.text()
        run_id = (await response.json())["run_id"]

    async def _read():
        while True:
            event = await ws.receive_json()
            if event["type"] == phase_event:
                return event
    await asyncio.wait_for(_read(), 120)
    return ws, run_id


def _rows(db_path, query):
    with sqlite3.connect(db_path) as conn:
        return conn.execute(query).fetchall()


async def test_sigkill_of_the_whole_server_mid_run_then_restart(server_factory, trained_workdir):
    db_path = trained_workdir / "metadata.sqlite3"
    versions_before = _rows(db_path, "select tag from model_versions order by id")
    server = server_factory(trained_workdir)
    async with aiohttp.ClientSession() as session:
        ws, run_id = await _start_run_and_wait_for(session, server)
        assert len(server.group_pids()) >= 2, "the training worker runs in the server's group"
        server.kill_group()
        await ws.close()

    # What a kill during the save phase leaves behind: blobs with no rows, a temp file.
    blob_root = trained_workdir / "blobs" / "sha256"
    orphan = blob_root / "ab" / ("ab" + "0" * 62)
    orphan.parent.mkdir(exist_ok=True)
    orphan.write_bytes(b"orphan blob of an interrupted save")
    temp = blob_root / "ab" / ".tmp-interrupted"
    temp.write_bytes(b"half written")
    old = time.time() - 3600
    os.utime(temp, (old, old))

    assert _rows(db_path, "pragma integrity_check") == [("ok",)]
    restarted = server_factory(trained_workdir)
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{restarted.url}/api/train/runs/{run_id}") as response:
            run = await response.json()
        async with session.get(restarted.url + "/readyz") as response:
            ready = await response.json()
    assert run["status"] == "interrupted"
    assert ready["model"]["loaded"] is True
    assert not orphan.exists(), "orphan blobs are removed at start-up"
    assert not temp.exists(), "stale temp files are removed at start-up"
    assert _rows(db_path, "select tag from model_versions order by id") == versions_before
    for sha, size in _rows(db_path, "select a.sha256, a.size_bytes from artifacts a "
                                    "join model_versions v on v.id = a.version_id where v.pruned_at is null"):
        path = blob_root / sha[:2] / sha
        assert path.stat().st_size == size, "every registered version is complete"


async def test_sigterm_closes_websockets_cancels_the_run_and_leaves_no_child(server_factory, trained_workdir):
    server = server_factory(trained_workdir, CONGESTION_SERVER__SHUTDOWN_TIMEOUT_S="5")
    async with aiohttp.ClientSession() as session:
        ws, run_id = await _start_run_and_wait_for(session, server)
        started = time.monotonic()
        os.kill(server.proc.pid, signal.SIGTERM)
        message = await asyncio.wait_for(ws.receive(), 30)
        while message.type == aiohttp.WSMsgType.TEXT:
            message = await asyncio.wait_for(ws.receive(), 30)
        assert ws.close_code == 1001
        server.proc.wait(timeout=30)
        assert time.monotonic() - started < 20
    assert server.proc.returncode == 0
    time.sleep(0.5)
    assert server.group_pids() == [], "no worker process outlives the server"
    status, error = _rows(trained_workdir / "metadata.sqlite3",
                          f"select status, error from training_runs where id = {run_id}")[0]
    assert status == "cancelled" and "shutting down" in error


async def test_ten_simultaneous_training_starts_run_exactly_one(client):
    responses = await asyncio.gather(*(client.post("/api/train/async", json={}) for _ in range(10)))
    statuses = sorted(r.status for r in responses)
    assert statuses == [202] + [409] * 9
    accepted = [await r.json() for r in responses if r.status == 202][0]
    for response in responses:
        if response.status == 409:
            assert (await response.json())["error"]["run_id"] == accepted["run_id"]
    cancel = await client.post(f"/api/train/{accepted['run_id']}/cancel")
    assert cancel.status == 200
