"""The arguments of each tool, as msgspec structs: decoded the way the REST bodies are (same
types and limits, unknown fields refused), and turned into the input schemas tools/list shows.

Descriptions are written for the model choosing a tool and filling its arguments.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import msgspec

from service.api.add_schemas import ChatMessage
from service.api.schemas import FilterObject, MemoryText, MetadataObject
from service.domain.context import DEFAULT_MAX_TOKENS, MAX_TOKENS_LIMIT
from service.domain.texts import MAX_SCOPE_ID_CHARS

_Id = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_SCOPE_ID_CHARS)]
_PINNED = " Leave it out when the connection already fixes it."
UserId = Annotated[
    _Id | None,
    msgspec.Meta(description="The person the memories are about, e.g. 'alice'." + _PINNED),
]
AgentId = Annotated[
    _Id | None,
    msgspec.Meta(description="The assistant or agent the memories belong to." + _PINNED),
]
RunId = Annotated[
    _Id | None,
    msgspec.Meta(
        description="One conversation or session; give it only to stay within that one." + _PINNED
    ),
]
MemoryId = Annotated[
    uuid.UUID,
    msgspec.Meta(
        description="The memory's id (a UUID), as search_memories or list_memories gave it."
    ),
]
Filters = Annotated[
    FilterObject | None,
    msgspec.Meta(
        description='Optional metadata filter, e.g. {"category": "health"} or '
        '{"priority": {"gte": 2}}; operators eq ne gt gte lt lte in nin contains, groups '
        "AND / OR / NOT."
    ),
]


class _Scoped(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    user_id: UserId = None
    agent_id: AgentId = None
    run_id: RunId = None


class AddMemoryArguments(_Scoped, kw_only=True):
    text: Annotated[
        MemoryText | None,
        msgspec.Meta(
            description="One fact to remember, as a short self-contained sentence, e.g. "
            "'Alice is allergic to peanuts'. Give this or messages."
        ),
    ] = None
    messages: Annotated[
        list[ChatMessage] | None,
        msgspec.Meta(
            description="Chat turns to learn from, each {role: user|assistant|system, content}; "
            "what the user said is remembered. Give this or text."
        ),
    ] = None
    metadata: Annotated[
        MetadataObject | None,
        msgspec.Meta(
            description='Optional labels to filter by later, e.g. {"category": "health"}.'
        ),
    ] = None
    infer: Annotated[
        bool,
        msgspec.Meta(
            description="true (default): draw the facts out with the service's LLM when one is "
            "configured and skip near-duplicates; false: store the text exactly as given."
        ),
    ] = True


class SearchMemoriesArguments(_Scoped, kw_only=True):
    query: Annotated[
        str,
        msgspec.Meta(
            min_length=1,
            description="What to look for, in natural language, e.g. 'What can Alice not eat?'.",
        ),
    ]
    filters: Filters = None
    limit: Annotated[
        int, msgspec.Meta(ge=1, le=100, description="How many memories at most (1-100).")
    ] = 10


class GetContextArguments(_Scoped, kw_only=True):
    query: Annotated[
        str,
        msgspec.Meta(
            min_length=1,
            description="What the conversation is about now: the user's last message or a "
            "question.",
        ),
    ]
    max_tokens: Annotated[
        int,
        msgspec.Meta(
            ge=1,
            le=MAX_TOKENS_LIMIT,
            description=f"The most tokens the block may use (1-{MAX_TOKENS_LIMIT}); a memory "
            "that does not fit is left out whole.",
        ),
    ] = DEFAULT_MAX_TOKENS


class ListMemoriesArguments(_Scoped, kw_only=True):
    limit: Annotated[
        int, msgspec.Meta(ge=1, le=1000, description="Page size, newest first (1-1000).")
    ] = 100
    cursor: Annotated[
        str | None,
        msgspec.Meta(description="next_cursor of the previous page, to read the next one."),
    ] = None


class OneMemoryArguments(msgspec.Struct, forbid_unknown_fields=True):
    """get_memory's and delete_memory's."""

    memory_id: MemoryId


class UpdateMemoryArguments(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    memory_id: MemoryId
    text: Annotated[
        MemoryText | None,
        msgspec.Meta(description="The corrected text; it replaces the old one."),
    ] = None
    metadata: Annotated[
        MetadataObject | None,
        msgspec.Meta(description="New metadata; it replaces the whole old object."),
    ] = None


def input_schema(arguments: type[msgspec.Struct]) -> dict[str, Any]:
    """The JSON Schema of ``arguments``, self-contained: clients that do not follow ``$ref``
    still see every field."""
    schema = msgspec.json.schema(arguments)
    definitions: dict[str, Any] = schema.get("$defs", {})
    top: dict[str, Any] = _inline(schema, definitions)
    top.pop("title", None)
    return top


def _inline(node: Any, definitions: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        reference = node.get("$ref")
        if isinstance(reference, str):
            return _inline(definitions[reference.rsplit("/", 1)[-1]], definitions)
        return {key: _inline(value, definitions) for key, value in node.items() if key != "$defs"}
    if isinstance(node, list):
        return [_inline(item, definitions) for item in node]
    return node
