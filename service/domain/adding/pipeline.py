"""The add pipeline with an LLM: one call extracts facts and reconciles them with memory.

1. Embed the user's messages and fetch the nearest memories of the same exact scope.
2. Certain without the LLM: when every user message is already remembered (same text or
   near-identical meaning), nothing changes and no LLM call is made.
3. Otherwise ONE call: the conversation plus the candidate memories under integer aliases;
   the answer lists facts with ADD / UPDATE / DELETE / NONE. Extraction and reconciliation
   share the call, so an add costs at most one call (plus retries), however it resolves.
   What the application asks (instructions, includes, excludes, categories to label facts
   with) rides in that same call, as data.
4. Validate strictly (``planning``): unknown aliases are rejected; UPDATE and DELETE must come
   from a fact about the same thing as the memory they change (embedding similarity), so text
   injected into a conversation cannot wipe unrelated memories; categories the add did not
   offer are dropped; near-duplicate ADDs become NONE.
5. Apply every change in one transaction under the scope's lock, with a history row each,
   and finish the ingestion job in the same transaction. If a memory shown to the LLM changed
   meanwhile, the pipeline starts again rather than overwrite the newer state.
"""

from __future__ import annotations

import uuid

import asyncpg

from service.domain.adding.codec import encode_result
from service.domain.adding.planning import DecisionPlanner, Planned
from service.domain.adding.prompt import (
    PROMPT_VERSION,
    MemoryUpdateAnswer,
    answer_schema,
    system_prompt,
    user_prompt,
)
from service.domain.adding.request import AddRequest
from service.domain.adding.results import AddResult, spend_of
from service.domain.guidance import CategoryChoice
from service.domain.memories import content_hash
from service.domain.ports import ChatLlm, LlmUsage, TextEmbedder
from service.errors import Conflict
from service.models import AddOutcome, Memory, NewMemory, Scope, SearchHit
from service.storage import history as history_store
from service.storage import ingested as ingested_store
from service.storage import jobs as job_store
from service.storage import memories as store
from service.storage import vector_search
from service.storage.database import Database
from service.storage.jobs import JobLease

LLM_ACTOR = "llm"
MAX_ATTEMPTS_ON_STALE = 3


class StaleCandidates(Exception):
    """A memory shown to the LLM changed before the decisions could be applied."""


class LeaseLost(Exception):
    """The job is no longer this processor's to finish."""


class StaleCandidatesPersist(Conflict):
    """The scope's memories changed under every attempt of one add (busy concurrent adds)."""


class IngestPipeline:
    def __init__(
        self,
        database: Database,
        embedder: TextEmbedder,
        llm: ChatLlm,
        *,
        near_duplicate_similarity: float,
        related_similarity: float = 0.25,
        candidates_per_message: int = 5,
        max_candidates: int = 20,
        max_fact_chars: int,
    ) -> None:
        self._database = database
        self._embedder = embedder
        self._llm = llm
        self._near_duplicate = near_duplicate_similarity
        self._per_message = candidates_per_message
        self._max_candidates = max_candidates
        self._planner = DecisionPlanner(
            embedder, related_similarity=related_similarity, max_fact_chars=max_fact_chars
        )

    async def run(
        self, tenant_id: uuid.UUID, request: AddRequest, job: JobLease | None, usage: LlmUsage
    ) -> AddResult:
        """Extract and reconcile; ``usage`` (the add's spend so far, and its budget) grows with
        every LLM call, also when this raises."""
        result = AddResult(usage=usage)
        message_hashes = [content_hash(text) for text in request.user_texts]
        for _ in range(MAX_ATTEMPTS_ON_STALE):
            try:
                await self._run_once(tenant_id, request, message_hashes, job, result)
            except StaleCandidates:
                result.outcomes, result.rejected = [], []
                continue
            return result
        raise StaleCandidatesPersist(
            "the memories of this scope kept changing during the add; retry it"
        )

    async def _run_once(
        self,
        tenant_id: uuid.UUID,
        request: AddRequest,
        message_hashes: list[bytes],
        job: JobLease | None,
        result: AddResult,
    ) -> None:
        user_texts = request.user_texts
        repeated = await self._results_of_repeated_messages(
            tenant_id, request.scope, message_hashes
        )
        if repeated is not None:
            # Certain: these exact messages were ingested before and everything they led to
            # is still as they left it; extracting them again would change nothing.
            result.outcomes = [AddOutcome("NONE", memory) for memory in repeated]
            await self._finish(tenant_id, request, message_hashes, job, result, [])
            return
        neighbours = await self._neighbours(tenant_id, request.scope, user_texts)
        if user_texts and all(
            hits and hits[0].similarity >= self._near_duplicate for hits in neighbours
        ):
            # Certain: everything the user said is already remembered.
            result.outcomes = [AddOutcome("NONE", hits[0].memory) for hits in neighbours]
            await self._finish(tenant_id, request, message_hashes, job, result, [])
            return
        candidates = _merge_candidates(neighbours, self._max_candidates)
        result.llm_used = True
        result.prompt_version = PROMPT_VERSION
        guidance = request.guidance
        answer = await self._llm.complete(
            system_prompt(
                _subject(request.scope),
                preferences=guidance.has_preferences,
                categories=bool(guidance.categories),
            ),
            user_prompt(request.turns, candidates, guidance=guidance),
            answer_schema([category.name for category in guidance.categories]),
            MemoryUpdateAnswer,
            result.usage,
        )
        planned = await self._planner.plan(
            answer.decisions, candidates, CategoryChoice(guidance.categories), result
        )
        await self._finish(tenant_id, request, message_hashes, job, result, planned)

    async def _results_of_repeated_messages(
        self, tenant_id: uuid.UUID, scope: Scope, message_hashes: list[bytes]
    ) -> list[Memory] | None:
        if not message_hashes:
            return None
        memory_ids: dict[uuid.UUID, None] = {}
        async with self._database.connection(tenant_id) as connection:
            for message_hash in message_hashes:
                ids = await ingested_store.unchanged_results_of(
                    connection, tenant_id, scope, message_hash
                )
                if ids is None:
                    return None
                memory_ids.update(dict.fromkeys(ids))
            found = [
                await store.find_memory(connection, tenant_id, memory_id)
                for memory_id in memory_ids
            ]
        return [memory for memory in found if memory is not None]

    async def _neighbours(
        self, tenant_id: uuid.UUID, scope: Scope, texts: list[str]
    ) -> list[list[SearchHit]]:
        vectors = await self._embedder.embed(texts)
        async with self._database.connection(tenant_id) as connection:
            return [
                await vector_search.nearest_in_exact_scope(
                    connection, tenant_id, scope, vector, self._per_message
                )
                for vector in vectors
            ]

    async def _finish(
        self,
        tenant_id: uuid.UUID,
        request: AddRequest,
        message_hashes: list[bytes],
        job: JobLease | None,
        result: AddResult,
        planned: list[Planned],
    ) -> None:
        async with self._database.transaction(tenant_id) as connection:
            await store.lock_scopes(connection, tenant_id, [request.scope])
            for item in planned:
                outcome = await self._apply(connection, tenant_id, request, item)
                if outcome is not None:
                    result.outcomes.append(outcome)
            if _is_safely_repeatable(result):
                await ingested_store.record_ingested(
                    connection,
                    tenant_id,
                    request.scope,
                    message_hashes,
                    [outcome.memory.id for outcome in result.outcomes],
                )
            if job is not None and not await job_store.complete_job(
                connection, job, encode_result(result), spend_of(result.usage)
            ):
                # Another processor took the job over (this one outlived its lease): its
                # outcome counts, and everything this one wrote rolls back with this raise.
                raise LeaseLost(f"job {job.id} was taken over by another processor")

    async def _apply(
        self,
        connection: asyncpg.Connection,
        tenant_id: uuid.UUID,
        request: AddRequest,
        item: Planned,
    ) -> AddOutcome | None:
        decision, target = item.decision, item.target
        if decision.event == "ADD":
            return await self._add(connection, tenant_id, request, item)
        assert target is not None  # noqa: S101  # _plan gives every non-ADD a target
        current = await store.find_memory(connection, tenant_id, target.id, lock=True)
        if current is None or current.updated_at != target.updated_at:
            raise StaleCandidates
        if decision.event == "NONE":
            return AddOutcome("NONE", current, decision.fact)
        if decision.event == "DELETE":
            await store.delete_memory(connection, tenant_id, current.id)
            await self._history(connection, tenant_id, "DELETE", current, None)
            return AddOutcome("DELETE", current, decision.fact, current.text)
        try:
            async with connection.transaction():  # a savepoint: a clash must not abort the rest
                updated = await store.update_memory(
                    connection,
                    tenant_id,
                    current.id,
                    text=decision.fact,
                    content_hash=content_hash(decision.fact),
                    embedding=item.vector,
                    metadata=current.metadata,
                    expires_at=current.expires_at,
                    # Labels follow the new text when the add offered categories to choose.
                    categories=item.categories if request.guidance.categories else None,
                )
        except Conflict:
            # The new text already exists as another memory: the old one is now redundant.
            await store.delete_memory(connection, tenant_id, current.id)
            await self._history(connection, tenant_id, "DELETE", current, None)
            return AddOutcome("DELETE", current, decision.fact, current.text)
        await self._history(connection, tenant_id, "UPDATE", current, updated)
        return AddOutcome("UPDATE", updated, decision.fact, current.text)

    async def _add(
        self,
        connection: asyncpg.Connection,
        tenant_id: uuid.UUID,
        request: AddRequest,
        item: Planned,
    ) -> AddOutcome:
        fact = item.decision.fact
        nearest = await vector_search.nearest_in_exact_scope(
            connection, tenant_id, request.scope, item.vector
        )
        if nearest and nearest[0].similarity >= self._near_duplicate:
            return AddOutcome("NONE", nearest[0].memory, fact)
        new = NewMemory(
            fact,
            content_hash(fact),
            item.vector,
            request.scope,
            request.metadata,
            request.expires_at,
            request.created_at,
            item.categories,
        )
        memory, inserted = await store.insert_memory_unless_duplicate(connection, tenant_id, new)
        if not inserted:
            return AddOutcome("NONE", memory, fact)
        await self._history(connection, tenant_id, "ADD", None, memory)
        return AddOutcome("ADD", memory, fact)

    async def _history(
        self,
        connection: asyncpg.Connection,
        tenant_id: uuid.UUID,
        event: str,
        old: Memory | None,
        new: Memory | None,
    ) -> None:
        memory_id = (new or old).id  # type: ignore[union-attr]  # one of them is always given
        await history_store.insert_history(
            connection,
            tenant_id,
            memory_id,
            event,
            old=old,
            new=new,
            actor=LLM_ACTOR,
            llm_model=self._llm.model,
            prompt_version=PROMPT_VERSION,
        )


def _is_safely_repeatable(result: AddResult) -> bool:
    """Whether sending the same messages again is certain to change nothing while the
    memories they led to stay as they are. Not so for messages that deleted something or led
    to nothing: "I don't have a car any more" must act again once a new car is remembered."""
    return (
        bool(result.outcomes)
        and not result.rejected
        and all(outcome.event != "DELETE" for outcome in result.outcomes)
    )


def _subject(scope: Scope) -> str:
    if scope.user_id is not None:
        return "user"
    if scope.agent_id is not None:
        return "AI agent"
    return "conversation"


def _merge_candidates(neighbours: list[list[SearchHit]], cap: int) -> list[Memory]:
    best: dict[uuid.UUID, SearchHit] = {}
    for hits in neighbours:
        for hit in hits:
            if hit.memory.id not in best or hit.similarity > best[hit.memory.id].similarity:
                best[hit.memory.id] = hit
    ranked = sorted(best.values(), key=lambda hit: hit.similarity, reverse=True)
    return [hit.memory for hit in ranked[:cap]]
