"""The wire format of /v1/context: its request and its response. Docstrings become OpenAPI
descriptions."""

from __future__ import annotations

from typing import Annotated

import msgspec

from service.api.add_schemas import ChatMessage
from service.api.schemas import FilterObject, ScopeId
from service.api.search_schemas import SearchResult
from service.domain.context import (
    CONTEXT_FORMAT,
    DEFAULT_MAX_TOKENS,
    MAX_MEMORIES,
    MAX_QUERY_CHARS,
    MAX_TOKENS_LIMIT,
    QUERY_USER_TURNS,
    PromptContext,
)


class ContextRequest(msgspec.Struct, forbid_unknown_fields=True):
    """Build a prompt-ready block of the memories most relevant to a query, or to the last
    turns of a conversation, within a token budget.

    Give exactly one of ``query`` and ``messages``, and a scope (at least one of ``user_id``,
    ``agent_id``, ``run_id``) or ``filters``. A scope that holds no memory gives an empty
    block.
    """

    query: (
        Annotated[
            str,
            msgspec.Meta(
                min_length=1,
                description="What the prompt is about, in natural language. Length limit: "
                "MEMORY_MAX_TEXT_CHARS.",
                examples=["What should I cook for Alice tonight?"],
            ),
        ]
        | None
    ) = None
    messages: (
        Annotated[
            list[ChatMessage],
            msgspec.Meta(
                min_length=1,
                description=f"The last turns of the conversation (at most "
                f"MEMORY_MAX_BATCH_ITEMS), the same shape as an add's messages. The query is "
                f"the content of the last {QUERY_USER_TURNS} user turns, oldest first, one a "
                f"line, cut to their last {MAX_QUERY_CHARS} characters; system and assistant "
                "turns, name and timestamp are not searched.",
            ),
        ]
        | None
    ) = None
    user_id: ScopeId | None = None
    agent_id: ScopeId | None = None
    run_id: ScopeId | None = None
    filters: FilterObject | None = None
    max_tokens: Annotated[
        int,
        msgspec.Meta(
            ge=1,
            le=MAX_TOKENS_LIMIT,
            description="The most tokens the block may take, counted with the tokenizer the "
            "answer names (cl100k_base). Never exceeded: a memory that does not fit is left "
            "out whole, never cut.",
        ),
    ] = DEFAULT_MAX_TOKENS


class ContextResponse(msgspec.Struct):
    """A block to put in a prompt, and the memories it holds.

    ``context`` is a header line, then one line per memory, most relevant first:
    ``- [YYYY-MM-DD] text``, the UTC date the memory was told and its text on one line. It is
    empty ("" and 0 tokens) when the scope holds no memory or none fits the budget.
    """

    context: Annotated[
        str,
        msgspec.Meta(
            description=f"The block (format {CONTEXT_FORMAT}), no trailing line break.",
            examples=[
                "Relevant memories, most relevant first, each with the date it was told (UTC):"
                "\n- [2026-11-03] Alice is allergic to peanuts"
            ],
        ),
    ]
    tokens: Annotated[
        int, msgspec.Meta(description="The tokens context takes; at most max_tokens.")
    ]
    max_tokens: Annotated[int, msgspec.Meta(description="The budget asked for.")]
    tokenizer: Annotated[
        str,
        msgspec.Meta(
            description="The tokenizer tokens are counted with: cl100k_base (OpenAI's GPT-4 "
            "encoding, tiktoken).",
            examples=["cl100k_base"],
        ),
    ]
    format: Annotated[
        str,
        msgspec.Meta(
            description="The version of the block's layout; it changes only if the layout does.",
            examples=[CONTEXT_FORMAT],
        ),
    ]
    query: Annotated[
        str,
        msgspec.Meta(description="What was searched: query, or what was drawn from messages."),
    ]
    memories: Annotated[
        list[SearchResult],
        msgspec.Meta(
            description="The memories in the block, in its order, each with its cosine "
            "similarity to the query."
        ),
    ]
    omitted: Annotated[
        int,
        msgspec.Meta(
            description=f"Memories among the search's best {MAX_MEMORIES} that did not fit "
            "the budget (a larger max_tokens may hold them)."
        ),
    ]

    @classmethod
    def of(cls, built: PromptContext) -> ContextResponse:
        return cls(
            context=built.text,
            tokens=built.tokens,
            max_tokens=built.max_tokens,
            tokenizer=built.tokenizer,
            format=built.format,
            query=built.query,
            memories=[SearchResult.of(hit) for hit in built.memories],
            omitted=built.omitted,
        )
