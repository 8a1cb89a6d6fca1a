"""Behind PgBouncer in transaction mode, tenants never mix and the role switch always holds.

A real PgBouncer 1.18 (transaction pooling, three server connections) stands in front of a
password-protected Postgres that the service logs into as a superuser, so row-level security
holds only because every transaction switches to the app role itself. The service (with
in-process job workers and an LLM over HTTP) serves three tenants whose requests of every kind
run interleaved and concurrently in a random schedule. Every text a tenant sends carries its
own marker, so any answer or row holding another tenant's marker is a leak.

Asserted: no unexpected status; no answer with another tenant's marker; every stored row
belongs to the tenant whose marker it carries; each tenant's acknowledged memories exist and
its deletions are gone; every statement that touched tenant tables ran as the app role
(pg_stat_statements records the role a statement ran as); PgBouncer did multiplex.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from benchmarks.pipeline import RuleBasedLLM
from service.adapters.embedder import Embedder
from service.settings import Settings
from service.storage.database import APP_ROLE
from service.storage.migrations import apply_migrations
from tests.conftest import LiveServer, create_api_key, run_sql, start_server
from tests.pgbouncer import PgBouncer, start_pgbouncer
from tests.postgres_tcp import TcpPostgres, start_tcp_postgres

PASSWORD = f"pw-{uuid.uuid4().hex}"
POOL_SIZE = 3  # server connections PgBouncer shares among the service's 12
TENANT_TABLES = r"\m(memories|memory_history|ingest_jobs|ingested_messages|memory_feedback)\M"


@dataclass
class Pooled:
    postgres: TcpPostgres
    bouncer: PgBouncer
    server: LiveServer


@pytest.fixture(scope="module")
def pooled(embedder: Embedder) -> Iterator[Pooled]:
    postgres = start_tcp_postgres(
        PASSWORD, server_options="-c shared_preload_libraries=pg_stat_statements"
    )
    llm = RuleBasedLLM()
    bouncer = None
    server = None
    try:
        postgres.execute("CREATE EXTENSION pg_stat_statements")
        # Migrations hold a session-level lock: they run on a direct connection (documented).
        apply_migrations(postgres.dsn, embedder.dimensions, Settings().migrations_dir)
        bouncer = start_pgbouncer(postgres, pool_size=POOL_SIZE)
        settings = replace(
            Settings(),
            database_url=bouncer.dsn,
            data_dir=Path("/nonexistent"),
            db_statement_cache_size=0,
            db_pool_max=12,
            llm_base_url=llm.base_url,
            llm_model="rule-based",
            job_workers=2,
        )
        server = start_server(settings, bouncer.dsn, embedder)
        yield Pooled(postgres, bouncer, server)
    finally:
        if server is not None:
            server.stop()
        if bouncer is not None:
            bouncer.stop()
        llm.close()
        postgres.remove()


@dataclass
class Tenant:
    name: str
    marker: str
    http: httpx.AsyncClient
    alive: set[str] = field(default_factory=set)
    busy: set[str] = field(default_factory=set)
    deleted: set[str] = field(default_factory=set)


class Schedule:
    """Runs random requests of every kind for every tenant and records what went wrong."""

    def __init__(self, tenants: list[Tenant], rng: random.Random) -> None:
        self.tenants = tenants
        self.rng = rng
        self.failures: list[str] = []
        self.leaks: list[str] = []
        self.counter = 0

    def check(self, tenant: Tenant, kind: str, response: httpx.Response, *expected: int) -> None:
        if response.status_code not in expected:
            self.failures.append(f"{kind}: {response.status_code} {response.text[:300]}")
        for other in self.tenants:
            if other is not tenant and other.marker in response.text:
                self.leaks.append(f"{kind} of {tenant.name} showed {other.name}'s data")

    def text(self, tenant: Tenant) -> str:
        self.counter += 1
        topic = self.rng.choice(["tea", "trains", "violin", "rain", "bread", "chess"])
        return f"{tenant.marker} note {self.counter} about {topic}"

    async def run(self, operations: int, concurrency: int) -> None:
        gate = asyncio.Semaphore(concurrency)
        kinds = [getattr(self, name) for name in dir(self) if name.startswith("op_")]

        async def one(tenant: Tenant, kind: Any) -> None:
            async with gate:
                await kind(tenant)

        await asyncio.gather(
            *(one(self.rng.choice(self.tenants), self.rng.choice(kinds)) for _ in range(operations))
        )

    def _take(self, tenant: Tenant) -> str | None:
        free = sorted(tenant.alive - tenant.busy)
        if not free:
            return None
        memory_id = self.rng.choice(free)
        tenant.busy.add(memory_id)
        return memory_id

    def _user(self) -> str:
        return self.rng.choice(["u1", "u2"])

    async def op_add(self, tenant: Tenant) -> None:
        body = {"text": self.text(tenant), "user_id": self._user(), "infer": False}
        response = await tenant.http.post("/v1/memories", json=body)
        self.check(tenant, "add", response, 201)
        if response.status_code == 201:
            tenant.alive.update(r["memory"]["id"] for r in response.json()["results"])

    async def op_add_batch(self, tenant: Tenant) -> None:
        items = [{"text": self.text(tenant), "user_id": self._user()} for _ in range(3)]
        response = await tenant.http.post("/v1/memories/batch", json={"items": items})
        self.check(tenant, "batch add", response, 201)
        if response.status_code == 201:
            tenant.alive.update(r["memory"]["id"] for r in response.json()["results"])

    async def op_add_with_llm(self, tenant: Tenant) -> None:
        # Runs as a job taken by a worker that serves every tenant.
        value = f"{tenant.marker}{self.rng.randrange(4)}"
        message = {"role": "user", "content": f"My pet is {value}."}
        body = {"messages": [message], "user_id": self._user(), "infer": True}
        self.check(tenant, "add (LLM)", await tenant.http.post("/v1/memories", json=body), 201)

    async def op_search(self, tenant: Tenant) -> None:
        body = {"query": "a note about music", "user_id": self._user(), "limit": 5}
        self.check(tenant, "search", await tenant.http.post("/v1/search", json=body), 200)

    async def op_list(self, tenant: Tenant) -> None:
        params: dict[str, str | int] = {"user_id": self._user(), "limit": 50}
        self.check(tenant, "list", await tenant.http.get("/v1/memories", params=params), 200)

    async def op_export(self, tenant: Tenant) -> None:
        response = await tenant.http.get("/v1/memories/export", params={"user_id": "u1"})
        self.check(tenant, "export", response, 200)

    async def op_get_update_history(self, tenant: Tenant) -> None:
        memory_id = self._take(tenant)
        if memory_id is None:
            return
        try:
            path = f"/v1/memories/{memory_id}"
            self.check(tenant, "get", await tenant.http.get(path), 200)
            body = {"text": self.text(tenant), "metadata": {"n": self.counter}}
            self.check(tenant, "update", await tenant.http.patch(path, json=body), 200)
            self.check(tenant, "history", await tenant.http.get(f"{path}/history"), 200)
        finally:
            tenant.busy.discard(memory_id)

    async def op_delete(self, tenant: Tenant) -> None:
        memory_id = self._take(tenant)
        if memory_id is None:
            return
        tenant.alive.discard(memory_id)
        response = await tenant.http.delete(f"/v1/memories/{memory_id}")
        self.check(tenant, "delete", response, 204)
        tenant.deleted.add(memory_id)

    async def op_reach_into_another_tenant(self, tenant: Tenant) -> None:
        victim = self.rng.choice([other for other in self.tenants if other is not tenant])
        memory_id = self._take(victim)
        if memory_id is None:
            return
        try:
            path = f"/v1/memories/{memory_id}"
            self.check(tenant, "foreign get", await tenant.http.get(path), 404)
            body = {"text": f"{tenant.marker} overwrite"}
            self.check(tenant, "foreign update", await tenant.http.patch(path, json=body), 404)
            self.check(tenant, "foreign delete", await tenant.http.delete(path), 404)
        finally:
            victim.busy.discard(memory_id)

    async def op_mem0_dialect(self, tenant: Tenant) -> None:
        message = {"role": "user", "content": self.text(tenant)}
        body = {"messages": [message], "user_id": "u1", "infer": False}
        self.check(tenant, "mem0 add", await tenant.http.post("/v1/memories/", json=body), 200)
        query = {"query": "a note about trains", "filters": {"user_id": "u1"}}
        response = await tenant.http.post("/v2/memories/search/", json=query)
        self.check(tenant, "mem0 search", response, 200)


async def run_schedule(server: LiveServer, keys: dict[str, str], seed: int) -> list[Tenant]:
    clients = {
        name: httpx.AsyncClient(
            base_url=server.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=60
        )
        for name, key in keys.items()
    }
    tenants = [Tenant(name, f"zq{uuid.uuid4().hex[:10]}", http) for name, http in clients.items()]
    schedule = Schedule(tenants, random.Random(seed))
    try:
        await schedule.run(operations=300, concurrency=12)
    finally:
        for http in clients.values():
            await http.aclose()
    assert schedule.failures == [], f"seed {seed}: {schedule.failures[:5]}"
    assert schedule.leaks == [], f"seed {seed}: {schedule.leaks[:5]}"
    return tenants


@pytest.mark.parametrize("seed", [1, 2])
def test_tenants_never_mix_behind_pgbouncer(pooled: Pooled, seed: int) -> None:
    direct = pooled.postgres.dsn
    keys = {f"pooled-{seed}-{n}-{uuid.uuid4().hex[:6]}": "" for n in range(3)}
    keys = {name: create_api_key(direct, name) for name in keys}
    run_sql(direct, "SELECT pg_stat_statements_reset()")

    tenants = asyncio.run(run_schedule(pooled.server, keys, seed))

    statements = run_sql(
        direct,
        "SELECT r.rolname, s.calls FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid"
        " WHERE s.query ~* $1 AND s.query NOT ILIKE '%pg_stat_statements%'",
        TENANT_TABLES,
    )
    roles = {row["rolname"] for row in statements}
    assert roles == {APP_ROLE}, f"statements on tenant tables ran as {roles}"
    assert sum(row["calls"] for row in statements) > 500  # the check saw the load

    for tenant in tenants:
        rows = run_sql(
            direct,
            "SELECT m.id::text, m.content FROM memories m JOIN tenants t ON t.id = m.tenant_id"
            " WHERE t.name = $1",
            tenant.name,
        )
        stored = {row["id"] for row in rows}
        assert all(tenant.marker in row["content"] for row in rows), tenant.name
        assert tenant.alive <= stored and not tenant.deleted & stored
        assert len(tenant.alive) > 20
    server_connections = run_sql(
        direct,
        "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = $1 AND usename = 'postgres'"
        " AND pid <> pg_backend_pid()",
        pooled.postgres.database,
    )[0]["n"]
    assert server_connections <= POOL_SIZE
