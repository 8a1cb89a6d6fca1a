"""Mem0, the open-source library, set up as the issue compares it: in-process, the same model
(huggingface provider, the local weights of MEMORY_EMBEDDING_MODEL, all-MiniLM-L6-v2 unless
set), pgvector on the same Postgres, and no LLM step (``infer=False``). Mem0 puts no prompt
before texts, whatever the model was trained with.

Mem0 2.x searches hybrid itself (vector + a full-text side on spaCy lemmas, plus entity
boosts); spaCy ships in ``mem0ai[nlp]`` with a model PyPI does not carry, so here, as for any
plain ``pip install mem0ai``, its keyword side matches unlemmatised text and entities are off.
Searches pass ``threshold=0`` so that its default score floor (0.1) cuts nothing from a top-k.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from service.adapters.embedder import resolve_model_path
from service.adapters.sentence_encoders import load_sentence_transformer
from service.settings import DEFAULT_EMBEDDING_MODEL

MEM0_VERSION = "2.2.1"  # pinned in pyproject.toml's dev extra


def mem0_memory(dsn: str, collection: str, history_db: Path) -> Any:
    """A Mem0 ``Memory`` storing into table ``collection`` of the Postgres at ``dsn``."""
    os.environ.setdefault("MEM0_TELEMETRY", "False")  # no phoning home from a benchmark
    from mem0 import Memory  # noqa: PLC0415  # heavy; only the comparison needs it

    model = resolve_model_path(os.environ.get("MEMORY_EMBEDDING_MODEL", DEFAULT_EMBEDDING_MODEL))
    dimensions = load_sentence_transformer(model).get_embedding_dimension()
    return Memory.from_config(
        {
            "vector_store": {
                "provider": "pgvector",
                "config": {
                    "connection_string": dsn,
                    "collection_name": collection,
                    "embedding_model_dims": dimensions,
                },
            },
            "embedder": {
                "provider": "huggingface",
                "config": {"model": model},
            },
            # Never called with infer=False; Mem0 still builds an LLM client at start.
            "llm": {
                "provider": "openai",
                "config": {"api_key": "unused", "openai_base_url": "http://127.0.0.1:9/v1"},
            },
            "history_db_path": str(history_db),
        }
    )


def add(memory: Any, text: str, user_id: str, metadata: dict[str, Any] | None = None) -> None:
    memory.add(text, user_id=user_id, metadata=metadata, infer=False)


def search(memory: Any, query: str, user_id: str, limit: int) -> list[dict[str, Any]]:
    found = memory.search(query, filters={"user_id": user_id}, top_k=limit, threshold=0.0)
    results: list[dict[str, Any]] = found["results"]
    return results


def bulk_insert(
    memory: Any, texts: list[str], user_ids: list[str], vectors: npt.NDArray[np.float32]
) -> None:
    """Store precomputed memories through Mem0's own vector store, with the payload its
    ``add`` writes, so that large sizes need not be embedded one by one."""
    now = datetime.now(UTC).isoformat()
    payloads = [
        {
            "data": text,
            "hash": hashlib.md5(text.encode()).hexdigest(),  # noqa: S324  # Mem0's own scheme
            "user_id": user_id,
            "created_at": now,
            "updated_at": now,
            "text_lemmatized": text,
        }
        for text, user_id in zip(texts, user_ids, strict=True)
    ]
    ids = [str(uuid.uuid4()) for _ in texts]
    memory.vector_store.insert(vectors=vectors.tolist(), payloads=payloads, ids=ids)
