"""Adding, reading, changing and forgetting memories, with a history of every change.

Embeddings are computed before a transaction opens, so no connection is held while the
model runs.
"""

from __future__ import annotations

import hashlib
import unicodedata
import uuid
from dataclasses import dataclass

from service.adapters.embedder import Embedder
from service.errors import InvalidRequest, NotFound
from service.models import (
    AddOutcome,
    FilterNode,
    HistoryEvent,
    Memory,
    Metadata,
    NewMemory,
    PageCursor,
    Scope,
)
from service.storage import memories as store
from service.storage.database import Database

CLIENT_ACTOR = "client"


def remembered_roles(infer: bool) -> tuple[str, ...]:
    """Which chat turns hold facts to keep. System prompts describe the assistant, not the
    user, so they never count; with infer only the user's own words are facts."""
    return ("user",) if infer else ("user", "assistant")


def normalise_text(text: str) -> str:
    """What "the same text" means for duplicates: Unicode-normalised, case and spacing folded."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def content_hash(text: str) -> bytes:
    return hashlib.sha256(normalise_text(text).encode()).digest()


@dataclass(frozen=True, slots=True)
class TextToAdd:
    text: str
    scope: Scope
    metadata: Metadata


@dataclass(frozen=True, slots=True)
class MemoryPage:
    memories: list[Memory]
    next_cursor: PageCursor | None


class MemoryService:
    def __init__(self, database: Database, embedder: Embedder, near_duplicate_similarity: float):
        self._database = database
        self._embedder = embedder
        self._near_duplicate_similarity = near_duplicate_similarity

    async def add(
        self, tenant_id: uuid.UUID, items: list[TextToAdd], *, skip_near_duplicates: bool
    ) -> list[AddOutcome]:
        """Store each text unless its scope already holds it, all in one transaction.

        Exact duplicates (same normalised text, same scope) are never stored twice. With
        ``skip_near_duplicates`` a text nearly identical in meaning to a stored one is not
        stored either; the outcome names the memory it matched.
        """
        if not items:
            return []
        vectors = await self._embedder.embed([item.text for item in items])
        outcomes: list[AddOutcome] = []
        async with self._database.transaction() as connection:
            await store.lock_scopes(connection, tenant_id, [item.scope for item in items])
            for item, vector in zip(items, vectors, strict=True):
                if skip_near_duplicates:
                    nearest = await store.nearest_in_exact_scope(
                        connection, tenant_id, item.scope, vector
                    )
                    if nearest and nearest[0].score >= self._near_duplicate_similarity:
                        outcomes.append(AddOutcome(nearest[0].memory, "NONE"))
                        continue
                new = NewMemory(
                    item.text.strip(), content_hash(item.text), vector, item.scope, item.metadata
                )
                memory, inserted = await store.insert_memory_unless_duplicate(
                    connection, tenant_id, new
                )
                if inserted:
                    await store.insert_history(
                        connection,
                        tenant_id,
                        memory.id,
                        "ADD",
                        old=None,
                        new=memory,
                        actor=CLIENT_ACTOR,
                    )
                outcomes.append(AddOutcome(memory, "ADD" if inserted else "NONE"))
        return outcomes

    async def get(self, tenant_id: uuid.UUID, memory_id: uuid.UUID) -> Memory:
        async with self._database.connection() as connection:
            memory = await store.find_memory(connection, tenant_id, memory_id)
        if memory is None:
            raise _not_found(memory_id)
        return memory

    async def list_page(
        self,
        tenant_id: uuid.UUID,
        scope: Scope,
        filters: FilterNode | None,
        limit: int,
        cursor: PageCursor | None,
    ) -> MemoryPage:
        async with self._database.connection() as connection:
            # One extra row tells whether another page exists without a count query.
            rows = await store.list_memories(
                connection, tenant_id, scope, filters, limit + 1, cursor
            )
        page = rows[:limit]
        has_more = len(rows) > limit
        next_cursor = PageCursor(page[-1].created_at, page[-1].id) if has_more else None
        return MemoryPage(page, next_cursor)

    async def update(
        self,
        tenant_id: uuid.UUID,
        memory_id: uuid.UUID,
        *,
        text: str | None,
        metadata: Metadata | None,
    ) -> Memory:
        """Replace the text (re-embedding it) and/or the metadata object; record history."""
        if text is None and metadata is None:
            raise InvalidRequest("give 'text' and/or 'metadata' to change")
        vector = await self._embedder.embed_one(text) if text is not None else None
        async with self._database.transaction() as connection:
            old = await store.find_memory(connection, tenant_id, memory_id, lock=True)
            if old is None:
                raise _not_found(memory_id)
            new_text = text.strip() if text is not None else old.text
            new = await store.update_memory(
                connection,
                tenant_id,
                memory_id,
                text=new_text,
                content_hash=content_hash(new_text),
                embedding=vector,
                metadata=metadata if metadata is not None else old.metadata,
            )
            await store.insert_history(
                connection, tenant_id, memory_id, "UPDATE", old=old, new=new, actor=CLIENT_ACTOR
            )
        return new

    async def delete(self, tenant_id: uuid.UUID, memory_id: uuid.UUID) -> None:
        async with self._database.transaction() as connection:
            old = await store.delete_memory(connection, tenant_id, memory_id)
            if old is None:
                raise _not_found(memory_id)
            await store.insert_history(
                connection, tenant_id, memory_id, "DELETE", old=old, new=None, actor=CLIENT_ACTOR
            )

    async def delete_scope(self, tenant_id: uuid.UUID, scope: Scope) -> int:
        if scope.is_empty:
            raise InvalidRequest(
                "refusing to delete without a scope: give user_id, agent_id and/or run_id"
            )
        async with self._database.transaction() as connection:
            return await store.delete_scope(connection, tenant_id, scope, CLIENT_ACTOR)

    async def history(self, tenant_id: uuid.UUID, memory_id: uuid.UUID) -> list[HistoryEvent]:
        async with self._database.connection() as connection:
            events = await store.list_history(connection, tenant_id, memory_id)
        if not events:
            raise _not_found(memory_id)
        return events


def _not_found(memory_id: uuid.UUID) -> NotFound:
    return NotFound(f"no memory with id {memory_id} exists for this API key")
