"""A tenant's project settings: its default extraction instructions and categories."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from service.models import Category, ProjectSettings


async def find_settings(
    connection: asyncpg.Connection, tenant_id: uuid.UUID, *, lock: bool = False
) -> ProjectSettings:
    """``lock``: until the transaction ends, so that two updates of different settings do
    not undo each other."""
    suffix = " FOR UPDATE" if lock else ""
    row = await connection.fetchrow(
        f"SELECT custom_instructions, custom_categories FROM tenants WHERE id = $1{suffix}",
        tenant_id,
    )
    if row is None:  # the tenant was deleted while its key was still cached
        return ProjectSettings()
    return ProjectSettings(row["custom_instructions"], _categories(row["custom_categories"]))


async def save_settings(
    connection: asyncpg.Connection, tenant_id: uuid.UUID, settings: ProjectSettings
) -> None:
    await connection.execute(
        "UPDATE tenants SET custom_instructions = $2, custom_categories = $3 WHERE id = $1",
        tenant_id,
        settings.instructions,
        [{"name": c.name, "description": c.description} for c in settings.categories],
    )


def _categories(raw: list[dict[str, Any]]) -> tuple[Category, ...]:
    return tuple(Category(item["name"], item["description"]) for item in raw)
