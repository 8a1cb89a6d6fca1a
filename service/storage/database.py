"""The asyncpg pool, and the one place where "Postgres went away" becomes a domain error."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, TypeVar, cast

import asyncpg
import structlog
from pgvector.asyncpg import register_vector

from service import metrics
from service.consistency import ReplicaSkipped, note_write, parse_lsn
from service.consistency import current as current_consistency
from service.errors import (
    ConfigurationError,
    DatabaseUnavailable,
    IncompatibleDatabase,
    InvalidRequest,
)

if TYPE_CHECKING:
    from service.storage.replica import ReadReplica

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
    # A connection left mid-operation by an outage: "another operation is in progress".
    asyncpg.exceptions.InternalClientError,
)

# While a server starts, it refuses connections or says it is starting up.
_STARTUP_ERRORS: tuple[type[BaseException], ...] = (
    *CONNECTION_ERRORS,
    asyncpg.exceptions.InvalidCatalogNameError,
)

# A prepared statement gone (or there twice) between two transactions of one connection: a
# pooler in transaction mode that does not carry prepared statements (PgBouncer before 1.21).
_POOLER_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.exceptions.InvalidSQLStatementNameError,
    asyncpg.exceptions.DuplicatePreparedStatementError,
)
_POOLER_HINT = (
    "behind PgBouncer in transaction mode (before 1.21, or without max_prepared_statements) "
    "set MEMORY_DB_STATEMENT_CACHE_SIZE=0"
)
UNAVAILABLE_DETAIL = "The database is unreachable right now; retry shortly."
# How long a COMMIT whose answer was lost is watched for its outcome (10 x 0.1 s).
COMMIT_CHECKS = 10
COMMIT_CHECK_INTERVAL_S = 0.1

# Row-level security (migration 0007) shows a transaction only the rows of the tenant named in
# ``memory.tenant_id``; ``memory.all_tenants`` is for work that spans tenants by nature
# (authenticating a key, claiming the next job, purging). A superuser bypasses row-level
# security, so such a transaction switches to this role (created by the migration) first.
# All three are local to the transaction (``is_local`` true, i.e. SET LOCAL) and set inside it:
# behind a pooler in transaction mode (PgBouncer) consecutive transactions of one client run on
# different server connections, so a session-level setting would guard another client's
# statements, and ours would run with whatever tenant that server connection last named.
APP_ROLE = "memory_service_app"
_SELECT_TENANT = (
    "SELECT set_config('memory.tenant_id', $1, true), set_config('memory.all_tenants', $2, true)"
)
_SELECT_TENANT_AS_APP_ROLE = f"{_SELECT_TENANT}, set_config('role', '{APP_ROLE}', true)"


class AllTenants:
    """Says that a connection serves work spanning tenants (see ``ALL_TENANTS``)."""


ALL_TENANTS = AllTenants()
TenantSelector = uuid.UUID | AllTenants
T = TypeVar("T")
ReadOperation = Callable[[asyncpg.Connection], Awaitable[T]]


async def _init_connection(connection: asyncpg.Connection) -> None:
    await register_vector(connection)
    await connection.set_type_codec(
        "jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
    )


async def _keep_session(connection: asyncpg.Connection) -> None:
    """What a connection going back to the pool needs beyond asyncpg's own rollback of an
    open transaction: nothing. asyncpg's default sends ``RESET ALL``, ``CLOSE ALL``,
    ``UNLISTEN *`` and releases advisory locks: a round trip on every request for state this
    service never leaves in a session (settings are SET LOCAL, locks transaction-level, no
    cursor outlives its transaction, no LISTEN)."""


class Database:
    """Owns the pool; hands out connections and transactions with errors translated."""

    def __init__(
        self,
        dsn: str,
        *,
        min_size: int,
        max_size: int,
        timeout_s: float,
        statement_cache_size: int = 100,
    ) -> None:
        self.dsn = dsn
        self._min_size = min_size
        self.max_size = max_size
        self.timeout_s = timeout_s
        # 0 behind PgBouncer before 1.21 in transaction mode: a named prepared statement lives
        # on one server connection, and the next transaction may run on another.
        self._statement_cache_size = statement_cache_size
        self._pool: asyncpg.Pool | None = None
        self._select_tenant = _SELECT_TENANT
        self._replica: ReadReplica | None = None
        self._log_unavailable = True

    async def open(self, *, like: Database | None = None) -> None:
        """Connect. ``like``: a replica of that (open) primary, which may be down now: it
        connects on first use, selects tenants the way the primary does, and leaves logging
        its outages to the replica's own watch."""
        self._log_unavailable = like is None
        self._pool = await asyncpg.create_pool(
            self.dsn,
            min_size=self._min_size if like is None else 0,
            max_size=self.max_size,
            init=_init_connection,
            command_timeout=self.timeout_s,
            timeout=self.timeout_s,
            statement_cache_size=self._statement_cache_size,
            reset=_keep_session,
        )
        if like is not None:
            self._select_tenant = like._select_tenant
            return
        async with self._pool.acquire() as connection:
            self._select_tenant = await _tenant_selection_sql(
                cast("asyncpg.Connection", connection)
            )
        if self._replica is not None:
            await self._replica.open(self)

    async def close(self) -> None:
        if self._replica is not None:
            await self._replica.close()
        if self._pool is not None:
            await asyncio.wait_for(self._pool.close(), timeout=self.timeout_s)
            self._pool = None

    def attach_replica(self, replica: ReadReplica) -> None:
        """Serve ``read``s from ``replica`` while it keeps up (opened and closed with this)."""
        self._replica = replica

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("Database.open() was not awaited")
        return self._pool

    @asynccontextmanager
    async def connection(self, tenant: TenantSelector) -> AsyncIterator[asyncpg.Connection]:
        """A read-only transaction that sees ``tenant``'s rows only (or every tenant's:
        ALL_TENANTS). Writes go through ``transaction``."""
        async with self._tenant_transaction(tenant, readonly=True) as connection:
            yield connection

    async def read(self, tenant: TenantSelector, operation: ReadOperation[T]) -> T:
        """``operation`` in a read-only transaction of ``tenant``, on the read replica when one
        is attached and has replayed what the request's consistency token names (else, or
        when it fails, on the primary: a read is safe to run twice)."""
        consistency = current_consistency()
        after = consistency.read_after() if consistency is not None else None  # checks it
        if self._replica is not None:
            try:
                return await self._replica.serve(tenant, operation, after)
            except ReplicaSkipped as skipped:
                reason = skipped.reason
        else:
            reason = "no_replica"
        metrics.DB_READS.labels("primary", reason).inc()
        async with self.connection(tenant) as connection:
            return await operation(connection)

    async def wal_position(self) -> int:
        """Where the primary's WAL ends now: past every transaction committed before."""
        async with self.server_connection() as connection:
            position: str = await connection.fetchval("SELECT pg_current_wal_insert_lsn()::text")
        return parse_lsn(position)

    @asynccontextmanager
    async def server_connection(self) -> AsyncIterator[asyncpg.Connection]:
        """A pooled connection outside any tenant, for the server's state (WAL positions),
        never for rows; connection failures raise ``DatabaseUnavailable``."""
        try:
            async with self.pool.acquire(timeout=self.timeout_s) as connection:
                try:
                    # The pool's proxy forwards every Connection method; storage is typed for
                    # both.
                    yield cast("asyncpg.Connection", connection)
                except CONNECTION_ERRORS:
                    # Its state is unknown: the pool must open a fresh one instead of reusing it.
                    connection.terminate()
                    raise
        except CONNECTION_ERRORS as error:
            if self._log_unavailable:
                log.warning("database.unavailable", error=type(error).__name__)
            raise DatabaseUnavailable(UNAVAILABLE_DETAIL) from error
        except _POOLER_ERRORS as error:
            log.error(
                "database.prepared_statement_lost", error=type(error).__name__, hint=_POOLER_HINT
            )
            raise

    @asynccontextmanager
    async def _tenant_transaction(
        self, tenant: TenantSelector, *, readonly: bool
    ) -> AsyncIterator[asyncpg.Connection]:
        try:
            async with (
                self.server_connection() as connection,
                connection.transaction(readonly=readonly),
            ):
                every = isinstance(tenant, AllTenants)
                await connection.execute(
                    self._select_tenant, "" if every else str(tenant), "on" if every else "off"
                )
                yield connection
        except asyncpg.exceptions.DataError as error:
            # Values are always parameters, so this is a value Postgres cannot hold (e.g. a
            # NUL character in a text or in metadata): the client's input, not a fault here.
            raise InvalidRequest(f"a value in the request cannot be stored: {error}") from None

    @asynccontextmanager
    async def transaction(self, tenant: TenantSelector) -> AsyncIterator[asyncpg.Connection]:
        """One transaction per logical write: everything inside commits or nothing does.

        A COMMIT whose answer the connection lost (cut, reset) may have committed all the
        same. Answering 503 then would have the client retry a write that took effect (an
        add retried answers NONE instead of its ADD): so the transaction's id is read before
        COMMIT, and when the answer is lost another connection asks Postgres how it ended.
        """
        transaction_id: int | None = None
        try:
            async with self._tenant_transaction(tenant, readonly=False) as connection:
                yield connection
                transaction_id = await _transaction_id(connection)
        except DatabaseUnavailable:
            if transaction_id is None or not await self._committed(transaction_id):
                raise
            log.warning("database.commit_answer_lost", outcome="committed")
        note_write()  # the request's answer carries a consistency token

    async def _committed(self, transaction_id: int) -> bool:
        """Whether the transaction committed; False when it did not or cannot be told (yet)."""
        for _ in range(COMMIT_CHECKS):
            try:
                async with self.connection(ALL_TENANTS) as connection:
                    status = await connection.fetchval("SELECT txid_status($1)", transaction_id)
            except DatabaseUnavailable:
                return False
            if status != "in progress":  # the server may not have read the COMMIT yet
                return bool(status == "committed")
            await asyncio.sleep(COMMIT_CHECK_INTERVAL_S)
        return False

    def pool_usage(self) -> tuple[int, int, int]:
        """(connections in use, idle connections, maximum) of the pool."""
        if self._pool is None:
            return 0, 0, self.max_size
        idle = self._pool.get_idle_size()
        return self._pool.get_size() - idle, idle, self.max_size

    async def is_reachable(self) -> bool:
        try:
            async with self.connection(ALL_TENANTS) as connection:
                await connection.fetchval("SELECT 1")
        except DatabaseUnavailable:
            return False
        except _POOLER_ERRORS:
            return False
        return True


async def _transaction_id(connection: asyncpg.Connection) -> int | None:
    """The id of the open transaction; None when it wrote nothing (it has nothing to lose) or
    already failed (its COMMIT rolls back: nothing is lost either)."""
    try:
        transaction_id: int | None = await connection.fetchval("SELECT txid_current_if_assigned()")
    except asyncpg.exceptions.InFailedSQLTransactionError:
        return None
    return transaction_id


async def _tenant_selection_sql(connection: asyncpg.Connection) -> str:
    """How each connection selects its tenant; as the app role when we would bypass RLS."""
    bypasses = await connection.fetchval(
        "SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user"
    )
    if not bypasses:
        return _SELECT_TENANT
    role_exists = await connection.fetchval(
        "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)", APP_ROLE
    )
    if role_exists:
        return _SELECT_TENANT_AS_APP_ROLE
    log.warning(
        "database.rls_bypassed",
        reason=f"this database user bypasses row-level security and role {APP_ROLE} does not "
        "exist; connect as a user without SUPERUSER/BYPASSRLS, or run the migrations as one "
        "that may create roles",
    )
    return _SELECT_TENANT


async def wait_for_database(
    dsn: str, timeout_s: float, *, setting: str = "DATABASE_URL"
) -> asyncpg.Connection:
    """Connect, retrying with backoff while the server is not up yet (e.g. pods starting
    together); each wait is logged with the reason. Gives up after ``timeout_s``. Errors name
    ``setting``, where the URL came from."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    delay_s = 0.5
    while True:
        try:
            return await asyncpg.connect(dsn, timeout=10)
        except asyncpg.exceptions.InvalidAuthorizationSpecificationError:
            # Waiting will not fix a wrong user or password; say so at once (without either).
            raise ConfigurationError(
                f"the database refused the user or password in {setting}; check both"
            ) from None
        except (asyncpg.exceptions.ClientConfigurationError, ValueError):
            raise ConfigurationError(
                f"{setting} is not a valid Postgres URL "
                "(postgresql://user:password@host:port/database)"
            ) from None
        except _STARTUP_ERRORS as error:
            remaining_s = deadline - loop.time()
            if remaining_s <= 0:
                raise DatabaseUnavailable(
                    f"could not reach the database at {setting} within {timeout_s:.0f} s: "
                    f"{type(error).__name__}: {error}"
                ) from None
            log.warning(
                "database.waiting", reason=f"{type(error).__name__}: {error}", retry_in_s=delay_s
            )
            await asyncio.sleep(min(delay_s, remaining_s))
            delay_s = min(delay_s * 2, 10.0)


async def check_pgvector_installed(dsn: str, wait_s: float = 60.0) -> None:
    """Wait for the server, then fail start-up with an actionable message if it lacks pgvector."""
    connection = await wait_for_database(dsn, wait_s)
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
