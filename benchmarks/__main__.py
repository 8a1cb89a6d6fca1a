"""The benchmark suite in one run: what the embedding model alone costs on this machine, LoCoMo
recall, then latency and throughput at 10k, 100k and 1M memories, each with Mem0 beside us,
then what MCP adds to a search. Prints every table and writes .bench/suite.json.

    python -m benchmarks [--sizes 10000,100000,1000000] [--modes vector,keyword,hybrid] ...

`python -m benchmarks.locomo` and `python -m benchmarks.scale` run either half alone.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

from benchmarks import embedding, locomo, mcp_overhead, scale
from benchmarks.harness import write_json


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    embedding.add_arguments(parser)
    locomo.add_arguments(parser)
    scale.add_arguments(parser)
    mcp_overhead.add_arguments(parser)
    args = parser.parse_args()
    started = time.perf_counter()
    model = embedding.run_from(args)  # first, on an idle machine
    recall = locomo.run_from(args)
    latency = scale.run_from(args)
    mcp = mcp_overhead.run_from(args)
    embedding.print_table(model)
    print("\nLoCoMo recall (dev split) through the HTTP API; Mem0 in-process")
    locomo.print_tables(recall)
    scale.print_tables(latency, args.clients)
    mcp_overhead.print_table(mcp)
    settings = {
        **locomo.settings(),
        **scale.SETTINGS,
        "machine": f"{os.cpu_count()} cores, {platform.processor() or platform.machine()}",
        "arguments": {name: str(value) for name, value in vars(args).items()},
    }
    output = write_json(
        "suite",
        {
            "settings": settings,
            "embedding": model,
            "locomo": recall,
            "scale": latency,
            "mcp": mcp,
        },
    )
    print(f"\nsuite took {time.perf_counter() - started:.0f} s; figures in {output}")


if __name__ == "__main__":
    main()
