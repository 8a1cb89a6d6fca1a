"""Request-scoped dependencies: the authenticated tenant and the domain services."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from litestar import Request
from litestar.di import Provide
from litestar.exceptions import ValidationException

from service.composition import Services
from service.domain.api_keys import ApiKeyService, hash_api_key
from service.domain.rate_limit import RateLimiter
from service.models import Tenant


def _api_key_of(request: Request[Any, Any, Any]) -> str | None:
    return api_key_of_headers(request.scope["headers"])


def api_key_of_headers(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    """The key of ``Authorization: Bearer|Token <key>`` or ``X-API-Key: <key>``.

    Both headers may carry the same key; two different keys are refused (400) rather than
    one of them silently chosen: the request would run as a tenant its sender may not mean.
    """
    keys = set()
    for name, raw in headers:
        value = raw.decode("latin-1").strip()
        if name.lower() == b"authorization":
            scheme, _, credentials = value.partition(" ")
            if scheme.lower() in ("bearer", "token") and credentials.strip():
                keys.add(credentials.strip())
        elif name.lower() == b"x-api-key" and value:
            keys.add(value)
    if len(keys) > 1:
        raise ValidationException(
            detail="the request carries different API keys (Authorization and/or X-API-Key); "
            "send one key"
        )
    return keys.pop() if keys else None


class TenantOfRequest:
    """Authenticates a request (and counts it against its key's rate); every query below is
    scoped to the tenant it returns."""

    def __init__(self, api_keys: ApiKeyService, rate_limiter: RateLimiter) -> None:
        self._api_keys = api_keys
        self._rate_limiter = rate_limiter

    async def __call__(self, request: Request[Any, Any, Any]) -> Tenant:
        api_key = _api_key_of(request)
        tenant = await self._api_keys.authenticate(api_key)
        self._rate_limiter.take(hash_api_key(api_key or ""))
        # Read back by the request log middleware, which runs outside the handler's context.
        request.scope["state"]["tenant"] = tenant.name
        return tenant


def service_dependencies(services: Services) -> dict[str, Provide]:
    """What handlers may ask for by parameter name. The names end in ``_service`` (or are
    otherwise unlike any body field), so that no request field shadows one."""

    def constant(value: object) -> Provide:
        return Provide(lambda: value, sync_to_thread=False, use_cache=True)

    return {
        "tenant": Provide(TenantOfRequest(services.api_keys, services.rate_limiter)),
        "settings": constant(services.settings),
        "memory_service": constant(services.memory_service),
        "add_service": constant(services.add_service),
        "project_service": constant(services.project_service),
        "search_service": constant(services.search_service),
        "context_service": constant(services.context_service),
        "feedback_service": constant(services.feedback_service),
        "transfer_service": constant(services.transfer_service),
        "ingest_jobs": constant(services.ingest_jobs),
        "failed_jobs": constant(services.failed_jobs),
        "operations": constant(services.operations),
    }
