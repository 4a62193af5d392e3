"""A real server subprocess (`python -m server serve`) with a token, on a copy of the trained template."""
from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest

from server.client import ApiError, Client
from tests.conftest import _copy_workdir, free_port, tiny_config, tiny_environ

REPO = Path(__file__).resolve().parents[2]
TOKEN = "0123456789"  # all digits on purpose: it must stay a string end to end


async def _seed_alert(workdir: Path) -> None:
    """One open alert in the store, so acknowledging has something to act on."""
    from server.store import db, repo, repo_alerts

    config = tiny_config(workdir)
    engine = db.create_engine(config.storage.database_url)
    try:
        async with db.session_maker(engine).begin() as session:
            version = await repo.active_version(session)
            await repo_alerts.open_alert(session, "f1_drop", version.tag, 1_700_000_000, {"why": "seeded by a test"})
    finally:
        await engine.dispose()


def _wait_ready(client: Client, process: subprocess.Popen, log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if client.ready().status == "ok":
                return
        except (OSError, ApiError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"server not ready after {timeout}s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="package")
def api_server(trained_template: Path, tmp_path_factory) -> Iterator[str]:
    """The base URL of a served copy of the two-version template, token set, one open alert."""
    workdir = _copy_workdir(trained_template, tmp_path_factory.mktemp("client") / "work")
    asyncio.run(_seed_alert(workdir))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONGESTION_")}
    env.update(tiny_environ(workdir, CONGESTION_SERVER__TOKEN=TOKEN))
    log = workdir / "serve.log"
    with log.open("w") as out:
        process = subprocess.Popen([sys.executable, "-m", "server", "serve", "--port", str(port)],
                                   cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(Client(base), process, log)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def api(api_server: str) -> Client:
    """A client holding the server's token."""
    return Client(api_server, token=TOKEN)


@pytest.fixture
def anonymous(api_server: str) -> Client:
    """A client without a token."""
    return Client(api_server)
