"""The only place where errors become HTTP: every error is application/problem+json."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import structlog
from litestar import Request, Response
from litestar.exceptions import (
    HTTPException,
    MethodNotAllowedException,
    NotFoundException,
    SerializationException,
    ValidationException,
)
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.status_codes import HTTP_413_REQUEST_ENTITY_TOO_LARGE, HTTP_500_INTERNAL_SERVER_ERROR

from service import errors
from service.api.field_errors import field_errors as body_field_errors
from service.api.mem0.routing import CLIENT_PATH
from service.api.request_log import CLIENT_GONE
from service.api.schemas import FieldError, Problem

log = structlog.get_logger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"

_STATUS_OF: dict[type[errors.MemoryServiceError], int] = {
    errors.MalformedRequest: 400,
    errors.InvalidRequest: 422,
    errors.NotFound: 404,
    errors.Unauthenticated: 401,
    errors.Conflict: 409,
    errors.DatabaseUnavailable: 503,
    errors.IncompatibleDatabase: 503,
    errors.NotReady: 503,
    errors.NotSupported: 501,
    errors.RateLimited: 429,
}
_DESCRIPTIONS = {
    400: "The request is malformed: invalid JSON, unknown fields or wrong types.",
    401: "No API key, or an unknown or revoked one.",
    404: "No such resource for this API key.",
    409: "The change conflicts with stored data.",
    413: "The request body is larger than MEMORY_MAX_BODY_BYTES.",
    415: "The body is not sent as JSON (Content-Type: application/json).",
    422: "The request is well-formed but cannot be carried out as asked.",
    429: "Too many requests for this API key; retry after Retry-After seconds.",
    501: "The feature asked for is not supported by this service.",
    503: "The database is unreachable or the service is not ready; retry shortly.",
}


def too_large_detail(limit: int) -> str:
    """A 413's detail, everywhere a body is refused for its size (also /mcp's)."""
    return f"The request body is larger than {limit} bytes, the most this endpoint takes."


def not_json_detail(reason: str) -> str:
    """A body that does not parse, with the parser's reason (also /mcp's)."""
    return f"The request body is not valid JSON: {reason}"


def problem_responses(*statuses: int) -> dict[int, ResponseSpec]:
    """OpenAPI entries for the errors a route can answer (an authenticated route: also 429; a
    route taking a body: also 415)."""
    if 401 in statuses:
        statuses = tuple(sorted({*statuses, 429}))
    if 413 in statuses:
        statuses = tuple(sorted({*statuses, 415}))
    return {
        status: ResponseSpec(
            data_container=Problem,
            media_type=PROBLEM_MEDIA_TYPE,
            description=_DESCRIPTIONS[status],
            generate_examples=False,
        )
        for status in statuses
    }


def problem_response(
    request: Request[Any, Any, Any],
    status: int,
    detail: str,
    field_errors: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
) -> Response[Problem]:
    title = HTTPStatus(status).phrase
    problem = Problem(
        # RFC 9457: "about:blank" means the status and title say it all; detail says the rest.
        type="about:blank",
        title=title,
        status=status,
        detail=detail,
        instance=request.scope.get("state", {}).get(CLIENT_PATH, request.url.path),
        request_id=request.scope.get("state", {}).get("request_id"),
        errors=field_errors,
    )
    return Response(problem, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def handle_domain_error(
    request: Request[Any, Any, Any], error: errors.MemoryServiceError
) -> Response[Problem]:
    status = next(
        (code for kind, code in _STATUS_OF.items() if isinstance(error, kind)),
        500,
    )
    headers: dict[str, str] = {}
    if status == 503:
        headers["Retry-After"] = "2"
    if isinstance(error, errors.RequestInProgress):
        headers["Retry-After"] = "1"
    if isinstance(error, errors.RateLimited):
        headers["Retry-After"] = str(error.retry_after_s)
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="memory-service"'
    return problem_response(request, status, error.detail, headers=headers)


def handle_http_exception(
    request: Request[Any, Any, Any], error: HTTPException
) -> Response[Problem]:
    field_errors = None
    detail = error.detail
    if isinstance(error, NotFoundException):
        # Raised by routing, before any handler: say what could be wrong with the URL.
        detail = "No resource at this path: check the URL; memory and job ids are UUIDs."
        if request.url.path.startswith("/mem0/"):
            detail = (
                "No Mem0-compatible route at this path. Paths ending in '/' are served as the "
                "Mem0 platform API; native paths have no trailing slash."
            )
    elif isinstance(error, MethodNotAllowedException) and detail == HTTPStatus(405).phrase:
        # Raised by routing; Allow lists what the path takes.
        allowed = (error.headers or {}).get("allow") or (error.headers or {}).get("Allow")
        detail = f"{request.method} is not allowed at this path" + (
            f"; it takes {allowed}" if allowed else ""
        )
    elif isinstance(error, ValidationException):
        field_errors = body_field_errors(request, error.extra)
        detail = _validation_detail(error, field_errors)
    elif isinstance(error.__cause__, SerializationException):
        # The body could not be decoded (msgspec says where: "truncated", "invalid character").
        detail = not_json_detail(detail)
    elif error.status_code == HTTP_413_REQUEST_ENTITY_TOO_LARGE:
        handler = request.scope.get("route_handler")
        limit = (
            handler.resolve_request_max_body_size()
            if isinstance(handler, HTTPRouteHandler)
            else None
        )
        if limit:
            detail = too_large_detail(limit)
    elif request.scope.get("state", {}).get(CLIENT_GONE):
        pass  # the client hung up mid-body: not a fault here (the request log says 499)
    elif error.status_code >= HTTP_500_INTERNAL_SERVER_ERROR:
        # Litestar's own 500s (e.g. a dependency that failed) are faults to look into too.
        log.error("request.failed", error=type(error).__name__, status=error.status_code)
    return problem_response(
        request, error.status_code, detail, field_errors or None, headers=error.headers
    )


def handle_unexpected_error(request: Request[Any, Any, Any], error: Exception) -> Response[Problem]:
    log.exception("request.failed", error=type(error).__name__)
    return problem_response(
        request, 500, "An unexpected error occurred; it has been logged with this request id."
    )


def _validation_detail(error: ValidationException, field_errors: list[FieldError]) -> str:
    if field_errors:
        first = field_errors[0]
        where = " ".join(part for part in (first.source, first.key) if part)
        return f"Invalid request{f' ({where})' if where else ''}: {first.message}"
    return str(error.detail) or "Invalid request"
