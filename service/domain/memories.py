"""Adding, reading, changing and forgetting memories, with a history of every change.

Embeddings are computed before a transaction opens, so no connection is held while the
model runs.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg

from service.domain.ports import TextEmbedder
from service.domain.texts import (
    check_memory_text,
    check_values_storable,
    normalise_text,
    require_scope,
)
from service.domain.times import check_storable
from service.errors import InvalidRequest, NotFound
from service.models import (
    AddOutcome,
    Entity,
    EntityKind,
    FilterNode,
    HistoryEvent,
    Memory,
    Metadata,
    NewMemory,
    PageCursor,
    Scope,
)
from service.storage import forgetting, vector_search
from service.storage import history as history_store
from service.storage import memories as store
from service.storage.database import Database

CLIENT_ACTOR = "client"
CLOCK_SKEW = timedelta(minutes=5)
MAX_PAGE_SIZE = 1000


async def store_unless_duplicate(
    connection: asyncpg.Connection, tenant_id: uuid.UUID, news: list[NewMemory], actor: str
) -> list[AddOutcome]:
    """Store every text its scope does not hold yet, each with an ADD event by ``actor``.

    The caller holds the scopes' locks. New texts go in in one statement, which is what
    makes batches fast; the few a scope already holds are then looked at one by one."""
    inserted_at_once = await store.insert_new_memories(connection, tenant_id, news)
    outcomes: list[AddOutcome] = []
    for new, inserted_memory in zip(news, inserted_at_once, strict=True):
        if inserted_memory is not None:
            outcomes.append(AddOutcome("ADD", inserted_memory))
            continue
        memory, inserted = await store.insert_memory_unless_duplicate(connection, tenant_id, new)
        outcomes.append(AddOutcome("ADD" if inserted else "NONE", memory))
    added = [outcome.memory for outcome in outcomes if outcome.event == "ADD"]
    if added:
        await history_store.insert_added(connection, tenant_id, added, actor)
    return outcomes


def content_hash(text: str) -> bytes:
    return hashlib.sha256(normalise_text(text).encode()).digest()


@dataclass(frozen=True, slots=True)
class TextToAdd:
    text: str
    scope: Scope
    metadata: Metadata
    expires_at: datetime | None = None
    created_at: datetime | None = None  # stored as created_at; None: now


class KeepExpiry:
    """A change that leaves the memory's expiry as it is."""


KEEP_EXPIRY = KeepExpiry()


def check_expiry(expires_at: datetime | None) -> None:
    check_storable("expires_at", expires_at)
    if expires_at is not None and expires_at <= datetime.now(UTC):
        raise InvalidRequest("expires_at must be in the future (a time with a timezone)")


def check_created_at(created_at: datetime | None) -> None:
    check_storable("created_at (or a message timestamp)", created_at)
    # A client clock a little ahead of ours is not an error; a date to come is.
    if created_at is not None and created_at > datetime.now(UTC) + CLOCK_SKEW:
        raise InvalidRequest(
            "created_at (or a message timestamp) must not be in the future: it says when the "
            "memory was told"
        )


@dataclass(frozen=True, slots=True)
class MemoryChange:
    """New text and/or metadata for one memory; ``None`` leaves that part as it is."""

    memory_id: uuid.UUID
    text: str | None
    metadata: Metadata | None
    expires_at: datetime | KeepExpiry | None = KEEP_EXPIRY

    @property
    def is_empty(self) -> bool:
        return self.text is None and self.metadata is None and self.expires_at is KEEP_EXPIRY


@dataclass(frozen=True, slots=True)
class NumberedPage:
    memories: list[Memory]
    total: int


@dataclass(frozen=True, slots=True)
class MemoryPage:
    memories: list[Memory]
    next_cursor: PageCursor | None


class MemoryService:
    def __init__(
        self,
        database: Database,
        embedder: TextEmbedder,
        *,
        near_duplicate_similarity: float,
        max_text_chars: int,
        max_items: int,
    ) -> None:
        self._max_text_chars = max_text_chars
        self._max_items = max_items
        self._database = database
        self._embedder = embedder
        self._near_duplicate_similarity = near_duplicate_similarity

    async def add(
        self,
        tenant_id: uuid.UUID,
        items: list[TextToAdd],
        *,
        skip_near_duplicates: bool,
        item_names: Sequence[str] | None = None,
    ) -> list[AddOutcome]:
        """Store each text unless its scope already holds it, all in one transaction.
        ``item_names``: how a refusal names each item ('' for none); ``items[i]`` by default,
        as in a batch.

        Exact duplicates (same normalised text, same scope) are never stored twice. With
        ``skip_near_duplicates`` a text nearly identical in meaning to a stored one is not
        stored either; the outcome names the memory it matched.
        """
        if not items or len(items) > self._max_items:
            raise InvalidRequest(f"a batch holds 1 to {self._max_items} items")
        for index, item in enumerate(items):
            try:
                require_scope(item.scope)
                check_memory_text(item.text, self._max_text_chars)
                check_values_storable(item.metadata, "metadata")
                check_expiry(item.expires_at)
                check_created_at(item.created_at)
            except InvalidRequest as error:
                name = f"items[{index}]" if item_names is None else item_names[index]
                raise InvalidRequest(f"{name}: {error.detail}" if name else error.detail) from None
        vectors = await self._embedder.embed([item.text for item in items])
        news = [
            NewMemory(
                item.text.strip(),
                content_hash(item.text),
                vector,
                item.scope,
                item.metadata,
                item.expires_at,
                item.created_at,
            )
            for item, vector in zip(items, vectors, strict=True)
        ]
        async with self._database.transaction(tenant_id) as connection:
            await store.lock_scopes(connection, tenant_id, [item.scope for item in items])
            if skip_near_duplicates:
                return await self._add_unless_near_duplicate(connection, tenant_id, news)
            return await store_unless_duplicate(connection, tenant_id, news, CLIENT_ACTOR)

    async def _add_unless_near_duplicate(
        self, connection: asyncpg.Connection, tenant_id: uuid.UUID, news: list[NewMemory]
    ) -> list[AddOutcome]:
        # One by one: a text may nearly repeat one added earlier in the same batch.
        outcomes: list[AddOutcome] = []
        for new in news:
            nearest = await vector_search.nearest_in_exact_scope(
                connection, tenant_id, new.scope, new.embedding
            )
            if nearest and nearest[0].similarity >= self._near_duplicate_similarity:
                outcomes.append(AddOutcome("NONE", nearest[0].memory))
                continue
            outcomes += await store_unless_duplicate(connection, tenant_id, [new], CLIENT_ACTOR)
        return outcomes

    async def get(self, tenant_id: uuid.UUID, memory_id: uuid.UUID) -> Memory:
        memory = await self._database.read(
            tenant_id, lambda connection: store.find_memory(connection, tenant_id, memory_id)
        )
        if memory is None:
            raise memory_not_found(memory_id)
        return memory

    async def list_page(
        self,
        tenant_id: uuid.UUID,
        scope: Scope,
        filters: FilterNode | None,
        limit: int,
        cursor: PageCursor | None,
    ) -> MemoryPage:
        # One extra row tells whether another page exists without a count query.
        rows = await self._database.read(
            tenant_id,
            lambda connection: store.list_memories(
                connection, tenant_id, scope, filters, limit + 1, cursor
            ),
        )
        page = rows[:limit]
        has_more = len(rows) > limit
        next_cursor = PageCursor(page[-1].created_at, page[-1].id) if has_more else None
        return MemoryPage(page, next_cursor)

    async def list_numbered_page(
        self,
        tenant_id: uuid.UUID,
        scope: Scope,
        filters: FilterNode | None,
        page: int,
        page_size: int,
    ) -> NumberedPage:
        """Page ``page`` (from 1) of the matching memories, newest first, and the total.

        Offsets shift when memories are added meanwhile; the cursor listing does not.
        """
        if page < 1 or not 1 <= page_size <= MAX_PAGE_SIZE:
            raise InvalidRequest(f"page starts at 1 and page_size is 1 to {MAX_PAGE_SIZE}")
        memories, total = await self._database.read(
            tenant_id,
            lambda connection: store.list_memories_at(
                connection, tenant_id, scope, filters, page_size, (page - 1) * page_size
            ),
        )
        return NumberedPage(memories, total)

    async def entities(self, tenant_id: uuid.UUID) -> list[Entity]:
        return await self._database.read(
            tenant_id, lambda connection: store.list_entities(connection, tenant_id)
        )

    async def delete_entity(self, tenant_id: uuid.UUID, kind: EntityKind, name: str) -> int:
        """Forget one user, agent or run: every memory carrying that id.

        Deleting an entity with no memories left is not an error: an agent's memories may
        have gone with their user a moment before (this is how Mem0's ``reset`` proceeds).
        """
        return await self.delete_scope(tenant_id, Scope.of_entity(kind, name))

    async def update(
        self,
        tenant_id: uuid.UUID,
        memory_id: uuid.UUID,
        *,
        text: str | None,
        metadata: Metadata | None,
        expires_at: datetime | KeepExpiry | None = KEEP_EXPIRY,
    ) -> Memory:
        """Replace the text (re-embedding it), the metadata object and/or the expiry; record
        history."""
        change = MemoryChange(memory_id, text, metadata, expires_at)
        [memory] = await self.update_many(tenant_id, [change])
        return memory

    async def update_many(self, tenant_id: uuid.UUID, changes: list[MemoryChange]) -> list[Memory]:
        """Apply every change or none (one transaction); a missing id fails the whole batch."""
        for change in changes:
            if change.is_empty:
                raise InvalidRequest(
                    f"memory {change.memory_id}: give 'text', 'metadata' and/or 'expires_at'"
                )
            if change.text is not None:
                check_memory_text(change.text, self._max_text_chars)
            if change.metadata is not None:
                check_values_storable(change.metadata, "metadata")
            if not isinstance(change.expires_at, KeepExpiry):
                check_expiry(change.expires_at)
        if len({change.memory_id for change in changes}) != len(changes):
            raise InvalidRequest("a memory id appears more than once in the batch")
        texts = [change.text for change in changes if change.text is not None]
        vectors = iter(await self._embedder.embed(texts) if texts else [])
        embeddings = [next(vectors) if change.text is not None else None for change in changes]
        updated: dict[uuid.UUID, Memory] = {}
        async with self._database.transaction(tenant_id) as connection:
            # Locking in id order keeps two overlapping batches from deadlocking.
            for change, vector in sorted(
                zip(changes, embeddings, strict=True), key=lambda pair: pair[0].memory_id
            ):
                old = await store.find_memory(connection, tenant_id, change.memory_id, lock=True)
                if old is None:
                    raise memory_not_found(change.memory_id)
                new_text = change.text.strip() if change.text is not None else old.text
                new = await store.update_memory(
                    connection,
                    tenant_id,
                    change.memory_id,
                    text=new_text,
                    content_hash=content_hash(new_text),
                    embedding=vector,
                    metadata=change.metadata if change.metadata is not None else old.metadata,
                    expires_at=(
                        old.expires_at
                        if isinstance(change.expires_at, KeepExpiry)
                        else change.expires_at
                    ),
                )
                await history_store.insert_history(
                    connection,
                    tenant_id,
                    change.memory_id,
                    "UPDATE",
                    old=old,
                    new=new,
                    actor=CLIENT_ACTOR,
                )
                updated[new.id] = new
        return [updated[change.memory_id] for change in changes]

    async def delete(self, tenant_id: uuid.UUID, memory_id: uuid.UUID) -> None:
        await self.delete_many(tenant_id, [memory_id])

    async def delete_many(self, tenant_id: uuid.UUID, memory_ids: list[uuid.UUID]) -> None:
        """Delete every memory or none (one transaction); a missing id fails the whole batch."""
        if len(set(memory_ids)) != len(memory_ids):
            raise InvalidRequest("a memory id appears more than once in the batch")
        async with self._database.transaction(tenant_id) as connection:
            for memory_id in sorted(memory_ids):
                old = await store.delete_memory(connection, tenant_id, memory_id)
                if old is None:
                    raise memory_not_found(memory_id)
                await history_store.insert_history(
                    connection,
                    tenant_id,
                    memory_id,
                    "DELETE",
                    old=old,
                    new=None,
                    actor=CLIENT_ACTOR,
                )

    async def delete_scope(self, tenant_id: uuid.UUID, scope: Scope) -> int:
        if scope.is_empty:
            raise InvalidRequest(
                "refusing to delete without a scope: give user_id, agent_id and/or run_id"
            )
        async with self._database.transaction(tenant_id) as connection:
            return await forgetting.delete_scope(connection, tenant_id, scope)

    async def history(self, tenant_id: uuid.UUID, memory_id: uuid.UUID) -> list[HistoryEvent]:
        events = await self._database.read(
            tenant_id,
            lambda connection: history_store.list_history(connection, tenant_id, memory_id),
        )
        if not events:
            raise memory_not_found(memory_id)
        return events


def memory_not_found(memory_id: uuid.UUID) -> NotFound:
    return NotFound(f"no memory with id {memory_id} exists for this API key")
