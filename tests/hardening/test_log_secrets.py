"""Nothing secret and nothing a caller said reaches the service's output, whatever fails.

The service runs as a real process (`memory-service serve`) against a password-protected
Postgres on TCP and a scripted LLM with a known key, logging at DEBUG. Each test drives one
kind of failure with real triggers (a fault raised inside Postgres, a table lock, a stopped
server, LLM errors and silence, a wrong password at start, a CLI command without its
database) while requests carry a known API key and a canary text. Everything the processes
write is captured and searched for the API key, the database password, the LLM key and the
canary; each test also checks that the failure was in fact logged, so that silence cannot pass.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest

from benchmarks.harness import wait_until_ready
from tests.llm_server import Reply, ScriptedLLM
from tests.postgres_tcp import TcpPostgres, free_port, start_tcp_postgres

PASSWORD = f"pw-{uuid.uuid4().hex}"
LLM_KEY = f"sk-llm-{uuid.uuid4().hex}"
CANARY = f"canary-{uuid.uuid4().hex}"
ROOT = Path(__file__).parents[2]


def service_env(tmp: Path, model_cache_dir: Path, **overrides: str) -> dict[str, str]:
    env = {
        **os.environ,
        "MEMORY_DATA_DIR": str(tmp / "data"),
        "MEMORY_MODEL_CACHE_DIR": str(model_cache_dir),
        "MEMORY_LOG_LEVEL": "debug",
        "MEMORY_LOG_FORMAT": "json",
        "MEMORY_DB_TIMEOUT_S": "1",
        "MEMORY_DB_STARTUP_WAIT_S": "1",
        "MEMORY_PURGE_INTERVAL_S": "0.5",
    }
    env.update(overrides)
    return env


def run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "service", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )


def assert_nothing_secret(output: str, *extra_secrets: str) -> None:
    secrets = {"database password": PASSWORD, "LLM key": LLM_KEY, "canary text": CANARY}
    secrets.update({f"secret {n}": value for n, value in enumerate(extra_secrets)})
    for name, secret in secrets.items():
        leaking = [line for line in output.splitlines() if secret in line]
        assert not leaking, f"the {name} appears in the output: {leaking[0][:500]}"


@dataclass
class RunningService:
    base_url: str
    api_key: str
    postgres: TcpPostgres
    llm: ScriptedLLM
    process: subprocess.Popen[bytes]
    log_path: Path

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def events(self) -> list[dict[str, object]]:
        lines = [line for line in self.output().splitlines() if line.startswith("{")]
        return [json.loads(line) for line in lines]

    def wait_for_event(self, name: str, timeout_s: float = 15) -> dict[str, object]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            found = [event for event in self.events() if event.get("event") == name]
            if found:
                return found[-1]
            time.sleep(0.1)
        raise AssertionError(f"no {name!r} event was logged")

    def client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.base_url, headers={"Authorization": f"Bearer {self.api_key}"}, timeout=30
        )


@pytest.fixture(scope="module")
def service(
    tmp_path_factory: pytest.TempPathFactory, model_cache_dir: Path
) -> Iterator[RunningService]:
    tmp = tmp_path_factory.mktemp("log-secrets")
    postgres = start_tcp_postgres(PASSWORD)
    llm = ScriptedLLM()
    env = service_env(
        tmp,
        model_cache_dir,
        DATABASE_URL=postgres.dsn,
        MEMORY_LLM_BASE_URL=llm.base_url,
        MEMORY_LLM_API_KEY=LLM_KEY,
        MEMORY_LLM_TIMEOUT_S="1",
        MEMORY_LLM_MAX_RETRIES="0",
        MEMORY_JOB_MAX_ATTEMPTS="2",
    )
    migrated = run_cli(env, "migrate")
    assert migrated.returncode == 0, migrated.stderr[-2000:]
    created = run_cli(env, "keys", "create", "--tenant", "log-canary")
    assert created.returncode == 0, created.stderr[-2000:]
    api_key = created.stdout.split("api key:")[1].split()[0]
    assert_nothing_secret(migrated.stdout + migrated.stderr + created.stderr, api_key)
    port = free_port()
    log_path = tmp / "service.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "service", "serve", "--port", str(port)],
            env=env,
            cwd=ROOT,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    running = RunningService(f"http://127.0.0.1:{port}", api_key, postgres, llm, process, log_path)
    try:
        wait_until_ready(running.base_url, process, output=running.output)
        yield running
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
        llm.close()
        postgres.remove()
    # What it wrote while stopping counts too (checked once nothing is left running).
    assert_nothing_secret(running.output(), api_key)


def test_an_internal_error_is_logged_with_frames_but_without_secrets_or_text(
    service: RunningService,
) -> None:
    # A real fault inside a real component: Postgres itself fails the insert, quoting the text.
    service.postgres.execute(
        "CREATE FUNCTION inject_fault() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "RAISE EXCEPTION USING ERRCODE = 'XX000', MESSAGE = 'injected: ' || NEW.content; "
        "END $$; CREATE TRIGGER inject_fault BEFORE INSERT ON memories "
        "FOR EACH ROW EXECUTE FUNCTION inject_fault()"
    )
    try:
        with service.client() as http:
            native = http.post(
                "/v1/memories", json={"text": CANARY, "user_id": "u1", "infer": False}
            )
            mem0 = http.post(
                "/v1/memories/",
                json={
                    "messages": [{"role": "user", "content": CANARY}],
                    "user_id": "u1",
                    "infer": False,
                },
            )
    finally:
        service.postgres.execute(
            "DROP TRIGGER inject_fault ON memories; DROP FUNCTION inject_fault()"
        )
    assert native.status_code == 500, native.text
    assert mem0.status_code == 500, mem0.text
    assert CANARY not in native.text
    failure = service.wait_for_event("request.failed")
    chain = failure["exception"]
    assert isinstance(chain, list)
    assert any(item["sqlstate"] == "XX000" for item in chain if "sqlstate" in item)
    assert all(frame["line"] > 0 for item in chain for frame in item["frames"])
    assert "locals" not in json.dumps(chain)
    assert_nothing_secret(service.output(), service.api_key)


def test_a_stalled_database_answers_503_and_logs_no_secret(service: RunningService) -> None:
    async def hold_lock_while_adding() -> httpx.Response:
        connection = await asyncpg.connect(service.postgres.dsn)
        try:
            async with connection.transaction():
                await connection.execute("LOCK TABLE memories IN ACCESS EXCLUSIVE MODE")
                async with httpx.AsyncClient(
                    base_url=service.base_url,
                    headers={"X-API-Key": service.api_key},
                    timeout=30,
                ) as http:
                    return await http.post(
                        "/v1/memories", json={"text": CANARY, "user_id": "u2", "infer": False}
                    )
        finally:
            await connection.close()

    response = asyncio.run(hold_lock_while_adding())
    assert response.status_code == 503, response.text
    service.wait_for_event("database.unavailable")
    assert_nothing_secret(service.output(), service.api_key)


def test_a_database_outage_answers_503_then_recovers_and_logs_no_secret(
    service: RunningService,
) -> None:
    service.postgres.stop()
    try:
        with service.client() as http:
            statuses = [
                http.post(
                    "/v1/memories", json={"text": CANARY, "user_id": "u3", "infer": False}
                ).status_code,
                http.post("/v1/search", json={"query": CANARY, "user_id": "u3"}).status_code,
                http.get("/v1/memories", params={"user_id": "u3"}).status_code,
                http.get("/readyz").status_code,
            ]
            time.sleep(1.5)  # the maintenance loop and the pool retry meanwhile
    finally:
        service.postgres.start()
    assert statuses == [503, 503, 503, 503]
    with service.client() as http:
        deadline = time.monotonic() + 20
        while (
            added := http.post(
                "/v1/memories", json={"text": f"back {CANARY}", "user_id": "u3", "infer": False}
            )
        ).status_code != 201:
            assert time.monotonic() < deadline, added.text
            time.sleep(0.3)
    service.wait_for_event("database.unavailable")
    assert_nothing_secret(service.output(), service.api_key)


def test_every_llm_fault_is_logged_without_key_prompt_or_answer(service: RunningService) -> None:
    service.llm.script(
        Reply(status=500),
        Reply(status=429, headers={"Retry-After": "0"}),
        Reply(status=401),
        Reply(raw_content=f"not json {CANARY}"),
        Reply(raw_content=json.dumps({"facts": [{"text": CANARY, "event": CANARY}]})),
        Reply(answer={"facts": [CANARY]}, delay_s=1.5),  # beyond MEMORY_LLM_TIMEOUT_S
    )
    with service.client() as http:
        for n in range(6):
            response = http.post(
                "/v1/memories",
                json={
                    "messages": [{"role": "user", "content": f"{CANARY} {n}"}],
                    "user_id": "u4",
                    "infer": True,
                },
            )
            assert response.status_code in (201, 202), response.text
        service.llm.close()  # from now on the endpoint is unreachable
        response = http.post(
            "/v1/memories",
            json={"text": f"{CANARY} unreachable", "user_id": "u4", "infer": True},
        )
        assert response.status_code in (201, 202), response.text
    service.wait_for_event("llm.attempt_failed")
    service.wait_for_event("jobs.failed", timeout_s=30)
    assert any(request["messages"] for request in service.llm.requests)  # the LLM was called
    assert_nothing_secret(service.output(), service.api_key)


def test_refused_api_keys_are_not_logged(service: RunningService) -> None:
    forged = f"msk_{uuid.uuid4().hex}"
    responses = [
        httpx.get(f"{service.base_url}/v1/memories?user_id=u5", headers={"X-API-Key": forged}),
        httpx.get(
            f"{service.base_url}/v1/memories?user_id=u5",
            headers={"Authorization": f"Bearer {forged}", "X-API-Key": service.api_key},
        ),
        httpx.get(
            f"{service.base_url}/v1/memories/?user_id=u5",
            headers={"Authorization": f"Token {forged}"},
        ),
    ]
    assert all(400 <= r.status_code < 500 for r in responses), [r.text for r in responses]
    assert_nothing_secret(service.output(), service.api_key, forged)


@pytest.mark.parametrize("log_format", ["json", "console"])
def test_a_failed_start_names_the_cause_without_the_password(
    tmp_path: Path, model_cache_dir: Path, log_format: str
) -> None:
    unused = TcpPostgres(tmp_path, free_port(), PASSWORD)
    for dsn in (unused.dsn, unused.dsn_with(f"{PASSWORD}:x@y"), f"postgresql://u:{PASSWORD}@[x/db"):
        env = service_env(tmp_path, model_cache_dir, DATABASE_URL=dsn, MEMORY_LOG_FORMAT=log_format)
        started = run_cli(env, "serve", "--port", str(free_port()))
        assert started.returncode == 2, started.stderr[-3000:]
        assert started.stderr.strip().splitlines()[-1].startswith("memory-service: ")
        assert_nothing_secret(started.stdout + started.stderr)


def test_a_wrong_password_is_refused_in_one_line_without_either_password(
    service: RunningService, tmp_path: Path, model_cache_dir: Path
) -> None:
    wrong = f"wrong-{uuid.uuid4().hex}"
    env = service_env(tmp_path, model_cache_dir, DATABASE_URL=service.postgres.dsn_with(wrong))
    for command in (["serve", "--port", str(free_port())], ["keys", "list"], ["migrate"]):
        result = run_cli(env, *command)
        assert result.returncode == 2, result.stderr[-3000:]
        assert "refused the user or password" in result.stderr
        assert_nothing_secret(result.stdout + result.stderr, wrong)


def test_a_cli_command_without_its_database_fails_without_secrets(
    tmp_path: Path, model_cache_dir: Path
) -> None:
    stopped = TcpPostgres(tmp_path, free_port(), PASSWORD)
    env = service_env(tmp_path, model_cache_dir, DATABASE_URL=stopped.dsn)
    for command in (["keys", "create", "--tenant", CANARY], ["keys", "list"], ["migrate"]):
        result = run_cli(env, *command)
        assert result.returncode == 2, result.stderr[-3000:]
        assert "could not reach the database" in result.stderr
        assert_nothing_secret(result.stdout + result.stderr)
