"""What the embedding model alone costs on this machine: the floor under every search and add.

Each search embeds its query and each add its texts, on the same CPU cores as Postgres and
the HTTP server, so the model's cost per text bounds what the service can reach here,
whatever the database does: one query at a time (a lone client's search), queries in batches
of 8 (what the service's micro-batching makes of 8 concurrent clients) and documents in
batches of 100 (a batch add). Wall time, and CPU time of this process (the runtime's threads
included), per text; the model and backends are the service's own adapters. The synthetic
texts are those of the scale benchmark.

    python -m benchmarks.embedding [--embedding-texts 200]
"""

from __future__ import annotations

import argparse
import os
import random
import time
from typing import Any

from benchmarks.synthetic import question, sentence
from service.adapters.embedder import resolve_model_path
from service.adapters.sentence_encoders import SentenceEncoder, load_encoder
from service.settings import DEFAULT_EMBEDDING_MODEL, EmbeddingBackend, default_model_cache_dir

BACKENDS: tuple[EmbeddingBackend, ...] = ("onnx", "onnx-int8")
SHAPES = (
    ("1 query at a time", 1),
    ("queries in batches of 8", 8),
    ("documents, batches of 100", 100),
)


def per_text_ms(encoder: SentenceEncoder, texts: list[str], batch: int) -> tuple[float, float]:
    """(wall ms, CPU ms) per text, embedding ``texts`` ``batch`` at a time."""
    encoder.encode(texts[:batch], batch)  # warm-up: the first pass allocates
    wall, cpu = time.perf_counter(), time.process_time()
    for first in range(0, len(texts), batch):
        encoder.encode(texts[first : first + batch], batch)
    count = len(texts)
    return (
        round((time.perf_counter() - wall) * 1000 / count, 2),
        round((time.process_time() - cpu) * 1000 / count, 2),
    )


def run(texts: int) -> dict[str, Any]:
    rng = random.Random(5)
    queries = [question(rng, n) for n in range(texts)]
    documents = [sentence(rng, n) for n in range(texts)]
    model = resolve_model_path(DEFAULT_EMBEDDING_MODEL)
    results: dict[str, Any] = {}
    for backend in BACKENDS:
        encoder = load_encoder(backend, model, default_model_cache_dir())  # the service's exports
        results[backend] = {}
        for name, batch in SHAPES:
            shaped = documents if batch == 100 else queries
            wall_ms, cpu_ms = per_text_ms(encoder, shaped, batch)
            results[backend][name] = {"wall_ms": wall_ms, "cpu_ms": cpu_ms}
    return results


def print_table(results: dict[str, Any]) -> None:
    print(f"\nThe embedding model alone ({DEFAULT_EMBEDDING_MODEL}), per text, on this machine")
    cores = os.cpu_count() or 1
    header = (
        f"{'backend':<10} | {'shape':<26} | {'wall ms':>8} | {'CPU ms':>7} | "
        f"texts/s if the model had all {cores} cores"
    )
    print(header)
    print("-" * len(header))
    for backend, shapes in results.items():
        for name, cost in shapes.items():
            ceiling = cores * 1000 / cost["cpu_ms"] if cost["cpu_ms"] else float("inf")
            print(
                f"{backend:<10} | {name:<26} | {cost['wall_ms']:>8} | {cost['cpu_ms']:>7} | "
                f"{ceiling:.0f}"
            )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--embedding-texts", type=int, default=200, help="per shape and backend")


def run_from(args: argparse.Namespace) -> dict[str, Any]:
    return run(args.embedding_texts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    print_table(run_from(parser.parse_args()))


if __name__ == "__main__":
    main()
