"""The asyncpg pool, and the one place where "Postgres went away" becomes a domain error."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import cast

import asyncpg
import structlog
from pgvector.asyncpg import register_vector

from service.errors import DatabaseUnavailable, IncompatibleDatabase

log = structlog.get_logger(__name__)

# Errors that mean "the server is not reachable right now", as opposed to a bad query.
CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.ConnectionFailureError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.InterfaceError,
    asyncpg.exceptions.QueryCanceledError,
)

UNAVAILABLE_DETAIL = "The database is unreachable right now; retry shortly."


async def _init_connection(connection: asyncpg.Connection) -> None:
    await register_vector(connection)
    await connection.set_type_codec(
        "jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
    )


class Database:
    """Owns the pool; hands out connections and transactions with errors translated."""

    def __init__(self, dsn: str, *, min_size: int, max_size: int, timeout_s: float) -> None:
        self.dsn = dsn
        self._min_size = min_size
        self._max_size = max_size
        self.timeout_s = timeout_s
        self._pool: asyncpg.Pool | None = None

    async def open(self) -> None:
        self._pool = await asyncpg.create_pool(
            self.dsn,
            min_size=self._min_size,
            max_size=self._max_size,
            init=_init_connection,
            command_timeout=self.timeout_s,
            timeout=self.timeout_s,
        )

    async def close(self) -> None:
        if self._pool is not None:
            await asyncio.wait_for(self._pool.close(), timeout=self.timeout_s)
            self._pool = None

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("Database.open() was not awaited")
        return self._pool

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[asyncpg.Connection]:
        try:
            async with self.pool.acquire(timeout=self.timeout_s) as connection:
                # The pool's proxy forwards every Connection method; storage is typed for both.
                yield cast("asyncpg.Connection", connection)
        except CONNECTION_ERRORS as error:
            log.warning("database.unavailable", error=type(error).__name__)
            raise DatabaseUnavailable(UNAVAILABLE_DETAIL) from error

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[asyncpg.Connection]:
        """One transaction per logical write: everything inside commits or nothing does."""
        async with self.connection() as connection, connection.transaction():
            yield connection

    async def is_reachable(self) -> bool:
        try:
            async with self.connection() as connection:
                await connection.fetchval("SELECT 1")
        except DatabaseUnavailable:
            return False
        return True


async def check_pgvector_installed(dsn: str) -> None:
    """Fail start-up with an actionable message when the server lacks pgvector."""
    connection = await asyncpg.connect(dsn, timeout=10)
    try:
        available = await connection.fetchval(
            "SELECT default_version FROM pg_available_extensions WHERE name = 'vector'"
        )
    finally:
        await connection.close()
    if available is None:
        raise IncompatibleDatabase(
            "The Postgres server at DATABASE_URL does not have the pgvector extension "
            "('vector'). Install pgvector 0.8 or newer on the server (or use an image such as "
            "pgvector/pgvector or CloudNativePG with pgvector), then start again."
        )
