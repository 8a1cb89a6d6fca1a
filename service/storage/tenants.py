"""Tenants and their API keys. Keys are stored as SHA-256 hashes, never in clear."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from service.models import Tenant


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    id: uuid.UUID
    tenant_name: str
    label: str
    key_prefix: str
    created_at: datetime
    revoked_at: datetime | None


async def find_tenant_by_key_hash(connection: asyncpg.Connection, key_hash: bytes) -> Tenant | None:
    row = await connection.fetchrow(
        """
        SELECT t.id, t.name FROM api_keys k JOIN tenants t ON t.id = k.tenant_id
        WHERE k.key_hash = $1 AND k.revoked_at IS NULL
        """,
        key_hash,
    )
    return Tenant(row["id"], row["name"]) if row else None


async def find_tenant_by_name(connection: asyncpg.Connection, name: str) -> Tenant | None:
    row = await connection.fetchrow("SELECT id, name FROM tenants WHERE name = $1", name)
    return Tenant(row["id"], row["name"]) if row else None


async def get_or_create_tenant(connection: asyncpg.Connection, name: str) -> Tenant:
    row = await connection.fetchrow(
        """
        INSERT INTO tenants (name) VALUES ($1)
        ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name
        RETURNING id, name
        """,
        name,
    )
    assert row is not None  # noqa: S101  # INSERT ... RETURNING always returns the row
    return Tenant(row["id"], row["name"])


async def insert_api_key(
    connection: asyncpg.Connection, tenant: Tenant, key_prefix: str, key_hash: bytes, label: str
) -> uuid.UUID:
    key_id: uuid.UUID = await connection.fetchval(
        """
        INSERT INTO api_keys (tenant_id, label, key_prefix, key_hash)
        VALUES ($1, $2, $3, $4) RETURNING id
        """,
        tenant.id,
        label,
        key_prefix,
        key_hash,
    )
    return key_id


async def revoke_api_key(connection: asyncpg.Connection, key_id: uuid.UUID) -> bool:
    status: str = await connection.execute(
        "UPDATE api_keys SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL", key_id
    )
    return status == "UPDATE 1"


async def list_api_keys(connection: asyncpg.Connection) -> list[ApiKeyRecord]:
    rows = await connection.fetch(
        """
        SELECT k.id, t.name AS tenant_name, k.label, k.key_prefix, k.created_at, k.revoked_at
        FROM api_keys k JOIN tenants t ON t.id = k.tenant_id
        ORDER BY k.created_at, k.id
        """
    )
    return [ApiKeyRecord(**dict(row)) for row in rows]


async def count_active_api_keys(connection: asyncpg.Connection) -> int:
    count: int = await connection.fetchval("SELECT count(*) FROM api_keys WHERE revoked_at IS NULL")
    return count


async def delete_tenant(connection: asyncpg.Connection, name: str) -> uuid.UUID | None:
    """Delete the tenant; every table's rows of it go with it (ON DELETE CASCADE)."""
    tenant_id: uuid.UUID | None = await connection.fetchval(
        "DELETE FROM tenants WHERE name = $1 RETURNING id", name
    )
    return tenant_id
