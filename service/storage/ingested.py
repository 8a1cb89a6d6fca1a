"""The record of which memories each ingested user message led to (per exact scope)."""

from __future__ import annotations

import uuid

import asyncpg

from service.models import Memory, Scope


async def record_ingested(
    connection: asyncpg.Connection,
    tenant_id: uuid.UUID,
    scope: Scope,
    message_hashes: list[bytes],
    memories: list[tuple[Memory, bytes]],
) -> None:
    """Remember that these messages led to these memories (with their content hashes)."""
    await connection.executemany(
        """
        INSERT INTO ingested_messages
            (tenant_id, scope_key, message_hash, memory_ids, memory_hashes)
        VALUES ($1, $2, $3, $4, $5)
        ON CONFLICT (tenant_id, scope_key, message_hash) DO UPDATE
            SET memory_ids = EXCLUDED.memory_ids, memory_hashes = EXCLUDED.memory_hashes,
                ingested_at = now()
        """,
        [
            (
                tenant_id,
                scope.key,
                message_hash,
                [memory.id for memory, _ in memories],
                [content_hash for _, content_hash in memories],
            )
            for message_hash in message_hashes
        ],
    )


async def unchanged_results_of(
    connection: asyncpg.Connection, tenant_id: uuid.UUID, scope: Scope, message_hash: bytes
) -> list[uuid.UUID] | None:
    """The memories an earlier ingestion of this message led to, if all are still exactly as
    it left them; None when the message is new or any of them changed or was deleted since."""
    row = await connection.fetchrow(
        """
        SELECT i.memory_ids,
               (SELECT count(*) FROM unnest(i.memory_ids, i.memory_hashes) AS r(id, hash)
                JOIN memories m ON m.id = r.id AND m.tenant_id = i.tenant_id
                                AND m.content_hash = r.hash) AS still_there
        FROM ingested_messages i
        WHERE i.tenant_id = $1 AND i.scope_key = $2 AND i.message_hash = $3
        """,
        tenant_id,
        scope.key,
        message_hash,
    )
    if row is None or row["still_there"] != len(row["memory_ids"]):
        return None
    return list(row["memory_ids"])
