"""Domain errors. They carry no HTTP: ``service.api.problems`` maps each to a status."""

from __future__ import annotations


class MemoryServiceError(Exception):
    """Base of every error this service raises on purpose."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class ConfigurationError(MemoryServiceError):
    """A setting is missing or invalid; the process cannot start."""


class InvalidRequest(MemoryServiceError):
    """The request is well-formed JSON but asks for something we cannot do."""


class MalformedRequest(MemoryServiceError):
    """The request cannot be read as sent (e.g. JSON nested deeper than the service accepts)."""


class InvalidFilter(InvalidRequest):
    """The filter expression does not follow the filter language."""


class NotFound(MemoryServiceError):
    """The resource does not exist for this tenant (another tenant's ids look the same)."""


class Unauthenticated(MemoryServiceError):
    """No API key, or one that is unknown or revoked."""


class DatabaseUnavailable(MemoryServiceError):
    """Postgres cannot be reached right now; the request may be retried."""


class NotReady(MemoryServiceError):
    """The process is starting or stopping and should get no traffic now."""


class IncompatibleDatabase(MemoryServiceError):
    """The database cannot serve this build: no pgvector, schema not migrated, other model."""


class Conflict(MemoryServiceError):
    """The change would break a rule about stored data (e.g. the same text twice in a scope)."""


class NotSupported(MemoryServiceError):
    """The request asks for a feature this service does not have (e.g. a Mem0 platform option)."""


class RequestInProgress(Conflict):
    """A request with the same Idempotency-Key is being processed right now."""


class RateLimited(MemoryServiceError):
    """The API key made more requests than its rate allows; retry after ``retry_after_s``."""

    def __init__(self, detail: str, retry_after_s: int) -> None:
        super().__init__(detail)
        self.retry_after_s = retry_after_s
