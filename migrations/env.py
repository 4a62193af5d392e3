"""Alembic environment (async template + connection sharing).

The server passes its own connection in ``config.attributes["connection"]`` because
``asyncio.run`` cannot run inside aiohttp's loop; the alembic CLI has none and gets an async
engine here. The URL is ``sqlalchemy.url`` when set (tests), else ``storage.database_url``
from ``server.config.load_config()`` (so ``CONGESTION_STORAGE__DATABASE_URL`` applies).
"""

from __future__ import annotations

import asyncio
from logging.config import fileConfig

from alembic import context
from sqlalchemy import pool
from sqlalchemy.engine import Connection

from server.store.db import create_engine, run_migration_sync
from server.store.tables import Base

config = context.config
shared_connection: Connection | None = config.attributes.get("connection")

# Only the alembic CLI configures logging; inside the server it would clobber the app's setup.
if config.config_file_name is not None and shared_connection is None:
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata


def database_url() -> str:
    """Explicit ``sqlalchemy.url`` first, else the application's configuration."""
    url = config.get_main_option("sqlalchemy.url")
    if url:
        return url
    from server.config import load_config

    return load_config().storage.database_url


def run_migrations_offline() -> None:
    """Emit SQL to stdout (``alembic upgrade head --sql``)."""
    context.configure(
        url=database_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def do_run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_async_migrations() -> None:
    """CLI path: own engine (with the app's pragmas), foreign keys off while migrating."""
    engine = create_engine(database_url(), poolclass=pool.NullPool)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(run_migration_sync, do_run_migrations)
    finally:
        await engine.dispose()


def run_migrations_online() -> None:
    if shared_connection is not None:
        do_run_migrations(shared_connection)
    else:
        asyncio.run(run_async_migrations())


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
