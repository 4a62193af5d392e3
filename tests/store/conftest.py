"""Store fixtures: a DB migrated once per session and copied per test, on every backend.

SQLite tests copy a migrated file; PostgreSQL tests get ``CREATE DATABASE ... TEMPLATE`` of a
database migrated once (see ``tests/backends.py``).
"""

from __future__ import annotations

import hashlib
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable, Iterator

import pytest
from alembic import command
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from server.store import repo
from server.store.db import alembic_config, create_engine, session_maker
from server.store.records import ArtifactSpec, VersionRecord
from tests import backends

T0 = datetime(2026, 11, 26, 7, 0, 0, tzinfo=timezone.utc)


def sqlite_url(path: Path) -> str:
    """aiosqlite URL of a file path."""
    return f"sqlite+aiosqlite:///{path}"


def full_metrics(f1: float = 0.8, **extra: Any) -> dict[str, Any]:
    """A complete metrics dict as the training service produces it."""
    return {
        "precision": 0.7, "recall": 0.9, "f1_score": f1, "auc_roc": 0.93, "pr_auc": 0.81,
        "brier": 0.08, "threshold": 0.5, "best_f1_threshold": 0.42, "tn": 800, "fp": 50,
        "fn": 20, "tp": 130, "samples": 1000, "features": 24, **extra,
    }


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database file upgraded to head once per test session."""
    path = tmp_path_factory.mktemp("template") / "metadata.sqlite3"
    command.upgrade(alembic_config(sqlite_url(path)), "head")
    assert not Path(f"{path}-wal").exists() or Path(f"{path}-wal").stat().st_size == 0
    return path


@pytest.fixture(params=backends.backend_params())
def backend(request: pytest.FixtureRequest) -> str:
    """The metadata backend of this test (PostgreSQL skips, or fails in CI, when not set up)."""
    if request.param == "postgresql":
        backends.require_postgres()
    return request.param


@pytest.fixture(scope="session")
def pg_migrated_template() -> Iterator[str]:
    """URL of a PostgreSQL database upgraded to head once per test session."""
    url = backends.create_database()
    try:
        command.upgrade(alembic_config(url), "head")
        yield url
    finally:
        backends.drop_database(url)


@pytest.fixture
def db_path(migrated_template: Path, tmp_path: Path) -> Path:
    """A private copy of the migrated SQLite database for one test."""
    target = tmp_path / "db" / "metadata.sqlite3"
    target.parent.mkdir()
    shutil.copyfile(migrated_template, target)
    return target


@pytest.fixture
def db_url(backend: str, request: pytest.FixtureRequest) -> Iterator[str]:
    """URL of a private migrated database for one test, on the test's backend."""
    if backend == "postgresql":
        url = backends.create_database(template=request.getfixturevalue("pg_migrated_template"))
        yield url
        backends.drop_database(url)
        return
    yield sqlite_url(request.getfixturevalue("db_path"))


@pytest.fixture
def fresh_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """URL of an empty database (no schema) on the test's backend."""
    if backend == "postgresql":
        url = backends.create_database()
        yield url
        backends.drop_database(url)
        return
    yield sqlite_url(tmp_path / "fresh" / "metadata.sqlite3")


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    """Async engine on the per-test copy, disposed afterwards."""
    eng = create_engine(db_url)
    yield eng
    await eng.dispose()


@pytest.fixture
def sm(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Session factory bound to the test engine."""
    return session_maker(engine)


AddVersion = Callable[..., Awaitable[VersionRecord]]


@pytest.fixture
def add_version(sm: async_sessionmaker[AsyncSession]) -> AddVersion:
    """Register a run + version (own transaction); artifacts get fake unique digests."""

    async def _add(
        at: datetime = T0,
        *,
        f1: float = 0.8,
        model_type: str = "random_forest",
        activate: bool = False,
        phases: dict[str, float] | None = None,
    ) -> VersionRecord:
        async with sm.begin() as s:
            run = await repo.create_run(
                s, trigger="api", model_type=model_type, config_snapshot={"x": 1}, now=at
            )
            await repo.set_run_status(s, run.id, "running")
            for name, seconds in (phases or {"load": 1.5, "fit": 10.0}).items():
                await repo.record_phase_started(s, run.id, name, now=at)
                await repo.record_phase_finished(s, run.id, name, now=at + timedelta(seconds=seconds))
            tag = await repo.next_tag(s, at)
            digest = hashlib.sha256(tag.encode()).hexdigest()
            version = await repo.register_version(
                s,
                run_id=run.id,
                tag=tag,
                model_type=model_type,
                params={"n_estimators": 100},
                feature_names=["bytes", "packets"],
                data_summary={"rows": 1000},
                metrics=full_metrics(f1, roc_points=3),
                artifacts=[
                    ArtifactSpec("pipeline", f"model_{tag}.joblib", digest, 10, "application/octet-stream"),
                    ArtifactSpec("plot", f"roc_{tag}.png", digest[::-1], 5, "image/png"),
                ],
                actor="api",
                now=at,
            )
            await repo.finish_run(s, run.id, status="succeeded", version_id=version.id, now=at + timedelta(seconds=12))
            if activate:
                await repo.activate(s, version.id, actor="api", now=at)
        async with sm() as s:
            return await repo.get_version(s, version.id)

    return _add
