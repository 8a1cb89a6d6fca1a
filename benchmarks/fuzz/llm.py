"""An OpenAI-compatible chat-completions server on 127.0.0.1 that always answers a valid
memory-update extraction, so every ``infer`` add of the fuzzer runs the whole LLM pipeline.

Each user turn becomes one fact (its own text, so the request's canary travels into stored
memories and prompts). With memories shown, the decisions rotate through ADD, UPDATE, DELETE,
NONE and, now and then, an alias that was never shown (which the service must reject).
"""

from __future__ import annotations

import json
import threading
import zlib
from typing import Any

from benchmarks.chat_server import ChatAnswer, ChatCompletionsServer, ChatRequest

MAX_FACT_CHARS = 500


def decide(prompt: Any) -> dict[str, Any]:
    """The decisions for one prompt (the JSON of the service's user message)."""
    if not isinstance(prompt, dict):
        return {"decisions": []}
    existing = prompt.get("existing_memories") or []
    decisions: list[dict[str, Any]] = []
    for turn in prompt.get("conversation") or []:
        if not isinstance(turn, dict) or turn.get("role") != "user":
            continue
        fact = str(turn.get("content", ""))[:MAX_FACT_CHARS].strip() or "The user said nothing"
        roll = zlib.crc32(fact.encode("utf-8", "surrogatepass")) % 10
        if not existing or roll < 5:
            decisions.append({"fact": fact, "event": "ADD", "memory": None})
        elif roll == 5:
            decisions.append({"fact": fact, "event": "UPDATE", "memory": 0})
        elif roll == 6:
            decisions.append({"fact": fact, "event": "DELETE", "memory": len(existing) - 1})
        elif roll == 7:
            decisions.append({"fact": fact, "event": "NONE", "memory": 0})
        else:  # an alias that was never shown: rejected by the service
            decisions.append({"fact": fact, "event": "UPDATE", "memory": len(existing) + 7})
    return {"decisions": decisions}


class AlwaysValidLLM:
    """Serves ``POST {base_url}/chat/completions``; counts calls and wrongly keyed ones."""

    def __init__(self, api_key: str) -> None:
        self.unauthorised = 0
        self._api_key = api_key
        self._lock = threading.Lock()
        self._server = ChatCompletionsServer(self._answer)
        self.base_url = self._server.base_url

    @property
    def calls(self) -> int:
        return self._server.calls

    def _answer(self, request: ChatRequest) -> ChatAnswer:
        if request.headers.get("authorization") != f"Bearer {self._api_key}":
            with self._lock:
                self.unauthorised += 1
        return ChatAnswer(json.dumps(decide(request.user_prompt()), ensure_ascii=False))

    def close(self) -> None:
        self._server.close()
