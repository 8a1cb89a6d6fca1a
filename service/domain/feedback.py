"""Feedback on recalled memories: stored as given, for tuning retrieval and for audits."""

from __future__ import annotations

import uuid

from service.errors import InvalidRequest, NotFound
from service.models import Feedback, FeedbackValue
from service.storage import feedback as feedback_store
from service.storage import memories as memory_store
from service.storage.database import Database

MAX_REASON_CHARS = 2000


class FeedbackService:
    def __init__(self, database: Database) -> None:
        self._database = database

    async def record(
        self,
        tenant_id: uuid.UUID,
        memory_id: uuid.UUID,
        feedback: FeedbackValue | None,
        reason: str | None,
    ) -> Feedback:
        """Keep one piece of feedback about a memory of this tenant."""
        if reason is not None and len(reason) > MAX_REASON_CHARS:
            raise InvalidRequest(f"feedback_reason is limited to {MAX_REASON_CHARS} characters")
        async with self._database.transaction(tenant_id) as connection:
            if await memory_store.find_memory(connection, tenant_id, memory_id) is None:
                raise NotFound(f"no memory with id {memory_id} exists for this API key")
            return await feedback_store.insert_feedback(
                connection, tenant_id, memory_id, feedback, reason
            )
