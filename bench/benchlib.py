"""Shared by the benchmarks: a throwaway store and the default model trained into it."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def environ(workdir: Path, **extra: str) -> dict[str, str]:
    """Env overrides pointing storage at workdir, with quiet logs."""
    return {**os.environ, "CONGESTION_STORAGE__DATABASE_URL": f"sqlite+aiosqlite:///{workdir / 'metadata.sqlite3'}",
            "CONGESTION_STORAGE__BLOB_DIR": str(workdir / "blobs"), "CONGESTION_LOGGING__DIR": "",
            "CONGESTION_LOGGING__LEVEL": "WARNING", **extra}


def ensure_model(workdir: Path, **extra: str) -> None:
    """Train the default model into workdir (`congestion pipeline`) unless it already holds one.

    `extra` are CONGESTION_* overrides for the training run, e.g. CONGESTION_DATA__ROWS.
    """
    if (workdir / "metadata.sqlite3").exists():
        return
    print(f"training the default model into {workdir} (congestion pipeline) ...", flush=True)
    subprocess.run([sys.executable, "-m", "server", "pipeline"], cwd=REPO, env=environ(workdir, **extra), check=True,
                   stdout=subprocess.DEVNULL)
