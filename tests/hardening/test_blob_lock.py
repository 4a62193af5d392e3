"""Issue 11 item 7: blob GC in one process and a registration in another never strand a version.

Real processes on one database and blob folder, with the default grace of 0. A registration
pauses (tests/hardening/paused_register.py) and `congestion versions prune` runs in another
process meanwhile: it prunes a version, then collects every unreferenced blob, which includes
the paused registration's. When the registration resumes, every artifact of every live version
must still read back verified.
"""
from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from server.config import REPO_ROOT
from server.store import repo
from tests import backends
from tests.conftest import tiny_config, tiny_environ
from tests.hardening.registry_copies import open_stack, register_copy, trained_result

LIMIT_S = 180.0


@pytest.fixture(params=backends.backend_params())
def backend(request) -> str:
    """Both metadata backends: SQLite's write lock and PostgreSQL's advisory lock."""
    if request.param == "postgresql":
        backends.require_postgres()
    return request.param


async def _add_copies(workdir: Path, count: int) -> None:
    stack = await open_stack(tiny_config(workdir))
    try:
        template = await trained_result(stack)
        for n in range(count):
            await register_copy(stack, template, n)
    finally:
        await stack.close()


async def _unreadable_artifacts(workdir: Path) -> list[str]:
    """name: error for every artifact of a live version that does not read back verified."""
    stack = await open_stack(tiny_config(workdir))
    try:
        async with stack.sessions() as session:
            versions = await repo.list_versions(session, include_pruned=False)
        bad = []
        for version in versions:
            for artifact in version.artifacts:
                try:
                    await stack.registry.read_blob(artifact)
                except Exception as exc:
                    bad.append(f"{artifact.name}: {exc}")
        return bad
    finally:
        await stack.close()


def _wait_for(condition, what: str) -> None:
    deadline = time.monotonic() + LIMIT_S
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.05)


def _start_paused_registration(workdir: Path, tmp_path: Path, when: str) -> tuple[subprocess.Popen, Path, Path]:
    # Two more versions first: with keep_last 1 the prune then has one to prune (the older copy;
    # the active and the previously active versions are kept), so it runs the blob GC.
    asyncio.run(_add_copies(workdir, 2))
    paused, go = tmp_path / "paused", tmp_path / "go"
    registering = subprocess.Popen(
        [sys.executable, "-m", "tests.hardening.paused_register", str(workdir), str(paused), str(go), when],
        env={**os.environ, **tiny_environ(workdir)}, cwd=REPO_ROOT, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True)
    _wait_for(lambda: paused.exists() or registering.poll() is not None, "the registration to pause")
    if not paused.exists():
        raise AssertionError(registering.communicate()[0][-3000:])
    return registering, paused, go


def _prune_command(workdir: Path) -> tuple[list[str], dict[str, str]]:
    env = {**os.environ, **tiny_environ(workdir), "CONGESTION_VERSIONING__KEEP_LAST": "1"}
    return [sys.executable, "-m", "server", "versions", "prune"], env


def _finish(registering: subprocess.Popen, go: Path, paused: Path) -> None:
    go.touch()
    output = registering.communicate(timeout=LIMIT_S)[0]
    assert registering.returncode == 0, output[-3000:]
    assert Path(f"{paused}.tag").read_text()


def test_prune_between_a_registrations_blob_writes_and_its_rows(trained_workdir: Path, tmp_path: Path):
    registering, paused, go = _start_paused_registration(trained_workdir, tmp_path, "after-put")
    try:
        command, env = _prune_command(trained_workdir)
        prune = subprocess.run(command, env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=LIMIT_S)
        assert prune.returncode == 0, prune.stderr[-3000:]
        assert prune.stdout.startswith("pruned 1 version(s)"), prune.stdout
        _finish(registering, go, paused)
    finally:
        if registering.poll() is None:
            registering.kill()
            registering.wait()
    assert asyncio.run(_unreadable_artifacts(trained_workdir)) == []


async def _waiting_for_the_blob_lock(url: str) -> bool:
    """Whether a PostgreSQL session waits for the blob advisory lock (pg_locks, not a timer)."""
    from sqlalchemy import text

    from server.store import db

    engine = db.create_engine(url)
    try:
        async with engine.connect() as conn:
            waiting = await conn.scalar(text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
                "AND classid = :high AND objid = :low"),
                {"high": db.POSTGRES_BLOB_LOCK >> 32, "low": db.POSTGRES_BLOB_LOCK & 0xFFFFFFFF})
        return bool(waiting)
    finally:
        await engine.dispose()


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_prune_waits_for_a_registration_whose_rows_are_not_committed(trained_workdir: Path, tmp_path: Path):
    # PostgreSQL only: on SQLite the registration's inserts hold the write lock anyway, so any
    # writer (the prune marks a version pruned first) waits there with or without the blob lock.
    registering, paused, go = _start_paused_registration(trained_workdir, tmp_path, "before-commit")
    command, env = _prune_command(trained_workdir)
    prune = subprocess.Popen(command, env=env, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
    try:
        url = tiny_config(trained_workdir).storage.database_url
        # Without the lock the prune finishes here, collecting the uncommitted version's blob.
        _wait_for(lambda: prune.poll() is not None or asyncio.run(_waiting_for_the_blob_lock(url)),
                  "the prune to finish or to wait for the blob lock")
        _finish(registering, go, paused)
        out, err = prune.communicate(timeout=LIMIT_S)
        assert prune.returncode == 0, err[-3000:]
        assert out.startswith("pruned 1 version(s)"), out
    finally:
        for process in (registering, prune):
            if process.poll() is None:
                process.kill()
                process.wait()
    assert asyncio.run(_unreadable_artifacts(trained_workdir)) == []
