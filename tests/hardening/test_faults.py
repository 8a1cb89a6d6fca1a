"""Postgres stops and starts again in the middle of a load of adds and searches.

Clients behave as the API asks: a 503 (or a dropped connection) is retried with the same
Idempotency-Key, a 409 "still in progress" after its Retry-After. A key claimed by a commit
the outage cut off is released by the service once the database is back; clients still allow
for the claim's lapse (``idempotency_lock_s``), the bound the API promises. Afterwards every
add that was acknowledged is stored, nothing is stored twice, and the service serves again
without being restarted.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from dataclasses import replace
from pathlib import Path

import httpx

from service.adapters.embedder import Embedder
from service.settings import Settings
from tests.conftest import create_api_key, run_sql, start_server, stop_postgres

CLIENTS = 6
RETRYABLE = {409, 429, 503}


class _LoadClients:
    """Clients adding facts (each retried with its Idempotency-Key until acknowledged) and
    searching, in threads, recording every status and what was acknowledged."""

    def __init__(self, base_url: str, key: str, lock_s: float) -> None:
        self._base_url, self._key, self._lock_s = base_url, key, lock_s
        self.acknowledged: list[str] = []
        self.statuses: Counter[int] = Counter()
        self.failures: list[str] = []
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._client, args=(n,)) for n in range(CLIENTS)]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def join(self) -> None:
        self.stop.set()
        for thread in self._threads:
            thread.join(timeout=self._lock_s + 60)
        assert not any(thread.is_alive() for thread in self._threads)

    def _client(self, number: int) -> None:
        try:
            self._client_loop(number)
        except AssertionError as failure:
            with self._lock:
                self.failures.append(f"client {number}: {failure}")

    def _client_loop(self, number: int) -> None:
        headers = {"X-API-Key": self._key}
        with httpx.Client(base_url=self._base_url, headers=headers, timeout=10) as http:
            n = 0
            while not self.stop.is_set():
                self._add_until_acknowledged(http, f"client {number} fact {n}")
                n += 1
                try:
                    search = http.post("/v1/search", json={"query": "fact", "user_id": "load"})
                except httpx.TransportError:
                    continue
                with self._lock:
                    self.statuses[search.status_code] += 1
                assert search.status_code in {200, 429, 503}, search.text
                time.sleep(float(search.headers.get("retry-after", "0")))

    def _add_until_acknowledged(self, http: httpx.Client, text: str) -> None:
        idempotency_key = str(uuid.uuid4())
        answers: list[str] = []
        # At worst a claim whose commit the outage cut off answers 409 until it lapses.
        deadline = time.monotonic() + self._lock_s + 30
        while time.monotonic() < deadline:
            try:
                response = http.post(
                    "/v1/memories",
                    json={"text": text, "user_id": "load", "infer": False},
                    headers={"Idempotency-Key": idempotency_key},
                )
            except httpx.TransportError as error:
                answers.append(type(error).__name__)
                time.sleep(0.2)
                continue
            answers.append(str(response.status_code))
            with self._lock:
                self.statuses[response.status_code] += 1
                if response.status_code == 201:
                    self.acknowledged.append(text)
                    return
            assert response.status_code in RETRYABLE, response.text
            time.sleep(float(response.headers.get("retry-after", "0.2")) / 5)
        raise AssertionError(f"{text!r} was never acknowledged; answers: {answers}")


def test_acknowledged_adds_survive_a_database_restart_exactly_once(
    own_postgres: tuple[Path, str], embedder: Embedder, test_settings: Settings
) -> None:
    pgdata, dsn = own_postgres
    server = start_server(replace(test_settings, database_url=dsn, db_timeout_s=2), dsn, embedder)
    key = create_api_key(dsn, "faults")
    load = _LoadClients(server.base_url, key, test_settings.idempotency_lock_s)
    try:
        load.start()
        time.sleep(2)
        postgres = stop_postgres(pgdata)
        time.sleep(2)
        postgres.ensure_postgres_running()
        time.sleep(3)
        load.join()

        assert not load.failures, load.failures
        assert load.statuses[503] > 0, "the outage was not noticed: the test proved nothing"
        assert not [status for status in load.statuses if status >= 500 and status != 503]
        rows = run_sql(dsn, "SELECT content FROM memories WHERE user_id = 'load'")
        stored = Counter(row["content"] for row in rows)
        assert not [text for text, count in stored.items() if count > 1]
        assert set(load.acknowledged) <= set(stored)
        assert len(load.acknowledged) == len(set(load.acknowledged))
        with httpx.Client(base_url=server.base_url, headers={"X-API-Key": key}) as http:
            assert http.get("/readyz").status_code == 200
            search = http.post("/v1/search", json={"query": "fact", "user_id": "load"})
            assert search.status_code == 200
    finally:
        load.stop.set()
        server.stop()
