"""One structured log line per request, and a request id on every response."""

from __future__ import annotations

import re
import time
import uuid

import structlog
from litestar.enums import ScopeType
from litestar.types import ASGIApp, HTTPScope, Message, Receive, ReceiveMessage, Scope, Send

from service import metrics

log = structlog.get_logger("service.request")

_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# Set in the request's state when the client hung up before it was answered (mid-body).
CLIENT_GONE = "client_gone"
# What such a request is logged and counted as: nginx's "client closed request". Not a 5xx:
# nothing failed here, and anyone could otherwise inflate the error rate without a key.
CLIENT_CLOSED_REQUEST = 499


class RequestLogMiddleware:
    """Wraps the whole app (outside Litestar's routing), so even 404s and 413s are logged.

    Logs method, route template (never the raw path, which can carry user text), status,
    latency and the tenant bound by authentication.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        http_scope: HTTPScope = scope
        request_state = http_scope.setdefault("state", {})
        request_state["request_id"] = request_id
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        status = 500
        answering = False
        started = time.perf_counter()

        async def receive_noting_hang_up() -> ReceiveMessage:
            message = await receive()
            if message["type"] == "http.disconnect" and not answering:
                request_state[CLIENT_GONE] = True
            return message

        async def send_with_request_id(message: Message) -> None:
            nonlocal status, answering
            if message["type"] == "http.response.start":
                status = message["status"]
                answering = True
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive_noting_hang_up, send_with_request_id)
        finally:
            if request_state.get(CLIENT_GONE):
                status = CLIENT_CLOSED_REQUEST  # whatever was sent, nobody read it
            elapsed_s = time.perf_counter() - started
            route = scope.get("path_template") or "(unmatched)"
            method = http_scope["method"]
            metrics.HTTP_REQUESTS.labels(method, route, str(status)).inc()
            metrics.HTTP_LATENCY.labels(method, route).observe(elapsed_s)
            log.info(
                "request",
                method=method,
                route=route,
                status=status,
                tenant=request_state.get("tenant"),
                latency_ms=round(elapsed_s * 1000, 2),
            )
            structlog.contextvars.clear_contextvars()


def _request_id(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            candidate = value.decode("latin-1")
            if _SAFE_REQUEST_ID.match(candidate):
                return candidate
    return uuid.uuid4().hex
