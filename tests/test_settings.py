"""Settings read from the environment: defaults, parsers, bounds and the one-line refusals."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest

from service.errors import ConfigurationError
from service.settings import SETTINGS, Settings, setting_named


def test_an_empty_environment_reads_as_the_defaults() -> None:
    assert Settings.from_env({}) == Settings()


def test_every_field_is_read_from_its_own_variable() -> None:
    names = [each.env for each in SETTINGS]

    assert len(SETTINGS) == len(fields(Settings))
    assert len(set(names)) == len(names)
    # The two database URLs keep the names deployments give them (DATABASE_READ_URL as in
    # the issue that asked for it); everything else is the service's own.
    database_urls = {"DATABASE_URL", "DATABASE_READ_URL"}
    assert all(name in database_urls or name.startswith("MEMORY_") for name in names)


def test_values_are_parsed_and_blanks_mean_the_default() -> None:
    settings = Settings.from_env(
        {
            "MEMORY_DB_POOL_MAX": " 20 ",
            "MEMORY_HYBRID_BM25_K1": "0.9",
            "MEMORY_LOG_LEVEL": "WARNING",
            "MEMORY_LOG_FORMAT": "json",
            "MEMORY_LLM_MODEL": "   ",
            "MEMORY_DATA_DIR": "/srv/memory",
        }
    )

    assert settings.db_pool_max == 20
    assert settings.hybrid_bm25_k1 == 0.9
    assert settings.log_level == "warning"
    assert settings.log_format == "json"
    assert settings.llm_model == Settings().llm_model
    assert settings.data_dir == Path("/srv/memory")
    assert settings.model_cache_dir == Path("/srv/memory/models")


def test_prompts_are_taken_exactly_as_set_and_empty_urls_are_unset() -> None:
    settings = Settings.from_env(
        {
            "MEMORY_EMBEDDING_QUERY_PROMPT": "query: ",
            "MEMORY_EMBEDDING_DOCUMENT_PROMPT": "",
            "DATABASE_URL": "",
            "MEMORY_LLM_BASE_URL": "http://127.0.0.1:11434/v1",
        }
    )

    assert settings.embedding_query_prompt == "query: "
    assert settings.embedding_document_prompt == ""
    assert settings.database_url is None
    assert settings.llm_base_url == "http://127.0.0.1:11434/v1"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"MEMORY_DB_POOL_MAX": "lots"}, "MEMORY_DB_POOL_MAX must be an integer, got 'lots'"),
        ({"MEMORY_MAX_BODY_BYTES": "10"}, "MEMORY_MAX_BODY_BYTES must be at least 1024, got 10"),
        ({"MEMORY_DB_TIMEOUT_S": "soon"}, "MEMORY_DB_TIMEOUT_S must be a number, got 'soon'"),
        ({"MEMORY_DB_TIMEOUT_S": "0"}, "MEMORY_DB_TIMEOUT_S must be at least 0.1, got 0.0"),
        ({"MEMORY_HYBRID_BM25_B": "1.5"}, "MEMORY_HYBRID_BM25_B must be at most 1.0, got 1.5"),
        # Beyond these, every search failed in the database (a 64-bit overflow, pgvector's limit).
        (
            {"MEMORY_EXACT_SEARCH_MAX_ROWS": str(2**63 - 1)},
            f"MEMORY_EXACT_SEARCH_MAX_ROWS must be at most 1000000000, got {2**63 - 1}",
        ),
        ({"MEMORY_HNSW_EF_SEARCH": "5000"}, "MEMORY_HNSW_EF_SEARCH must be at most 1000, got 5000"),
        (
            {"MEMORY_HYBRID_CANDIDATES": "1001"},
            "MEMORY_HYBRID_CANDIDATES must be at most 1000, got 1001",
        ),
        ({"MEMORY_LOG_FORMAT": "xml"}, "MEMORY_LOG_FORMAT must be auto, json or console"),
        ({"MEMORY_LOG_LEVEL": "loud"}, "MEMORY_LOG_LEVEL must be debug, info, warning or error"),
        (
            {"MEMORY_EMBEDDING_BACKEND": "tpu"},
            "MEMORY_EMBEDDING_BACKEND must be onnx, onnx-int8 or torch",
        ),
        (
            {"MEMORY_LLM_RESPONSE_FORMAT": "text"},
            "MEMORY_LLM_RESPONSE_FORMAT must be json_schema or json_object",
        ),
        (
            {"MEMORY_DB_POOL_MIN": "5", "MEMORY_DB_POOL_MAX": "2"},
            "MEMORY_DB_POOL_MIN must not exceed MEMORY_DB_POOL_MAX",
        ),
    ],
)
def test_a_bad_value_is_refused_in_one_line_naming_it(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigurationError) as refused:
        Settings.from_env(env)

    assert str(refused.value) == message


def test_secrets_stay_out_of_repr() -> None:
    settings = Settings(database_url="postgresql://app:hunter2@db/mem", llm_api_key="sk-secret")

    assert "hunter2" not in repr(settings) and "sk-secret" not in repr(settings)


def test_a_setting_is_found_by_its_variable() -> None:
    assert setting_named("MEMORY_HYBRID_BM25_B").shown == "`0.3`"
    with pytest.raises(KeyError):
        setting_named("MEMORY_NO_SUCH_SETTING")
