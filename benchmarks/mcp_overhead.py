"""What MCP adds to a search: the same search (scope, limit, hybrid mode) through REST and
through /mcp, from one client, interleaved so that both meet the same machine.

`memory-service serve` runs on a fresh embedded Postgres (rate limit off) holding
--mcp-memories synthetic memories of --mcp-users users. Each round runs ten searches through
each path in turn, the path leading rotating, every query a distinct question; besides each
search's latency, the service process's CPU time per search is read from /proc, a figure the
load of other processes on the machine does not inflate as it does latencies. The paths:

- REST: POST /v1/search with httpx;
- MCP, JSON-RPC: the same tools/call posted with httpx as a thin client sends it, in protocol
  2025-11-25 (after the handshake) and 2026-07-28: what the server side of MCP costs;
- MCP, Python SDK: the official client (mcp 2.x), as an agent would call it, over the
  2026-07-28 protocol and over the 2025-11-25 handshake (which today's desktop clients speak).

    python -m benchmarks.mcp_overhead [--mcp-memories 2000] [--mcp-users 20] [--mcp-searches 300]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, NamedTuple

import httpx
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from benchmarks.harness import SERVICE_SETTINGS, running_process, write_json
from benchmarks.scale import seed_through_api
from benchmarks.scale_measure import QueryTexts, latency_summary, user_of

Search = Callable[[str, str], Awaitable[None]]
PATHS = ("rest", "mcp_jsonrpc", "mcp_jsonrpc_2026", "mcp_sdk_2026", "mcp_sdk_handshake")
HANDSHAKE, MODERN = "2025-11-25", "2026-07-28"
# What a 2026-07-28 request carries in _meta in place of the handshake.
ENVELOPE = {
    "protocolVersion": MODERN,
    "clientInfo": {"name": "benchmarks", "version": "1"},
    "clientCapabilities": {},
}
LABELS = {
    "rest": "REST POST /v1/search",
    "mcp_jsonrpc": "MCP, JSON-RPC over httpx, 2025-11-25",
    "mcp_jsonrpc_2026": "MCP, JSON-RPC over httpx, 2026-07-28",
    "mcp_sdk_2026": "MCP, Python SDK client, 2026-07-28",
    "mcp_sdk_handshake": "MCP, Python SDK client, 2025-11-25",
}
BLOCK = 10  # searches of one path in a row
WARM_UP = 2  # blocks
LIMIT = 10


def rest_search(http: httpx.AsyncClient) -> Search:
    async def search(query: str, user: str) -> None:
        body = {"query": query, "user_id": user, "limit": LIMIT}
        response = await http.post("/v1/search", json=body)
        response.raise_for_status()

    return search


def jsonrpc_search(http: httpx.AsyncClient, protocol: str) -> Search:
    """tools/call as one POST; 2026-07-28 carries its version in the headers and in _meta."""
    headers = {"Accept": "application/json, text/event-stream", "MCP-Protocol-Version": protocol}
    meta = {}
    if protocol == MODERN:
        headers |= {"Mcp-Method": "tools/call", "Mcp-Name": "search_memories"}
        meta = {
            "_meta": {f"io.modelcontextprotocol/{key}": value for key, value in ENVELOPE.items()}
        }

    async def search(query: str, user: str) -> None:
        arguments = {"query": query, "user_id": user, "limit": LIMIT}
        call = {"name": "search_memories", "arguments": arguments, **meta}
        message = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": call}
        response = await http.post("/mcp", json=message, headers=headers)
        response.raise_for_status()
        if response.json()["result"].get("isError"):
            raise RuntimeError(response.text)

    return search


def sdk_search(client: Client) -> Search:
    async def search(query: str, user: str) -> None:
        arguments = {"query": query, "user_id": user, "limit": LIMIT}
        result = await client.call_tool("search_memories", arguments)
        if result.is_error:
            raise RuntimeError(result.content)

    return search


class Measured(NamedTuple):
    latencies_ms: dict[str, list[float]]  # per search, per path
    cpu_s: dict[str, float]  # the service process's CPU while each path's searches ran


def process_cpu_s(pid: int) -> float:
    """CPU seconds ``pid`` has used (user and system, all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def measure(
    searches: dict[str, Search], blocks: int, users: int, service_pid: int
) -> Measured:
    """Blocks of BLOCK searches per path, each path leading in turn; the first WARM_UP blocks
    are not kept. The service's CPU per block tells its own cost apart from the machine's load
    (which the latencies carry too)."""
    queries, rng = QueryTexts(), random.Random(5)
    measured = Measured({path: [] for path in searches}, dict.fromkeys(searches, 0.0))
    order = list(searches)
    for block in range(WARM_UP + blocks):
        order = order[1:] + order[:1]
        user = user_of(rng.randrange(users), users)
        for path in order:
            cpu_before = process_cpu_s(service_pid)
            latencies = [await _timed(searches[path], queries.take(), user) for _ in range(BLOCK)]
            if block >= WARM_UP:
                measured.cpu_s[path] += process_cpu_s(service_pid) - cpu_before
                measured.latencies_ms[path] += latencies
    return measured


async def _timed(search: Search, query: str, user: str) -> float:
    started = time.perf_counter()
    await search(query, user)
    return (time.perf_counter() - started) * 1000


async def measure_paths(
    base_url: str, headers: dict[str, str], blocks: int, users: int, service_pid: int
) -> Measured:
    async with (
        httpx.AsyncClient(base_url=base_url, headers=headers, timeout=60) as http,
        create_mcp_http_client(headers=headers) as mcp_http,
        create_mcp_http_client(headers=headers) as handshake_http,
        Client(streamable_http_client(f"{base_url}/mcp", http_client=mcp_http)) as modern,
        Client(
            streamable_http_client(f"{base_url}/mcp", http_client=handshake_http), mode="legacy"
        ) as handshake,
    ):
        searches = {
            "rest": rest_search(http),
            "mcp_jsonrpc": jsonrpc_search(http, HANDSHAKE),
            "mcp_jsonrpc_2026": jsonrpc_search(http, MODERN),
            "mcp_sdk_2026": sdk_search(modern),
            "mcp_sdk_handshake": sdk_search(handshake),
        }
        return await measure(searches, blocks, users, service_pid)


def run(memories: int, users: int, searches: int) -> dict[str, Any]:
    blocks = max(1, searches // BLOCK)
    with running_process(SERVICE_SETTINGS) as service:
        seed_through_api(service.http, memories, users)
        headers = {"Authorization": service.http.headers["Authorization"]}
        base_url = str(service.http.base_url).rstrip("/")
        measured = asyncio.run(measure_paths(base_url, headers, blocks, users, service.process.pid))
    summaries = {}
    for path in PATHS:
        summary: dict[str, float] = latency_summary(measured.latencies_ms[path])
        summary["service_cpu_ms"] = round(measured.cpu_s[path] / (blocks * BLOCK) * 1000, 2)
        summaries[path] = summary
    for path in PATHS[1:]:
        for figure in ("p50_ms", "service_cpu_ms"):
            added = summaries[path][figure] - summaries["rest"][figure]
            summaries[path][f"{figure}_added"] = round(added, 2)
    return {"memories": memories, "users": users, "searches": blocks * BLOCK, "paths": summaries}


def print_table(results: dict[str, Any]) -> None:
    print(
        f"\nSearch through REST and through MCP, 1 client, {results['memories']} memories, "
        f"{LIMIT} results, {results['searches']} searches each"
    )
    header = (
        f"{'path':<40} | {'p50 ms':>7} | {'p95 ms':>7} | {'p50 added':>9} | "
        f"{'service CPU ms':>14} | {'CPU added':>9}"
    )
    print(header)
    print("-" * len(header))
    for path, summary in results["paths"].items():
        print(
            f"{LABELS[path]:<40} | {summary['p50_ms']:>7} | {summary['p95_ms']:>7} | "
            f"{_added(summary, 'p50_ms'):>9} | {summary['service_cpu_ms']:>14} | "
            f"{_added(summary, 'service_cpu_ms'):>9}"
        )


def _added(summary: dict[str, float], figure: str) -> str:
    added = summary.get(f"{figure}_added")
    return "" if added is None else f"{added:+.2f}"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--mcp-memories", type=int, default=2000)
    parser.add_argument("--mcp-users", type=int, default=20)
    parser.add_argument("--mcp-searches", type=int, default=300, help="per path")


def run_from(args: argparse.Namespace) -> dict[str, Any]:
    return run(args.mcp_memories, args.mcp_users, args.mcp_searches)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    args = parser.parse_args()
    results = run_from(args)
    print_table(results)
    write_json("mcp", {"settings": vars(args) | SERVICE_SETTINGS, "results": results})


if __name__ == "__main__":
    main()
