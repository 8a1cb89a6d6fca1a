"""The one-row record of which embedding model wrote the stored vectors."""

from __future__ import annotations

import asyncpg

from service.errors import IncompatibleDatabase


async def ensure_embedding_model(
    connection: asyncpg.Connection, model_name: str, dimensions: int
) -> None:
    """Record the model on first use; refuse a different one afterwards.

    Mixing two models' vectors in one column silently ruins search, so this is a hard stop.
    """
    await connection.execute(
        "INSERT INTO embedding_model (name, dimensions) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        model_name,
        dimensions,
    )
    row = await connection.fetchrow("SELECT name, dimensions FROM embedding_model")
    assert row is not None  # noqa: S101  # inserted just above if absent
    if row["name"] != model_name or row["dimensions"] != dimensions:
        raise IncompatibleDatabase(
            f"this database holds embeddings from model {row['name']!r} "
            f"({row['dimensions']} dimensions) but the service was started with "
            f"{model_name!r} ({dimensions} dimensions). Start with "
            f"MEMORY_EMBEDDING_MODEL={row['name']}, or use a new database (or MEMORY_DATA_DIR) "
            "for the new model and re-import your memories there."
        )
