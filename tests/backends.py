"""Test databases per metadata backend: SQLite files, or throwaway PostgreSQL databases.

PostgreSQL runs when ``CONGESTION_TEST_POSTGRES_URL`` names a database whose role may
``CREATE DATABASE``; each test gets its own database (copied from a migrated or trained
template with ``CREATE DATABASE ... TEMPLATE``), dropped afterwards. Without the variable the
PostgreSQL parameters skip, except under ``CI``, where they fail: CI must test both backends.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import sqlite3
import threading
import uuid
from pathlib import Path
from typing import Any, Awaitable, Callable

import pytest
from sqlalchemy.engine import make_url

POSTGRES_URL_ENV = "CONGESTION_TEST_POSTGRES_URL"
# Read at import: the autouse fixture that clears CONGESTION_* runs before per-test fixtures.
POSTGRES_URL = os.environ.get(POSTGRES_URL_ENV, "")
IN_CI = bool(os.environ.get("CI"))
BACKENDS = ("sqlite", "postgresql")
# A workdir (DB + blobs) on PostgreSQL names its database in this file; see tiny_environ.
DATABASE_URL_FILE = "database_url"
DB_PREFIX = "congestion_t_"


def backend_params() -> list[Any]:
    """``params=`` for a fixture that runs its tests on every backend."""
    return [pytest.param(name, id=name) for name in BACKENDS]


def require_postgres() -> str:
    """The admin URL; skips without one, fails in CI (a missing server must not pass as green)."""
    if not POSTGRES_URL:
        message = f"{POSTGRES_URL_ENV} is not set"
        if IN_CI:
            pytest.fail(f"{message}, but CI must run the PostgreSQL tests", pytrace=False)
        pytest.skip(f"{message}: PostgreSQL backend not tested")
    return POSTGRES_URL


class _AdminLoop:
    """A private event loop thread holding one admin connection, reused by every create/drop.

    Fixtures are sync and may run while pytest-asyncio's loop exists; a thread of our own keeps
    the two apart, and reusing one connection keeps a per-test database at a few milliseconds.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._conn: Any = None
        self.pending: list[str] = []  # databases to drop (see drop_database)

    def run(self, factory: Callable[[], Awaitable[Any]]) -> Any:
        with self._lock:
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
                threading.Thread(target=self._loop.run_forever, name="pg-admin", daemon=True).start()
                atexit.register(self.close)
        return asyncio.run_coroutine_threadsafe(factory(), self._loop).result()

    async def connection(self) -> Any:
        import asyncpg

        if self._conn is None or self._conn.is_closed():
            self._conn = await asyncpg.connect(_dsn(require_postgres()))
        return self._conn

    def close(self) -> None:
        if self._loop is None:
            return
        try:
            self.run(_drop_pending)
        finally:
            if self._conn is not None:
                self.run(self._conn.close)
        self._loop.call_soon_threadsafe(self._loop.stop)


_ADMIN = _AdminLoop()
_run = _ADMIN.run


def _dsn(url: str) -> str:
    """asyncpg DSN of a SQLAlchemy URL."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def url_of(url: str, database: str) -> str:
    """The same server and role, another database."""
    return make_url(url).set(database=database).render_as_string(hide_password=False)


async def _admin(statement: str) -> None:
    import asyncpg

    conn = await _ADMIN.connection()
    for attempt in range(50):
        try:
            await conn.execute(statement)
            return
        except (asyncpg.ObjectInUseError, asyncpg.InsufficientPrivilegeError):
            # "source database ... is being accessed by other users": another session (a
            # parallel test run) is copying the same template. "must be a member of the role
            # whose process is being terminated": DROP ... FORCE met an autovacuum worker,
            # which a non-superuser may not terminate; it soon stops by itself.
            if attempt == 49:
                raise
            await asyncio.sleep(0.1)


def create_database(template: str | None = None) -> str:
    """A new PostgreSQL database (empty, or a copy of ``template``); returns its URL."""
    admin = require_postgres()
    name = f"{DB_PREFIX}{uuid.uuid4().hex[:12]}"
    clause = f" TEMPLATE {make_url(template).database}" if template else ""

    async def create() -> None:
        await _drop_pending()
        await _admin(f'CREATE DATABASE "{name}"{clause}')

    _run(create)
    return url_of(admin, name)


def drop_database(url: str) -> None:
    """Drop a database made by :func:`create_database` soon: before the next one is made.

    A test's app (and its connection pool) is closed by pytest-aiohttp *after* the fixtures
    that made its database are torn down; dropping right away would have to kill its live
    connections, at a 100 ms poll each. Deferred, the drop finds nobody connected.
    """
    name = make_url(url).database
    assert name and name.startswith(DB_PREFIX), name
    _ADMIN.pending.append(name)


async def _drop_pending() -> None:
    while _ADMIN.pending:
        name = _ADMIN.pending.pop()
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def workdir_url(workdir: Path) -> str:
    """The metadata DB URL of a test workdir (PostgreSQL if it names one, else its SQLite file)."""
    marker = workdir / DATABASE_URL_FILE
    if marker.exists():
        return marker.read_text().strip()
    return f"sqlite+aiosqlite:///{workdir / 'metadata.sqlite3'}"


def execute_sql(target: str | Path, *statements: str) -> list[tuple[Any, ...]]:
    """Run plain SQL statements in one transaction; rows of the last one.

    ``target`` is a database URL or a test workdir. Tests use this to plant rows that the
    API cannot create (a run left ``running`` by a dead server, say) on either backend.
    """
    url = workdir_url(target) if isinstance(target, Path) else target
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        with sqlite3.connect(parsed.database) as conn:
            rows: list[Any] = []
            for statement in statements:
                rows = conn.execute(statement).fetchall()
            return [tuple(r) for r in rows]

    async def run() -> list[tuple[Any, ...]]:
        import asyncpg

        conn = await asyncpg.connect(_dsn(url))
        try:
            async with conn.transaction():
                result: list[Any] = []
                for statement in statements:
                    result = await conn.fetch(statement)
                return [tuple(r) for r in result]
        finally:
            await conn.close()

    return _run(run)
