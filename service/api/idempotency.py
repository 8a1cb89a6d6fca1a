"""The Idempotency-Key header: a retried write has one effect and gets the first answer.

Runs inside Litestar (after routing, inside its error handling), on POST, PUT, PATCH and
DELETE requests that carry the header. The decisions are ``service.domain.idempotency``'s;
this module only reads the request and replays or records the answer.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable, Iterable

import structlog
from litestar.enums import ScopeType
from litestar.exceptions import ValidationException
from litestar.status_codes import (
    HTTP_406_NOT_ACCEPTABLE,
    HTTP_415_UNSUPPORTED_MEDIA_TYPE,
    HTTP_429_TOO_MANY_REQUESTS,
)
from litestar.types import (
    ASGIApp,
    HTTPScope,
    Message,
    Receive,
    ReceiveMessage,
    Scope,
    Send,
)

from service.api.dependencies import api_key_of_headers
from service.consistency import HEADER as CONSISTENCY_HEADER
from service.consistency import format_lsn
from service.domain.api_keys import ApiKeyService
from service.domain.idempotency import (
    IdempotencyService,
    InProgress,
    KeyReused,
    Replay,
    request_fingerprint,
)
from service.errors import DatabaseUnavailable, InvalidRequest, RequestInProgress, Unauthenticated
from service.models import Tenant

log = structlog.get_logger(__name__)

HEADER = b"idempotency-key"
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_VALID_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")


class IdempotencyMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        api_keys: ApiKeyService,
        idempotency: IdempotencyService,
        max_body_bytes: int,
        wal_position: Callable[[], Awaitable[int]],
    ) -> None:
        self.app = app
        self._api_keys = api_keys
        self._idempotency = idempotency
        self._max_body_bytes = max_body_bytes
        self._wal_position = wal_position

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        http_scope = scope if scope["type"] == ScopeType.HTTP else None
        key = _idempotency_key(http_scope) if http_scope else None
        if http_scope is None or key is None:
            await self.app(scope, receive, send)
            return
        body, replay_receive, complete = await _read_body(receive, self._max_body_bytes)
        tenant = await self._tenant(http_scope) if complete else None
        if tenant is None:  # too large (the app answers 413) or no valid key (401)
            await self.app(scope, replay_receive, send)
            return
        fingerprint = request_fingerprint(
            http_scope["method"],
            http_scope["path"],
            http_scope["query_string"],
            body,
            _meaning_headers(http_scope["headers"]),
        )
        claim = await self._idempotency.claim(tenant.id, key, fingerprint)
        if isinstance(claim, Replay):
            await _send_replay(send, claim, await _replay_token(self._wal_position, claim))
            return
        if isinstance(claim, KeyReused):
            raise InvalidRequest(
                f"Idempotency-Key {key!r} was already used with a different request; "
                "use a new key for a new request"
            )
        if isinstance(claim, InProgress):
            raise RequestInProgress(
                f"a request with Idempotency-Key {key!r} is still being processed; "
                "retry in a moment to get its answer"
            )
        recorder = _AnswerRecorder()
        try:
            await self.app(scope, replay_receive, recorder.send)
        except BaseException:
            await self._idempotency.abandon(tenant.id, key, claim.token)
            raise
        try:
            await self._record(tenant, key, claim.token, recorder)
        except Exception:  # e.g. the database went away: the answer is still the answer
            # Unrecorded, the claim lapses after MEMORY_IDEMPOTENCY_LOCK_S (409 until then).
            log.exception("idempotency.answer_not_recorded")
        # Only now does the client get the answer: a retry sent the moment it arrives finds it
        # recorded and replays it, instead of finding the key still claimed.
        await recorder.forward(send)

    async def _record(
        self, tenant: Tenant, key: str, token: uuid.UUID, recorder: _AnswerRecorder
    ) -> None:
        if (
            recorder.status is None
            or recorder.status >= 500
            or recorder.status in _NOT_RECORDED_REFUSALS
        ):
            # A server fault, a refusal to run it now, or a refusal of how it was sent (its
            # Content-Type or Accept, which the fingerprint does not cover): replaying it
            # would refuse every retry, even one that fixes that. The key may be used again.
            await self._idempotency.abandon(tenant.id, key, token)
        else:
            await self._idempotency.finish(
                tenant.id, key, token, recorder.status, recorder.content_type, recorder.body
            )

    async def _tenant(self, scope: HTTPScope) -> Tenant | None:
        try:
            return await self._api_keys.authenticate(api_key_of_headers(scope["headers"]))
        except Unauthenticated:
            return None


_NOT_RECORDED_REFUSALS = frozenset(
    {HTTP_429_TOO_MANY_REQUESTS, HTTP_406_NOT_ACCEPTABLE, HTTP_415_UNSUPPORTED_MEDIA_TYPE}
)


def _idempotency_key(scope: HTTPScope) -> str | None:
    if scope["method"] not in WRITE_METHODS:
        return None
    given = [value for name, value in scope["headers"] if name == HEADER]
    if not given:
        return None
    if len(given) > 1:
        # Which one would count is a guess the client should not have to make.
        raise ValidationException(detail="send one Idempotency-Key header, not several")
    key = given[0].decode("latin-1")
    if not _VALID_KEY.match(key):
        raise ValidationException(
            detail="Idempotency-Key must be 1 to 255 printable ASCII characters, e.g. a UUID"
        )
    return key


async def _read_body(receive: Receive, limit: int) -> tuple[bytes, Receive, bool]:
    """The whole body (if it fits in ``limit``), and a receive that replays it to the app."""
    messages: list[ReceiveMessage] = []
    size = 0
    complete = False
    while size <= limit:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        size += len(message["body"])
        if not message.get("more_body", False):
            complete = size <= limit
            break
    body = b"".join(m["body"] for m in messages if m["type"] == "http.request")
    buffered = list(messages)

    async def replay() -> ReceiveMessage:
        return buffered.pop(0) if buffered else await receive()

    return body, replay, complete


async def _replay_token(wal_position: Callable[[], Awaitable[int]], replay: Replay) -> str | None:
    """A replayed write's consistency token: the WAL position now, past the first write's
    commit (the retry may be the one that needs it, its first answer lost)."""
    if replay.status >= 400:
        return None
    try:
        return format_lsn(await wal_position())
    except DatabaseUnavailable:
        return None


async def _send_replay(send: Send, replay: Replay, token: str | None) -> None:
    headers = [
        (b"content-length", str(len(replay.body)).encode()),
        (b"idempotent-replayed", b"true"),
    ]
    if token is not None:
        headers.append((CONSISTENCY_HEADER.lower().encode(), token.encode()))
    if replay.content_type:
        headers.append((b"content-type", replay.content_type.encode("latin-1")))
    await send({"type": "http.response.start", "status": replay.status, "headers": headers})
    await send({"type": "http.response.body", "body": replay.body, "more_body": False})


class _AnswerRecorder:
    """Holds the app's response back, keeping a copy, until ``forward`` sends it on."""

    def __init__(self) -> None:
        self.status: int | None = None
        self.content_type: str | None = None
        self._body = bytearray()
        self._messages: list[Message] = []

    @property
    def body(self) -> bytes:
        return bytes(self._body)

    async def forward(self, send: Send) -> None:
        for message in self._messages:
            await send(message)

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.content_type = next(
                (
                    v.decode("latin-1")
                    for k, v in message.get("headers", [])
                    if k.lower() == b"content-type"
                ),
                None,
            )
        elif message["type"] == "http.response.body":
            self._body.extend(message.get("body", b""))
        self._messages.append(message)


def _meaning_headers(headers: Iterable[tuple[bytes, bytes]]) -> bytes:
    """The service's own headers (``X-Memory-*``: /mcp's pinned user, agent and run), which
    change what a request does: the same body pinned to another user is another request."""
    own = sorted(
        (name.lower(), value) for name, value in headers if name.lower().startswith(b"x-memory-")
    )
    return b"\n".join(name + b":" + value for name, value in own)
