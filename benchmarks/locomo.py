"""LoCoMo retrieval recall through the HTTP API (the measure defined in shared/data/locomo).

Each sample's memories are stored under one user (one user per sample and corpus), each with
the dia_ids it came from in its metadata; every question of categories 1-4 is searched with
its own text, and a question is a hit at k when one of the top-k results cites one of its
evidence dia_ids. Prints recall@1/5/10 per corpus and per category and writes
.bench/locomo.json with the settings used.

    python -m benchmarks.locomo [--data ../shared/data/locomo/locomo_dev.json]
"""

from __future__ import annotations

import argparse
import json
import os
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx

from benchmarks.harness import running_service
from service.settings import SETTINGS_DOC

HYBRID_SETTINGS = (
    "MEMORY_EMBEDDING_BACKEND",
    "MEMORY_HYBRID_KEYWORD_WEIGHT",
    "MEMORY_HYBRID_BM25_K1",
    "MEMORY_HYBRID_BM25_B",
    "MEMORY_HYBRID_CANDIDATES",
)

DEFAULT_DATA = (
    Path(__file__).resolve().parents[2] / "shared" / "data" / "locomo" / "locomo_dev.json"
)
CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop"}
KS = (1, 5, 10)
BATCH = 100


def observation_memories(sample: dict[str, Any]) -> list[dict[str, Any]]:
    memories = []
    for session_key, by_speaker in sample["observation"].items():
        session = session_key.removesuffix("_observation")
        when = sample["conversation"].get(f"{session}_date_time")
        for facts in by_speaker.values():
            for text, sources in facts:
                dia_ids = sources if isinstance(sources, list) else [sources]
                memories.append(
                    {"text": text, "metadata": {"dia_ids": dia_ids, "session_time": when}}
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
                }
            )
    return memories


CORPORA = {"observations": observation_memories, "turns": turn_memories}


def load(http: httpx.Client, user_id: str, memories: list[dict[str, Any]]) -> None:
    for start in range(0, len(memories), BATCH):
        items = [{**memory, "user_id": user_id} for memory in memories[start : start + BATCH]]
        http.post("/v1/memories/batch", json={"items": items}).raise_for_status()


def evaluate(
    http: httpx.Client, samples: list[dict[str, Any]], corpus: str, mode: str
) -> dict[str, Any]:
    hits: dict[str, dict[int, int]] = defaultdict(lambda: dict.fromkeys(KS, 0))
    counts: dict[str, int] = defaultdict(int)
    for sample in samples:
        user_id = f"{sample['sample_id']}-{corpus}"
        load(http, user_id, CORPORA[corpus](sample))
        for qa in sample["qa"]:
            category = qa.get("category")
            if category not in CATEGORIES:
                continue
            response = http.post(
                "/v1/search",
                json={"query": qa["question"], "user_id": user_id, "limit": max(KS), "mode": mode},
            )
            response.raise_for_status()
            cited = [set(r["memory"]["metadata"]["dia_ids"]) for r in response.json()["results"]]
            evidence = set(qa.get("evidence", []))
            for name in ("all", CATEGORIES[category]):
                counts[name] += 1
                for k in KS:
                    if any(ids & evidence for ids in cited[:k]):
                        hits[name][k] += 1
    return {
        name: {
            "questions": counts[name],
            **{f"R@{k}": round(hits[name][k] / counts[name], 3) for k in KS},
        }
        for name in ["all", *CATEGORIES.values()]
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--modes", default="vector,keyword,hybrid", help="search modes to measure")
    args = parser.parse_args()
    samples = json.loads(args.data.read_text())
    with running_service() as http:
        results = {
            f"{corpus}/{mode}": evaluate(http, samples, corpus, mode)
            for corpus in CORPORA
            for mode in args.modes.split(",")
        }
    print(f"{'corpus/mode':<21} {'questions':<12} {'n':>4}  R@1    R@5    R@10")
    for corpus, by_category in results.items():
        for name, row in by_category.items():
            print(
                f"{corpus:<21} {name:<12} {row['questions']:>4}  "
                f"{row['R@1']:.3f}  {row['R@5']:.3f}  {row['R@10']:.3f}"
            )
    settings = {
        "model": os.environ.get("MEMORY_EMBEDDING_MODEL", "all-MiniLM-L6-v2"),
        **{name: os.environ.get(name, SETTINGS_DOC[name][0]) for name in HYBRID_SETTINGS},
    }
    print("settings:", ", ".join(f"{name}={value}" for name, value in settings.items()))
    output = Path(".bench/locomo.json")
    output.parent.mkdir(exist_ok=True)
    output.write_text(json.dumps({"settings": settings, "results": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
