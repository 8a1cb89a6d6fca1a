"""A recording HTTP proxy between the service and a real LLM server.

It forwards every request unchanged to the server it fronts and keeps what went each way, so a
test can compare what the service sent and got with what it then did. It can also hold requests
(a stalling endpoint, as seen by the service) until a test lets them go.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx


@dataclass
class Exchange:
    """One request the service sent and what the server answered."""

    request: dict[str, Any]
    received_s: float  # time.monotonic() when it arrived
    status: int | None = None  # None: not answered (yet), or the service had gone
    response: dict[str, Any] | None = None
    answered_s: float | None = None
    delivered: bool = False  # the answer reached the service (it was still waiting for it)

    def prompt(self) -> dict[str, Any]:
        """The JSON the service sent as its user message."""
        prompt: dict[str, Any] = json.loads(self.request["messages"][-1]["content"])
        return prompt

    def said(self) -> list[str]:
        """The contents of the conversation's messages in the prompt."""
        return [str(turn["content"]) for turn in self.prompt()["conversation"]]

    @property
    def choice(self) -> dict[str, Any]:
        assert self.response is not None, "no answer was recorded"
        choice: dict[str, Any] = self.response["choices"][0]
        return choice

    @property
    def finish_reason(self) -> str:
        return str(self.choice["finish_reason"])

    @property
    def content(self) -> str:
        return str(self.choice["message"]["content"])

    @property
    def usage(self) -> dict[str, int]:
        assert self.response is not None, "no answer was recorded"
        usage: dict[str, int] = self.response["usage"]
        return usage


class RecordingProxy:
    """Serves ``base_url`` (``http://127.0.0.1:<port>/v1``) and forwards each request to the
    same path on ``upstream`` (the server's root URL)."""

    def __init__(self, upstream: str, forward_timeout_s: float = 600.0) -> None:
        self.exchanges: list[Exchange] = []
        self._lock = threading.Lock()
        self._flowing = threading.Event()
        self._flowing.set()
        self._max_hold_s = 0.0
        self._upstream = httpx.Client(base_url=upstream, timeout=forward_timeout_s)
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), _handler_class(self))
        self._http.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self._http.server_address[1]}/v1"
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)
        self._thread.start()

    @contextmanager
    def stalling(self, max_hold_s: float) -> Iterator[None]:
        """Hold every request that arrives meanwhile (at most ``max_hold_s``), then forward it."""
        self._max_hold_s = max_hold_s
        self._flowing.clear()
        try:
            yield
        finally:
            self._flowing.set()

    def about(self, text: str) -> list[Exchange]:
        """The exchanges whose conversation contains ``text``, in the order they arrived."""
        with self._lock:
            return [exchange for exchange in self.exchanges if text in exchange.said()]

    def close(self) -> None:
        self._flowing.set()
        self._http.shutdown()
        self._http.server_close()
        self._upstream.close()

    def forward(
        self, path: str, raw: bytes, headers: dict[str, str]
    ) -> tuple[Exchange, int, bytes]:
        try:
            body = json.loads(raw)
        except ValueError:
            body = {}
        exchange = Exchange(body if isinstance(body, dict) else {}, time.monotonic())
        with self._lock:
            self.exchanges.append(exchange)
        if not self._flowing.is_set():
            self._flowing.wait(self._max_hold_s)
        try:
            answer = self._upstream.post(path, content=raw, headers=headers)
        except httpx.HTTPError as error:
            return exchange, 502, json.dumps({"error": {"message": f"proxy: {error!r}"}}).encode()
        exchange.status = answer.status_code
        try:
            exchange.response = answer.json()
        except ValueError:
            exchange.response = None
        exchange.answered_s = time.monotonic()
        return exchange, answer.status_code, answer.content


def _handler_class(proxy: RecordingProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # the stdlib's name
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            # Only what the server needs: the body's type and the key (llama-server ignores it).
            forwarded = {
                name: value
                for name, value in self.headers.items()
                if name.lower() in ("content-type", "authorization")
            }
            exchange, status, content = proxy.forward(self.path, raw, forwarded)
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)
                self.wfile.flush()
                exchange.delivered = True
            except (BrokenPipeError, ConnectionResetError):
                pass  # the service stopped waiting (its timeout): the exchange still counts

        def log_message(self, format: str, *args: Any) -> None:
            pass  # a test's output is not the place for an access log

    return Handler
