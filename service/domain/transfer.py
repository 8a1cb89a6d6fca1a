"""Moving a scope's memories out and in as JSON Lines.

An export starts with a header naming the vector space (embedding model, dimensions, weights'
precision, document prompt), then one line per memory with its vector. An import reuses the
vectors when they are in the space this service runs, and embeds the texts again otherwise
(vectors of two spaces are not comparable). Imports keep each memory's original creation
time and skip texts the scope already holds; they are one transaction: a bad line imports
nothing.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import msgspec
import numpy as np

from service.domain.guidance import check_memory_categories
from service.domain.json_depth import check_json_depth
from service.domain.memories import check_created_at, content_hash, store_unless_duplicate
from service.domain.ports import TextEmbedder
from service.domain.texts import check_memory_text, check_values_storable, require_scope
from service.domain.times import check_storable
from service.errors import InvalidRequest
from service.models import (
    Memory,
    NewMemory,
    PageCursor,
    Scope,
    Vector,
    VectorSpace,
    VectorWeights,
)
from service.storage import memories as store
from service.storage.database import Database

FORMAT = "memory-service.export/1"
ACTOR = "import"
BATCH = 500


class ExportHeader(msgspec.Struct, forbid_unknown_fields=True):
    format: str
    embedding_model: str
    dimensions: int
    exported_at: datetime
    # Exports made before these were written came from float weights and no prompt.
    weights: VectorWeights = "float"
    document_prompt: str = ""
    type: str = "header"

    @property
    def vector_space(self) -> VectorSpace:
        return VectorSpace(
            self.embedding_model, self.dimensions, self.weights, self.document_prompt
        )


class ExportedMemory(msgspec.Struct, forbid_unknown_fields=True):
    text: str
    user_id: str | None = None
    agent_id: str | None = None
    run_id: str | None = None
    metadata: dict[str, Any] = msgspec.field(default_factory=dict)
    created_at: datetime | None = None
    updated_at: datetime | None = None
    expires_at: datetime | None = None
    embedding: list[float] | None = None
    type: str = "memory"
    # Written only when a memory has some, so that releases before categories read the rest.
    categories: list[str] | msgspec.UnsetType = msgspec.UNSET


@dataclass(frozen=True, slots=True)
class ImportOutcome:
    imported: int
    already_present: int
    expired: int  # expired since the export: not imported
    re_embedded: bool


class TransferService:
    def __init__(self, database: Database, embedder: TextEmbedder, max_text_chars: int) -> None:
        self._database = database
        self._embedder = embedder
        self._max_text_chars = max_text_chars
        self._encoder = msgspec.json.Encoder()

    async def export(self, tenant_id: uuid.UUID, scope: Scope) -> AsyncIterator[bytes]:
        """The export as JSON lines, read in batches (any scope size fits). The first batch is
        read before this returns, so that a bad request fails before anything is sent."""
        if scope.is_empty:
            raise InvalidRequest("give user_id, agent_id and/or run_id to export")
        first = await self._batch(tenant_id, scope, None)
        return self._lines(tenant_id, scope, first)

    async def _lines(
        self, tenant_id: uuid.UUID, scope: Scope, batch: list[tuple[Memory, Vector]]
    ) -> AsyncIterator[bytes]:
        space = self._embedder.vector_space
        header = ExportHeader(
            format=FORMAT,
            embedding_model=space.model,
            dimensions=space.dimensions,
            exported_at=datetime.now(UTC),
            weights=space.weights,
            document_prompt=space.document_prompt,
        )
        yield self._encoder.encode(header) + b"\n"
        while True:
            for memory, vector in batch:
                yield self._encoder.encode(_exported(memory, vector)) + b"\n"
            if len(batch) < BATCH:
                return
            last = batch[-1][0]
            batch = await self._batch(tenant_id, scope, PageCursor(last.created_at, last.id))

    async def _batch(
        self, tenant_id: uuid.UUID, scope: Scope, after: PageCursor | None
    ) -> list[tuple[Memory, Vector]]:
        async with self._database.connection(tenant_id) as connection:
            return await store.scope_with_embeddings(connection, tenant_id, scope, BATCH, after)

    async def import_lines(self, tenant_id: uuid.UUID, body: bytes) -> ImportOutcome:
        header, lines = self._parse(body)
        now = datetime.now(UTC)
        items = [item for item in lines if not _expired(item, now)]
        reuse = header.vector_space == self._embedder.vector_space and all(
            item.embedding is not None for item in items
        )
        if reuse:
            vectors = [np.asarray(item.embedding, dtype=np.float32) for item in items]
        else:
            vectors = await self._embedder.embed([item.text for item in items]) if items else []
        news = [_new_memory(item, vector) for item, vector in zip(items, vectors, strict=True)]
        async with self._database.transaction(tenant_id) as connection:
            await store.lock_scopes(connection, tenant_id, [new.scope for new in news])
            outcomes = await store_unless_duplicate(connection, tenant_id, news, ACTOR)
        imported = sum(outcome.event == "ADD" for outcome in outcomes)
        return ImportOutcome(imported, len(items) - imported, len(lines) - len(items), not reuse)

    def _parse(self, body: bytes) -> tuple[ExportHeader, list[ExportedMemory]]:
        lines = [line for line in body.splitlines() if line.strip()]
        if not lines:
            raise InvalidRequest("the import is empty: send an export (JSON Lines)")
        for number, line in enumerate(lines, start=1):
            check_json_depth(line, f"line {number}")  # before the parser recurses that deep
        try:
            header = msgspec.json.decode(lines[0], type=ExportHeader)
        except (msgspec.ValidationError, msgspec.DecodeError) as error:
            raise InvalidRequest(f"line 1 is not an export header: {error}") from None
        if header.format != FORMAT:
            raise InvalidRequest(f"unknown export format {header.format!r}; expected {FORMAT!r}")
        items = []
        for number, line in enumerate(lines[1:], start=2):
            try:
                item = msgspec.json.decode(line, type=ExportedMemory)
                require_scope(_scope(item))
                check_memory_text(item.text, self._max_text_chars)
                check_values_storable(item.metadata, "metadata")
                check_created_at(item.created_at)
                check_storable("expires_at", item.expires_at)
                check_memory_categories(_categories(item))
                if item.embedding is not None:
                    _check_vector(item.embedding, header.dimensions)
            except (msgspec.ValidationError, msgspec.DecodeError, InvalidRequest) as error:
                detail = error.detail if isinstance(error, InvalidRequest) else str(error)
                raise InvalidRequest(f"line {number}: {detail}") from None
            items.append(item)
        return header, items


def _check_vector(values: list[float], dimensions: int) -> None:
    """A vector the index can compare: ``dimensions`` finite numbers whose length is neither
    zero nor too large to compute in float32, as pgvector computes it (a zero vector has no
    cosine and scored null; components of 1e38 overflowed to NaN distances)."""
    if len(values) != dimensions:
        raise InvalidRequest(f"the embedding does not have {dimensions} values")
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        vector = np.asarray(values, dtype=np.float32)
        squared_length = float(np.dot(vector, vector))
    if not (np.isfinite(vector).all() and 0.0 < squared_length < math.inf):
        raise InvalidRequest(
            "the embedding must be finite numbers, not all zero, of a length float32 can hold "
            "(as exported: unit length); export the memory again or leave 'embedding' out to "
            "have the text embedded"
        )


def _scope(item: ExportedMemory) -> Scope:
    return Scope(item.user_id, item.agent_id, item.run_id)


def _categories(item: ExportedMemory) -> list[str]:
    return [] if isinstance(item.categories, msgspec.UnsetType) else item.categories


def _new_memory(item: ExportedMemory, vector: Vector) -> NewMemory:
    return NewMemory(
        item.text.strip(),
        content_hash(item.text),
        vector,
        _scope(item),
        item.metadata,
        item.expires_at,
        item.created_at,
        tuple(_categories(item)),
    )


def _expired(item: ExportedMemory, now: datetime) -> bool:
    return item.expires_at is not None and item.expires_at <= now


def _exported(memory: Memory, vector: Vector) -> ExportedMemory:
    return ExportedMemory(
        text=memory.text,
        user_id=memory.scope.user_id,
        agent_id=memory.scope.agent_id,
        run_id=memory.scope.run_id,
        metadata=memory.metadata,
        created_at=memory.created_at,
        updated_at=memory.updated_at,
        expires_at=memory.expires_at,
        embedding=[float(x) for x in vector],
        categories=list(memory.categories) if memory.categories else msgspec.UNSET,
    )
