"""A tenant's project settings (Mem0's ``project.get`` / ``project.update``): the extraction
instructions and categories an add uses when it gives none of its own."""

from __future__ import annotations

import dataclasses
import uuid

from service.domain.guidance import MAX_INSTRUCTIONS_CHARS, check_categories, check_instructions
from service.models import Category, Guidance, ProjectSettings
from service.storage import projects as store
from service.storage.database import Database


class Keep:
    """A setting an update leaves as it is."""


KEEP = Keep()


class ProjectService:
    def __init__(self, database: Database) -> None:
        self._database = database

    async def get(self, tenant_id: uuid.UUID) -> ProjectSettings:
        async with self._database.connection(tenant_id) as connection:
            return await store.find_settings(connection, tenant_id)

    async def update(
        self,
        tenant_id: uuid.UUID,
        *,
        instructions: str | Keep | None = KEEP,
        categories: tuple[Category, ...] | Keep = KEEP,
    ) -> ProjectSettings:
        """Replace what is given (``instructions=None`` or ``categories=()`` removes them);
        keep the rest."""
        if not isinstance(instructions, Keep):
            check_instructions("custom_instructions", instructions, MAX_INSTRUCTIONS_CHARS)
        if not isinstance(categories, Keep):
            check_categories(categories)
        async with self._database.transaction(tenant_id) as connection:
            current = await store.find_settings(connection, tenant_id, lock=True)
            changed = ProjectSettings(
                current.instructions if isinstance(instructions, Keep) else instructions,
                current.categories if isinstance(categories, Keep) else categories,
            )
            await store.save_settings(connection, tenant_id, changed)
        return changed

    async def with_defaults(self, tenant_id: uuid.UUID, guidance: Guidance) -> Guidance:
        """The add's guidance, its instructions and categories filled in from the project's
        where it gives none (what the add gives replaces the project's, never merges)."""
        if guidance.instructions is not None and guidance.categories:
            return guidance
        project = await self.get(tenant_id)
        return dataclasses.replace(
            guidance,
            instructions=guidance.instructions or project.instructions,
            categories=guidance.categories or project.categories,
        )
