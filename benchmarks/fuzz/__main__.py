"""`python -m benchmarks.fuzz --requests N`: fuzz a fresh service, print the summary, exit 1 on
any 5xx, leaked secret or canary (see benchmarks/fuzz/__init__.py)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from benchmarks.fuzz.report import failed, print_summary
from benchmarks.fuzz.run import run


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000, help="request budget")
    parser.add_argument("--connections", type=int, default=4, help="concurrent connections")
    parser.add_argument("--seed", type=int, default=0, help="seed of the generated requests")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--keep-logs", type=Path, help="copy the service's output here")
    args = parser.parse_args()
    figures, recorder = run(args.requests, args.connections, args.seed, args.keep_logs)
    print_summary(figures, recorder)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    sys.exit(1 if failed(figures) else 0)


if __name__ == "__main__":
    main()
