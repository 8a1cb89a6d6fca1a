"""One typed settings object, read from the environment once at start and passed in.

Each field declares its variable, default, parser with its bounds, section and description
once (``Section.setting``, service/setting_fields.py). ``from_env``, the ``--help`` epilogs and
docs/configuration.md (``make docs``, pinned by a test) are all derived from these fields.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Literal, get_args

import platformdirs

from service.errors import ConfigurationError
from service.setting_fields import (
    EMBEDDING,
    LOGGING,
    PATH,
    REQUESTS,
    SEARCH,
    STORAGE,
    TEXT,
    URL_OR_UNSET,
    Setting,
    integer,
    number,
    one_of,
    setting_of,
)
from service.settings_ingestion import IngestionSettings

LogFormat = Literal["auto", "json", "console"]
EmbeddingBackend = Literal["onnx", "onnx-int8", "torch"]

DEFAULT_EMBEDDING_MODEL = "all-MiniLM-L6-v2"
# pgvector refuses a larger hnsw.ef_search.
HNSW_EF_SEARCH_MAX = 1000

# The alembic scripts ship beside the package (the image copies them to the same place).
DEFAULT_MIGRATIONS_DIR = Path(__file__).resolve().parents[1] / "migrations"


def _default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("memory-service", appauthor=False))


def default_model_cache_dir() -> Path:
    return _default_data_dir() / "models"


def _quarter_of_memory_mb() -> int:
    """A quarter of the memory this process may use (the machine's, or a container's limit),
    the usual share for Postgres' buffers, within 128 MB to 8 GB."""
    total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    limit = Path("/sys/fs/cgroup/memory.max")
    if limit.exists() and limit.read_text().strip().isdigit():
        total = min(total, int(limit.read_text()))
    return min(8192, max(128, total // 4 // 2**20))


def _models_in_data_dir(env: Mapping[str, str]) -> Path:
    data_dir: Path = setting_of(Settings.__dataclass_fields__["data_dir"]).read(env)
    return data_dir / "models"


@dataclass(frozen=True, slots=True)
class Settings(IngestionSettings):
    """Every setting, grouped by section in the order docs/configuration.md lists them (those
    of adding and the LLM step in ``IngestionSettings``)."""

    database_url: str | None = STORAGE.setting(
        "DATABASE_URL",
        default=None,
        parse=URL_OR_UNSET,
        verbatim=True,
        secret=True,  # secrets stay out of repr (a settings object printed in a log)
        doc="Postgres with pgvector to use. Unset: an embedded Postgres in `MEMORY_DATA_DIR`.",
    )
    database_read_url: str | None = STORAGE.setting(
        "DATABASE_READ_URL",
        default=None,
        parse=URL_OR_UNSET,
        verbatim=True,
        secret=True,
        doc="A streaming replica of `DATABASE_URL` for searches, lists and gets (writes and "
        "everything else use `DATABASE_URL`). A read that sends the `Consistency-Token` of a "
        "write sees that write. Unset: every read on `DATABASE_URL`.",
    )
    replica_wait_ms: int = STORAGE.setting(
        "MEMORY_REPLICA_WAIT_MS",
        default=50,
        parse=integer(minimum=0),
        doc="Longest a read with a consistency token waits for the replica to replay the write "
        "it names before it runs on the primary instead.",
    )
    replica_timeout_s: float = STORAGE.setting(
        "MEMORY_REPLICA_TIMEOUT_S",
        default=1.0,
        parse=number(minimum=0.05),
        doc="Longest a read waits for the replica to connect or to answer before it runs on "
        "the primary instead (a replica cut off by the network fails no read, it slows it).",
    )
    replica_max_lag_s: float = STORAGE.setting(
        "MEMORY_REPLICA_MAX_LAG_S",
        default=2.0,
        parse=number(minimum=0.1),
        doc="A replica further behind the primary than this sends reads without a token to "
        "the primary until it catches up: the most a read without a token can be stale.",
    )
    data_dir: Path = STORAGE.computed(
        "MEMORY_DATA_DIR",
        default=lambda _: _default_data_dir(),
        shown="`~/.local/share/memory-service`",
        parse=PATH,
        doc="Where the embedded Postgres keeps its data and the development API key.",
    )
    embedded_shared_buffers_mb: int = STORAGE.computed(
        "MEMORY_EMBEDDED_SHARED_BUFFERS_MB",
        default=lambda _: _quarter_of_memory_mb(),
        shown="a quarter of the machine's memory, 128 to 8192",
        parse=integer(minimum=16),
        doc="`shared_buffers` of the embedded Postgres (not of a `DATABASE_URL` server), "
        "applied when it starts. Postgres' own 128 MB holds about 60,000 memories; a search "
        "reading pages beyond them copies each one in from the kernel's cache "
        "(docs/scaling.md).",
    )
    migrations_dir: Path = STORAGE.setting(
        "MEMORY_MIGRATIONS_DIR",
        default=DEFAULT_MIGRATIONS_DIR,
        shown="`migrations/` of this release",
        parse=PATH,
        doc="Where the alembic migration scripts are (the image sets `/app/migrations`).",
    )
    db_pool_min: int = STORAGE.setting(
        "MEMORY_DB_POOL_MIN",
        default=1,
        parse=integer(minimum=0),
        doc="Connections the pool keeps open (at most `MEMORY_DB_POOL_MAX`).",
    )
    db_pool_max: int = STORAGE.setting(
        "MEMORY_DB_POOL_MAX",
        default=10,
        parse=integer(minimum=1),
        doc="Most connections the pool opens.",
    )
    db_timeout_s: float = STORAGE.setting(
        "MEMORY_DB_TIMEOUT_S",
        default=5.0,
        parse=number(minimum=0.1),
        doc="Seconds to wait for a connection or a query before answering 503.",
    )
    db_startup_wait_s: float = STORAGE.setting(
        "MEMORY_DB_STARTUP_WAIT_S",
        default=60.0,
        parse=number(minimum=0.0),
        doc="Seconds to wait at start for `DATABASE_URL` to accept connections, retrying with "
        "backoff and logging why.",
    )
    db_statement_cache_size: int = STORAGE.setting(
        "MEMORY_DB_STATEMENT_CACHE_SIZE",
        default=100,
        parse=integer(minimum=0),
        doc="Prepared statements each connection keeps. Set 0 behind PgBouncer older than 1.21 "
        "in transaction mode (those versions cannot carry a prepared statement from one "
        "transaction to the next); see deploy/README.md.",
    )
    embedding_model: str = EMBEDDING.setting(
        "MEMORY_EMBEDDING_MODEL",
        default=DEFAULT_EMBEDDING_MODEL,
        parse=TEXT,
        doc="sentence-transformers model name or local path; the default loads offline. The "
        "database records the model; starting with another one is refused.",
    )
    embedding_batch_size: int = EMBEDDING.setting(
        "MEMORY_EMBEDDING_BATCH_SIZE",
        default=64,
        parse=integer(minimum=1),
        doc="Most texts embedded in one forward pass.",
    )
    embedding_backend: EmbeddingBackend = EMBEDDING.setting(
        "MEMORY_EMBEDDING_BACKEND",
        default="onnx",
        parse=one_of(get_args(EmbeddingBackend)),
        doc="`onnx` (onnxruntime, several times faster than torch on CPU, figures in "
        "docs/benchmarks.md; models pooled by mean, such as the default, or by the CLS token, "
        "such as bge), `onnx-int8` (the same export with int8 weights: faster again on CPUs "
        "with int8 instructions, vectors at cosine ≥ 0.97 to `onnx`'s; the database "
        "records the precision, so choose it before the first memory is stored) or `torch` "
        "(any sentence-transformers model). `onnx` and `torch` give the same vectors "
        "(cosine ≥ 0.9999).",
    )
    embedding_query_prompt: str | None = EMBEDDING.setting(
        "MEMORY_EMBEDDING_QUERY_PROMPT",
        default=None,  # None: the model's own prompt (see Embedder)
        shown="the model's own",
        parse=TEXT,
        verbatim=True,  # prompts end in a space, and empty means none
        doc="Text put before every search query, for models trained with one (e5: `query: `; "
        "bge: its search instruction). Unset: the `query` prompt saved with the model, if any; "
        "set: exactly this text (empty: none).",
    )
    embedding_document_prompt: str | None = EMBEDDING.setting(
        "MEMORY_EMBEDDING_DOCUMENT_PROMPT",
        default=None,
        shown="the model's own",
        parse=TEXT,
        verbatim=True,
        doc="Text put before every text stored (e5: `passage: `). Unset: the `document` (or "
        "`passage`, `corpus`) prompt saved with the model, if any. The database records it "
        "with the model: starting with another is refused.",
    )
    model_cache_dir: Path = EMBEDDING.computed(
        "MEMORY_MODEL_CACHE_DIR",
        default=_models_in_data_dir,
        shown="`MEMORY_DATA_DIR/models`",
        parse=PATH,
        doc="Where the ONNX export of the embedding model is kept. It is made once at first "
        "start (a few seconds) or ahead of time with `memory-service prepare-model` (the image "
        "does this at build time).",
    )
    max_text_chars: int = REQUESTS.setting(
        "MEMORY_MAX_TEXT_CHARS",
        default=8000,
        parse=integer(minimum=1),
        doc="Longest memory text or message accepted.",
    )
    max_batch_items: int = REQUESTS.setting(
        "MEMORY_MAX_BATCH_ITEMS",
        default=100,
        parse=integer(minimum=1),
        doc="Most items in one batch add or one message list.",
    )
    max_body_bytes: int = REQUESTS.setting(
        "MEMORY_MAX_BODY_BYTES",
        default=1_048_576,
        parse=integer(minimum=1024),
        doc="Largest request body accepted, in bytes.",
    )
    idempotency_ttl_s: float = REQUESTS.setting(
        "MEMORY_IDEMPOTENCY_TTL_S",
        default=86400.0,
        parse=number(minimum=1.0),
        doc="Seconds an `Idempotency-Key` is remembered; a retry within it gets the first answer.",
    )
    idempotency_lock_s: float = REQUESTS.setting(
        "MEMORY_IDEMPOTENCY_LOCK_S",
        default=60.0,
        parse=number(minimum=1.0),
        doc="Seconds a claimed `Idempotency-Key` answers 409 when its request never finished "
        "(its process died); then a retry runs it. Keep it above the slowest request.",
    )
    rate_limit_per_s: float = REQUESTS.setting(
        "MEMORY_RATE_LIMIT_PER_S",
        default=1000.0,
        parse=number(minimum=0.0),
        doc="Requests per second each API key may make, per replica (0: no limit). The default "
        "is above what one client sending requests one after another can reach (each takes a "
        "millisecond or more): SDKs such as Mem0's do not retry a 429, so the limit is there to "
        "stop a runaway key, not a busy one.",
    )
    rate_limit_burst: int = REQUESTS.setting(
        "MEMORY_RATE_LIMIT_BURST",
        default=2000,
        parse=integer(minimum=1),
        doc="Requests an API key may make at once before the per-second rate applies.",
    )
    purge_interval_s: float = REQUESTS.setting(
        "MEMORY_PURGE_INTERVAL_S",
        default=60.0,
        parse=number(minimum=0.1),
        doc="Seconds between purges of expired memories and idempotency keys (each replica).",
    )
    shutdown_grace_s: float = REQUESTS.setting(
        "MEMORY_SHUTDOWN_GRACE_S",
        default=20.0,
        parse=number(minimum=0.0),
        doc="Seconds in-flight requests get to finish after SIGTERM.",
    )

    exact_search_max_rows: int = SEARCH.setting(
        "MEMORY_EXACT_SEARCH_MAX_ROWS",
        default=20_000,
        # Counted in SQL up to one more than this, as a 64-bit integer.
        parse=integer(minimum=0, maximum=1_000_000_000),
        doc="Scopes up to this many memories are searched exactly; larger ones use the HNSW index.",
    )
    hnsw_ef_search: int = SEARCH.setting(
        "MEMORY_HNSW_EF_SEARCH",
        default=200,
        parse=integer(minimum=10, maximum=HNSW_EF_SEARCH_MAX),
        doc="HNSW candidate list size for index searches (pgvector allows at most 1000).",
    )
    hybrid_keyword_weight: float = SEARCH.setting(
        "MEMORY_HYBRID_KEYWORD_WEIGHT",
        default=0.35,
        parse=number(minimum=0.0),
        doc="Most a keyword match adds to a cosine similarity in hybrid search (the best BM25 "
        "score of a query adds all of it).",
    )
    hybrid_bm25_k1: float = SEARCH.setting(
        "MEMORY_HYBRID_BM25_K1",
        default=1.2,
        parse=number(minimum=0.0),
        doc="BM25 term-frequency saturation of the keyword ranking.",
    )
    hybrid_bm25_b: float = SEARCH.setting(
        "MEMORY_HYBRID_BM25_B",
        default=0.3,
        parse=number(minimum=0.0, maximum=1.0),
        doc="BM25 length normalisation of the keyword ranking. It is below the textbook 0.75: "
        "memories are one or two sentences, so their lengths say little about how much of a "
        "memory a matched word is about.",
    )
    hybrid_candidates: int = SEARCH.setting(
        "MEMORY_HYBRID_CANDIDATES",
        default=50,
        # An index search's candidate list is at least this long (pgvector's limit).
        parse=integer(minimum=1, maximum=HNSW_EF_SEARCH_MAX),
        doc="Results taken from each ranking before fusing.",
    )
    hybrid_date_weight: float = SEARCH.setting(
        "MEMORY_HYBRID_DATE_WEIGHT",
        default=0.3,
        parse=number(minimum=0.0),
        doc="What hybrid search adds to memories told (`created_at`) on a date the query names, "
        "such as '1 February, 2023' or 'July 2023'; 0 turns dates off.",
    )
    hybrid_session_weight: float = SEARCH.setting(
        "MEMORY_HYBRID_SESSION_WEIGHT",
        default=0.4,
        parse=number(minimum=0.0, maximum=1.0),
        doc="Hybrid search raises a memory's score this share of the way to the best score of "
        "a candidate told in the same conversation (memories told less than 30 minutes apart); "
        "0 turns it off.",
    )
    log_format: LogFormat = LOGGING.setting(
        "MEMORY_LOG_FORMAT",
        default="auto",
        parse=one_of(get_args(LogFormat)),
        doc="`auto`: pretty on a terminal, JSON lines otherwise.",
    )
    log_level: str = LOGGING.setting(
        "MEMORY_LOG_LEVEL",
        default="info",
        parse=one_of(("debug", "info", "warning", "error"), any_case=True),
        doc="The least severe level logged.",
    )

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
        settings = cls(**{each.name: setting_of(each).read(source) for each in fields(cls)})
        if settings.db_pool_min > settings.db_pool_max:
            raise ConfigurationError("MEMORY_DB_POOL_MIN must not exceed MEMORY_DB_POOL_MAX")
        return settings


# Every setting, in the order of the fields.
SETTINGS: tuple[Setting[object], ...] = tuple(setting_of(each) for each in fields(Settings))


def setting_named(env: str) -> Setting[object]:
    """The setting read from the variable ``env``."""
    for each in SETTINGS:
        if each.env == env:
            return each
    raise KeyError(env)
