"""Prometheus metrics. Labels never carry tenant ids or user text: routes are templates."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

_LATENCY_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

HTTP_REQUESTS = Counter(
    "memory_http_requests_total",
    "HTTP requests by route template, method and status.",
    ["method", "route", "status"],
    registry=REGISTRY,
)
HTTP_LATENCY = Histogram(
    "memory_http_request_duration_seconds",
    "HTTP request latency by route template and method.",
    ["method", "route"],
    buckets=_LATENCY_BUCKETS_S,
    registry=REGISTRY,
)
EMBEDDING_BATCH_SIZE = Histogram(
    "memory_embedding_batch_size",
    "Texts per embedding forward pass (micro-batching across requests).",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
    registry=REGISTRY,
)
EMBEDDING_LATENCY = Histogram(
    "memory_embedding_duration_seconds",
    "Duration of one embedding forward pass.",
    buckets=_LATENCY_BUCKETS_S,
    registry=REGISTRY,
)
SEARCH_LATENCY = Histogram(
    "memory_search_duration_seconds",
    "Search latency (embedding and database) by strategy.",
    ["strategy"],
    buckets=_LATENCY_BUCKETS_S,
    registry=REGISTRY,
)
SEARCH_PHASE_LATENCY = Histogram(
    "memory_search_phase_duration_seconds",
    "Time a search spends reading and embedding the query (queueing included), in the "
    "database, and fusing the rankings.",
    ["phase"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1),
    registry=REGISTRY,
)
LLM_CALLS = Counter(
    "memory_llm_calls_total",
    "LLM requests by outcome (ok, timeout, rate_limited, server_error, invalid_output, refused, "
    "bad_request, truncated, token_budget).",
    ["outcome"],
    registry=REGISTRY,
)
LLM_TOKENS = Counter(
    "memory_llm_tokens_total",
    "LLM tokens by kind (prompt, completion).",
    ["kind"],
    registry=REGISTRY,
)
LLM_CIRCUIT_OPEN = Gauge(
    "memory_llm_circuit_open",
    "1 while the LLM circuit breaker holds calls back after repeated failures, else 0.",
    registry=REGISTRY,
)
LLM_LATENCY = Histogram(
    "memory_llm_request_duration_seconds",
    "Duration of one LLM request.",
    buckets=_LATENCY_BUCKETS_S,
    registry=REGISTRY,
)
JOB_QUEUE_DEPTH = Gauge(
    "memory_ingest_queue_depth",
    "Ingestion jobs waiting or running, by status.",
    ["status"],
    registry=REGISTRY,
)
JOB_QUEUE_OLDEST_AGE = Gauge(
    "memory_ingest_queue_oldest_age_seconds",
    "Age of the oldest ingestion job not yet done (0 when none).",
    registry=REGISTRY,
)
DB_POOL_CONNECTIONS = Gauge(
    "memory_db_pool_connections",
    "Database pool connections by state (in_use, idle) and the configured maximum (max).",
    ["state"],
    registry=REGISTRY,
)
DB_READS = Counter(
    "memory_db_reads_total",
    "Reads that a replica may serve (searches, lists, gets), by the database that served "
    "them (primary, replica) and why (no_replica, replica, token_wait, lagging, "
    "replica_unreachable, replica_failed).",
    ["served_by", "reason"],
    registry=REGISTRY,
)
REPLICA_SERVING = Gauge(
    "memory_db_replica_serving",
    "1 while the read replica serves reads without a token (reachable, not lagging), else 0.",
    registry=REGISTRY,
)
REPLICA_LAG_BYTES = Gauge(
    "memory_db_replica_lag_bytes",
    "WAL bytes the read replica had yet to replay at its last check.",
    registry=REGISTRY,
)
INGEST_JOBS = Counter(
    "memory_ingest_jobs_total",
    "Ingestion job attempts by result (done, retry, failed).",
    ["result"],
    registry=REGISTRY,
)
