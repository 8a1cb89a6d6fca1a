"""Queries on feedback about memories. Callers own the transaction."""

from __future__ import annotations

import uuid

import asyncpg

from service.models import Feedback, FeedbackValue


async def insert_feedback(
    connection: asyncpg.Connection,
    tenant_id: uuid.UUID,
    memory_id: uuid.UUID,
    feedback: FeedbackValue | None,
    reason: str | None,
) -> Feedback:
    row = await connection.fetchrow(
        """
        INSERT INTO memory_feedback (tenant_id, memory_id, feedback, reason)
        VALUES ($1, $2, $3, $4)
        RETURNING id, memory_id, feedback, reason, created_at
        """,
        tenant_id,
        memory_id,
        feedback,
        reason,
    )
    assert row is not None  # noqa: S101  # INSERT ... RETURNING always returns the row
    return Feedback(
        id=row["id"],
        memory_id=row["memory_id"],
        feedback=row["feedback"],
        reason=row["reason"],
        created_at=row["created_at"],
    )
