"""Item 13: migrations over a database full of versions, runs, phases, prunes and rollback events."""
from __future__ import annotations

import sqlite3
from collections import Counter
from pathlib import Path

import pytest
from alembic import command

from server.app import create_app
from server.store import db, repo
from tests.conftest import check_json, tiny_config
from tests.hardening.registry_copies import open_stack, register_copy, trained_result

FIRST = "0001"
Dump = dict[str, dict[tuple, dict]]  # table -> primary key -> row as {column: value}


def dump(path: Path) -> Dump:
    """Every row of every user table, keyed by primary key, columns by name."""
    out: Dump = {}
    with sqlite3.connect(path) as conn:
        tables = [r[0] for r in conn.execute(
            "select name from sqlite_master where type = 'table' and name not like 'sqlite_%' "
            "and name != 'alembic_version' order by name")]
        for table in tables:
            info = conn.execute(f"pragma table_info({table})").fetchall()
            # A downgrade parks model_events here; the next upgrade moves them back.
            name = "model_events" if table == "model_events_archive" else table
            columns = [c[1] for c in info]
            key = ["id"] if name != table else [c[1] for c in sorted(info, key=lambda c: c[5]) if c[5]] or columns
            rows = {}
            for values in conn.execute(f"select * from {table}"):
                row = dict(zip(columns, values))
                rows[tuple(row[k] for k in key)] = row
            out[name] = rows
    # 0005's downgrade parks what older constraints refuse (new artifact kinds; the original
    # kind/actor/evidence of lifecycle events) and its upgrade puts it back: count it as kept.
    parked_artifacts = out.pop("lifecycle_archive_artifacts", {})
    parked_events = out.pop("lifecycle_archive_events", {})
    out.setdefault("artifacts", {}).update({(r["id"],): r for r in parked_artifacts.values()})
    if "model_events" in out:
        out["model_events"].update({(r["id"],): r for r in parked_events.values()})
    return out


def revision(path: Path) -> str:
    with sqlite3.connect(path) as conn:
        return conn.execute("select version_num from alembic_version").fetchone()[0]


def rows_missing(old: Dump, new: Dump) -> list[str]:
    """Rows (or column values) of `old` that `new` lost or changed; columns `new` lacks are ignored."""
    problems = []
    for table, rows in old.items():
        for key, row in rows.items():
            kept = new.get(table, {}).get(key)
            if kept is None:
                problems.append(f"{table}{key}: row lost")
                continue
            changed = {c: (v, kept[c]) for c, v in row.items() if c in kept and kept[c] != v}
            if changed:
                problems.append(f"{table}{key}: changed {changed}")
    return problems


async def migrate(path: Path, direction: str, target: str) -> None:
    """Upgrade or downgrade the way the app migrates: its engine (pragmas), foreign keys off meanwhile."""
    engine = db.create_engine(f"sqlite+aiosqlite:///{path}")

    def run(connection):
        def step(c):
            cfg = db.alembic_config()
            cfg.attributes["connection"] = c
            getattr(command, direction)(cfg, target)
        db.run_migration_sync(connection, step)

    try:
        async with engine.connect() as conn:
            await conn.run_sync(run)
    finally:
        await engine.dispose()


@pytest.fixture
async def full_db(trained_workdir) -> Path:
    """The trained DB plus 8 more versions, activations, rollbacks, prunes, a failed and a cancelled run."""
    stack = await open_stack(tiny_config(trained_workdir, CONGESTION_VERSIONING__KEEP_LAST="3"))
    try:
        template = await trained_result(stack)
        tags = []
        for n in range(1, 9):
            tags.append(await register_copy(stack, template, n))
            if n % 3:
                await stack.registry.activate(tags[-1], actor="api", reason=f"copy {n}")
            if n % 4 == 0:
                await stack.registry.rollback(tags[-2], actor="api", reason="worse")
            await stack.registry.apply_retention(actor="system")
        async with stack.sessions.begin() as session:
            for status, error in (("failed", "No space left on device"), ("cancelled", "cancelled by request")):
                run = await repo.create_run(session, trigger="api", model_type="xgboost",
                                            config_snapshot={}, status="running")
                await repo.record_phase_started(session, run.id, "data")
                await repo.finish_run(session, run.id, status=status, error=error)
    finally:
        await stack.close()
    path = trained_workdir / "metadata.sqlite3"
    with sqlite3.connect(path) as conn:
        counts = dict(conn.execute("select kind, count(*) from model_events group by kind").fetchall())
        (pruned,) = conn.execute("select count(*) from model_versions where pruned_at is not null").fetchone()
        conn.execute("pragma wal_checkpoint(truncate)")
    assert counts.get("rolled_back", 0) >= 2 and counts.get("pruned", 0) >= 2 and pruned >= 2, counts
    return path


async def test_head_to_first_revision_and_back_keeps_every_row_of_the_first_schema(full_db):
    before = dump(full_db)
    await migrate(full_db, "downgrade", FIRST)
    at_first = dump(full_db)
    assert revision(full_db) == FIRST
    assert rows_missing({t: r for t, r in before.items() if t in at_first}, at_first) == []
    with sqlite3.connect(full_db) as conn:  # the old schema's own table holds only kinds it knows
        kinds = {k for (k,) in conn.execute("select distinct kind from artifacts")}
    assert "holdout" not in kinds and any(r["kind"] == "holdout" for r in before["artifacts"].values())
    await migrate(full_db, "upgrade", "head")
    after = dump(full_db)
    assert rows_missing(at_first, after) == [], "0001 -> head loses nothing"
    with sqlite3.connect(full_db) as conn:
        assert conn.execute("pragma integrity_check").fetchall() == [("ok",)]
        assert conn.execute("pragma foreign_key_check").fetchall() == []


# Values a downgrade drops by design (each migration's docstring says why that is acceptable).
DROPPED_BY_DOWNGRADE = {"training_runs": {"owner"}}  # 0003: only meaningful while a run is open


async def test_head_to_first_revision_and_back_keeps_every_row(full_db):
    before = {table: {key: {c: v for c, v in row.items() if c not in DROPPED_BY_DOWNGRADE.get(table, ())}
                      for key, row in rows.items()}
              for table, rows in dump(full_db).items()}
    await migrate(full_db, "downgrade", FIRST)
    await migrate(full_db, "upgrade", "head")
    lost = rows_missing(before, dump(full_db))
    by_table = Counter(problem.split("(", 1)[0] + (" rows" if "row lost" in problem else " values") for problem in lost)
    assert not lost, f"{len(lost)} lost: {dict(by_table)}"


async def test_first_revision_to_head_and_back_keeps_every_row(full_db):
    await migrate(full_db, "downgrade", FIRST)
    at_first = dump(full_db)
    await migrate(full_db, "upgrade", "head")
    assert rows_missing(at_first, dump(full_db)) == []
    await migrate(full_db, "downgrade", FIRST)
    assert dump(full_db) == at_first


async def test_app_start_up_on_the_first_revision_backs_up_before_upgrading(aiohttp_client, full_db):
    await migrate(full_db, "downgrade", FIRST)
    at_first = dump(full_db)
    workdir = full_db.parent
    client = await aiohttp_client(create_app(tiny_config(workdir)))
    backups = sorted(workdir.glob(f"{full_db.name}.backup-{FIRST}-*.sqlite3"))
    assert len(backups) == 1, sorted(p.name for p in workdir.iterdir())
    assert revision(backups[0]) == FIRST, "the backup was taken before the upgrade"
    assert dump(backups[0]) == at_first, "the backup holds every row"
    assert revision(full_db) == db.head_revision()
    assert rows_missing(at_first, dump(full_db)) == [], "the upgrade kept every row"
    ready = await check_json(await client.get("/readyz"), 200)
    assert ready["model"]["loaded"] is True, ready
    await check_json(await client.get("/api/versions/detail"), 200)


ACTIVE_SQL = ("select v.tag from model_events e join model_versions v on v.id = e.version_id "
              "where e.kind in ({kinds}) order by e.id desc limit 1")


async def test_downgrading_past_0005_keeps_the_same_version_active(full_db):
    with sqlite3.connect(full_db) as conn:
        at_head = conn.execute(ACTIVE_SQL.format(kinds="'activated', 'rolled_back', 'promoted'")).fetchone()
        assert conn.execute("select count(*) from model_events where kind = 'promoted'").fetchone()[0] > 0
    await migrate(full_db, "downgrade", "0004")
    with sqlite3.connect(full_db) as conn:  # the SQL older code runs knows no 'promoted'
        assert conn.execute(ACTIVE_SQL.format(kinds="'activated', 'rolled_back'")).fetchone() == at_head
