"""The memory tools: what each is for (told to the model choosing one), its arguments, and
the one domain service call it makes. Answers are the REST API's wire shapes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import msgspec

from service.api.context_schemas import ContextResponse
from service.api.jobs import add_response, job_out
from service.api.memories import memory_list, page_cursor, turns_of
from service.api.schemas import MemoryOut
from service.api.search import search_response
from service.composition import Services
from service.domain.adding import AddRequest, Job
from service.domain.context import ContextRequest
from service.domain.filters import parse_filter
from service.domain.texts import require_scope
from service.errors import InvalidRequest
from service.mcp.arguments import (
    AddMemoryArguments,
    GetContextArguments,
    ListMemoriesArguments,
    OneMemoryArguments,
    SearchMemoriesArguments,
    UpdateMemoryArguments,
)
from service.mcp.caller import Caller


class DeletedMemory(msgspec.Struct):
    id: str
    deleted: bool = True


Handler = Callable[[Services, Caller, Any], Awaitable[msgspec.Struct]]


@dataclass(frozen=True, slots=True)
class Tool:
    name: str
    description: str
    arguments: type[msgspec.Struct]
    handler: Handler
    read_only: bool = False
    destructive: bool = False
    # What the model reads (the answer's text content); by default the answer as JSON.
    text_of: Callable[[Any], str] | None = None


async def add_memory(
    services: Services, caller: Caller, args: AddMemoryArguments
) -> msgspec.Struct:
    outcome = await services.add_service.add(
        caller.tenant.id,
        AddRequest(
            scope=caller.scope(args.user_id, args.agent_id, args.run_id),
            turns=turns_of(args.text, args.messages),
            metadata=args.metadata or {},
            infer=args.infer,
        ),
    )
    return job_out(outcome) if isinstance(outcome, Job) else add_response(outcome)


async def search_memories(
    services: Services, caller: Caller, args: SearchMemoriesArguments
) -> msgspec.Struct:
    hits, plan = await services.search_service.search(
        caller.tenant.id,
        caller.scope(args.user_id, args.agent_id, args.run_id),
        args.query,
        parse_filter(args.filters),
        args.limit,
        threshold=None,
    )
    return search_response(hits, plan)


async def get_context(
    services: Services, caller: Caller, args: GetContextArguments
) -> ContextResponse:
    built = await services.context_service.build(
        caller.tenant.id,
        ContextRequest(
            scope=caller.scope(args.user_id, args.agent_id, args.run_id),
            query=args.query,
            max_tokens=args.max_tokens,
        ),
    )
    return ContextResponse.of(built)


def _context_text(answer: ContextResponse) -> str:
    if answer.context:
        return answer.context
    if answer.omitted:
        # Not "nothing relevant": a model would read that as "no allergies known".
        return (
            f"{answer.omitted} relevant memories were found but none fits in max_tokens="
            f"{answer.max_tokens}; ask again with a larger max_tokens."
        )
    return "No stored memory is relevant to this query."


async def list_memories(
    services: Services, caller: Caller, args: ListMemoriesArguments
) -> msgspec.Struct:
    scope = caller.scope(args.user_id, args.agent_id, args.run_id)
    require_scope(scope)
    page = await services.memory_service.list_page(
        caller.tenant.id, scope, None, args.limit, page_cursor(args.cursor)
    )
    return memory_list(page)


async def get_memory(services: Services, caller: Caller, args: OneMemoryArguments) -> MemoryOut:
    memory = await services.memory_service.get(caller.tenant.id, args.memory_id)
    return MemoryOut.of(caller.check_within(memory))


async def update_memory(
    services: Services, caller: Caller, args: UpdateMemoryArguments
) -> MemoryOut:
    if args.text is None and args.metadata is None:  # the service would name expires_at too
        raise InvalidRequest(f"memory {args.memory_id}: give 'text' and/or 'metadata'")
    if caller.pinned.items():  # the memory's scope never changes, so checking first is enough
        await get_memory(services, caller, OneMemoryArguments(args.memory_id))
    memory = await services.memory_service.update(
        caller.tenant.id, args.memory_id, text=args.text, metadata=args.metadata
    )
    return MemoryOut.of(memory)


async def delete_memory(
    services: Services, caller: Caller, args: OneMemoryArguments
) -> DeletedMemory:
    if caller.pinned.items():
        await get_memory(services, caller, OneMemoryArguments(args.memory_id))
    await services.memory_service.delete(caller.tenant.id, args.memory_id)
    return DeletedMemory(str(args.memory_id))


TOOLS = (
    Tool(
        "add_memory",
        "Remember something about the user for later conversations: a fact they told you "
        "(text) or the last turns of the conversation (messages). Use it when the user shares "
        "a lasting preference, fact, plan or correction. Answers what was stored (ADD), "
        "already known (NONE) or changed (UPDATE, DELETE).",
        AddMemoryArguments,
        add_memory,
    ),
    Tool(
        "search_memories",
        "Find stored memories relevant to a question, best first, each with a similarity score "
        "(1 is identical). Use it before answering anything that may depend on what the user "
        "said before; use get_context instead for a ready-to-use block of text.",
        SearchMemoriesArguments,
        search_memories,
        read_only=True,
    ),
    Tool(
        "get_context",
        "Get a ready-to-use block of the stored memories most relevant to the conversation, "
        "each dated, within a token budget: put it in your context before answering. Prefer "
        "it to search_memories when you only need the facts as text.",
        GetContextArguments,
        get_context,
        read_only=True,
        text_of=_context_text,
    ),
    Tool(
        "list_memories",
        "List every memory of a user, agent or run, newest first, one page at a time (pass "
        "next_cursor back as cursor). Use it to review or audit what is stored, not to answer "
        "a question (search_memories ranks by relevance).",
        ListMemoriesArguments,
        list_memories,
        read_only=True,
    ),
    Tool(
        "get_memory",
        "Read one memory by its id (as search_memories or list_memories gave it), with its "
        "metadata and when it was told and last changed.",
        OneMemoryArguments,
        get_memory,
        read_only=True,
    ),
    Tool(
        "update_memory",
        "Correct one memory by its id: replace its text and/or its metadata. Use it when the "
        "user corrects or refines something already stored; the change is kept in its history.",
        UpdateMemoryArguments,
        update_memory,
    ),
    Tool(
        "delete_memory",
        "Forget one memory by its id, e.g. when the user asks you to forget it or it is wrong "
        "and cannot be corrected.",
        OneMemoryArguments,
        delete_memory,
        destructive=True,
    ),
)
