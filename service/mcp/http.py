"""/mcp: the tools over Streamable HTTP, inside the Litestar app.

Every request is authenticated (and counted against its key's rate) like a REST request,
before the MCP SDK sees it: an unknown key gets the REST API's 401 problem and no session. The
server is stateless (no session kept between requests, answers as plain JSON): any replica can
answer any request behind a load balancer, and a revoked key stops working on the next call.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qsl

from litestar import Litestar, asgi
from litestar.exceptions import MethodNotAllowedException
from litestar.handlers import ASGIRouteHandler
from litestar.types import Receive, Send
from litestar.types import Scope as AsgiScope
from mcp.server import ServerRequestContext
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager

from service.api.dependencies import api_key_of_headers
from service.composition import Services
from service.domain.api_keys import hash_api_key
from service.errors import MalformedRequest
from service.mcp.caller import Caller, pinned_ids
from service.mcp.http_checks import MCP_PATH, check_and_normalise_headers, read_body, replaying
from service.mcp.server import CallContext, build_server
from service.models import SCOPE_FIELDS, Scope

_CALL_CONTEXT = "mcp_call"  # key in the request scope's state: the CallContext of the request
PIN_HEADERS = {f"x-memory-{name.replace('_', '-')}".encode(): name for name in SCOPE_FIELDS}


class McpHttp:
    """The /mcp route and the lifespan its session manager needs (run by the app's)."""

    def __init__(self, services: Services) -> None:
        self._services = services
        self._manager = StreamableHTTPSessionManager(
            app=build_server(services, _context_of_request),
            json_response=True,
            stateless=True,
            max_request_body_size=services.settings.max_body_bytes,
        )

    @asynccontextmanager
    async def lifespan(self, app: Litestar) -> AsyncIterator[None]:
        async with self._manager.run():
            yield

    def route(self) -> ASGIRouteHandler:
        async def mcp(scope: AsgiScope, receive: Receive, send: Send) -> None:
            await self._handle(scope, receive, send)

        return asgi(MCP_PATH, name="mcp", copy_scope=False)(mcp)

    async def _handle(self, scope: AsgiScope, receive: Receive, send: Send) -> None:
        # Raised here, errors become the REST API's problems (the app's exception handlers).
        if scope.get("method") != "POST":
            # Stateless: no server-to-client stream to GET (it would stay open, idle, for
            # good) and no session to DELETE; the specification's answer to both is 405.
            raise MethodNotAllowedException(
                detail=f"{MCP_PATH} takes POST only (stateless: no stream, no session to end)",
                headers={"Allow": "POST"},
            )
        api_key = api_key_of_headers(scope["headers"])
        tenant = await self._services.api_keys.authenticate(api_key)
        self._services.rate_limiter.take(hash_api_key(api_key or ""))
        limit = self._services.settings.max_body_bytes
        check_and_normalise_headers(scope, limit)
        pinned = pinned_scope(scope["headers"], scope["query_string"])
        body = await read_body(receive, limit)
        if body is None:
            return  # the client left before sending all of it: nobody to answer
        state = scope.setdefault("state", {})
        state["tenant"] = tenant.name  # for the request log
        state[_CALL_CONTEXT] = CallContext(Caller(tenant, pinned), state.get("request_id"))
        await self._manager.handle_request(
            scope,  # type: ignore[arg-type]
            replaying(body, receive),  # type: ignore[arg-type]
            send,  # type: ignore[arg-type]
        )


def _context_of_request(ctx: ServerRequestContext[Any, Any]) -> CallContext:
    """The caller _handle authenticated, from the HTTP request carrying the message."""
    context = ctx.request.scope["state"][_CALL_CONTEXT] if ctx.request is not None else None
    if not isinstance(context, CallContext):  # every request passes through _handle
        raise RuntimeError("an MCP request reached the tools without authentication")
    return context


def pinned_scope(headers: Iterable[tuple[bytes, bytes]], query_string: bytes) -> Scope:
    """The ids the connection pins, from X-Memory-User-Id... headers or ?user_id=... on the URL
    (either; both only when they agree)."""
    pins: dict[str, str] = {}
    for name, value in _query_pins(query_string) + _header_pins(headers):
        if pins.setdefault(name, value) != value:
            raise MalformedRequest(
                f"{name} is pinned twice with different values (header and/or URL); pin it once"
            )
    return pinned_ids(Scope(**pins))


def _query_pins(query_string: bytes) -> list[tuple[str, str]]:
    try:
        pairs = parse_qsl(query_string.decode("ascii"), keep_blank_values=True, errors="strict")
    except UnicodeDecodeError:
        raise MalformedRequest("the URL's query string is not valid UTF-8") from None
    for name, _value in pairs:
        if name not in SCOPE_FIELDS:
            raise MalformedRequest(
                f"unknown query parameter {name[:40]!r}; {MCP_PATH} takes: "
                + ", ".join(SCOPE_FIELDS)
            )
    return pairs


def _header_pins(headers: Iterable[tuple[bytes, bytes]]) -> list[tuple[str, str]]:
    pins = []
    for name, raw in headers:
        field = PIN_HEADERS.get(name.lower())
        if field is None:
            continue
        try:
            pins.append((field, raw.decode("utf-8")))  # not stripped: refused like a URL's
        except UnicodeDecodeError:
            raise MalformedRequest(f"the {name.decode()} header is not valid UTF-8") from None
    return pins
