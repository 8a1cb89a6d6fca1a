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
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

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
        self.calls = 0
        self.unauthorised = 0
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # the stdlib's name
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with outer._lock:
                    outer.calls += 1
                    if self.headers.get("Authorization") != f"Bearer {api_key}":
                        outer.unauthorised += 1
                try:
                    body = json.loads(raw)
                    prompt = json.loads(body["messages"][-1]["content"])
                except (ValueError, KeyError, IndexError, TypeError):
                    body, prompt = {}, None
                content = json.dumps(decide(prompt), ensure_ascii=False)
                payload = json.dumps(
                    {
                        "id": "chatcmpl-fuzz",
                        "object": "chat.completion",
                        "created": 0,
                        "model": body.get("model", "fuzz") if isinstance(body, dict) else "fuzz",
                        "choices": [
                            {
                                "index": 0,
                                "finish_reason": "stop",
                                "message": {"role": "assistant", "content": content},
                            }
                        ],
                        "usage": {
                            "prompt_tokens": len(raw) // 4,
                            "completion_tokens": len(content) // 4,
                            "total_tokens": (len(raw) + len(content)) // 4,
                        },
                    }
                ).encode()
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the service gave up waiting

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._http.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self._http.server_address[1]}/v1"
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._http.shutdown()
        self._http.server_close()
