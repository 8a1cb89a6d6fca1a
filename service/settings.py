"""One typed settings object, read from the environment once at start and passed in.

Every variable is listed in ``SETTINGS_DOC`` (used by ``--help`` and pinned against the
README's configuration table by a test), so documentation cannot drift from the code.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import platformdirs

from service.errors import ConfigurationError

LogFormat = Literal["auto", "json", "console"]
EmbeddingBackend = Literal["onnx", "onnx-int8", "torch"]
ResponseFormat = Literal["json_schema", "json_object"]

DEFAULT_EMBEDDING_MODEL = "all-MiniLM-L6-v2"
# The alembic scripts ship beside the package (the image copies them to the same place).
DEFAULT_MIGRATIONS_DIR = Path(__file__).resolve().parents[1] / "migrations"

# name -> (default shown to people, what it does)
SETTINGS_DOC: dict[str, tuple[str, str]] = {
    "DATABASE_URL": (
        "(unset)",
        "Postgres with pgvector to use. Unset: an embedded Postgres in MEMORY_DATA_DIR.",
    ),
    "MEMORY_DATA_DIR": (
        "~/.local/share/memory-service",
        "Where the embedded Postgres keeps its data and the development API key.",
    ),
    "MEMORY_EMBEDDING_MODEL": (
        DEFAULT_EMBEDDING_MODEL,
        "sentence-transformers model name or local path; the default loads offline.",
    ),
    "MEMORY_MIGRATIONS_DIR": (
        "migrations/ of this release",
        "Where the alembic migration scripts are.",
    ),
    "MEMORY_EMBEDDING_BATCH_SIZE": ("64", "Most texts embedded in one forward pass."),
    "MEMORY_EMBEDDING_BACKEND": (
        "onnx",
        "onnx (onnxruntime, ~2.5x faster on CPU; mean- or CLS-pooled models), onnx-int8 (its "
        "weights quantised to int8: ~1.5x faster again, vectors at cosine >= 0.97 to onnx's; the "
        "database records it) or torch (any model).",
    ),
    "MEMORY_EMBEDDING_QUERY_PROMPT": (
        "the model's own",
        "Text put before every search query (e5: 'query: '). Unset: the model's saved 'query' "
        "prompt, if any; set: exactly this text (empty: none).",
    ),
    "MEMORY_EMBEDDING_DOCUMENT_PROMPT": (
        "the model's own",
        "Text put before every stored text (e5: 'passage: '). Unset: the model's saved "
        "document/passage prompt, if any. The database records it.",
    ),
    "MEMORY_MODEL_CACHE_DIR": (
        "MEMORY_DATA_DIR/models",
        "Where the ONNX export of the embedding model is kept (made once, at first start).",
    ),
    "MEMORY_DB_POOL_MIN": ("1", "Connections the pool keeps open."),
    "MEMORY_DB_POOL_MAX": ("10", "Most connections the pool opens."),
    "MEMORY_DB_TIMEOUT_S": (
        "5",
        "Seconds to wait for a connection or a query before answering 503.",
    ),
    "MEMORY_DB_STARTUP_WAIT_S": (
        "60",
        "Seconds to wait at start for DATABASE_URL to accept connections (with backoff).",
    ),
    "MEMORY_MAX_TEXT_CHARS": ("8000", "Longest memory text or message accepted."),
    "MEMORY_MAX_BATCH_ITEMS": ("100", "Most items in one batch add or one message list."),
    "MEMORY_MAX_BODY_BYTES": ("1048576", "Largest request body accepted, in bytes."),
    "MEMORY_EXACT_SEARCH_MAX_ROWS": (
        "20000",
        "Scopes up to this many memories are searched exactly; larger ones use the HNSW index.",
    ),
    "MEMORY_HNSW_EF_SEARCH": ("200", "HNSW candidate list size for index searches."),
    "MEMORY_HYBRID_KEYWORD_WEIGHT": (
        "0.35",
        "Most a keyword match adds to a cosine similarity in hybrid search (the best BM25 "
        "score of a query adds all of it).",
    ),
    "MEMORY_HYBRID_BM25_K1": ("1.2", "BM25 term-frequency saturation of the keyword ranking."),
    "MEMORY_HYBRID_BM25_B": ("0.3", "BM25 length normalisation of the keyword ranking (0-1)."),
    "MEMORY_HYBRID_CANDIDATES": ("50", "Results taken from each ranking before fusing."),
    "MEMORY_HYBRID_DATE_WEIGHT": (
        "0.3",
        "What hybrid search adds to memories told (created_at) on a date the query names, "
        "such as '1 February, 2023' or 'July 2023'; 0 turns dates off.",
    ),
    "MEMORY_HYBRID_SESSION_WEIGHT": (
        "0.4",
        "Hybrid search raises a memory's score this share (0 to 1) of the way to the best score "
        "of a candidate told in the same conversation (memories told less than 30 minutes "
        "apart); 0 turns it off.",
    ),
    "MEMORY_NEAR_DUPLICATE_SIMILARITY": (
        "0.95",
        "With infer=true, a text at least this similar to a memory in its scope is not stored.",
    ),
    "MEMORY_LLM_BASE_URL": (
        "(unset)",
        "OpenAI-compatible chat-completions base URL (e.g. http://127.0.0.1:11434/v1). "
        "Unset: no LLM.",
    ),
    "MEMORY_LLM_MODEL": ("gpt-4o-mini", "Model name sent to the LLM endpoint."),
    "MEMORY_LLM_API_KEY": ("(unset)", "API key for the LLM endpoint; never logged."),
    "MEMORY_LLM_TIMEOUT_S": ("30", "Seconds one LLM request may take."),
    "MEMORY_LLM_MAX_RETRIES": (
        "2",
        "Retries of an LLM request after a timeout, 429 (after Retry-After), 5xx or invalid JSON.",
    ),
    "MEMORY_LLM_RESPONSE_FORMAT": (
        "json_schema",
        "json_schema (structured outputs) or json_object, whichever the endpoint supports.",
    ),
    "MEMORY_JOB_WORKERS": (
        "1",
        "Asynchronous-ingestion workers run inside `serve` (0: only `memory-service worker`).",
    ),
    "MEMORY_JOB_MAX_ATTEMPTS": ("5", "Attempts before an ingestion job is marked failed."),
    "MEMORY_JOB_LEASE_S": (
        "120",
        "Seconds a worker owns a running job; a job whose worker died is retried after this.",
    ),
    "MEMORY_IDEMPOTENCY_TTL_S": (
        "86400",
        "Seconds an Idempotency-Key is remembered; a retry within it gets the first answer.",
    ),
    "MEMORY_IDEMPOTENCY_LOCK_S": (
        "60",
        "Seconds a claimed Idempotency-Key answers 409 when its request never finished (its "
        "process died); then a retry runs it. Keep it above the slowest request.",
    ),
    "MEMORY_PURGE_INTERVAL_S": (
        "60",
        "Seconds between purges of expired memories and idempotency keys (each replica).",
    ),
    "MEMORY_RATE_LIMIT_PER_S": (
        "1000",
        "Requests per second each API key may make, per replica (0: no limit). The default is "
        "above what one client sending requests one after another can reach (each takes a "
        "millisecond or more), since SDKs such as Mem0's do not retry a 429: it stops a runaway "
        "key, not a busy one.",
    ),
    "MEMORY_RATE_LIMIT_BURST": (
        "2000",
        "Requests an API key may make at once before the per-second rate applies.",
    ),
    "MEMORY_LOG_FORMAT": ("auto", "auto (pretty on a terminal, JSON otherwise), json or console."),
    "MEMORY_LOG_LEVEL": ("info", "debug, info, warning or error."),
    "MEMORY_SHUTDOWN_GRACE_S": (
        "20",
        "Seconds in-flight requests get to finish after SIGTERM.",
    ),
}


def _default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("memory-service", appauthor=False))


def default_model_cache_dir() -> Path:
    return _default_data_dir() / "models"


@dataclass(frozen=True, slots=True)
class Settings:
    # Secrets stay out of repr (a settings object printed in a log or a traceback).
    database_url: str | None = field(default=None, repr=False)
    data_dir: Path = field(default_factory=_default_data_dir)
    embedding_model: str = DEFAULT_EMBEDDING_MODEL
    migrations_dir: Path = DEFAULT_MIGRATIONS_DIR
    embedding_batch_size: int = 64
    embedding_backend: EmbeddingBackend = "onnx"
    # None: the model's own prompt (see Embedder).
    embedding_query_prompt: str | None = None
    embedding_document_prompt: str | None = None
    model_cache_dir: Path = field(default_factory=default_model_cache_dir)
    db_pool_min: int = 1
    db_pool_max: int = 10
    db_timeout_s: float = 5.0
    db_startup_wait_s: float = 60.0
    max_text_chars: int = 8000
    max_batch_items: int = 100
    max_body_bytes: int = 1_048_576
    exact_search_max_rows: int = 20_000
    hnsw_ef_search: int = 200
    hybrid_keyword_weight: float = 0.35
    hybrid_bm25_k1: float = 1.2
    hybrid_bm25_b: float = 0.3
    hybrid_candidates: int = 50
    hybrid_date_weight: float = 0.3
    hybrid_session_weight: float = 0.4
    near_duplicate_similarity: float = 0.95
    llm_base_url: str | None = None
    llm_model: str = "gpt-4o-mini"
    llm_api_key: str | None = field(default=None, repr=False)
    llm_timeout_s: float = 30.0
    llm_max_retries: int = 2
    llm_response_format: ResponseFormat = "json_schema"
    job_workers: int = 1
    job_max_attempts: int = 5
    job_lease_s: float = 120.0
    idempotency_ttl_s: float = 86400.0
    idempotency_lock_s: float = 60.0
    purge_interval_s: float = 60.0
    rate_limit_per_s: float = 1000.0
    rate_limit_burst: int = 2000
    log_format: LogFormat = "auto"
    log_level: str = "info"
    shutdown_grace_s: float = 20.0

    @property
    def uses_embedded_postgres(self) -> bool:
        return self.database_url is None

    @property
    def llm_configured(self) -> bool:
        return self.llm_base_url is not None

    @property
    def pgdata_dir(self) -> Path:
        return self.data_dir / "pgdata"

    @property
    def dev_api_key_file(self) -> Path:
        return self.data_dir / "dev-api-key"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read and validate every setting; a bad value fails with one line naming it."""
        source = os.environ if env is None else env
        reader = _EnvReader(source)
        log_format = reader.text("MEMORY_LOG_FORMAT", "auto")
        if log_format not in ("auto", "json", "console"):
            raise ConfigurationError("MEMORY_LOG_FORMAT must be auto, json or console")
        log_level = reader.text("MEMORY_LOG_LEVEL", "info").lower()
        if log_level not in ("debug", "info", "warning", "error"):
            raise ConfigurationError("MEMORY_LOG_LEVEL must be debug, info, warning or error")
        response_format = reader.text("MEMORY_LLM_RESPONSE_FORMAT", "json_schema")
        if response_format not in ("json_schema", "json_object"):
            raise ConfigurationError(
                "MEMORY_LLM_RESPONSE_FORMAT must be json_schema or json_object"
            )
        embedding_backend = reader.text("MEMORY_EMBEDDING_BACKEND", "onnx")
        if embedding_backend not in ("onnx", "onnx-int8", "torch"):
            raise ConfigurationError("MEMORY_EMBEDDING_BACKEND must be onnx, onnx-int8 or torch")
        data_dir = Path(reader.text("MEMORY_DATA_DIR", str(_default_data_dir()))).expanduser()
        settings = cls(
            database_url=source.get("DATABASE_URL") or None,
            data_dir=data_dir,
            embedding_model=reader.text("MEMORY_EMBEDDING_MODEL", DEFAULT_EMBEDDING_MODEL),
            migrations_dir=Path(
                reader.text("MEMORY_MIGRATIONS_DIR", str(DEFAULT_MIGRATIONS_DIR))
            ).expanduser(),
            embedding_batch_size=reader.integer("MEMORY_EMBEDDING_BATCH_SIZE", 64, minimum=1),
            embedding_backend=embedding_backend,  # type: ignore[arg-type]  # checked above
            embedding_query_prompt=reader.verbatim("MEMORY_EMBEDDING_QUERY_PROMPT"),
            embedding_document_prompt=reader.verbatim("MEMORY_EMBEDDING_DOCUMENT_PROMPT"),
            model_cache_dir=Path(
                reader.text("MEMORY_MODEL_CACHE_DIR", str(data_dir / "models"))
            ).expanduser(),
            db_pool_min=reader.integer("MEMORY_DB_POOL_MIN", 1, minimum=0),
            db_pool_max=reader.integer("MEMORY_DB_POOL_MAX", 10, minimum=1),
            db_timeout_s=reader.number("MEMORY_DB_TIMEOUT_S", 5.0, minimum=0.1),
            db_startup_wait_s=reader.number("MEMORY_DB_STARTUP_WAIT_S", 60.0, minimum=0.0),
            max_text_chars=reader.integer("MEMORY_MAX_TEXT_CHARS", 8000, minimum=1),
            max_batch_items=reader.integer("MEMORY_MAX_BATCH_ITEMS", 100, minimum=1),
            max_body_bytes=reader.integer("MEMORY_MAX_BODY_BYTES", 1_048_576, minimum=1024),
            exact_search_max_rows=reader.integer("MEMORY_EXACT_SEARCH_MAX_ROWS", 20_000, minimum=0),
            hnsw_ef_search=reader.integer("MEMORY_HNSW_EF_SEARCH", 200, minimum=10),
            hybrid_keyword_weight=reader.number("MEMORY_HYBRID_KEYWORD_WEIGHT", 0.35, minimum=0.0),
            hybrid_bm25_k1=reader.number("MEMORY_HYBRID_BM25_K1", 1.2, minimum=0.0),
            hybrid_bm25_b=reader.number("MEMORY_HYBRID_BM25_B", 0.3, minimum=0.0),
            hybrid_candidates=reader.integer("MEMORY_HYBRID_CANDIDATES", 50, minimum=1),
            hybrid_date_weight=reader.number("MEMORY_HYBRID_DATE_WEIGHT", 0.3, minimum=0.0),
            hybrid_session_weight=reader.number(
                "MEMORY_HYBRID_SESSION_WEIGHT", 0.4, minimum=0.0, maximum=1.0
            ),
            near_duplicate_similarity=reader.number(
                "MEMORY_NEAR_DUPLICATE_SIMILARITY", 0.95, minimum=0.0
            ),
            llm_base_url=source.get("MEMORY_LLM_BASE_URL") or None,
            llm_model=reader.text("MEMORY_LLM_MODEL", "gpt-4o-mini"),
            llm_api_key=source.get("MEMORY_LLM_API_KEY") or None,
            llm_timeout_s=reader.number("MEMORY_LLM_TIMEOUT_S", 30.0, minimum=0.1),
            llm_max_retries=reader.integer("MEMORY_LLM_MAX_RETRIES", 2, minimum=0),
            llm_response_format=response_format,  # type: ignore[arg-type]  # checked above
            job_workers=reader.integer("MEMORY_JOB_WORKERS", 1, minimum=0),
            job_max_attempts=reader.integer("MEMORY_JOB_MAX_ATTEMPTS", 5, minimum=1),
            job_lease_s=reader.number("MEMORY_JOB_LEASE_S", 120.0, minimum=1.0),
            idempotency_ttl_s=reader.number("MEMORY_IDEMPOTENCY_TTL_S", 86400.0, minimum=1.0),
            idempotency_lock_s=reader.number("MEMORY_IDEMPOTENCY_LOCK_S", 60.0, minimum=1.0),
            purge_interval_s=reader.number("MEMORY_PURGE_INTERVAL_S", 60.0, minimum=0.1),
            rate_limit_per_s=reader.number("MEMORY_RATE_LIMIT_PER_S", 1000.0, minimum=0.0),
            rate_limit_burst=reader.integer("MEMORY_RATE_LIMIT_BURST", 2000, minimum=1),
            log_format=log_format,  # type: ignore[arg-type]  # checked just above
            log_level=log_level,
            shutdown_grace_s=reader.number("MEMORY_SHUTDOWN_GRACE_S", 20.0, minimum=0.0),
        )
        if settings.hybrid_bm25_b > 1:
            raise ConfigurationError("MEMORY_HYBRID_BM25_B must be between 0 and 1")
        if settings.db_pool_min > settings.db_pool_max:
            raise ConfigurationError("MEMORY_DB_POOL_MIN must not exceed MEMORY_DB_POOL_MAX")
        return settings


class _EnvReader:
    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env

    def text(self, name: str, default: str) -> str:
        value = self._env.get(name, "").strip()
        return value or default

    def verbatim(self, name: str) -> str | None:
        """The value exactly as set, spaces and emptiness included (prompts end in a space)."""
        return self._env.get(name)

    def integer(self, name: str, default: int, *, minimum: int) -> int:
        raw = self._env.get(name, "").strip()
        if not raw:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise ConfigurationError(f"{name} must be an integer, got {raw!r}") from None
        if value < minimum:
            raise ConfigurationError(f"{name} must be at least {minimum}, got {value}")
        return value

    def number(
        self, name: str, default: float, *, minimum: float, maximum: float = float("inf")
    ) -> float:
        raw = self._env.get(name, "").strip()
        if not raw:
            return default
        try:
            value = float(raw)
        except ValueError:
            raise ConfigurationError(f"{name} must be a number, got {raw!r}") from None
        if value < minimum:
            raise ConfigurationError(f"{name} must be at least {minimum}, got {value}")
        if value > maximum:
            raise ConfigurationError(f"{name} must be at most {maximum}, got {value}")
        return value
