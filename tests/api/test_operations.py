"""Operations: database outages, search strategy, model records, the command line."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import asyncpg
import httpx
import pytest

from service.adapters.embedded_postgres import start_embedded_postgres
from service.adapters.embedder import Embedder
from service.errors import ConfigurationError, IncompatibleDatabase
from service.models import VectorSpace
from service.settings import Settings
from service.storage.migrations import apply_migrations
from service.storage.model_registry import ensure_vector_space
from tests.conftest import (
    LiveServer,
    add_text,
    create_api_key,
    run_sql,
    start_server,
    stop_postgres,
)


def test_database_outage_answers_503_then_recovers_without_restart(
    own_postgres: tuple[Path, str], embedder: Embedder, test_settings: Settings
) -> None:
    pgdata, dsn = own_postgres
    server = start_server(replace(test_settings, database_url=dsn, db_timeout_s=2), dsn, embedder)
    key = create_api_key(dsn, "outage")
    http = httpx.Client(base_url=server.base_url, headers={"X-API-Key": key}, timeout=30)
    try:
        assert http.get("/v1/memories", params={"user_id": "u"}).status_code == 200
        postgres = stop_postgres(pgdata)

        started = time.monotonic()
        down = http.post("/v1/memories", json={"text": "written while down", "user_id": "u"})
        assert down.status_code == 503
        assert down.headers["content-type"] == "application/problem+json"
        assert down.headers["retry-after"]
        assert time.monotonic() - started < 10
        assert http.get("/readyz").status_code == 503

        postgres.ensure_postgres_running()
        deadline = time.monotonic() + 30
        while http.get("/readyz").status_code != 200:
            assert time.monotonic() < deadline, "the service did not recover"
            time.sleep(0.2)
        up = http.post("/v1/memories", json={"text": "written after recovery", "user_id": "u"})
        assert up.status_code == 201
        texts = [
            m["text"] for m in http.get("/v1/memories", params={"user_id": "u"}).json()["memories"]
        ]
        assert texts == ["written after recovery"]
    finally:
        http.close()
        server.stop()


def test_large_scopes_use_the_index_and_agree_with_exact_search(
    live_server: LiveServer, client: httpx.Client, test_settings: Settings, embedder: Embedder
) -> None:
    for text in [
        "Pia likes hiking",
        "Pia is a software engineer",
        "Pia's dog is named Rex",
        "Pia prefers tea over coffee",
        "Pia lives near the sea",
    ]:
        add_text(client, text, user_id="pia")
    add_text(client, "Pia took in a stray kitten", user_id="pia", created_at="2023-05-03T18:00:00Z")
    index_server = start_server(
        replace(test_settings, exact_search_max_rows=2), live_server.dsn, embedder
    )
    try:
        body = {"query": "What pet does Pia have?", "user_id": "pia", "limit": 3}
        exact = client.post("/v1/search", json=body).json()
        indexed = client.post(f"{index_server.base_url}/v1/search", json=body).json()
        dated = {**body, "query": "What pet did Pia get on 3 May 2023?"}
        exact_dated = client.post("/v1/search", json=dated).json()
        indexed_dated = client.post(f"{index_server.base_url}/v1/search", json=dated).json()
    finally:
        index_server.stop()

    assert indexed_dated["strategy"] == "hnsw"
    assert [r["memory"]["id"] for r in indexed_dated["results"]] == [
        r["memory"]["id"] for r in exact_dated["results"]
    ]
    assert exact_dated["results"][0]["memory"]["text"] == "Pia took in a stray kitten"

    assert exact["strategy"] == "exact"
    assert indexed["strategy"] == "hnsw"
    assert [r["memory"]["id"] for r in indexed["results"]] == [
        r["memory"]["id"] for r in exact["results"]
    ]
    assert exact["results"][0]["memory"]["text"] == "Pia's dog is named Rex"


def test_starting_with_another_model_is_refused_with_instructions(migrated_dsn: str) -> None:
    async def check() -> None:
        connection = await asyncpg.connect(migrated_dsn)
        try:
            await ensure_vector_space(connection, VectorSpace("all-MiniLM-L6-v2", 384))
            with pytest.raises(
                IncompatibleDatabase, match="MEMORY_EMBEDDING_MODEL=all-MiniLM-L6-v2"
            ):
                await ensure_vector_space(connection, VectorSpace("BAAI/bge-small-en-v1.5", 384))
        finally:
            await connection.close()

    asyncio.run(check())


def test_another_precision_or_document_prompt_is_refused_and_names_the_setting(
    own_postgres: tuple[Path, str],
) -> None:
    _, dsn = own_postgres
    stored = VectorSpace("all-MiniLM-L6-v2", 384, "int8", "passage: ")

    async def check() -> None:
        connection = await asyncpg.connect(dsn)
        try:
            await ensure_vector_space(connection, stored)
            await ensure_vector_space(connection, stored)  # the same space starts again
            with pytest.raises(IncompatibleDatabase) as refused:
                await ensure_vector_space(connection, VectorSpace("all-MiniLM-L6-v2", 384))
        finally:
            await connection.close()
        assert "MEMORY_EMBEDDING_BACKEND=onnx-int8" in str(refused.value)
        assert "MEMORY_EMBEDDING_DOCUMENT_PROMPT='passage: '" in str(refused.value)
        assert "MEMORY_EMBEDDING_MODEL" not in str(refused.value)

    asyncio.run(check())


def test_a_record_from_before_precisions_were_kept_takes_the_running_one(tmp_path: Path) -> None:
    dsn = start_embedded_postgres(tmp_path / "pgdata")
    migrations = Settings().migrations_dir
    apply_migrations(dsn, 384, migrations, revision="0009")
    int8 = VectorSpace("all-MiniLM-L6-v2", 384, "int8")

    async def record_as_before() -> None:
        # What the service wrote at its first start before revision 0010.
        connection = await asyncpg.connect(dsn)
        try:
            await connection.execute(
                "INSERT INTO embedding_model (name, dimensions) VALUES ($1, $2)",
                int8.model,
                int8.dimensions,
            )
        finally:
            await connection.close()

    async def start_twice() -> None:
        connection = await asyncpg.connect(dsn)
        try:
            await ensure_vector_space(connection, int8)
            with pytest.raises(IncompatibleDatabase, match="MEMORY_EMBEDDING_BACKEND=onnx-int8"):
                await ensure_vector_space(connection, VectorSpace("all-MiniLM-L6-v2", 384))
        finally:
            await connection.close()

    asyncio.run(record_as_before())
    apply_migrations(dsn, 384, migrations)
    asyncio.run(start_twice())
    [record] = run_sql(dsn, "SELECT weights, document_prompt FROM embedding_model")
    assert dict(record) == {"weights": "int8", "document_prompt": ""}


def test_serve_refuses_an_unmigrated_external_database(tmp_path: Path) -> None:
    dsn = start_embedded_postgres(tmp_path / "pgdata")
    result = subprocess.run(
        [sys.executable, "-m", "service", "keys", "list"],
        env={"DATABASE_URL": dsn, "PATH": "/usr/bin:/bin", "MEMORY_LOG_FORMAT": "json"},
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 2
    assert "run `memory-service migrate`" in result.stderr


def test_serve_refuses_vectors_of_another_space_in_one_line(
    own_postgres: tuple[Path, str], tmp_path: Path
) -> None:
    _, dsn = own_postgres

    async def start_once_with_a_document_prompt() -> None:
        connection = await asyncpg.connect(dsn)
        try:
            await ensure_vector_space(
                connection, VectorSpace("all-MiniLM-L6-v2", 384, "float", "passage: ")
            )
        finally:
            await connection.close()

    asyncio.run(start_once_with_a_document_prompt())
    result = subprocess.run(
        [sys.executable, "-m", "service", "serve", "--port", "0"],
        env={
            "DATABASE_URL": dsn,
            "PATH": "/usr/bin:/bin",
            "MEMORY_LOG_FORMAT": "json",
            "MEMORY_MODEL_CACHE_DIR": str(tmp_path / "models"),
        },
        capture_output=True,
        text=True,
        timeout=180,
    )

    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    line = result.stderr.splitlines()[-1]  # after the JSON log lines
    assert line.startswith("memory-service: this database holds embeddings of model")
    assert "Start with MEMORY_EMBEDDING_DOCUMENT_PROMPT='passage: '" in line


@pytest.mark.parametrize("command", [[], ["serve"], ["migrate"], ["keys"]])
def test_help_says_what_each_command_does_and_its_environment(command: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "service", *command, "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0
    assert "environment variables:" in result.stdout
    assert "DATABASE_URL" in result.stdout
    if command == ["serve"]:
        assert "--host" in result.stdout and "127.0.0.1" in result.stdout


def test_invalid_setting_fails_fast_with_one_line() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "service", "serve"],
        env={"MEMORY_DB_POOL_MAX": "lots", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 2
    assert (
        result.stderr.strip() == "memory-service: MEMORY_DB_POOL_MAX must be an integer, got 'lots'"
    )


def test_a_share_beyond_one_is_refused_with_its_range() -> None:
    with pytest.raises(ConfigurationError) as refused:
        Settings.from_env({"MEMORY_HYBRID_SESSION_WEIGHT": "1.5"})

    assert str(refused.value) == "MEMORY_HYBRID_SESSION_WEIGHT must be at most 1.0, got 1.5"
    assert Settings.from_env({"MEMORY_HYBRID_SESSION_WEIGHT": "1"}).hybrid_session_weight == 1.0


def test_metrics_expose_requests_embeddings_and_search_without_tenant_data(
    client: httpx.Client, live_server: LiveServer
) -> None:
    add_text(client, "Uma's secret recipe uses saffron", user_id="uma-private-id")
    client.post("/v1/search", json={"query": "saffron", "user_id": "uma-private-id"})

    text = httpx.get(f"{live_server.base_url}/metrics").text

    assert 'memory_http_requests_total{method="POST",route="/v1/search",status="200"}' in text
    assert "memory_http_request_duration_seconds_bucket" in text
    assert "memory_embedding_batch_size_count" in text
    assert 'memory_search_duration_seconds_count{strategy="exact"}' in text
    for phase in ("embedding", "database", "fusion"):
        assert f'memory_search_phase_duration_seconds_count{{phase="{phase}"}}' in text
    assert 'memory_db_pool_connections{state="max"} 10.0' in text
    assert "uma-private-id" not in text and "saffron" not in text


def test_start_waits_for_the_database_and_says_why(tmp_path: Path) -> None:
    socket_dir = tmp_path / "nothing-listens-here"
    socket_dir.mkdir()
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "service", "keys", "list"],
        env={
            "DATABASE_URL": f"postgresql://postgres@/postgres?host={socket_dir}",
            "MEMORY_DB_STARTUP_WAIT_S": "3",
            "MEMORY_LOG_FORMAT": "json",
            "PATH": "/usr/bin:/bin",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 2
    assert time.monotonic() - started >= 3
    assert '"event": "database.waiting"' in result.stderr
    assert "could not reach the database at DATABASE_URL within 3 s" in result.stderr
