"""The consistency token on the wire: read from a request, answered after a write.

A write's answer carries ``Consistency-Token`` (the primary's WAL position once it committed);
a read that sends it back sees that write even when a read replica serves it
(``service.storage.replica`` says how). Reads without one may lag, by a bounded time.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from litestar import Request, Response

from service.consistency import HEADER, current, format_lsn, start_request
from service.errors import DatabaseUnavailable

log = structlog.get_logger(__name__)


def read_token(request: Request[Any, Any, Any]) -> None:
    """Note the request's token before its handler runs (only a read parses it: a malformed
    one answers 400 there, and probes and writes ignore it)."""
    start_request(request.headers.getall(HEADER, []))


def token_answerer(
    wal_position: Callable[[], Awaitable[int]],
) -> Callable[[Response[Any]], Awaitable[Response[Any]]]:
    """Litestar's after_request hook: the token on every successful answer that wrote, from
    ``wal_position`` (the primary's WAL position now)."""

    async def answer_token(response: Response[Any]) -> Response[Any]:
        consistency = current()
        if consistency is None or not consistency.wrote or (response.status_code or 200) >= 400:
            return response
        try:
            response.headers[HEADER] = format_lsn(await wal_position())
        except DatabaseUnavailable:
            # The write is done; its answer goes out without a token rather than failing.
            log.warning("consistency.token_unavailable")
        return response

    return answer_token
