"""Reads from a real streaming replica, with read-your-writes through the consistency token.

A password-protected primary on TCP, and a hot standby of it made with ``pg_basebackup -R``
whose replay is delayed (``recovery_min_apply_delay``) to force lag. The service writes to the
primary and serves searches, lists and gets from the replica. Which database served a read is
read from ``memory_db_reads_total`` on /metrics.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import httpx
import pytest

from service.adapters.embedder import Embedder
from service.composition import build_services
from service.errors import ConfigurationError
from service.settings import Settings
from service.storage.migrations import apply_migrations
from tests.conftest import LiveServer, create_api_key, start_server
from tests.postgres_tcp import TcpPostgres, start_streaming_replica, start_tcp_postgres
from tests.round_robin_proxy import RoundRobinProxy

PASSWORD = f"pw-{uuid.uuid4().hex}"
TOKEN = "Consistency-Token"
MAX_LAG_S = 1.0
Counts = dict[tuple[str, str], float]  # (served_by, reason) -> reads
READS = re.compile(r'memory_db_reads_total\{reason="(\w+)",served_by="(\w+)"\} (\S+)')


@dataclass
class Replicated:
    primary: TcpPostgres
    replica: TcpPostgres
    server: LiveServer
    key: str

    def delay_replay(self, milliseconds: int) -> None:
        self.replica.execute(f"ALTER SYSTEM SET recovery_min_apply_delay = '{milliseconds}ms'")
        self.replica.execute("SELECT pg_reload_conf()")
        time.sleep(0.5)  # the reload is a signal: let the startup process take it first

    def reads(self) -> Counts:
        """(served_by, reason) -> reads so far."""
        text = httpx.get(f"{self.server.base_url}/metrics").text
        return {(by, reason): float(n) for reason, by, n in READS.findall(text)}

    def client(self) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {self.key}"}
        return httpx.AsyncClient(base_url=self.server.base_url, headers=headers, timeout=30)


@pytest.fixture(scope="module")
def replicated(embedder: Embedder) -> Iterator[Replicated]:
    primary = start_tcp_postgres(PASSWORD)
    replica = None
    server = None
    try:
        apply_migrations(primary.dsn, embedder.dimensions, Settings().migrations_dir)
        replica = start_streaming_replica(primary)
        settings = replace(
            Settings(),
            database_url=primary.dsn,
            database_read_url=replica.dsn,
            data_dir=Path("/nonexistent"),
            replica_wait_ms=50,
            replica_max_lag_s=MAX_LAG_S,
        )
        server = start_server(settings, primary.dsn, embedder)
        yield Replicated(primary, replica, server, create_api_key(primary.dsn, "replicated"))
    finally:
        if server is not None:
            server.stop()
        if replica is not None:
            replica.remove()
        primary.remove()


def served(before: Counts, after: Counts) -> Counts:
    return {
        key: after[key] - before.get(key, 0) for key in after if after[key] > before.get(key, 0)
    }


async def write_then_read(http: httpx.AsyncClient, n: int) -> list[str]:
    """One write and the read that must see it, carrying the write's token; misses found."""
    added = await http.post(
        # Distinct texts: a near-duplicate would answer NONE, writing nothing to wait for.
        "/v1/memories",
        json={"text": f"fact {n}: {uuid.uuid4().hex}", "user_id": f"u{n % 7}"},
    )
    assert added.status_code == 201, added.text
    memory = added.json()["results"][0]["memory"]
    token = {TOKEN: added.headers[TOKEN]}
    if n % 3 == 0:
        read = await http.get(f"/v1/memories/{memory['id']}", headers=token)
        return [] if read.status_code == 200 else [f"get {n}: {read.status_code}"]
    if n % 3 == 1:
        path = f"/v1/memories/{memory['id']}"
        updated = await http.patch(path, json={"text": f"fact {n} changed"})
        read = await http.get(path, headers={TOKEN: updated.headers[TOKEN]})
        return [] if read.json().get("text") == f"fact {n} changed" else [f"update {n}"]
    # The whole scope: an add answered NONE (a near-duplicate) names an older memory.
    params: dict[str, str | int] = {"user_id": f"u{n % 7}", "limit": 1000}
    listed = await http.get("/v1/memories", params=params, headers=token)
    ids = {m["id"] for m in listed.json()["memories"]}
    return [] if memory["id"] in ids else [f"list {n}"]


async def pairs(replicated: Replicated, count: int, first: int) -> list[str]:
    gate = asyncio.Semaphore(4)

    async def one(http: httpx.AsyncClient, n: int) -> list[str]:
        async with gate:
            return await write_then_read(http, n)

    async with replicated.client() as http:
        results = await asyncio.gather(*(one(http, n) for n in range(first, first + count)))
    return [miss for misses in results for miss in misses]


def test_writes_answer_a_token_and_reads_with_it_always_see_the_write(
    replicated: Replicated,
) -> None:
    replicated.delay_replay(20)  # about the wait: some reads wait for the replica, some not
    before = replicated.reads()

    misses = asyncio.run(pairs(replicated, 1000, first=0))

    assert misses == []
    counts = served(before, replicated.reads())
    assert counts.get(("replica", "replica"), 0) > 0, counts

    replicated.delay_replay(400)  # longer than the wait: every token read goes to the primary
    before = replicated.reads()
    assert asyncio.run(pairs(replicated, 60, first=1000)) == []
    counts = served(before, replicated.reads())
    assert counts.get(("primary", "token_wait"), 0) >= 60, counts


def test_reads_without_a_token_are_served_by_the_replica(replicated: Replicated) -> None:
    replicated.delay_replay(400)
    http = httpx.Client(
        base_url=replicated.server.base_url,
        headers={"Authorization": f"Bearer {replicated.key}"},
    )
    before = replicated.reads()
    added = http.post("/v1/memories", json={"text": "a fresh fact", "user_id": "fresh"})
    memory_id = added.json()["results"][0]["memory"]["id"]

    # The replica has not replayed the write yet: it answers, and does not know the memory.
    assert http.get(f"/v1/memories/{memory_id}").status_code == 404
    assert http.get("/v1/memories", params={"user_id": "fresh"}).json()["memories"] == []
    time.sleep(0.8)
    assert http.get(f"/v1/memories/{memory_id}").status_code == 200

    counts = served(before, replicated.reads())
    assert counts == {("replica", "replica"): 3}


def test_a_lagging_replica_sends_reads_to_the_primary(replicated: Replicated) -> None:
    replicated.delay_replay(6000)
    http = httpx.Client(
        base_url=replicated.server.base_url,
        headers={"Authorization": f"Bearer {replicated.key}"},
    )
    added = http.post("/v1/memories", json={"text": "told during lag", "user_id": "lag"})
    memory_id = added.json()["results"][0]["memory"]["id"]
    written = time.monotonic()

    # Within MAX_LAG_S and a check or two, reads without a token move to the primary, long
    # before the replica replays the write (6 s).
    while http.get(f"/v1/memories/{memory_id}").status_code == 404:
        assert time.monotonic() - written < 4, "reads stayed on the lagging replica"
        time.sleep(0.05)
    assert replicated.reads().get(("primary", "lagging"), 0) > 0

    replicated.delay_replay(0)
    deadline = time.monotonic() + 15
    before = replicated.reads()
    while not served(before, replicated.reads()).get(("replica", "replica")):
        assert time.monotonic() < deadline, "reads never came back to the caught-up replica"
        http.get(f"/v1/memories/{memory_id}")
        time.sleep(0.1)


def test_stopping_the_replica_mid_load_fails_no_read(replicated: Replicated) -> None:
    replicated.delay_replay(0)

    async def load(stop_after_s: float) -> list[str]:
        failures: list[str] = []
        async with replicated.client() as http:
            added = await http.post("/v1/memories", json={"text": "kites fly", "user_id": "s"})
            memory_id = added.json()["results"][0]["memory"]["id"]

            async def reader() -> None:
                deadline = time.monotonic() + stop_after_s * 2
                while time.monotonic() < deadline:
                    for response in (
                        await http.get(f"/v1/memories/{memory_id}"),
                        await http.get("/v1/memories", params={"user_id": "s"}),
                        await http.post("/v1/search", json={"query": "kites", "user_id": "s"}),
                    ):
                        if response.status_code != 200:
                            failures.append(f"{response.status_code} {response.text[:200]}")

            async def stop_replica() -> None:
                await asyncio.sleep(stop_after_s)
                await asyncio.to_thread(replicated.replica.stop_immediately)

            await asyncio.gather(*(reader() for _ in range(4)), stop_replica())
        return failures

    before = replicated.reads()
    assert asyncio.run(load(stop_after_s=2.0)) == []
    counts = served(before, replicated.reads())
    assert counts.get(("replica", "replica"), 0) > 0, counts
    assert counts.get(("primary", "replica_unreachable"), 0) > 0, counts

    replicated.replica.start()
    http = httpx.Client(
        base_url=replicated.server.base_url,
        headers={"Authorization": f"Bearer {replicated.key}"},
    )
    before = replicated.reads()
    deadline = time.monotonic() + 15
    while not served(before, replicated.reads()).get(("replica", "replica")):
        assert time.monotonic() < deadline, "reads never came back to the restarted replica"
        assert http.get("/v1/memories", params={"user_id": "s"}).status_code == 200
        time.sleep(0.2)


def test_token_reads_see_their_write_when_one_url_spreads_over_two_replicas(
    replicated: Replicated, embedder: Embedder
) -> None:
    """A Kubernetes Service in front of several replicas hands each connection to any of
    them: each read must judge the replica its own connection reached."""
    replicated.delay_replay(0)
    slow = start_streaming_replica(replicated.primary)
    proxy = RoundRobinProxy([replicated.replica.port, slow.port])
    server = None
    try:
        slow.execute("ALTER SYSTEM SET recovery_min_apply_delay = '3000ms'")
        slow.execute("SELECT pg_reload_conf()")
        time.sleep(0.5)
        read_url = replicated.replica.dsn.replace(f":{replicated.replica.port}/", f":{proxy.port}/")
        settings = replace(replicated.server.settings, database_read_url=read_url)
        server = start_server(settings, replicated.primary.dsn, embedder)
        behind_proxy = replace(replicated, server=server)
        before = behind_proxy.reads()

        assert asyncio.run(pairs(behind_proxy, 90, first=5000)) == []

        counts = served(before, behind_proxy.reads())
        assert counts.get(("replica", "replica"), 0) > 0, counts
        assert counts.get(("primary", "token_wait"), 0) > 0, counts
    finally:
        if server is not None:
            server.stop()
        proxy.close()
        slow.remove()


def test_a_replica_refusing_logins_fails_no_read(replicated: Replicated) -> None:
    """A rotated password or a rebuilt replica: new connections are refused; reads go to the
    primary, and come back once it lets the service in again."""
    replicated.delay_replay(0)
    hba = replicated.replica.root / "pgdata" / "pg_hba.conf"
    original = hba.read_text()
    hba.write_text("host all all 127.0.0.1/32 reject\n" + original)
    replicated.replica.reload()

    async def burst() -> list[int]:
        async with replicated.client() as http:
            answers = await asyncio.gather(
                *(http.get("/v1/memories", params={"user_id": f"r{n}"}) for n in range(16))
            )
        return [answer.status_code for answer in answers]

    try:
        before = replicated.reads()
        for _ in range(3):
            assert set(asyncio.run(burst())) == {200}
            time.sleep(0.3)
        counts = served(before, replicated.reads())
        assert counts.get(("primary", "replica_unreachable"), 0) > 0, counts
    finally:
        hba.write_text(original)
        replicated.replica.reload()
    deadline = time.monotonic() + 15
    before = replicated.reads()
    while not served(before, replicated.reads()).get(("replica", "replica")):
        assert time.monotonic() < deadline, "reads never came back to the replica"
        asyncio.run(burst())
        time.sleep(0.3)


def test_a_read_url_of_another_cluster_is_refused_at_start(
    replicated: Replicated, embedder: Embedder
) -> None:
    stranger = start_tcp_postgres(PASSWORD)
    settings = replace(replicated.server.settings, database_read_url=stranger.dsn)
    services = build_services(settings, replicated.primary.dsn, embedder)

    async def open_and_close() -> None:
        try:
            await services.database.open()
        finally:
            await services.database.close()

    try:
        with pytest.raises(ConfigurationError, match="another database cluster"):
            asyncio.run(open_and_close())
    finally:
        stranger.remove()


def test_a_malformed_token_is_a_problem(replicated: Replicated) -> None:
    http = httpx.Client(
        base_url=replicated.server.base_url,
        headers={"Authorization": f"Bearer {replicated.key}"},
    )
    for token in ("yesterday", "0/", "1/2/3", "G/1", "1" * 40 + "/1", "0/1\x00"):
        try:
            response = http.get("/v1/memories", params={"user_id": "x"}, headers={TOKEN: token})
        except httpx.LocalProtocolError:
            continue  # not even sendable
        assert response.status_code == 400, (token, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert TOKEN in response.json()["detail"]
