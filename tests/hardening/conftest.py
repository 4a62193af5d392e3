"""A real server in its own process group, for crash and signal tests."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import free_port, tiny_environ


class ServerProcess:
    """`python -m server serve` on a free loopback port, its own session (process group)."""

    def __init__(self, workdir: Path, **env: str) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, **tiny_environ(workdir, **env), "CONGESTION_SERVER__PORT": str(self.port)}
        self.proc: subprocess.Popen | None = None
        self.log = workdir / f"server-{self.port}.log"

    def start(self, timeout: float = 60.0) -> "ServerProcess":
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "server", "serve"], env=self.env,
                                         stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited early:\n{self.log.read_text()[-3000:]}")
            try:
                import urllib.request

                with urllib.request.urlopen(self.url + "/healthz", timeout=1) as response:
                    if response.status == 200:
                        return self
            except OSError:
                time.sleep(0.2)
        raise AssertionError(f"server did not start:\n{self.log.read_text()[-3000:]}")

    def group_pids(self) -> list[int]:
        """Live processes of the server's process group (server, pool workers, helpers)."""
        assert self.proc is not None
        pids = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    if os.getpgid(int(entry.name)) == self.proc.pid:
                        stat = (entry / "stat").read_text()
                        if stat.rsplit(")", 1)[1].split()[0] != "Z":
                            pids.append(int(entry.name))
                except (ProcessLookupError, FileNotFoundError, PermissionError):
                    continue
        return pids

    def kill_group(self) -> None:
        assert self.proc is not None
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.kill_group()


@pytest.fixture
def server_factory():
    """Start servers on demand; every one is killed (with its group) at teardown."""
    started: list[ServerProcess] = []

    def start(workdir: Path, **env: str) -> ServerProcess:
        server = ServerProcess(workdir, **env).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


async def ws_events_until(session: aiohttp.ClientSession, url: str, kind: str, timeout: float = 120):
    """Connect to /ws and return (ws, event) once an event of `kind` arrives."""
    import asyncio

    ws = await session.ws_connect(url + "/ws")

    async def _read():
        while True:
            event = await ws.receive_json()
            if event["type"] == kind:
                return event
    return ws, await asyncio.wait_for(_read(), timeout)
