"""The record of which memories each ingested user message led to (per exact scope)."""

from __future__ import annotations

import uuid

import asyncpg

from service.models import Scope


async def record_ingested(
    connection: asyncpg.Connection,
    tenant_id: uuid.UUID,
    scope: Scope,
    message_hashes: list[bytes],
    memory_ids: list[uuid.UUID],
) -> None:
    """Remember that these messages led to these memories, with the memories' content hashes
    as stored now (read here, in the same transaction that wrote them)."""
    await connection.executemany(
        """
        INSERT INTO ingested_messages
            (tenant_id, scope_key, message_hash, memory_ids, memory_hashes)
        VALUES ($1, $2, $3, $4, ARRAY(
            SELECT m.content_hash
            FROM unnest($4::uuid[]) WITH ORDINALITY AS r(id, position)
            JOIN memories m ON m.id = r.id AND m.tenant_id = $1
            ORDER BY r.position
        ))
        ON CONFLICT (tenant_id, scope_key, message_hash) DO UPDATE
            SET memory_ids = EXCLUDED.memory_ids, memory_hashes = EXCLUDED.memory_hashes,
                ingested_at = now()
        """,
        [(tenant_id, scope.key, message_hash, memory_ids) for message_hash in message_hashes],
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
