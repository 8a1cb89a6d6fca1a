"""A real HTTP server on 127.0.0.1 that speaks OpenAI chat completions with scripted answers.

Each request takes the next scripted reply; a request with nothing scripted gets a 500, so an
unexpected LLM call fails the test that made it. Every request body is recorded.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from benchmarks.chat_server import ChatAnswer, ChatCompletionsServer, ChatRequest

SCRIPTED_USAGE = (100, 20)  # prompt and completion tokens every scripted answer reports


@dataclass
class Reply:
    """One scripted reply: a JSON answer, raw content, or an HTTP error."""

    answer: dict[str, Any] | None = None
    raw_content: str | None = None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    finish_reason: str = "stop"
    error_message: str = "scripted failure"
    error_param: str | None = None
    trickle_s: float = 0.0
    usage: dict[str, Any] | None = None  # sent instead of the scripted usage

    def as_chat_answer(self) -> ChatAnswer:
        content = self.raw_content if self.raw_content is not None else json.dumps(self.answer)
        return ChatAnswer(
            content,
            self.status,
            self.headers,
            self.delay_s,
            self.finish_reason,
            SCRIPTED_USAGE,
            self.error_message,
            self.error_param,
            self.trickle_s,
            self.usage,
        )


def decisions(*items: tuple[str, str, int | None]) -> Reply:
    """A reply deciding (fact, event, memory alias) for each item."""
    return Reply(answer={"decisions": [{"fact": f, "event": e, "memory": m} for f, e, m in items]})


class ScriptedLLM:
    def __init__(self) -> None:
        self.replies: deque[Reply] = deque()
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._server = ChatCompletionsServer(self._answer)
        self.base_url = self._server.base_url

    def _answer(self, request: ChatRequest) -> ChatAnswer:
        with self._lock:
            self.requests.append(request.body)
            reply = self.replies.popleft() if self.replies else None
        if reply is None:
            return ChatAnswer(status=500)  # nothing scripted: an unexpected call
        return reply.as_chat_answer()

    def script(self, *replies: Reply) -> None:
        with self._lock:
            self.replies.extend(replies)

    def reset(self) -> None:
        with self._lock:
            self.replies.clear()
            self.requests.clear()

    def prompt_of(self, request_index: int) -> dict[str, Any]:
        """The JSON the service sent as the user message of one request."""
        messages = self.requests[request_index]["messages"]
        prompt: dict[str, Any] = json.loads(messages[-1]["content"])
        return prompt

    def close(self) -> None:
        self._server.close()
