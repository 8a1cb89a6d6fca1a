"""What an add asks for: a conversation (or one text) to remember in a scope."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from service.models import Guidance, Metadata, Scope


def remembered_roles(infer: bool) -> tuple[str, ...]:
    """Whose messages an add keeps: with inference only the user's (what the assistant says
    is not a fact about the user); as given, the user's and the assistant's."""
    return ("user",) if infer else ("user", "assistant")


@dataclass(frozen=True, slots=True)
class Turn:
    """One chat message of a conversation given to an add."""

    role: str
    content: str
    name: str | None = None
    timestamp: datetime | None = None


@dataclass(frozen=True, slots=True)
class AddRequest:
    """The one shape of an add, from either dialect to the pipeline and the job queue."""

    scope: Scope
    turns: list[Turn]
    metadata: Metadata
    infer: bool = True
    background: bool = False  # answer at once with a job; needs infer and an LLM
    expires_at: datetime | None = None  # of the memories this add creates
    # Asked of the LLM: instructions, and the categories it labels facts with.
    guidance: Guidance = field(default_factory=Guidance)

    @property
    def created_at(self) -> datetime | None:
        """When the conversation happened (its latest turn's time, if the turns carry times):
        the time the facts drawn from it are remembered at."""
        return max((turn.timestamp for turn in self.turns if turn.timestamp), default=None)

    @property
    def user_texts(self) -> list[str]:
        """What the user said: the only turns facts are drawn from."""
        roles = remembered_roles(infer=True)
        return [turn.content for turn in self.turns if turn.role in roles]
