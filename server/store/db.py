"""Async engine (SQLite pragmas or PostgreSQL session settings), sessions, schema check / migration."""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event, inspect, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.ext.asyncio import create_async_engine

from server.store.errors import SchemaError

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"
UPGRADE_COMMAND = "congestion db upgrade"
SQLITE_PRAGMAS = (
    ("journal_mode", "WAL"),
    ("synchronous", "FULL"),
    ("foreign_keys", "ON"),
    ("busy_timeout", "5000"),
)
# Per-connection PostgreSQL settings: psql users and SQL functions see UTC like on SQLite.
POSTGRES_SERVER_SETTINGS = {"timezone": "UTC", "application_name": "congestion-monitor"}
# Any constant shared by every process of this app: serialises concurrent start-up migrations.
POSTGRES_MIGRATION_LOCK = 0x636F6E67  # "cong"
# Likewise for blob registration and blob GC, which must never interleave across processes.
POSTGRES_BLOB_LOCK = 0x626C6F62  # "blob"


@dataclass(frozen=True, slots=True)
class SchemaState:
    """Outcome of :func:`prepare_database`."""

    revision_before: str | None
    revision: str
    head: str
    upgraded: bool
    backup_path: Path | None


def _set_sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        for name, value in SQLITE_PRAGMAS:
            cursor.execute(f"PRAGMA {name}={value}")
            cursor.fetchall()
    finally:
        cursor.close()


def sqlite_path(url: str) -> Path | None:
    """The database file of a SQLite URL, or None for other dialects and in-memory DBs."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def _json_nan_as_null(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_nan_as_null(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_nan_as_null(v) for v in value]
    return value


def postgres_json_dumps(value: Any) -> str:
    """JSON for PostgreSQL, whose ``json`` type rejects NaN/Infinity: those become null."""
    try:
        return json.dumps(value, allow_nan=False)
    except ValueError:
        return json.dumps(_json_nan_as_null(value), allow_nan=False)


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """Create an async engine; SQLite files get their folder created and pragmas on connect.

    PostgreSQL connections get :data:`POSTGRES_SERVER_SETTINGS` (session time zone UTC) and a
    pre-ping, since a server shared by several processes may restart under them.
    """
    path = sqlite_path(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    if make_url(url).get_backend_name() == "postgresql":
        connect_args = dict(kwargs.pop("connect_args", {}))
        settings = {**POSTGRES_SERVER_SETTINGS, **connect_args.get("server_settings", {})}
        connect_args["server_settings"] = settings
        kwargs = {"pool_pre_ping": True, "json_serializer": postgres_json_dumps,
                  **kwargs, "connect_args": connect_args}
    engine = create_async_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _set_sqlite_pragmas)
    return engine


async def lock_blobs(session: AsyncSession) -> None:
    """Take the cross-process blob lock; it is held until the session's transaction ends.

    Blob registration (check the blobs are there, insert their rows) and blob GC (read the
    referenced digests, delete the rest) each run under it, so a GC in another process can
    never see blobs whose rows are about to be committed. PostgreSQL: a transaction-scoped
    advisory lock. SQLite: ``BEGIN IMMEDIATE``, the database's write lock (WAL readers go on;
    other writers wait up to busy_timeout), so it must be the transaction's first statement.
    """
    conn = await session.connection()
    if conn.dialect.name == "postgresql":
        await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": POSTGRES_BLOB_LOCK})
    elif conn.dialect.name == "sqlite":
        await conn.exec_driver_sql("BEGIN IMMEDIATE")


def session_maker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Session factory; objects stay readable after commit (the repo returns dataclasses anyway)."""
    return async_sessionmaker(engine, expire_on_commit=False)


def alembic_config(url: str | None = None) -> AlembicConfig:
    """An alembic Config pointing at ``migrations/``, without an ini file (no logging setup)."""
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        # ConfigParser interpolation: a literal % must be doubled.
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def head_revision() -> str:
    """The single head revision of this code's migrations."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "migrations/versions is empty"
    return head


def _current_revision_sync(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision stamped in the database, or None for a database alembic never touched."""
    async with engine.connect() as conn:
        return await conn.run_sync(_current_revision_sync)


def run_migration_sync(conn: Connection, migrate: Callable[[Connection], None]) -> None:
    """Run ``migrate(conn)`` in one transaction; on SQLite with foreign keys off meanwhile.

    Batch migrations recreate tables (copy, drop, rename); with ``foreign_keys=ON`` the drop
    would cascade into or be refused by child rows. The pragma is a no-op inside a
    transaction, hence it is toggled around ``begin()``, and integrity is re-checked before
    the commit. On PostgreSQL (transactional DDL, ALTER in place) the transaction first takes
    an advisory lock, so servers starting together migrate one after the other: the later
    ones find the schema at head and do nothing.
    """
    sqlite = conn.dialect.name == "sqlite"
    postgres = conn.dialect.name == "postgresql"
    if sqlite:
        if conn.in_transaction():
            conn.commit()
        conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
        conn.commit()
    try:
        with conn.begin():
            if postgres:
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({POSTGRES_MIGRATION_LOCK})")
            migrate(conn)
            if sqlite:
                broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise SchemaError(f"migration left broken foreign keys: {broken[:5]}")
    finally:
        if sqlite:
            conn.exec_driver_sql("PRAGMA foreign_keys=ON")
            conn.commit()


def _upgrade_sync(conn: Connection, target: str) -> None:
    def migrate(c: Connection) -> None:
        cfg = alembic_config()
        cfg.attributes["connection"] = c
        command.upgrade(cfg, target)

    run_migration_sync(conn, migrate)


async def upgrade(engine: AsyncEngine, target: str = "head") -> str | None:
    """Upgrade the database (inside the running loop) and return the new revision."""
    async with engine.connect() as conn:
        await conn.run_sync(_upgrade_sync, target)
    return await current_revision(engine)


def _user_tables_sync(conn: Connection) -> list[str]:
    return [t for t in inspect(conn).get_table_names() if t != "alembic_version"]


async def backup_sqlite(engine: AsyncEngine, backup_dir: Path | None, revision: str) -> Path | None:
    """``VACUUM INTO`` a consistent copy next to the DB (or into ``backup_dir``); SQLite only."""
    path = sqlite_path(str(engine.url))
    if path is None:
        return None
    folder = backup_dir if backup_dir is not None else path.parent
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    target = folder / f"{path.name}.backup-{revision}-{stamp}.sqlite3"
    async with engine.connect() as conn:
        auto = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await auto.exec_driver_sql("VACUUM INTO ?", (str(target),))
    return target


async def prepare_database(
    engine: AsyncEngine, *, auto_upgrade: bool, backup_dir: Path | None = None
) -> SchemaState:
    """Bring the schema to head at start-up, or refuse with an actionable :class:`SchemaError`.

    Empty DB -> upgrade. Behind head -> backup (SQLite) then upgrade if ``auto_upgrade``,
    else refuse. Unknown revision (newer code wrote it, or another app) -> refuse. There is
    no automatic backup on PostgreSQL: take one with ``pg_dump`` before upgrading the code.
    """
    head = head_revision()
    before = await current_revision(engine)
    if before == head:
        return SchemaState(before, head, head, upgraded=False, backup_path=None)
    script = ScriptDirectory.from_config(alembic_config())
    backup: Path | None = None
    if before is None:
        async with engine.connect() as conn:
            tables = await conn.run_sync(_user_tables_sync)
        if tables:
            raise SchemaError(
                f"the database has tables ({', '.join(sorted(tables)[:5])}) but no alembic "
                "revision; it was not created by this application. Point "
                "storage.database_url at a new file or an empty database.",
                code="schema_unmanaged",
            )
    else:
        known = {rev.revision for rev in script.walk_revisions()}
        if before not in known:
            raise SchemaError(
                f"the database is at schema revision {before!r}, which this version of the "
                f"code does not know (its newest is {head!r}). It was probably written by a "
                "newer release: upgrade the application, or restore a backup.",
                code="schema_unknown_revision",
            )
        if not auto_upgrade:
            raise SchemaError(
                f"the database schema is at revision {before!r} but this code needs {head!r}. "
                f"Run `{UPGRADE_COMMAND}` (a backup is advisable first), or set "
                "storage.auto_upgrade: true.",
                code="schema_outdated",
            )
        backup = await backup_sqlite(engine, backup_dir, before)
        if backup is not None:
            log.warning("schema %s -> %s; backup written to %s", before, head, backup)
        else:
            log.warning("schema %s -> %s; no automatic backup on %s", before, head,
                        engine.dialect.name)
    after = await upgrade(engine)
    assert after == head, (after, head)
    return SchemaState(before, head, head, upgraded=True, backup_path=backup)
