"""The one-row record of which vector space (model, precision, prompt) the stored vectors are in."""

from __future__ import annotations

import asyncpg

from service.errors import IncompatibleDatabase
from service.models import VectorSpace


async def ensure_vector_space(connection: asyncpg.Connection, space: VectorSpace) -> None:
    """Record the vector space on first use; refuse a different one afterwards.

    Mixing vectors of two spaces in one column silently ruins search, so this is a hard stop.
    """
    async with connection.transaction():
        await connection.execute(
            "INSERT INTO embedding_model (name, dimensions, weights, document_prompt) "
            "VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            space.model,
            space.dimensions,
            space.weights,
            space.document_prompt,
        )
        # Recorded before the precision was: taken to be the one the service runs with.
        await connection.execute(
            "UPDATE embedding_model SET weights = $1 WHERE weights IS NULL", space.weights
        )
        row = await connection.fetchrow(
            "SELECT name, dimensions, weights, document_prompt FROM embedding_model"
        )
    assert row is not None  # noqa: S101  # inserted just above if absent
    stored = VectorSpace(row["name"], row["dimensions"], row["weights"], row["document_prompt"])
    if stored != space:
        raise IncompatibleDatabase(
            f"this database holds embeddings of {stored.describe()} but the service was "
            f"started with {space.describe()}. Start with {_settings_for(stored, space)}, or use a "
            "new database (or MEMORY_DATA_DIR) and re-import your memories there (export, "
            "then import: the texts are embedded again)."
        )


def _settings_for(stored: VectorSpace, started: VectorSpace) -> str:
    """The settings that would start the service in the stored space."""
    settings = []
    if (stored.model, stored.dimensions) != (started.model, started.dimensions):
        settings.append(f"MEMORY_EMBEDDING_MODEL={stored.model}")
    if stored.weights != started.weights:
        backend = "onnx-int8" if stored.weights == "int8" else "onnx (or torch)"
        settings.append(f"MEMORY_EMBEDDING_BACKEND={backend}")
    if stored.document_prompt != started.document_prompt:
        settings.append(f"MEMORY_EMBEDDING_DOCUMENT_PROMPT={stored.document_prompt!r}")
    return " and ".join(settings)
