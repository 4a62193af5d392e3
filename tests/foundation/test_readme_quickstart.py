"""The README's quick start does what it says: the rollback example picks the previous version."""
from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys

from server.config import REPO_ROOT


def quick_start() -> str:
    text = (REPO_ROOT / "README.md").read_text()
    return text.split("## Quick start", 1)[1].split("\n## ", 1)[0]


def rollback_tag_script() -> str:
    """The python3 -c program of the `TAG=$(...)` line."""
    line = next(l for l in quick_start().splitlines() if l.startswith("TAG=$("))
    command = line.split("|", 1)[1].strip().removesuffix(")")
    words = shlex.split(command)
    assert words[:2] == ["python3", "-c"], words
    return words[2]


def run_tag_script(versions: list[dict]) -> str:
    out = subprocess.run([sys.executable, "-c", rollback_tag_script()], input=json.dumps({"versions": versions}),
                         capture_output=True, text=True, check=True)
    return out.stdout.strip()


def version(tag: str, active: bool = False, pruned: bool = False) -> dict:
    return {"timestamp": tag, "active": active, "pruned": pruned}


def test_rollback_example_takes_the_version_before_the_active_one():
    """Newest first: with the newest active, the example must pick the second, not the oldest."""
    newest_active = [version("20261203_000000", active=True), version("20261202_000000"), version("20261201_000000")]
    assert run_tag_script(newest_active) == "20261202_000000"
    after_a_rollback = [version("20261203_000000"), version("20261202_000000", active=True),
                        version("20261201_000000", pruned=True), version("20261130_000000")]
    assert run_tag_script(after_a_rollback) == "20261130_000000"


def test_quick_start_says_repeated_posts_feed_the_windows():
    """A first user reads, before the API reference, why the same record answers differently."""
    text = quick_start()
    assert "observe=false" in text and "note" in text
    assert re.search(r"same record .* different probabilit", text, flags=re.S)
