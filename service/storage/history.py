"""The change history of memories: one row per event, read back oldest first. Callers own
the transaction, so an event commits with the change it records."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import asyncpg

from service.models import HistoryEvent, Memory
from service.storage.filter_sql import LIVE


async def insert_history(
    connection: asyncpg.Connection,
    tenant_id: uuid.UUID,
    memory_id: uuid.UUID,
    event: str,
    *,
    old: Memory | None,
    new: Memory | None,
    actor: str,
    llm_model: str | None = None,
    prompt_version: str | None = None,
) -> None:
    memory = new or old
    assert memory is not None  # noqa: S101  # every event has a before or an after
    scope = memory.scope
    await connection.execute(
        """
        INSERT INTO memory_history
            (tenant_id, memory_id, event, old_content, new_content, old_metadata, new_metadata,
             actor, llm_model, prompt_version, user_id, agent_id, run_id)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
        """,
        tenant_id,
        memory_id,
        event,
        old.text if old else None,
        new.text if new else None,
        old.metadata if old else None,
        new.metadata if new else None,
        actor,
        llm_model,
        prompt_version,
        scope.user_id,
        scope.agent_id,
        scope.run_id,
    )


async def insert_added(
    connection: asyncpg.Connection, tenant_id: uuid.UUID, memories: Sequence[Memory], actor: str
) -> None:
    """One ADD event per memory, in one statement."""
    await connection.execute(
        """
        INSERT INTO memory_history
            (tenant_id, memory_id, event, new_content, new_metadata, actor,
             user_id, agent_id, run_id)
        SELECT $1, added.memory_id, 'ADD', added.content, added.metadata, $2,
               added.user_id, added.agent_id, added.run_id
        FROM unnest($3::uuid[], $4::text[], $5::jsonb[], $6::text[], $7::text[], $8::text[])
             WITH ORDINALITY
             AS added(memory_id, content, metadata, user_id, agent_id, run_id, position)
        ORDER BY added.position
        """,
        tenant_id,
        actor,
        [memory.id for memory in memories],
        [memory.text for memory in memories],
        [memory.metadata for memory in memories],
        [memory.scope.user_id for memory in memories],
        [memory.scope.agent_id for memory in memories],
        [memory.scope.run_id for memory in memories],
    )


async def list_history(
    connection: asyncpg.Connection, tenant_id: uuid.UUID, memory_id: uuid.UUID
) -> list[HistoryEvent]:
    rows = await connection.fetch(
        f"""
        SELECT id, memory_id, event, old_content, new_content, old_metadata, new_metadata,
               actor, created_at
        FROM memory_history
        WHERE tenant_id = $1 AND memory_id = $2
          AND NOT EXISTS (SELECT 1 FROM memories m  -- an expired memory shows nothing
                          WHERE m.tenant_id = $1 AND m.id = $2 AND NOT {LIVE})
        ORDER BY id
        """,
        tenant_id,
        memory_id,
    )
    return [
        HistoryEvent(
            id=row["id"],
            memory_id=row["memory_id"],
            event=row["event"],
            old_text=row["old_content"],
            new_text=row["new_content"],
            old_metadata=row["old_metadata"],
            new_metadata=row["new_metadata"],
            actor=row["actor"],
            created_at=row["created_at"],
        )
        for row in rows
    ]
