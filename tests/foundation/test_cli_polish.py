"""CLI polish: the training progress bar's first reading and the package metadata's license."""
from __future__ import annotations

import asyncio
import re
import tomllib

from server import commands
from server.config import REPO_ROOT


async def _render(events: list[dict]) -> None:
    queue: asyncio.Queue = asyncio.Queue()
    for event in events:
        queue.put_nowait(event)
    printer = asyncio.create_task(commands._print_progress(queue))
    while not queue.empty():
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)
    printer.cancel()
    await asyncio.gather(printer, return_exceptions=True)


def test_the_first_progress_reading_has_no_rate_yet(capsys):
    events = [{"type": "phase_started", "phase": "training"},
              {"type": "progress", "done": 1, "total": 5}, {"type": "progress", "done": 2, "total": 5},
              {"type": "phase_finished", "phase": "training", "duration_s": 1.0}]
    asyncio.run(_render(events))
    err = capsys.readouterr().err
    readings = re.findall(r"(\d+)/5 \[[^\]]*?([\d.]+|\?)(s/fit|fit/s)\]", err)
    # one fit done before the bar existed is no rate (it read 104857.60fit/s: 1 fit in ~10 us)
    assert readings and readings[0][0] == "1" and readings[0][1] == "?", err


def test_the_license_is_an_spdx_expression():
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    assert project["project"]["license"] == "MIT"  # a table here makes setuptools >= 77 warn on every install
    assert not any("License ::" in c for c in project["project"].get("classifiers", []))
    setuptools = next(r for r in project["build-system"]["requires"] if r.startswith("setuptools"))
    assert re.fullmatch(r"setuptools>=(\d+)", setuptools) and int(setuptools.split(">=")[1]) >= 77
