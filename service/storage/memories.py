"""Queries on memories (their history: storage/history.py). Callers own the transaction."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import asyncpg
from pgvector import Vector as PgVector

from service.errors import Conflict
from service.models import (
    EARLIEST_TIME,
    LATEST_TIME,
    Entity,
    FilterNode,
    Memory,
    Metadata,
    NewMemory,
    PageCursor,
    Scope,
    Vector,
)
from service.storage.filter_sql import (
    LIVE,
    SqlParameters,
    filter_condition,
    scope_condition,
)

COLUMNS = (
    "id, content, user_id, agent_id, run_id, metadata, created_at, updated_at, expires_at, "
    "categories"
)


def time_from_db(value: datetime) -> datetime:
    """A stored time, always with a timezone and within the range of stored times.

    Rows written before times were bounded may hold ``-infinity`` or ``infinity``, which
    asyncpg reads as naive ``datetime.min`` / ``datetime.max``: they are read as the first and
    last instants of the range, so that no comparison ever meets a naive time.
    """
    if value.tzinfo is not None:
        return value
    if value == datetime.min:
        return EARLIEST_TIME
    if value == datetime.max:
        return LATEST_TIME - timedelta(microseconds=1)
    return value.replace(tzinfo=UTC)


def expiry_from_db(value: datetime | None) -> datetime | None:
    """A stored expiry; ``infinity`` (written before times were bounded) means never."""
    if value is None or value == datetime.max:
        return None
    return time_from_db(value)


def memory_from_row(row: asyncpg.Record) -> Memory:
    return Memory(
        id=row["id"],
        text=row["content"],
        scope=Scope(row["user_id"], row["agent_id"], row["run_id"]),
        metadata=row["metadata"],
        created_at=time_from_db(row["created_at"]),
        updated_at=time_from_db(row["updated_at"]),
        expires_at=expiry_from_db(row["expires_at"]),
        categories=tuple(row["categories"]),
    )


async def insert_memory_unless_duplicate(
    connection: asyncpg.Connection, tenant_id: uuid.UUID, new: NewMemory
) -> tuple[Memory, bool]:
    """Insert, or return the memory with the same text in the same exact scope.

    The boolean says whether a row was inserted.
    """
    row = await _insert_unless_conflict(connection, tenant_id, new)
    if row is not None:
        return memory_from_row(row), True
    existing = await connection.fetchrow(
        f"""
        SELECT {COLUMNS}, {LIVE} AS live FROM memories
        WHERE tenant_id = $1 AND user_id IS NOT DISTINCT FROM $2
          AND agent_id IS NOT DISTINCT FROM $3 AND run_id IS NOT DISTINCT FROM $4
          AND content_hash = $5
        """,
        tenant_id,
        new.scope.user_id,
        new.scope.agent_id,
        new.scope.run_id,
        new.content_hash,
    )
    if existing is None:
        # The row that blocked the insert is gone from our snapshot: its transaction was cut
        # off (seen while Postgres restarted). Nothing was stored; the client may retry.
        raise Conflict("the same text was being stored at the same moment; retry the request")
    if existing["live"]:
        return memory_from_row(existing), False
    # An expired copy of the text blocks the insert: it is purged now rather than later.
    await connection.execute(
        """
        WITH gone AS (DELETE FROM memories WHERE tenant_id = $1 AND id = $2 RETURNING id)
        DELETE FROM memory_history WHERE tenant_id = $1 AND memory_id IN (SELECT id FROM gone)
        """,
        tenant_id,
        existing["id"],
    )
    row = await _insert_unless_conflict(connection, tenant_id, new)
    assert row is not None  # noqa: S101  # the scope is locked by the caller
    return memory_from_row(row), True


async def insert_new_memories(
    connection: asyncpg.Connection, tenant_id: uuid.UUID, news: Sequence[NewMemory]
) -> list[Memory | None]:
    """Insert, in one statement, every text its exact scope does not hold yet.

    Per item, in order: the inserted memory, or None where nothing was inserted because the
    scope holds the text (live or expired) or an earlier item of ``news`` does. Those are for
    ``insert_memory_unless_duplicate``, which tells the cases apart.
    """
    rows = await connection.fetch(
        f"""
        INSERT INTO memories (tenant_id, user_id, agent_id, run_id, content, content_hash,
                              embedding, metadata, expires_at, created_at, updated_at,
                              categories)
        SELECT $1, item.user_id, item.agent_id, item.run_id, item.content, item.content_hash,
               item.embedding, item.metadata, item.expires_at,
               coalesce(item.created_at, now()), coalesce(item.created_at, now()),
               -- unnest cannot yield arrays of arrays: each list travels as JSON text.
               ARRAY(SELECT jsonb_array_elements_text(item.categories::jsonb))
        FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::bytea[], $7::vector[],
                    $8::jsonb[], $9::timestamptz[], $10::timestamptz[], $11::text[])
             WITH ORDINALITY
             AS item(user_id, agent_id, run_id, content, content_hash, embedding, metadata,
                     expires_at, created_at, categories, position)
        ORDER BY item.position
        ON CONFLICT DO NOTHING
        RETURNING {COLUMNS}, content_hash
        """,
        tenant_id,
        [new.scope.user_id for new in news],
        [new.scope.agent_id for new in news],
        [new.scope.run_id for new in news],
        [new.text for new in news],
        [new.content_hash for new in news],
        # Wrapped: asyncpg would read a bare ndarray in an array as a nested array.
        [PgVector(new.embedding) for new in news],
        [new.metadata for new in news],
        [new.expires_at for new in news],
        [new.created_at for new in news],
        [json.dumps(list(new.categories)) for new in news],
    )
    inserted = {
        (row["user_id"], row["agent_id"], row["run_id"], row["content_hash"]): memory_from_row(row)
        for row in rows
    }
    # Within one batch the first of equal texts is the one inserted (rows go in in order);
    # popping gives it the memory and leaves the later ones None.
    return [
        inserted.pop(
            (new.scope.user_id, new.scope.agent_id, new.scope.run_id, new.content_hash), None
        )
        for new in news
    ]


async def _insert_unless_conflict(
    connection: asyncpg.Connection, tenant_id: uuid.UUID, new: NewMemory
) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await connection.fetchrow(
        f"""
        INSERT INTO memories (tenant_id, user_id, agent_id, run_id, content, content_hash,
                              embedding, metadata, expires_at, created_at, updated_at,
                              categories)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, coalesce($10, now()), coalesce($10, now()),
                $11)
        ON CONFLICT DO NOTHING
        RETURNING {COLUMNS}
        """,
        tenant_id,
        new.scope.user_id,
        new.scope.agent_id,
        new.scope.run_id,
        new.text,
        new.content_hash,
        new.embedding,
        new.metadata,
        new.expires_at,
        new.created_at,
        list(new.categories),
    )
    return row


async def find_memory(
    connection: asyncpg.Connection,
    tenant_id: uuid.UUID,
    memory_id: uuid.UUID,
    *,
    lock: bool = False,
) -> Memory | None:
    suffix = " FOR UPDATE" if lock else ""
    row = await connection.fetchrow(
        f"SELECT {COLUMNS} FROM memories WHERE tenant_id = $1 AND id = $2 AND {LIVE}{suffix}",
        tenant_id,
        memory_id,
    )
    return memory_from_row(row) if row else None


async def find_memories(
    connection: asyncpg.Connection, tenant_id: uuid.UUID, memory_ids: list[uuid.UUID]
) -> dict[uuid.UUID, Memory]:
    """The live memories among ``memory_ids``, by id (one deleted meanwhile is absent)."""
    # Joined from the ids, the plan is one primary-key lookup per id; `id = ANY($2)` let the
    # planner, on a table not yet analysed, also scan the whole tenant.
    rows = await connection.fetch(
        f"SELECT {COLUMNS} FROM unnest($2::uuid[]) AS wanted(id) JOIN memories USING (id) "
        f"WHERE tenant_id = $1 AND {LIVE}",
        tenant_id,
        memory_ids,
    )
    return {row["id"]: memory_from_row(row) for row in rows}


async def list_memories(
    connection: asyncpg.Connection,
    tenant_id: uuid.UUID,
    scope: Scope,
    filters: FilterNode | None,
    limit: int,
    after: PageCursor | None,
) -> list[Memory]:
    """Newest first; ``(created_at, id)`` makes the order total, so pages never skip or repeat."""
    params = SqlParameters(tenant_id)
    where = [scope_condition(scope, params), filter_condition(filters, params)]
    if after is not None:
        where.append(f"(created_at, id) < ({params.add(after.created_at)}, {params.add(after.id)})")
    rows = await connection.fetch(
        f"""
        SELECT {COLUMNS} FROM memories WHERE {" AND ".join(where)}
        ORDER BY created_at DESC, id DESC LIMIT {params.add(limit)}
        """,
        *params.values,
    )
    return [memory_from_row(row) for row in rows]


async def list_memories_at(
    connection: asyncpg.Connection,
    tenant_id: uuid.UUID,
    scope: Scope,
    filters: FilterNode | None,
    limit: int,
    offset: int,
) -> tuple[list[Memory], int]:
    """One numbered page, newest first, and how many memories match in all."""
    params = SqlParameters(tenant_id)
    where = " AND ".join([scope_condition(scope, params), filter_condition(filters, params)])
    total: int = await connection.fetchval(
        f"SELECT count(*) FROM memories WHERE {where}", *params.values
    )
    rows = await connection.fetch(
        f"""
        SELECT {COLUMNS} FROM memories WHERE {where}
        ORDER BY created_at DESC, id DESC LIMIT {params.add(limit)} OFFSET {params.add(offset)}
        """,
        *params.values,
    )
    return [memory_from_row(row) for row in rows], total


async def list_entities(connection: asyncpg.Connection, tenant_id: uuid.UUID) -> list[Entity]:
    """Every user, agent and run id that has memories, with how many and since when."""
    rows = await connection.fetch(
        f"""
        SELECT kind, name, count(*) AS memories, min(created_at) AS first_created,
               max(updated_at) AS last_updated
        FROM memories,
             LATERAL (VALUES ('user', user_id), ('agent', agent_id), ('run', run_id))
                 AS ids (kind, name)
        WHERE tenant_id = $1 AND name IS NOT NULL AND {LIVE}
        GROUP BY kind, name
        ORDER BY kind, name
        """,
        tenant_id,
    )
    return [
        Entity(
            kind=row["kind"],
            name=row["name"],
            memory_count=row["memories"],
            created_at=time_from_db(row["first_created"]),
            updated_at=time_from_db(row["last_updated"]),
        )
        for row in rows
    ]


async def scope_with_embeddings(
    connection: asyncpg.Connection,
    tenant_id: uuid.UUID,
    scope: Scope,
    limit: int,
    after: PageCursor | None,
) -> list[tuple[Memory, Vector]]:
    """One batch of a scope's memories with their vectors, oldest first (for exports)."""
    params = SqlParameters(tenant_id)
    where = [scope_condition(scope, params)]
    if after is not None:
        where.append(f"(created_at, id) > ({params.add(after.created_at)}, {params.add(after.id)})")
    rows = await connection.fetch(
        f"""
        SELECT {COLUMNS}, embedding FROM memories WHERE {" AND ".join(where)}
        ORDER BY created_at, id LIMIT {params.add(limit)}
        """,
        *params.values,
    )
    # pgvector's codec hands back its own Vector type.
    return [(memory_from_row(row), row["embedding"].to_numpy()) for row in rows]


async def update_memory(
    connection: asyncpg.Connection,
    tenant_id: uuid.UUID,
    memory_id: uuid.UUID,
    *,
    text: str,
    content_hash: bytes,
    embedding: Vector | None,
    metadata: Metadata,
    expires_at: datetime | None,
    categories: Sequence[str] | None = None,
) -> Memory:
    """Overwrite text, metadata and expiry; ``embedding=None`` keeps the stored vector and
    ``categories=None`` the stored categories."""
    try:
        row = await connection.fetchrow(
            f"""
            UPDATE memories SET content = $3, content_hash = $4,
                embedding = coalesce($5, embedding), metadata = $6, expires_at = $7,
                categories = coalesce($8, categories), updated_at = now()
            WHERE tenant_id = $1 AND id = $2
            RETURNING {COLUMNS}
            """,
            tenant_id,
            memory_id,
            text,
            content_hash,
            embedding,
            metadata,
            expires_at,
            list(categories) if categories is not None else None,
        )
    except asyncpg.UniqueViolationError:
        raise Conflict(
            "another memory in the same scope already has this text; delete one of them instead"
        ) from None
    assert row is not None  # noqa: S101  # callers lock the row first
    return memory_from_row(row)


async def delete_memory(
    connection: asyncpg.Connection, tenant_id: uuid.UUID, memory_id: uuid.UUID
) -> Memory | None:
    row = await connection.fetchrow(
        f"DELETE FROM memories WHERE tenant_id = $1 AND id = $2 AND {LIVE} RETURNING {COLUMNS}",
        tenant_id,
        memory_id,
    )
    return memory_from_row(row) if row else None


async def lock_scopes(
    connection: asyncpg.Connection, tenant_id: uuid.UUID, scopes: list[Scope]
) -> None:
    """Serialise writers per exact scope until the transaction ends; other scopes go on.

    Locks are taken in a fixed order so two batches touching the same scopes cannot deadlock.
    """
    keys = sorted({f"{tenant_id}{scope.key}" for scope in scopes})
    for key in keys:
        await connection.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", key)
