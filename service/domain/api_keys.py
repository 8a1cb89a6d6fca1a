"""Creating, revoking and checking API keys; bootstrapping a key for local development."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import structlog

from service.errors import NotFound, Unauthenticated
from service.models import Tenant
from service.storage import tenants as store
from service.storage.database import ALL_TENANTS, Database
from service.storage.tenants import ApiKeyRecord

log = structlog.get_logger(__name__)

API_KEY_PREFIX = "msk_"
DEVELOPMENT_TENANT = "default"


def _write_secret_file(path: Path, secret: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(secret + "\n")


def generate_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(api_key: str) -> bytes:
    """What is stored of a key. Keys carry 256 bits of randomness, so a fast hash is enough
    (no password stretching)."""
    return hashlib.sha256(api_key.encode()).digest()


@dataclass(frozen=True, slots=True)
class CreatedKey:
    id: uuid.UUID
    tenant: Tenant
    api_key: str  # shown once; only its hash is stored


class ApiKeyService:
    """Resolves keys to tenants, caching hits briefly so a request costs no extra query.

    A revoked key stops working within ``cache_ttl_s`` seconds on every replica.
    """

    def __init__(self, database: Database, cache_ttl_s: float = 5.0) -> None:
        self._database = database
        self._cache_ttl_s = cache_ttl_s
        self._cache: dict[str, tuple[float, Tenant]] = {}

    async def authenticate(self, api_key: str | None) -> Tenant:
        if not api_key:
            raise Unauthenticated(
                "missing API key: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'"
            )
        cached = self._cache.get(api_key)
        now = time.monotonic()
        if cached and now - cached[0] < self._cache_ttl_s:
            return cached[1]
        async with self._database.connection(ALL_TENANTS) as connection:
            tenant = await store.find_tenant_by_key_hash(connection, hash_api_key(api_key))
        if tenant is None:
            self._cache.pop(api_key, None)
            raise Unauthenticated("unknown or revoked API key")
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[api_key] = (now, tenant)
        return tenant

    async def tenant_named(self, name: str) -> Tenant:
        """An existing tenant, for operator commands that act as one without its key."""
        async with self._database.connection(ALL_TENANTS) as connection:
            tenant = await store.find_tenant_by_name(connection, name)
        if tenant is None:
            raise NotFound(
                f"no tenant named {name!r}; create it with `memory-service keys create --tenant "
                f"{name}`"
            )
        return tenant

    async def create(self, tenant_name: str, label: str = "") -> CreatedKey:
        api_key = generate_api_key()
        async with self._database.transaction(ALL_TENANTS) as connection:
            tenant = await store.get_or_create_tenant(connection, tenant_name)
            key_id = await store.insert_api_key(
                connection, tenant, api_key[:12], hash_api_key(api_key), label
            )
        log.info("api_key.created", key_id=str(key_id), tenant=tenant.name)
        return CreatedKey(key_id, tenant, api_key)

    async def revoke(self, key_id: uuid.UUID) -> None:
        async with self._database.transaction(ALL_TENANTS) as connection:
            if not await store.revoke_api_key(connection, key_id):
                raise NotFound(f"no active API key with id {key_id}")
        self._cache.clear()
        log.info("api_key.revoked", key_id=str(key_id))

    async def delete_tenant(self, name: str) -> None:
        """Forget a tenant entirely: its keys, memories, history, jobs, feedback, everything."""
        async with self._database.transaction(ALL_TENANTS) as connection:
            tenant_id = await store.delete_tenant(connection, name)
        if tenant_id is None:
            raise NotFound(f"no tenant named {name!r}")
        self._cache.clear()
        log.warning("tenant.deleted", tenant=name, tenant_id=str(tenant_id))

    async def list_keys(self) -> list[ApiKeyRecord]:
        async with self._database.connection(ALL_TENANTS) as connection:
            return await store.list_api_keys(connection)

    async def ensure_development_key(self, key_file: Path) -> None:
        """Zero-config local runs: if no key exists yet, create one and write it to a file.

        Only the embedded (local) mode calls this; with DATABASE_URL nothing is created and
        every request needs a key made with ``memory-service keys create``.
        """
        async with self._database.connection(ALL_TENANTS) as connection:
            active = await store.count_active_api_keys(connection)
        if active:
            return
        created = await self.create(DEVELOPMENT_TENANT, label="development")
        await asyncio.to_thread(_write_secret_file, key_file, created.api_key)
        # The key itself never goes to the log: only where to read it.
        log.warning(
            "auth.development_key_created", tenant=DEVELOPMENT_TENANT, key_file=str(key_file)
        )
