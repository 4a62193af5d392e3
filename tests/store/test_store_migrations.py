"""Migrations: stairway, drift check, CLI upgrade, pragmas and the start-up schema check."""

from __future__ import annotations

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

REPO_ROOT = Path(__file__).resolve().parents[2]


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


def revisions() -> list[str]:
    """Revision ids from base to head."""
    script = ScriptDirectory.from_config(alembic_config())
    return [r.revision for r in reversed(list(script.walk_revisions()))]


def version_of(path: Path) -> str | None:
    with sqlite3.connect(path) as conn:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    return row[0] if row else None


def test_revisions_form_one_line() -> None:
    revs = revisions()
    assert revs[0] == "0001" and revs[-1] == head_revision() and len(revs) >= 2


@pytest.mark.parametrize("revision", revisions())
def test_stairway(tmp_path: Path, revision: str) -> None:
    """Each revision upgrades, downgrades to its parent and upgrades again."""
    cfg = alembic_config(sqlite_url(tmp_path / "stairs.sqlite3"))
    script = ScriptDirectory.from_config(cfg)
    down = script.get_revision(revision).down_revision or "base"
    command.upgrade(cfg, revision)
    command.downgrade(cfg, down)
    command.upgrade(cfg, revision)
    assert version_of(tmp_path / "stairs.sqlite3") == revision


def test_rows_survive_downgrade_and_upgrade_of_last_revision(tmp_path: Path) -> None:
    path = tmp_path / "data.sqlite3"
    cfg = alembic_config(sqlite_url(path))
    command.upgrade(cfg, "head")
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute(
            "INSERT INTO training_runs (id, status, trigger, model_type, config_snapshot, started_at)"
            " VALUES (1, 'succeeded', 'cli', 'random_forest', '{}', '2026-11-26 07:00:00.000000')"
        )
        conn.execute(
            "INSERT INTO run_phases (run_id, name, started_at, duration_s)"
            " VALUES (1, 'fit', '2026-11-26 07:00:00.000000', 3.5)"
        )
        conn.execute(
            "INSERT INTO model_versions (id, tag, run_id, model_type, params, feature_names,"
            " data_summary, created_at) VALUES (1, '20261126_070000', 1, 'random_forest', '{}',"
            " '[]', '{}', '2026-11-26 07:00:00.000000')"
        )
        conn.execute("UPDATE training_runs SET version_id = 1 WHERE id = 1")
    command.downgrade(cfg, "-1")
    command.upgrade(cfg, "head")
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT id, status FROM training_runs").fetchall() == [(1, "succeeded")]
        assert conn.execute("SELECT run_id, name, duration_s FROM run_phases").fetchall() == [
            (1, "fit", 3.5)
        ]
        assert conn.execute("SELECT tag, run_id FROM model_versions").fetchall() == [
            ("20261126_070000", 1)
        ]
        # The link added by the last revision is gone with its column: history of 0002 only.
        assert conn.execute("SELECT version_id FROM training_runs").fetchall() == [(None,)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []


def test_models_and_migrations_agree(migrated_template: Path, tmp_path: Path) -> None:
    """`alembic check`: autogenerate finds nothing to add between tables.py and head."""
    copy = tmp_path / "check.sqlite3"
    copy.write_bytes(migrated_template.read_bytes())
    command.check(alembic_config(sqlite_url(copy)))


def test_alembic_cli_uses_congestion_env_url(tmp_path: Path) -> None:
    """Plain `alembic upgrade head` from the repo root honours CONGESTION_STORAGE__DATABASE_URL."""
    path = tmp_path / "nested" / "dir" / "cli.sqlite3"
    env = {**os.environ, "CONGESTION_STORAGE__DATABASE_URL": sqlite_url(path)}
    result = subprocess.run(
        [sys.executable, "-m", "alembic", "upgrade", "head"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert version_of(path) == head_revision()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)


async def test_pragmas_on_every_connection(engine: AsyncEngine) -> None:
    async with engine.connect() as first, engine.connect() as second:
        for conn in (first, second):
            values = {
                name: (await conn.exec_driver_sql(f"PRAGMA {name}")).scalar()
                for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
            }
            assert values == {"journal_mode": "wal", "synchronous": 2, "foreign_keys": 1, "busy_timeout": 5000}


async def test_prepare_empty_database_upgrades(tmp_path: Path) -> None:
    engine = create_engine(sqlite_url(tmp_path / "new" / "fresh.sqlite3"))
    try:
        state = await prepare_database(engine, auto_upgrade=False, backup_dir=None)
        assert (state.revision_before, state.revision, state.upgraded) == (None, head_revision(), True)
        assert state.backup_path is None
        again = await prepare_database(engine, auto_upgrade=False)
        assert not again.upgraded
    finally:
        await engine.dispose()


async def _engine_at(path: Path, revision: str) -> AsyncEngine:
    engine = create_engine(sqlite_url(path))
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


async def test_outdated_schema_refused_without_auto_upgrade(tmp_path: Path) -> None:
    engine = await _engine_at(tmp_path / "old.sqlite3", "0001")
    try:
        with pytest.raises(SchemaError) as info:
            await prepare_database(engine, auto_upgrade=False)
        assert info.value.code == "schema_outdated"
        assert "congestion db upgrade" in str(info.value)
        assert await current_revision(engine) == "0001"
        assert not list(tmp_path.glob("*.backup-*"))
    finally:
        await engine.dispose()


async def test_unknown_revision_refused(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.exec_driver_sql("UPDATE alembic_version SET version_num = '9999_future'")
    with pytest.raises(SchemaError) as info:
        await prepare_database(engine, auto_upgrade=True)
    assert info.value.code == "schema_unknown_revision"
    assert "9999_future" in str(info.value)


async def test_unmanaged_tables_refused(tmp_path: Path) -> None:
    engine = create_engine(sqlite_url(tmp_path / "foreign.sqlite3"))
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
