"""LoCoMo retrieval recall through the HTTP API (the measure defined with the LoCoMo dev split).

Each sample's memories are stored under one user (one user per sample and corpus), each with
the dia_ids it came from in its metadata; every question of categories 1-4 is searched with
its own text, and a question is a hit at k when one of the top-k results cites one of its
evidence dia_ids. Prints recall@1/5/10 per corpus and per category and writes
.bench/locomo.json with the settings used.

Mem0 (see benchmarks/mem0_peer.py) gets the same memories, one by one with ``infer=False``,
into a collection of its own per sample (so its HNSW index never filters another sample's
rows out of a search), and the same questions, on the same Postgres.

    python -m benchmarks.locomo [--data FILE] [--no-mem0]   # FILE: locomo_dev.json; or LOCOMO_DATA
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from benchmarks import mem0_peer
from benchmarks.harness import SERVICE_SETTINGS, running_process, write_json
from service.adapters.embedded_postgres import start_embedded_postgres
from service.settings import setting_named

# (question, user_id) -> the dia_ids each of the top-10 results cites, best first
Search = Callable[[str, str], list[set[str]]]

HYBRID_SETTINGS = (
    "MEMORY_EMBEDDING_BACKEND",
    "MEMORY_EMBEDDING_QUERY_PROMPT",
    "MEMORY_EMBEDDING_DOCUMENT_PROMPT",
    "MEMORY_HYBRID_KEYWORD_WEIGHT",
    "MEMORY_HYBRID_BM25_K1",
    "MEMORY_HYBRID_BM25_B",
    "MEMORY_HYBRID_CANDIDATES",
    "MEMORY_HYBRID_DATE_WEIGHT",
    "MEMORY_HYBRID_SESSION_WEIGHT",
)

# The LoCoMo dev split: --data, else LOCOMO_DATA, else shared/data/locomo/ beside the checkout.
DEFAULT_DATA = Path(
    os.environ.get("LOCOMO_DATA")
    or Path(__file__).resolve().parents[2] / "shared" / "data" / "locomo" / "locomo_dev.json"
)
CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop"}
KS = (1, 5, 10)
BATCH = 100


def told_at(session_time: str) -> str:
    """A session's "1:56 pm on 8 May, 2023" as the ISO 8601 time its memories were told
    (UTC: the dataset gives no timezone)."""
    told = datetime.strptime(session_time, "%I:%M %p on %d %B, %Y").replace(tzinfo=UTC)
    return told.isoformat()


def observation_memories(sample: dict[str, Any]) -> list[dict[str, Any]]:
    memories = []
    for session_key, by_speaker in sample["observation"].items():
        session = session_key.removesuffix("_observation")
        when = sample["conversation"].get(f"{session}_date_time")
        for facts in by_speaker.values():
            for text, sources in facts:
                dia_ids = sources if isinstance(sources, list) else [sources]
                memories.append(
                    {
                        "text": text,
                        "metadata": {"dia_ids": dia_ids, "session_time": when},
                        "created_at": told_at(when),
                    }
                )
    return memories


def turn_memories(sample: dict[str, Any]) -> list[dict[str, Any]]:
    conversation = sample["conversation"]
    memories = []
    for key, turns in conversation.items():
        if not key.startswith("session_") or key.endswith("_date_time"):
            continue
        when = conversation.get(f"{key}_date_time")
        for turn in turns:
            memories.append(
                {
                    "text": f"{turn['speaker']}: {turn['text']}",
                    "metadata": {"dia_ids": [turn["dia_id"]], "session_time": when},
                    "created_at": told_at(when),
                }
            )
    return memories


CORPORA = {"observations": observation_memories, "turns": turn_memories}


def load(http: httpx.Client, user_id: str, memories: list[dict[str, Any]]) -> None:
    for start in range(0, len(memories), BATCH):
        items = [{**memory, "user_id": user_id} for memory in memories[start : start + BATCH]]
        http.post("/v1/memories/batch", json={"items": items}).raise_for_status()


def our_search(http: httpx.Client, mode: str) -> Search:
    def search(question: str, user_id: str) -> list[set[str]]:
        body = {"query": question, "user_id": user_id, "limit": max(KS), "mode": mode}
        response = http.post("/v1/search", json=body)
        response.raise_for_status()
        return [set(r["memory"]["metadata"]["dia_ids"]) for r in response.json()["results"]]

    return search


def evaluate_ours(
    http: httpx.Client, samples: list[dict[str, Any]], corpus: str, mode: str
) -> dict[str, Any]:
    started = time.perf_counter()
    for sample in samples:
        load(http, f"{sample['sample_id']}-{corpus}", CORPORA[corpus](sample))
    loaded_s = time.perf_counter() - started
    return {**recall(samples, corpus, our_search(http, mode)), "load_s": round(loaded_s, 1)}


def evaluate_mem0(dsn: str, data_dir: Path, samples: list[dict[str, Any]], corpus: str) -> Any:
    memories: dict[str, Any] = {}
    started = time.perf_counter()
    for sample in samples:
        user_id = f"{sample['sample_id']}-{corpus}"
        collection = f"locomo_{user_id}".replace("-", "_")
        memory = mem0_peer.mem0_memory(dsn, collection, data_dir / f"{collection}.db")
        for item in CORPORA[corpus](sample):
            mem0_peer.add(memory, item["text"], user_id, item["metadata"])
        memories[user_id] = memory
    loaded_s = time.perf_counter() - started

    def search(question: str, user_id: str) -> list[set[str]]:
        found = mem0_peer.search(memories[user_id], question, user_id, max(KS))
        return [set(result["metadata"]["dia_ids"]) for result in found]

    return {**recall(samples, corpus, search), "load_s": round(loaded_s, 1)}


def recall(samples: list[dict[str, Any]], corpus: str, search: Search) -> dict[str, Any]:
    """Recall@k per category of every question of categories 1-4, and the mean search time."""
    hits: dict[str, dict[int, int]] = defaultdict(lambda: dict.fromkeys(KS, 0))
    counts: dict[str, int] = defaultdict(int)
    seconds = 0.0
    for sample in samples:
        user_id = f"{sample['sample_id']}-{corpus}"
        for qa in sample["qa"]:
            category = qa.get("category")
            if category not in CATEGORIES:
                continue
            started = time.perf_counter()
            cited = search(qa["question"], user_id)
            seconds += time.perf_counter() - started
            evidence = set(qa.get("evidence", []))
            for name in ("all", CATEGORIES[category]):
                counts[name] += 1
                for k in KS:
                    if any(ids & evidence for ids in cited[:k]):
                        hits[name][k] += 1
    return {
        "categories": {
            name: {
                "questions": counts[name],
                **{f"R@{k}": round(hits[name][k] / counts[name], 3) for k in KS},
            }
            for name in ["all", *CATEGORIES.values()]
        },
        "search_mean_ms": round(seconds / counts["all"] * 1000, 2),
    }


def run(data: Path, modes: list[str], with_mem0: bool) -> dict[str, Any]:
    samples = json.loads(data.read_text())
    results: dict[str, Any] = {}
    with running_process() as service:
        for corpus in CORPORA:
            for mode in modes:
                results[f"{corpus}/{mode}"] = evaluate_ours(service.http, samples, corpus, mode)
        if with_mem0:
            dsn = start_embedded_postgres(service.data_dir / "pgdata")
            for corpus in CORPORA:
                results[f"{corpus}/mem0"] = evaluate_mem0(dsn, service.data_dir, samples, corpus)
    return results


def settings() -> dict[str, str]:
    return {
        "model": os.environ.get("MEMORY_EMBEDDING_MODEL", "all-MiniLM-L6-v2"),
        **{
            name: os.environ.get(name, setting_named(name).shown.strip("`"))
            for name in HYBRID_SETTINGS
        },
        **SERVICE_SETTINGS,
    }


def print_tables(results: dict[str, Any]) -> None:
    print(f"{'corpus/mode':<21} {'questions':<12} {'n':>4}  R@1    R@5    R@10")
    for corpus, result in results.items():
        for name, row in result["categories"].items():
            print(
                f"{corpus:<21} {name:<12} {row['questions']:>4}  "
                f"{row['R@1']:.3f}  {row['R@5']:.3f}  {row['R@10']:.3f}"
            )
    for corpus in CORPORA:
        ours, theirs = results.get(f"{corpus}/hybrid"), results.get(f"{corpus}/mem0")
        if ours is None or theirs is None:
            continue
        mine, peer = ours["categories"]["all"], theirs["categories"]["all"]
        ratios = ", ".join(f"R@{k} {mine[f'R@{k}'] / peer[f'R@{k}']:.2f}" for k in KS)
        print(
            f"{corpus}: ours (hybrid, over HTTP) / Mem0 (in-process): {ratios}; mean search "
            f"{ours['search_mean_ms']} / {theirs['search_mean_ms']} ms; load "
            f"{ours['load_s']} / {theirs['load_s']} s"
        )
    print("settings:", ", ".join(f"{name}={_shown(value)}" for name, value in settings().items()))


def _shown(value: str) -> str:
    # Quoted where spaces would hide where a value ends ("query: ").
    return repr(value) if " " in value else value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data",
        type=Path,
        default=DEFAULT_DATA,
        help="the LoCoMo dev split's locomo_dev.json (default: $LOCOMO_DATA, else "
        "shared/data/locomo/locomo_dev.json beside the checkout)",
    )
    parser.add_argument("--modes", default="vector,keyword,hybrid", help="our search modes")
    parser.add_argument("--no-mem0", action="store_true", help="skip the Mem0 comparison")


def run_from(args: argparse.Namespace) -> dict[str, Any]:
    if not args.data.is_file():
        raise SystemExit(
            f"LoCoMo data not found at {args.data}: give --data FILE or LOCOMO_DATA=FILE "
            "(the dev split's locomo_dev.json)"
        )
    return run(args.data, args.modes.split(","), not args.no_mem0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    results = run_from(parser.parse_args())
    print_tables(results)
    write_json("locomo", {"settings": settings(), "results": results})


if __name__ == "__main__":
    main()
