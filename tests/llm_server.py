"""A real HTTP server on 127.0.0.1 that speaks OpenAI chat completions with scripted answers.

Each request takes the next scripted reply; a request with nothing scripted gets a 500, so an
unexpected LLM call fails the test that made it. Every request body is recorded.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    """One scripted reply: a JSON answer, raw content, or an HTTP error."""

    answer: dict[str, Any] | None = None
    raw_content: str | None = None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


def decisions(*items: tuple[str, str, int | None]) -> Reply:
    """A reply deciding (fact, event, memory alias) for each item."""
    return Reply(answer={"decisions": [{"fact": f, "event": e, "memory": m} for f, e, m in items]})


class ScriptedLLM:
    def __init__(self) -> None:
        self.replies: deque[Reply] = deque()
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # the stdlib's name
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with server._lock:
                    server.requests.append(body)
                    reply = server.replies.popleft() if server.replies else None
                if reply is None:
                    self._send(500, {"error": {"message": "no scripted answer"}}, {})
                    return
                time.sleep(reply.delay_s)
                if reply.status != 200:
                    self._send(reply.status, {"error": {"message": "scripted"}}, reply.headers)
                    return
                content = (
                    reply.raw_content if reply.raw_content is not None else json.dumps(reply.answer)
                )
                self._send(
                    200,
                    {
                        "id": "chatcmpl-test",
                        "object": "chat.completion",
                        "created": 0,
                        "model": body.get("model", "scripted"),
                        "choices": [
                            {
                                "index": 0,
                                "finish_reason": "stop",
                                "message": {"role": "assistant", "content": content},
                            }
                        ],
                        "usage": {
                            "prompt_tokens": 100,
                            "completion_tokens": 20,
                            "total_tokens": 120,
                        },
                    },
                    {},
                )

            def _send(self, status: int, payload: dict[str, Any], headers: dict[str, str]) -> None:
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._http.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self._http.server_address[1]}/v1"
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)
        self._thread.start()

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
        self._http.shutdown()
        self._http.server_close()
