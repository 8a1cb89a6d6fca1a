"""A prompt-ready block of the memories most relevant to a query or a conversation, within a
token budget: what POST /v1/context and MCP's ``get_context`` answer.

The block (format ``memory-context/1``, docs/api.md) is a header line, then one line per
memory, most relevant first, each with the UTC date it was told::

    Relevant memories, most relevant first, each with the date it was told (UTC):
    - [2026-11-03] Alice is allergic to peanuts
    - [2026-10-28] Alice lives in Berlin

A memory is never cut: one whose line does not fit in what is left of the budget is left out
(and counted in ``omitted``), and shorter, less relevant ones may still fit. When not even the
header and one line fit, or the scope holds nothing, the block is empty ("" and 0 tokens).
"""

from __future__ import annotations

import unicodedata
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC

from service.domain.adding.request import Turn
from service.domain.ports import TokenCounter
from service.domain.search import SearchService
from service.domain.texts import check_values_storable, is_invisible, require_scope
from service.errors import InvalidRequest
from service.models import FilterNode, Memory, Scope, SearchHit

CONTEXT_FORMAT = "memory-context/1"
HEADER = "Relevant memories, most relevant first, each with the date it was told (UTC):"
DEFAULT_MAX_TOKENS = 1_000
MAX_TOKENS_LIMIT = 32_000
# A query drawn from messages: the last user turns, as many characters as the embedding
# model reads (about 256 word pieces); older turns add noise more than meaning.
QUERY_USER_TURNS = 3
MAX_QUERY_CHARS = 1_000
# A block is chosen from the search's best memories, as many as a search returns: a large
# budget holds at most this many lines.
MAX_MEMORIES = 100


@dataclass(frozen=True, slots=True)
class ContextRequest:
    """What a context is built for: exactly one of ``query`` and ``messages`` (the last turns
    of a conversation), a scope (or ``filters``), and the most tokens the block may take."""

    scope: Scope
    query: str | None = None
    messages: Sequence[Turn] | None = None
    filters: FilterNode | None = None
    max_tokens: int = DEFAULT_MAX_TOKENS


@dataclass(frozen=True, slots=True)
class PromptContext:
    """The block to put in a prompt, and what it was made of.

    ``memories`` are those in the block, in its order, each with its cosine similarity to the
    query; ``omitted`` counts the memories the search found (the best ``MAX_MEMORIES``) that
    did not fit the budget.
    """

    text: str
    tokens: int  # what ``text`` takes, counted by ``tokenizer``; never above max_tokens
    max_tokens: int
    tokenizer: str
    query: str  # what was searched (drawn from the messages when those were given)
    memories: list[SearchHit]
    omitted: int
    format: str = CONTEXT_FORMAT


@dataclass(frozen=True, slots=True)
class ContextLimits:
    max_text_chars: int  # longest query or message (MEMORY_MAX_TEXT_CHARS)
    max_messages: int  # most messages (MEMORY_MAX_BATCH_ITEMS, as for an add)


class ContextService:
    """Builds prompt contexts from the hybrid search, counting tokens with one tokenizer."""

    def __init__(
        self, search_service: SearchService, tokens: TokenCounter, limits: ContextLimits
    ) -> None:
        self._search = search_service
        self._tokens = tokens
        self._limits = limits

    @property
    def tokenizer(self) -> str:
        return self._tokens.name

    async def build(self, tenant_id: uuid.UUID, request: ContextRequest) -> PromptContext:
        """The most relevant memories of ``request.scope`` (within ``request.filters``) as a
        prompt-ready block of at most ``request.max_tokens`` tokens, for the tenant
        ``tenant_id`` only.

        Raises ``InvalidRequest`` (a 422 problem, or an MCP tool error) naming what to change
        when: both or neither of query and messages are given, a text is blank, too long or
        holds NUL, the messages hold no user turn, the budget is outside 1..32,000, or neither
        a scope nor filters are given. A scope that holds nothing gives an empty block.
        """
        query = self._query_of(request)
        _check_budget(request.max_tokens)
        if not request.scope.is_empty:
            require_scope(request.scope)  # ids that show something and Postgres can hold
        hits, _ = await self._search.search(
            tenant_id, request.scope, query, request.filters, MAX_MEMORIES, None, "hybrid"
        )
        text, used, tokens = pack(hits, request.max_tokens, self._tokens)
        return PromptContext(
            text=text,
            tokens=tokens,
            max_tokens=request.max_tokens,
            tokenizer=self._tokens.name,
            query=query,
            memories=used,
            omitted=len(hits) - len(used),
        )

    def _query_of(self, request: ContextRequest) -> str:
        if (request.query is None) == (request.messages is None):
            raise InvalidRequest("give exactly one of 'query' and 'messages'")
        if request.query is not None:
            _check_text(request.query, "query", self._limits.max_text_chars)
            return request.query
        return query_of_messages(request.messages or (), self._limits)


def query_of_messages(messages: Sequence[Turn], limits: ContextLimits) -> str:
    """What to search for in a conversation: its last ``QUERY_USER_TURNS`` user turns, oldest
    first, one a line, cut to their last ``MAX_QUERY_CHARS`` characters (the newest words)."""
    if not messages:
        raise InvalidRequest("'messages' is empty: give the last turns of the conversation")
    if len(messages) > limits.max_messages:
        raise InvalidRequest(
            f"'messages' holds {len(messages)} turns; the limit is {limits.max_messages}: "
            "send the last turns only"
        )
    for index, turn in enumerate(messages):
        _check_text(turn.content, f"messages[{index}].content", limits.max_text_chars)
    said = [turn.content for turn in messages if turn.role == "user"][-QUERY_USER_TURNS:]
    if not said:
        raise InvalidRequest(
            "'messages' holds no user turn: the query is drawn from what the user said; "
            "give at least one message with role 'user', or give 'query'"
        )
    # Each turn's words only: trailing blanks or invisible characters must not fill the cut
    # and leave nothing to search for.
    words = [" ".join(_visible(turn).split()) for turn in said]
    query = "\n".join(turn for turn in words if turn)[-MAX_QUERY_CHARS:].strip()
    if not query:
        raise InvalidRequest("the user turns in 'messages' hold no words to search for")
    return query


def _visible(text: str) -> str:
    """``text`` without format characters (zero-width spaces and joiners, direction marks)."""
    return "".join(char for char in text if unicodedata.category(char) != "Cf")


def pack(
    hits: Sequence[SearchHit], max_tokens: int, tokens: TokenCounter
) -> tuple[str, list[SearchHit], int]:
    """The block of ``hits`` (best first) within ``max_tokens``: its text, the hits it holds
    and the tokens it takes. Whole lines only; a line that does not fit is skipped."""
    lines: list[str] = []
    used: list[SearchHit] = []
    spent = tokens.count(HEADER + "\n")
    for hit in hits:
        line = memory_line(hit.memory)
        # The last line has no line break; a line takes its break once another follows. No
        # token spans a break and the text after it, so these pieces add up to the block.
        if spent + tokens.count(line) <= max_tokens:
            lines.append(line)
            used.append(hit)
            spent += tokens.count(line + "\n")
    # The sum above holds for cl100k_base's rules; the whole block's count decides, dropping
    # the last line until it fits, so no tokenizer can make a block exceed its budget.
    while lines:
        text = "\n".join([HEADER, *lines])
        count = tokens.count(text)
        if count <= max_tokens:
            return text, used, count
        lines.pop()
        used.pop()
    return "", [], 0


def memory_line(memory: Memory) -> str:
    """``- [YYYY-MM-DD] text``: the UTC date it was told, and its text on one line (runs of
    whitespace, line breaks included, become one space)."""
    told = memory.created_at.astimezone(UTC).date().isoformat()
    return f"- [{told}] {' '.join(memory.text.split())}"


def _check_budget(max_tokens: int) -> None:
    if not 1 <= max_tokens <= MAX_TOKENS_LIMIT:
        raise InvalidRequest(
            f"max_tokens is {max_tokens}; give a budget from 1 to {MAX_TOKENS_LIMIT} tokens"
        )


def _check_text(text: str, field: str, max_chars: int) -> None:
    """The rules of a stored text, for what is searched: visible, within the limit, no NUL."""
    check_values_storable(text, field)
    if is_invisible(text):
        raise InvalidRequest(f"{field} must not be blank: it has no visible character")
    if len(text) > max_chars:
        raise InvalidRequest(f"{field} is {len(text)} characters long; the limit is {max_chars}")
