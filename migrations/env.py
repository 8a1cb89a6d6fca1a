"""Alembic environment: hand-written SQL migrations applied over asyncpg.

`memory-service migrate` and `serve` (embedded mode) pass the connection string and the
embedding dimensions in ``config.attributes``. A session-level advisory lock makes replicas
that migrate at the same moment take turns instead of racing.
"""

import asyncio

import asyncpg
from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

MIGRATION_LOCK_ID = 7_355_608_001  # any constant shared by every replica

config = context.config


def _run(connection: Connection) -> None:
    connection.execute(text(f"SELECT pg_advisory_lock({MIGRATION_LOCK_ID})"))
    # The lock is the session's; ending the transaction that took it lets each migration run
    # in its own, and one that must run outside any (CREATE INDEX CONCURRENTLY) do so.
    connection.commit()
    try:
        context.configure(connection=connection, transaction_per_migration=True)
        with context.begin_transaction():
            context.run_migrations()
    finally:
        connection.execute(text(f"SELECT pg_advisory_unlock({MIGRATION_LOCK_ID})"))
        connection.commit()


async def _run_online() -> None:
    dsn = config.attributes["dsn"]
    engine = create_async_engine(
        "postgresql+asyncpg://",
        async_creator=lambda: asyncpg.connect(dsn),
        poolclass=NullPool,
    )
    async with engine.connect() as connection:
        await connection.run_sync(_run)
    await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) mode is not supported; run `memory-service migrate`")
asyncio.run(_run_online())
