"""What the domain needs from the outside world, as small interfaces the adapters implement.

The domain never imports an adapter: ``service.adapters.embedder.Embedder``,
``service.adapters.llm.ChatJsonClient`` and ``service.adapters.tokenizer.TiktokenCounter``
satisfy these protocols, and tests or other deployments may bring their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypeVar

from service.models import Vector, VectorSpace

T = TypeVar("T")
FailureKind = Literal[
    "timeout",
    "rate_limited",
    "server_error",
    "invalid_output",
    "refused",  # 401, 403, 404...: the endpoint refuses us (configuration)
    "bad_request",  # 400, 413, 422: the endpoint refuses this request's content
    "truncated",  # the answer reached the output cap
    "token_budget",  # the add spent its token budget
    "unavailable",  # the circuit breaker holds calls back after repeated failures
]
# Failures another attempt of the same add would meet again: its job fails at once.
FINAL_FAILURES: frozenset[FailureKind] = frozenset({"truncated", "token_budget", "bad_request"})


class TextEmbedder(Protocol):
    """Turns texts into unit vectors of one vector space."""

    @property
    def vector_space(self) -> VectorSpace: ...

    async def embed(self, texts: list[str]) -> list[Vector]:
        """Vectors of texts to store (with the model's document prompt, if any)."""
        ...

    async def embed_query(self, text: str) -> Vector:
        """The vector of a search query (with the model's query prompt, if any)."""
        ...


class TokenCounter(Protocol):
    """Counts the tokens a text takes in an LLM's prompt, with one named tokenizer."""

    @property
    def name(self) -> str:
        """The tokenizer's name as clients know it (e.g. ``cl100k_base``)."""
        ...

    def count(self, text: str) -> int:
        """The tokens ``text`` encodes to, reading special-token markup as plain text."""
        ...


@dataclass(slots=True)
class LlmUsage:
    """What talking to the LLM cost for one add (every attempt counts as a call), and the
    most tokens it may still spend (None: no budget)."""

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_ms: float = 0.0
    token_budget: int | None = None

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @property
    def tokens_left(self) -> int | None:
        return None if self.token_budget is None else max(0, self.token_budget - self.tokens)


class LlmFailure(Exception):
    """The LLM gave no valid answer after all retries."""

    def __init__(
        self, kind: FailureKind, detail: str, usage: LlmUsage, retry_after_s: float | None = None
    ) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail
        self.usage = usage
        self.retry_after_s = retry_after_s

    @property
    def is_final(self) -> bool:
        """Whether retrying the add later would meet the same failure."""
        return self.kind in FINAL_FAILURES


@dataclass(frozen=True, slots=True)
class JsonSchema:
    """The JSON schema an answer must follow, under a name the endpoint is told."""

    name: str
    schema: dict[str, Any]


class ChatLlm(Protocol):
    """A chat model that answers in JSON of a given schema, or raises ``LlmFailure``."""

    @property
    def model(self) -> str: ...

    async def complete(
        self, system: str, user: str, schema: JsonSchema, answer_type: type[T], usage: LlmUsage
    ) -> T: ...
