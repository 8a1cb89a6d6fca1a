"""Workers finishing queued adds: in the serving process, in a `memory-service worker`
process that is killed or stopped with SIGTERM, each on its own Postgres."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import httpx

from service.adapters.embedder import Embedder
from service.consistency import HEADER as CONSISTENCY_HEADER
from service.consistency import parse_lsn
from tests.api.pipeline_support import say
from tests.conftest import LiveServer, create_api_key, start_server
from tests.llm_server import Reply, ScriptedLLM, decisions


def test_async_add_answers_at_once_and_a_worker_finishes_it(
    llm_server: LiveServer, llm: ScriptedLLM, embedder: Embedder, own_postgres: tuple[Path, str]
) -> None:
    _, dsn = own_postgres  # an empty queue: only this test's job exists
    settings = replace(llm_server.settings, database_url=dsn, job_workers=1)
    worker_server = start_server(settings, dsn, embedder)
    key = create_api_key(dsn, "async")
    try:
        with httpx.Client(
            base_url=worker_server.base_url, headers={"X-API-Key": key}, timeout=30
        ) as http:
            llm.script(
                Reply(status=500),
                Reply(status=500),
                Reply(status=500),
                decisions(("Alice plays padel", "ADD", None)),
            )
            accepted = say(http, "I started playing padel", queued=True)
            assert accepted.status_code == 202
            job_id = accepted.json()["id"]

            enqueued = parse_lsn(accepted.headers[CONSISTENCY_HEADER])
            deadline = time.monotonic() + 30
            while (polled := http.get(f"/v1/jobs/{job_id}")).json()["status"] != "done":
                # Not done: nothing of the add is written yet, so no token to read it with.
                assert CONSISTENCY_HEADER not in polled.headers
                assert time.monotonic() < deadline, polled.json()
                time.sleep(0.2)
            job = polled.json()
            # Done: the answer's token is past the job's writes (which came after the enqueue).
            assert parse_lsn(polled.headers[CONSISTENCY_HEADER]) > enqueued

            assert job["attempts"] == 2  # the first attempt failed three calls, then backoff
            assert [r["memory"]["text"] for r in job["result"]["results"]] == ["Alice plays padel"]
            memories = http.get("/v1/memories", params={"user_id": "alice"}).json()["memories"]
            assert [m["text"] for m in memories] == ["Alice plays padel"]
    finally:
        worker_server.stop()


def start_worker_process(dsn: str, llm: ScriptedLLM, **settings: str) -> subprocess.Popen[bytes]:
    """`memory-service worker` in its own process, on ``dsn``, with the scripted LLM."""
    env = {
        **os.environ,
        "DATABASE_URL": dsn,
        "MEMORY_LLM_BASE_URL": llm.base_url,
        "MEMORY_LOG_FORMAT": "json",
        **settings,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "service", "worker", "--concurrency", "1"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def test_a_job_whose_worker_was_killed_is_finished_by_another(
    llm_server: LiveServer, llm: ScriptedLLM, embedder: Embedder, own_postgres: tuple[Path, str]
) -> None:
    _, dsn = own_postgres
    api = start_server(replace(llm_server.settings, database_url=dsn, job_workers=0), dsn, embedder)
    key = create_api_key(dsn, "killed-worker")
    worker = start_worker_process(dsn, llm, MEMORY_LLM_TIMEOUT_S="60", MEMORY_JOB_LEASE_S="3")
    second: LiveServer | None = None
    try:
        # The first worker gets stuck in its LLM call and is killed there.
        llm.script(
            Reply(answer={"decisions": []}, delay_s=60),
            decisions(("Alice sails on weekends", "ADD", None)),
        )
        with httpx.Client(base_url=api.base_url, headers={"X-API-Key": key}, timeout=30) as http:
            job_id = say(http, "I go sailing every weekend", queued=True).json()["id"]
            deadline = time.monotonic() + 90
            while not llm.requests:
                assert time.monotonic() < deadline, "the worker never called the LLM"
                time.sleep(0.2)
            assert http.get(f"/v1/jobs/{job_id}").json()["status"] == "running"
            worker.kill()
            worker.wait(timeout=30)

            second = start_server(
                replace(llm_server.settings, database_url=dsn, job_workers=1, job_lease_s=3),
                dsn,
                embedder,
            )
            while (job := http.get(f"/v1/jobs/{job_id}").json())["status"] != "done":
                assert time.monotonic() < deadline, job
                time.sleep(0.2)

            assert job["attempts"] == 2
            assert [r["memory"]["text"] for r in job["result"]["results"]] == [
                "Alice sails on weekends"
            ]
    finally:
        worker.kill()
        api.stop()
        if second is not None:
            second.stop()


def test_sigterm_lets_a_worker_finish_its_job_and_exit(
    llm_server: LiveServer, llm: ScriptedLLM, embedder: Embedder, own_postgres: tuple[Path, str]
) -> None:
    _, dsn = own_postgres
    api = start_server(replace(llm_server.settings, database_url=dsn, job_workers=0), dsn, embedder)
    key = create_api_key(dsn, "sigterm-worker")
    worker = start_worker_process(dsn, llm)
    try:
        llm.script(
            Reply(
                answer={
                    "decisions": [{"fact": "Alice bakes bread", "event": "ADD", "memory": None}]
                },
                delay_s=2,
            )
        )
        with httpx.Client(base_url=api.base_url, headers={"X-API-Key": key}, timeout=30) as http:
            job_id = say(http, "I bake bread on Sundays", queued=True).json()["id"]
            deadline = time.monotonic() + 90
            while not llm.requests:
                assert time.monotonic() < deadline, "the worker never called the LLM"
                time.sleep(0.1)

            worker.send_signal(signal.SIGTERM)  # while the LLM call is in flight
            exit_code = worker.wait(timeout=30)
            job = http.get(f"/v1/jobs/{job_id}").json()

        assert exit_code == 0
        assert job["status"] == "done"
        assert job["attempts"] == 1
    finally:
        worker.kill()
        api.stop()
