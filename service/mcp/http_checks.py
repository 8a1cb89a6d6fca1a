"""What /mcp checks of an HTTP request before the MCP SDK reads it.

Each refusal here is the REST API's problem (application/problem+json, raised to the app's
exception handlers). Left to the SDK, the same requests got plain-text or JSON-RPC answers
that a client cannot read as this API's errors, and the SDK compares media types more
narrowly than HTTP does (``APPLICATION/JSON`` is JSON). What passes is handed on in the form
the SDK expects.
"""

from __future__ import annotations

import msgspec
from litestar.exceptions import HTTPException
from litestar.status_codes import (
    HTTP_406_NOT_ACCEPTABLE,
    HTTP_413_REQUEST_ENTITY_TOO_LARGE,
    HTTP_415_UNSUPPORTED_MEDIA_TYPE,
)
from litestar.types import HTTPRequestEvent, Receive, ReceiveMessage
from litestar.types import Scope as AsgiScope

from service.api.problems import not_json_detail, too_large_detail
from service.domain.json_depth import MAX_JSON_DEPTH, json_depth
from service.errors import MalformedRequest

MCP_PATH = "/mcp"
JSON = b"application/json"
_SHOWN = 60  # characters of a client's header value quoted back in a detail
_NORMALISED = (b"content-type", b"accept")
# Deeper than any message the tools take (their arguments nest at most MAX_JSON_DEPTH, inside
# a few levels of envelope); parsers recurse, and a body of 100,000 brackets overflowed one.
MAX_BODY_DEPTH = 4 * MAX_JSON_DEPTH
_JSON_NAMES = {"dict": "object", "list": "array", "str": "string", "int": "number"}


def check_and_normalise_headers(scope: AsgiScope, max_body_bytes: int) -> None:
    """Refuse a Content-Type that is missing or not JSON, an Accept that excludes JSON and a
    declared body over the limit; then rewrite both headers as the SDK compares them."""
    headers: list[tuple[bytes, bytes]] = list(scope["headers"])
    values = {name.lower(): value.decode("latin-1") for name, value in headers}
    content_types = [value for name, value in headers if name.lower() == b"content-type"]
    if len(content_types) > 1:
        raise MalformedRequest(
            f"the request has {len(content_types)} Content-Type headers; send one: application/json"
        )
    content_type = values.get(b"content-type")
    if content_type is None:
        raise HTTPException(
            status_code=HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            detail=f"{MCP_PATH} needs a Content-Type header: send the JSON-RPC message as "
            "application/json (with curl: -H 'Content-Type: application/json')",
        )
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type != JSON.decode():
        raise HTTPException(
            status_code=HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            detail=f"Content-Type {media_type[:_SHOWN]!r} is not accepted at {MCP_PATH}: send "
            "the JSON-RPC message as application/json (-H 'Content-Type: application/json')",
        )
    # Several Accept headers are one list (RFC 9110).
    accepts = [value.decode("latin-1") for name, value in headers if name.lower() == b"accept"]
    accept = ", ".join(accepts) if accepts else None
    if accept is not None and not _accepts_json(accept):
        raise HTTPException(
            status_code=HTTP_406_NOT_ACCEPTABLE,
            detail=f"{MCP_PATH} answers application/json, which the Accept header "
            f"{accept[:_SHOWN]!r} leaves out: send Accept: application/json, text/event-stream",
        )
    declared = values.get(b"content-length", "")
    if declared.isdigit() and int(declared) > max_body_bytes:
        raise too_large(max_body_bytes)
    # No Accept header accepts anything (RFC 9110); the SDK wants JSON named.
    kept = [(name, value) for name, value in headers if name.lower() not in _NORMALISED]
    scope["headers"] = [
        *kept,
        (b"content-type", JSON),
        (b"accept", accept.encode("latin-1") if accept else JSON),
    ]


def _accepts_json(accept: str) -> bool:
    """Whether a media range of ``accept`` takes JSON with a weight above 0 (``q=0``: not
    acceptable, RFC 9110)."""
    for media_range in accept.split(","):
        media_type, *parameters = (part.strip() for part in media_range.split(";"))
        if media_type.lower() not in ("application/json", "application/*", "*/*"):
            continue
        weights = [p.split("=", 1)[1] for p in parameters if p.lower().startswith("q=")]
        try:
            if not weights or float(weights[0]) > 0:
                return True
        except ValueError:
            return True  # a weight that is not a number: read as the default, 1
    return False


async def read_body(receive: Receive, max_body_bytes: int) -> bytes | None:
    """The whole body, refused as soon as it passes the limit (a chunked body declares no
    length) and unless it is one JSON object; None when the client disconnects first. Held
    in memory: it is bounded."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > max_body_bytes:
            raise too_large(max_body_bytes)
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    _check_one_message(body)
    return body


def _check_one_message(body: bytes) -> None:
    if not body.strip():
        raise MalformedRequest(f"the body is empty: POST one JSON-RPC message to {MCP_PATH}")
    if json_depth(body) > MAX_BODY_DEPTH:  # counted without recursion, before any parser runs
        raise MalformedRequest(
            f"the request body nests arrays and objects more than {MAX_BODY_DEPTH} levels deep; "
            f"a tool's arguments may nest {MAX_JSON_DEPTH}"
        )
    try:
        message = msgspec.json.decode(body)
    except msgspec.DecodeError as error:
        raise MalformedRequest(not_json_detail(str(error))) from None
    if not isinstance(message, dict):
        raise MalformedRequest(
            "the body must be one JSON-RPC message, a JSON object (batches are not supported); "
            f"got a JSON {_JSON_NAMES.get(type(message).__name__, 'value')}"
        )


def too_large(max_body_bytes: int) -> HTTPException:
    return HTTPException(
        status_code=HTTP_413_REQUEST_ENTITY_TOO_LARGE, detail=too_large_detail(max_body_bytes)
    )


def replaying(body: bytes, receive: Receive) -> Receive:
    """A receive that hands over ``body`` whole first, then whatever the client sends next
    (its disconnect)."""
    replayed = False

    async def receive_body() -> ReceiveMessage:
        nonlocal replayed
        if replayed:
            return await receive()
        replayed = True
        whole: HTTPRequestEvent = {"type": "http.request", "body": body, "more_body": False}
        return whole

    return receive_body
