"""The settings of adding memories and of the LLM step: a part of ``Settings`` (settings.py),
declared apart to keep each module readable; the same rules apply (one declaration each)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from service.setting_fields import (
    INGESTION,
    TEXT,
    TEXT_OR_UNSET,
    URL_OR_UNSET,
    integer,
    number,
    one_of,
)

ResponseFormat = Literal["json_schema", "json_object"]
OutputCapParameter = Literal["auto", "max_completion_tokens", "max_tokens"]


@dataclass(frozen=True, slots=True)
class IngestionSettings:
    near_duplicate_similarity: float = INGESTION.setting(
        "MEMORY_NEAR_DUPLICATE_SIMILARITY",
        default=0.95,
        parse=number(minimum=0.0),
        doc="With `infer: true`, a text at least this similar to a memory in its scope is not "
        "stored.",
    )
    llm_base_url: str | None = INGESTION.setting(
        "MEMORY_LLM_BASE_URL",
        default=None,
        parse=URL_OR_UNSET,
        verbatim=True,
        doc="OpenAI-compatible chat-completions base URL (OpenAI, Azure, vLLM, Ollama at "
        "`http://127.0.0.1:11434/v1`, llama.cpp, LM Studio...). Unset: no LLM.",
    )
    llm_model: str = INGESTION.setting(
        "MEMORY_LLM_MODEL",
        default="gpt-4o-mini",
        parse=TEXT,
        doc="Model name sent to the LLM endpoint.",
    )
    llm_api_key: str | None = INGESTION.setting(
        "MEMORY_LLM_API_KEY",
        default=None,
        parse=TEXT_OR_UNSET,
        verbatim=True,
        secret=True,
        doc="API key for the LLM endpoint; never logged.",
    )
    llm_timeout_s: float = INGESTION.setting(
        "MEMORY_LLM_TIMEOUT_S",
        default=30.0,
        parse=number(minimum=0.1),
        doc="Seconds one LLM request may take.",
    )
    llm_max_retries: int = INGESTION.setting(
        "MEMORY_LLM_MAX_RETRIES",
        default=2,
        parse=integer(minimum=0),
        doc="Retries of an LLM request after a timeout, 429 (waiting its `Retry-After`), 5xx or "
        "an answer that breaks the schema.",
    )
    llm_response_format: ResponseFormat = INGESTION.setting(
        "MEMORY_LLM_RESPONSE_FORMAT",
        default="json_schema",
        parse=one_of(get_args(ResponseFormat)),
        doc="Structured outputs (`json_schema`) or JSON mode (`json_object`), whichever the "
        "endpoint supports.",
    )
    llm_max_output_tokens: int = INGESTION.setting(
        "MEMORY_LLM_MAX_OUTPUT_TOKENS",
        default=1024,
        parse=integer(minimum=16),
        doc="Most tokens one LLM answer may have: sent with every request, so a model that "
        "does not stop costs no more. An answer cut off there stores nothing (its job fails "
        "as `truncated`).",
    )
    llm_output_cap_parameter: OutputCapParameter = INGESTION.setting(
        "MEMORY_LLM_OUTPUT_CAP_PARAMETER",
        default="auto",
        parse=one_of(get_args(OutputCapParameter)),
        doc="How the cap is sent: `max_completion_tokens` (OpenAI, Azure OpenAI), `max_tokens` "
        "(most other servers) or `auto`: the first for OpenAI and Azure OpenAI hosts, the "
        "second elsewhere, switching once if the endpoint refuses the one sent "
        "(docs/llm.md).",
    )
    llm_token_budget_per_add: int = INGESTION.setting(
        "MEMORY_LLM_TOKEN_BUDGET_PER_ADD",
        default=16000,
        parse=integer(minimum=256),
        doc="Most tokens (prompt and answer, every attempt and retry together) one add may "
        "spend; then no further call is made and its job fails as `token_budget`.",
    )
    llm_sync_wait_s: float = INGESTION.setting(
        "MEMORY_LLM_SYNC_WAIT_S",
        default=10.0,
        parse=number(minimum=0.0),
        doc="Longest a synchronous add waits for the LLM; then it answers 202 with its job, "
        "which carries on in the background without starting over.",
    )
    llm_breaker_failures: int = INGESTION.setting(
        "MEMORY_LLM_BREAKER_FAILURES",
        default=5,
        parse=integer(minimum=1),
        doc="Adds in a row whose LLM calls failed (after their retries: timeouts, 5xx, 429, "
        "a refused key, model or URL; not a refusal of one request's content) after which "
        "adds with inference defer at once, without calling, for a cool-down.",
    )
    llm_breaker_cooldown_s: float = INGESTION.setting(
        "MEMORY_LLM_BREAKER_COOLDOWN_S",
        default=30.0,
        parse=number(minimum=0.1),
        doc="Seconds the LLM is left alone after those failures; then one add's call "
        "(with its retries) probes it.",
    )
    job_workers: int = INGESTION.setting(
        "MEMORY_JOB_WORKERS",
        default=1,
        parse=integer(minimum=0),
        doc="Asynchronous-ingestion workers run inside `serve` (0: only separate "
        "`memory-service worker` processes).",
    )
    job_max_attempts: int = INGESTION.setting(
        "MEMORY_JOB_MAX_ATTEMPTS",
        default=5,
        parse=integer(minimum=1),
        doc="Attempts before an ingestion job is marked failed.",
    )
    job_lease_s: float = INGESTION.setting(
        "MEMORY_JOB_LEASE_S",
        default=120.0,
        parse=number(minimum=1.0),
        doc="Seconds a worker owns a running job; the job of a worker that died is retried "
        "after this.",
    )
