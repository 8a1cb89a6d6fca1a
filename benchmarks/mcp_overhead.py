"""What MCP adds to a search: the same search (scope, limit, hybrid mode) through REST and
through /mcp, from one client, interleaved so that both meet the same machine.

`memory-service serve` runs on a fresh embedded Postgres (rate limit off) holding --memories
synthetic memories of --users users. Each round runs one search through each path, in a
rotating order, every query a distinct question. The paths:

- REST: POST /v1/search with httpx;
- MCP, JSON-RPC: the same tools/call posted with httpx as a thin client sends it (handshake
  protocol 2025-11-25): what the server side of MCP costs;
- MCP, Python SDK: the official client (mcp 2.x), as an agent would call it, over the
  2026-07-28 protocol and over the 2025-11-25 handshake (which today's desktop clients speak).

    python -m benchmarks.mcp_overhead [--mcp-memories 2000] [--mcp-users 20] [--mcp-searches 300]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from benchmarks.harness import SERVICE_SETTINGS, running_process, write_json
from benchmarks.scale import seed_through_api
from benchmarks.scale_measure import QueryTexts, latency_summary, user_of

Search = Callable[[str, str], Awaitable[None]]
PATHS = ("rest", "mcp_jsonrpc", "mcp_sdk_2026", "mcp_sdk_handshake")
WARM_UP = 20
LIMIT = 10


def rest_search(http: httpx.AsyncClient) -> Search:
    async def search(query: str, user: str) -> None:
        body = {"query": query, "user_id": user, "limit": LIMIT}
        response = await http.post("/v1/search", json=body)
        response.raise_for_status()

    return search


def jsonrpc_search(http: httpx.AsyncClient) -> Search:
    headers = {
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": "2025-11-25",
    }

    async def search(query: str, user: str) -> None:
        arguments = {"query": query, "user_id": user, "limit": LIMIT}
        call = {"name": "search_memories", "arguments": arguments}
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


async def measure(searches: dict[str, Search], rounds: int, users: int) -> dict[str, list[float]]:
    """Milliseconds per search of each path; the first WARM_UP rounds are not kept."""
    queries, rng = QueryTexts(), random.Random(5)
    latencies: dict[str, list[float]] = {path: [] for path in searches}
    order = list(searches)
    for round_ in range(WARM_UP + rounds):
        order = order[1:] + order[:1]  # each path leads in turn
        user = user_of(rng.randrange(users), users)
        for path in order:
            started = time.perf_counter()
            await searches[path](queries.take(), user)
            if round_ >= WARM_UP:
                latencies[path].append((time.perf_counter() - started) * 1000)
    return latencies


async def measure_paths(base_url: str, headers: dict[str, str], rounds: int, users: int) -> Any:
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
            "mcp_jsonrpc": jsonrpc_search(http),
            "mcp_sdk_2026": sdk_search(modern),
            "mcp_sdk_handshake": sdk_search(handshake),
        }
        return await measure(searches, rounds, users)


def run(memories: int, users: int, searches: int) -> dict[str, Any]:
    with running_process(SERVICE_SETTINGS) as service:
        seed_through_api(service.http, memories, users)
        headers = {"Authorization": service.http.headers["Authorization"]}
        latencies = asyncio.run(
            measure_paths(str(service.http.base_url).rstrip("/"), headers, searches, users)
        )
    summaries = {path: latency_summary(latencies[path]) for path in PATHS}
    rest_p50 = summaries["rest"]["p50_ms"]
    for path in PATHS[1:]:
        summaries[path]["p50_added_ms"] = round(summaries[path]["p50_ms"] - rest_p50, 2)
    return {"memories": memories, "users": users, "searches": searches, "paths": summaries}


def print_table(results: dict[str, Any]) -> None:
    print(
        f"\nSearch through REST and through MCP, 1 client, {results['memories']} memories, "
        f"{LIMIT} results, {results['searches']} searches each"
    )
    header = f"{'path':<40} | {'p50 ms':>7} | {'p95 ms':>7} | {'p50 added':>9}"
    print(header)
    print("-" * len(header))
    labels = {
        "rest": "REST POST /v1/search",
        "mcp_jsonrpc": "MCP tools/call, JSON-RPC over httpx",
        "mcp_sdk_2026": "MCP, Python SDK client, 2026-07-28",
        "mcp_sdk_handshake": "MCP, Python SDK client, 2025-11-25",
    }
    for path, summary in results["paths"].items():
        added = summary.get("p50_added_ms")
        shown = "" if added is None else f"{added:+.2f}"
        print(f"{labels[path]:<40} | {summary['p50_ms']:>7} | {summary['p95_ms']:>7} | {shown:>9}")


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
