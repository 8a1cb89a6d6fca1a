"""Request-scoped dependencies: the authenticated tenant and the domain services."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from litestar import Request
from litestar.datastructures import State
from litestar.exceptions import ValidationException

from service.domain.adding import AddService
from service.domain.api_keys import ApiKeyService
from service.domain.feedback import FeedbackService
from service.domain.jobs import IngestJobs
from service.domain.memories import MemoryService
from service.domain.rate_limit import RateLimiter
from service.domain.search import SearchService
from service.domain.transfer import TransferService
from service.settings import Settings
from service.storage.tenants import Tenant, hash_api_key


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


async def provide_tenant(request: Request[Any, Any, Any], state: State) -> Tenant:
    """Authenticate the request; every query below is scoped to the tenant returned."""
    api_keys: ApiKeyService = state.api_keys
    api_key = _api_key_of(request)
    tenant = await api_keys.authenticate(api_key)
    rate_limiter: RateLimiter = state.rate_limiter
    rate_limiter.take(hash_api_key(api_key or ""))
    # Read back by the request log middleware, which runs outside the handler's context.
    request.scope["state"]["tenant"] = tenant.name
    return tenant


def provide_memory_service(state: State) -> MemoryService:
    service: MemoryService = state.memory_service
    return service


def provide_search_service(state: State) -> SearchService:
    service: SearchService = state.search_service
    return service


def provide_settings(state: State) -> Settings:
    settings: Settings = state.settings
    return settings


def provide_ingest_jobs(state: State) -> IngestJobs | None:
    """The LLM ingestion service, or None when no LLM is configured."""
    jobs: IngestJobs | None = state.ingest_jobs
    return jobs


def provide_add_service(state: State) -> AddService:
    service: AddService = state.add_service
    return service


def provide_feedback_service(state: State) -> FeedbackService:
    service: FeedbackService = state.feedback_service
    return service


def provide_transfer_service(state: State) -> TransferService:
    service: TransferService = state.transfer_service
    return service
