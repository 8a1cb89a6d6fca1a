"""An OpenAI-compatible chat-completions server on 127.0.0.1, for tests and benchmarks.

It speaks the wire protocol only: what it answers is decided by a function given the request
(its JSON body and headers). The test suite scripts answers one by one (tests/llm_server.py),
the fuzzer always answers valid decisions (benchmarks/fuzz/llm.py) and the pipeline benchmark
reconciles by rule (benchmarks/pipeline.py).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

CHARS_PER_TOKEN = 4  # the usual rough figure, for the usage the server reports


@dataclass
class ChatAnswer:
    """One answer: the assistant message's content with a 200, or an HTTP error status."""

    content: str = ""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    finish_reason: str = "stop"
    usage: tuple[int, int] | None = None  # (prompt, completion) tokens; None: estimated
    error_message: str = "scripted failure"  # the error's message, with a status other than 200
    error_param: str | None = None  # the parameter an error is about, as OpenAI names it
    trickle_s: float = 0.0  # > 0: the body is sent a byte at a time, this long apart
    usage_override: dict[str, Any] | None = None  # sent as the usage object, as it is


@dataclass(frozen=True)
class ChatRequest:
    """What the service sent: its JSON body (``{}`` when it was not JSON) and headers (names
    in lower case)."""

    body: dict[str, Any]
    headers: Mapping[str, str]
    size: int  # bytes of the body

    def user_prompt(self) -> Any:
        """The JSON of the last message (the service's prompt), or None if there is none."""
        try:
            return json.loads(self.body["messages"][-1]["content"])
        except (ValueError, KeyError, IndexError, TypeError):
            return None


Answerer = Callable[[ChatRequest], ChatAnswer]


class ChatCompletionsServer:
    """Serves ``POST {base_url}/chat/completions``, answering each request with ``answer``."""

    def __init__(self, answer: Answerer) -> None:
        self.calls = 0  # requests received
        self._lock = threading.Lock()

        def counted(request: ChatRequest) -> ChatAnswer:
            with self._lock:
                self.calls += 1
            return answer(request)

        handler = _handler_class(counted)
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._http.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self._http.server_address[1]}/v1"
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._http.shutdown()
        self._http.server_close()


def completion(request: ChatRequest, answer: ChatAnswer) -> dict[str, Any]:
    """The chat.completion object carrying ``answer``; its usage, unless given, estimated from
    the sizes of the request and the answer."""
    prompt_tokens, completion_tokens = answer.usage or (
        request.size // CHARS_PER_TOKEN,
        len(answer.content) // CHARS_PER_TOKEN,
    )
    return {
        "id": "chatcmpl-local",
        "object": "chat.completion",
        "created": 0,
        "model": str(request.body.get("model", "local")),
        "choices": [
            {
                "index": 0,
                "finish_reason": answer.finish_reason,
                "message": {"role": "assistant", "content": answer.content},
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def _handler_class(answer: Answerer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # the stdlib's name
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            try:
                body = json.loads(raw)
            except ValueError:
                body = {}
            headers = {name.lower(): value for name, value in self.headers.items()}
            request = ChatRequest(body if isinstance(body, dict) else {}, headers, len(raw))
            reply = answer(request)
            time.sleep(reply.delay_s)
            if reply.status != 200:
                payload = {
                    "error": {
                        "message": reply.error_message,
                        "type": "invalid_request_error" if reply.status < 500 else "server_error",
                        "param": reply.error_param,
                    }
                }
            else:
                payload = completion(request, reply)
            if reply.usage_override is not None and "usage" in payload:
                payload["usage"] = reply.usage_override
            self._send(reply.status, payload, reply.headers, reply.trickle_s)

        def _send(
            self, status: int, payload: dict[str, Any], headers: dict[str, str], trickle_s: float
        ) -> None:
            data = json.dumps(payload).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                if trickle_s <= 0:
                    self.wfile.write(data)
                    return
                for byte in data:  # each read arrives within any read timeout, the whole never
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(trickle_s)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up waiting (a timeout test)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # a test's output is not the place for an access log

    return Handler
