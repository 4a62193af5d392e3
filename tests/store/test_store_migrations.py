"""Migrations: stairway, drift check, CLI upgrade, pragmas and the start-up schema check.

Tests taking ``fresh_url``/``engine`` run on every backend; the rest are SQLite-only (pragmas,
``VACUUM INTO`` backups).
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncEngine

from server.store.db import (
    alembic_config,
    create_engine,
    current_revision,
    head_revision,
    prepare_database,
    upgrade,
)
from server.store.errors import SchemaError
from tests.backends import execute_sql

REPO_ROOT = Path(__file__).resolve().parents[2]


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


def revisions() -> list[str]:
    """Revision ids from base to head."""
    script = ScriptDirectory.from_config(alembic_config())
    return [r.revision for r in reversed(list(script.walk_revisions()))]


def version_of(target: Path | str) -> str | None:
    """The stamped revision of a SQLite file or a database URL."""
    if isinstance(target, Path):
        target = sqlite_url(target)
    rows = execute_sql(target, "SELECT version_num FROM alembic_version")
    return rows[0][0] if rows else None


def test_revisions_form_one_line() -> None:
    revs = revisions()
    assert revs[0] == "0001" and revs[-1] == head_revision() and len(revs) >= 2


@pytest.mark.parametrize("revision", revisions())
def test_stairway(fresh_url: str, revision: str) -> None:
    """Each revision upgrades, downgrades to its parent and upgrades again."""
    cfg = alembic_config(fresh_url)
    script = ScriptDirectory.from_config(cfg)
    down = script.get_revision(revision).down_revision or "base"
    command.upgrade(cfg, revision)
    command.downgrade(cfg, down)
    command.upgrade(cfg, revision)
    assert version_of(fresh_url) == revision


def test_rows_survive_downgrade_and_upgrade_of_last_revision(fresh_url: str, backend: str) -> None:
    cfg = alembic_config(fresh_url)
    command.upgrade(cfg, "head")
    execute_sql(
        fresh_url,
        *(["PRAGMA foreign_keys=ON"] if backend == "sqlite" else []),
        "INSERT INTO training_runs (id, status, trigger, model_type, config_snapshot, started_at)"
        " VALUES (1, 'succeeded', 'cli', 'random_forest', '{}', '2026-11-26 07:00:00.000000')",
        "INSERT INTO run_phases (run_id, name, started_at, duration_s)"
        " VALUES (1, 'fit', '2026-11-26 07:00:00.000000', 3.5)",
        "INSERT INTO model_versions (id, tag, run_id, model_type, params, feature_names,"
        " data_summary, created_at) VALUES (1, '20261126_070000', 1, 'random_forest', '{}',"
        " '[]', '{}', '2026-11-26 07:00:00.000000')",
        "UPDATE training_runs SET version_id = 1 WHERE id = 1",
    )
    command.downgrade(cfg, "-1")
    command.upgrade(cfg, "head")
    rows = lambda sql: execute_sql(fresh_url, sql)  # noqa: E731
    assert rows("SELECT id, status FROM training_runs") == [(1, "succeeded")]
    assert rows("SELECT run_id, name, duration_s FROM run_phases") == [(1, "fit", 3.5)]
    assert rows("SELECT tag, run_id FROM model_versions") == [("20261126_070000", 1)]
    # The run -> version link is derived again from model_versions.run_id on the way up.
    assert rows("SELECT version_id FROM training_runs") == [(1,)]
    if backend == "sqlite":
        assert rows("PRAGMA foreign_key_check") == []


def test_models_and_migrations_agree(db_url: str) -> None:
    """`alembic check`: autogenerate finds nothing to add between tables.py and head."""
    command.check(alembic_config(db_url))


def test_alembic_cli_uses_congestion_env_url(fresh_url: str, backend: str, tmp_path: Path) -> None:
    """Plain `alembic upgrade head` from the repo root honours CONGESTION_STORAGE__DATABASE_URL."""
    path = tmp_path / "nested" / "dir" / "cli.sqlite3"
    url = sqlite_url(path) if backend == "sqlite" else fresh_url
    env = {**os.environ, "CONGESTION_STORAGE__DATABASE_URL": url}
    result = subprocess.run(
        [sys.executable, "-m", "alembic", "upgrade", "head"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert version_of(url) == head_revision()
    if backend == "sqlite":
        with sqlite3.connect(path) as conn:
            assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)


async def test_pragmas_on_every_connection(engine: AsyncEngine, backend: str) -> None:
    """SQLite: WAL, fsync, foreign keys, busy timeout. PostgreSQL: the session time zone is UTC."""
    async with engine.connect() as first, engine.connect() as second:
        for conn in (first, second):
            if backend == "postgresql":
                assert (await conn.exec_driver_sql("SHOW timezone")).scalar() == "UTC"
                continue
            values = {
                name: (await conn.exec_driver_sql(f"PRAGMA {name}")).scalar()
                for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
            }
            assert values == {"journal_mode": "wal", "synchronous": 2, "foreign_keys": 1, "busy_timeout": 5000}


async def test_prepare_empty_database_upgrades(fresh_url: str) -> None:
    engine = create_engine(fresh_url)
    try:
        state = await prepare_database(engine, auto_upgrade=False, backup_dir=None)
        assert (state.revision_before, state.revision, state.upgraded) == (None, head_revision(), True)
        assert state.backup_path is None
        again = await prepare_database(engine, auto_upgrade=False)
        assert not again.upgraded
    finally:
        await engine.dispose()


async def _engine_at(path: Path | str, revision: str) -> AsyncEngine:
    engine = create_engine(sqlite_url(path) if isinstance(path, Path) else path)
    await upgrade(engine, revision)
    return engine


async def test_auto_upgrade_writes_vacuum_into_backup(tmp_path: Path) -> None:
    engine = await _engine_at(tmp_path / "old.sqlite3", "0001")
    try:
        async with engine.begin() as conn:
            await conn.exec_driver_sql(
                "INSERT INTO training_runs (status, trigger, model_type, config_snapshot, started_at)"
                " VALUES ('failed', 'cli', 'xgboost', '{}', '2026-11-26 07:00:00.000000')"
            )
        state = await prepare_database(engine, auto_upgrade=True, backup_dir=tmp_path / "backups")
        assert state.upgraded and state.revision_before == "0001"
        assert await current_revision(engine) == head_revision()
        backup = state.backup_path
        assert backup is not None and backup.parent == tmp_path / "backups"
        assert backup.name.startswith("old.sqlite3.backup-0001-") and backup.suffix == ".sqlite3"
        assert version_of(backup) == "0001"
        with sqlite3.connect(backup) as conn:
            assert conn.execute("SELECT model_type FROM training_runs").fetchall() == [("xgboost",)]
    finally:
        await engine.dispose()


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
async def test_auto_upgrade_on_postgresql_keeps_rows_without_file_backup(
    fresh_url: str, tmp_path: Path
) -> None:
    engine = await _engine_at(fresh_url, "0001")
    try:
        async with engine.begin() as conn:
            await conn.exec_driver_sql(
                "INSERT INTO training_runs (status, trigger, model_type, config_snapshot, started_at)"
                " VALUES ('failed', 'cli', 'xgboost', '{}', '2026-11-26 07:00:00+00')"
            )
        state = await prepare_database(engine, auto_upgrade=True, backup_dir=tmp_path / "backups")
        assert state.upgraded and state.revision_before == "0001" and state.backup_path is None
        assert not (tmp_path / "backups").exists()
        assert await current_revision(engine) == head_revision()
        assert execute_sql(fresh_url, "SELECT model_type, version_id FROM training_runs") == [
            ("xgboost", None)
        ]
    finally:
        await engine.dispose()


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
async def test_servers_starting_together_migrate_once(fresh_url: str) -> None:
    """Several PostgreSQL clients on one empty database: one migrates, the others wait for it.

    (SQLite has one writing server process by design.)
    """
    engines = [create_engine(fresh_url) for _ in range(3)]
    try:
        states = await asyncio.gather(
            *(prepare_database(e, auto_upgrade=True) for e in engines)
        )
        assert all(s.revision == head_revision() for s in states)
        assert version_of(fresh_url) == head_revision()
    finally:
        for e in engines:
            await e.dispose()


async def test_outdated_schema_refused_without_auto_upgrade(fresh_url: str, tmp_path: Path) -> None:
    engine = await _engine_at(fresh_url, "0001")
    try:
        with pytest.raises(SchemaError) as info:
            await prepare_database(engine, auto_upgrade=False)
        assert info.value.code == "schema_outdated"
        assert "congestion db upgrade" in str(info.value)
        assert await current_revision(engine) == "0001"
        assert not list(tmp_path.rglob("*.backup-*"))
    finally:
        await engine.dispose()


async def test_unknown_revision_refused(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.exec_driver_sql("UPDATE alembic_version SET version_num = '9999_future'")
    with pytest.raises(SchemaError) as info:
        await prepare_database(engine, auto_upgrade=True)
    assert info.value.code == "schema_unknown_revision"
    assert "9999_future" in str(info.value)


async def test_unmanaged_tables_refused(fresh_url: str) -> None:
    engine = create_engine(fresh_url)
    try:
        async with engine.begin() as conn:
            await conn.exec_driver_sql("CREATE TABLE somebody_elses (id INTEGER)")
        with pytest.raises(SchemaError) as info:
            await prepare_database(engine, auto_upgrade=True)
        assert info.value.code == "schema_unmanaged"
    finally:
        await engine.dispose()


async def test_foreign_keys_back_on_after_migration(tmp_path: Path) -> None:
    engine = await _engine_at(tmp_path / "fk.sqlite3", "0001")
    try:
        await upgrade(engine)
        async with engine.connect() as conn:
            assert (await conn.exec_driver_sql("PRAGMA foreign_keys")).scalar() == 1
    finally:
        await engine.dispose()
