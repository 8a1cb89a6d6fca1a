"""Checks every request passes before its handler, whatever the route."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from typing import Any

from litestar import Litestar, Request
from litestar.exceptions import HTTPException, ValidationException
from litestar.routes import HTTPRoute
from litestar.status_codes import HTTP_415_UNSUPPORTED_MEDIA_TYPE

from service.api.consistency import read_token
from service.domain.json_depth import check_json_depth

# Handler ``opt`` keys. BODY_MEDIA_TYPES: a handler that reads its body raw (the import) names
# the media types it takes. IGNORED_QUERY_PARAMETERS: parameters a handler accepts and ignores
# (what the Mem0 SDK sends that means nothing here). LIST_QUERY_PARAMETERS: parameters a
# handler takes as a list, one value per repetition (Mem0's ``?fields=a&fields=b``).
BODY_MEDIA_TYPES = "body_media_types"
IGNORED_QUERY_PARAMETERS = "ignored_query_parameters"
LIST_QUERY_PARAMETERS = "list_query_parameters"
_QUERY_PARAMETERS = "query_parameters"  # filled in from the handler's signature on first use
_MAX_NAME_SHOWN = 40


async def check_request(request: Request[Any, Any, Any]) -> None:
    """Refuse, before any parsing, what no handler should see (Litestar's before_request)."""
    read_token(request)
    reject_repeated_query_parameters(request)
    reject_unknown_query_parameters(request)
    await check_body(request)


def reject_repeated_query_parameters(request: Request[Any, Any, Any]) -> None:
    """Only a list parameter takes several values: ``?user_id=a&user_id=b`` is a mistake
    that would otherwise silently use one of them."""
    lists = request.route_handler.opt.get(LIST_QUERY_PARAMETERS, ())
    repeated = sorted(
        name
        for name, n in Counter(k for k, _ in request.query_params.multi_items()).items()
        if n > 1 and name not in lists
    )
    if repeated:
        raise ValidationException(
            detail=f"query parameter(s) {', '.join(repeated)} given more than once; give each once"
        )


def reject_unknown_query_parameters(request: Request[Any, Any, Any]) -> None:
    """An unknown body field is refused, so is an unknown query parameter: ``?user=alice``
    for ``?user_id=alice`` would otherwise list or delete another scope than meant."""
    given = set(request.query_params.keys())
    if not given:
        return
    handler = request.route_handler
    if _QUERY_PARAMETERS not in handler.opt:
        _index_query_parameters(request.app)
    known: frozenset[str] = handler.opt.get(_QUERY_PARAMETERS, frozenset())
    unknown = sorted(given - known - set(handler.opt.get(IGNORED_QUERY_PARAMETERS, ())))
    if unknown:
        shown = ", ".join(repr(name[:_MAX_NAME_SHOWN]) for name in unknown)
        takes = ", ".join(sorted(known)) or "none"
        raise ValidationException(
            detail=f"unknown query parameter(s) {shown}; this endpoint takes: {takes}"
        )


def _index_query_parameters(app: Litestar) -> None:
    """Note in each handler's opt the query parameters its signature (and its dependencies')
    declare, as Litestar resolved them."""
    for route in app.routes:
        if isinstance(route, HTTPRoute):
            for handler, kwargs_model in route.route_handler_map.values():
                handler.opt[_QUERY_PARAMETERS] = frozenset(
                    parameter.field_alias for parameter in kwargs_model.expected_query_params
                )


async def check_body(request: Request[Any, Any, Any]) -> None:
    """A handler that takes a JSON body gets one: declared as JSON, not empty, not nested
    deeper than the parser can take (a body of 100,000 '[' would exhaust its stack)."""
    raw_types: Collection[str] | None = request.route_handler.opt.get(BODY_MEDIA_TYPES)
    if raw_types is not None:
        _check_media_type(request, raw_types)
        return
    if "data" not in request.route_handler.parsed_fn_signature.parameters:
        return
    _check_media_type(request, ())
    body = await request.body()
    if not body.strip():
        raise ValidationException(detail="the request body is empty: send a JSON object")
    check_json_depth(body, "the request body")


def _check_media_type(request: Request[Any, Any, Any], accepted: Collection[str]) -> None:
    """JSON bodies must say they are JSON (``application/json`` or any ``application/*+json``);
    a raw body one of ``accepted``. A request without a Content-Type is read as the endpoint
    expects.

    Anything else is refused with 415 rather than parsed anyway: form-encoded or text/plain
    data is not JSON, and a browser sends those cross-site without a CORS preflight. curl's
    ``-d`` sends application/x-www-form-urlencoded unless told otherwise, so the detail says
    how to send JSON (docs/api.md, the README walkthrough)."""
    check_media_type(request.headers.get("content-type"), accepted)


def check_media_type(header: str | None, accepted: Collection[str] = ()) -> None:
    """The check of _check_media_type on a Content-Type header's value (also /mcp's)."""
    if header is None:
        return
    media_type = header.split(";", 1)[0].strip().lower()
    if accepted:
        if media_type in accepted:
            return
        expected = ", ".join(accepted)
    else:
        if media_type == "application/json" or (
            media_type.startswith("application/") and media_type.endswith("+json")
        ):
            return
        expected = "application/json"
    raise HTTPException(
        status_code=HTTP_415_UNSUPPORTED_MEDIA_TYPE,
        detail=f"Content-Type {media_type[:_MAX_NAME_SHOWN]!r} is not accepted here: send "
        f"{expected} with a matching Content-Type header (with curl: -H 'Content-Type: "
        f"{next(iter(accepted), 'application/json')}'; -d alone sends "
        "application/x-www-form-urlencoded)",
    )
