"""Adding what a conversation says: the one implementation behind every add endpoint.

With ``infer`` and an LLM configured, the turns go through the durable ingestion pipeline
(extract facts, reconcile with memory), with the add's instructions and categories, or else
its tenant's (project settings). Otherwise the remembered turns are stored as given, skipping
texts already remembered; instructions and categories, which only an LLM can follow, are
checked and otherwise unused.
"""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass

from service.domain.adding.jobs import IngestJobs, Job
from service.domain.adding.request import AddRequest, remembered_roles
from service.domain.adding.results import AddResult
from service.domain.guidance import check_guidance
from service.domain.memories import MemoryService, TextToAdd, check_created_at, check_expiry
from service.domain.projects import ProjectService
from service.domain.texts import check_memory_text, check_values_storable, require_scope
from service.errors import InvalidRequest


@dataclass(frozen=True, slots=True)
class AddLimits:
    max_text_chars: int
    max_messages: int


class AddService:
    def __init__(
        self,
        memories: MemoryService,
        jobs: IngestJobs | None,
        limits: AddLimits,
        projects: ProjectService,
    ) -> None:
        self._memories = memories
        self._jobs = jobs
        self._limits = limits
        self._projects = projects

    @property
    def can_run_in_background(self) -> bool:
        """Whether an LLM is configured, so that inferring adds can be queued as jobs."""
        return self._jobs is not None

    async def add(self, tenant_id: uuid.UUID, request: AddRequest) -> AddResult | Job:
        """The finished outcome, or the job that will produce it (queued, or an LLM failure
        that workers retry; ``last_error`` says which)."""
        require_scope(request.scope)
        self._check_turns(request)
        check_guidance(request.guidance)
        # Where each message was in the request, for refusals that name one.
        sent_at = {id(turn): n for n, turn in enumerate(request.turns)}
        sent_alone = len(request.turns) == 1
        # System prompts describe the assistant, not the user: never a source of memories.
        request = dataclasses.replace(
            request, turns=[turn for turn in request.turns if turn.role != "system"]
        )
        if request.infer and self._jobs is not None:
            # Checked here as MemoryService.add checks what it stores as given.
            check_expiry(request.expires_at)
            for turn in request.turns:
                check_created_at(turn.timestamp)
            # Settled when the add is accepted: its job runs with what was asked then.
            request = dataclasses.replace(
                request, guidance=await self._projects.with_defaults(tenant_id, request.guidance)
            )
            if request.background:
                return await self._jobs.submit(tenant_id, request)
            return await self._jobs.run_now(tenant_id, request)
        if request.background:
            raise InvalidRequest(
                "asynchronous adds need infer=true and an LLM (MEMORY_LLM_BASE_URL); "
                "without one, adds complete in the request"
            )
        roles = remembered_roles(request.infer)
        kept = [turn for turn in request.turns if turn.role in roles]
        items = [
            TextToAdd(
                turn.content, request.scope, request.metadata, request.expires_at, turn.timestamp
            )
            for turn in kept
        ]
        # A refusal names the message as the client sent it (a single text: no name at all).
        names = ["" if sent_alone else f"messages[{sent_at[id(turn)]}]" for turn in kept]
        outcomes = await self._memories.add(
            tenant_id, items, skip_near_duplicates=request.infer, item_names=names
        )
        return AddResult(outcomes=outcomes)

    def _check_turns(self, request: AddRequest) -> None:
        if not request.turns or len(request.turns) > self._limits.max_messages:
            raise InvalidRequest(f"an add holds 1 to {self._limits.max_messages} messages")
        check_values_storable(request.metadata, "metadata")
        for index, turn in enumerate(request.turns):
            check_memory_text(turn.content, self._limits.max_text_chars)
            check_values_storable(turn.name, f"messages[{index}].name")
        roles = remembered_roles(request.infer)
        if not any(turn.role in roles for turn in request.turns):
            raise InvalidRequest(f"no message with role {' or '.join(roles)} to remember")
