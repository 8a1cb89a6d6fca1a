"""Decision quality of an LLM behind the service: labelled reconciliation cases, one command.

    python -m benchmarks.decisions --llm-base-url URL --model M [--api-key-env VAR]
    python -m benchmarks.decisions --oracle        # the harness itself, with a scripted LLM

Starts `memory-service serve` on a fresh embedded Postgres with that LLM (any OpenAI-compatible
endpoint; other MEMORY_* settings, e.g. MEMORY_LLM_RESPONSE_FORMAT or MEMORY_LLM_TIMEOUT_S, are
taken from the environment), runs every case (benchmarks/decisions/cases/*.yaml), prints
accuracy per category and overall, LLM calls, tokens and latency per add, and writes
.bench/decisions.json. In --oracle mode every case must pass (exit status 1 otherwise).
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import asdict
from typing import Any

from benchmarks.decisions.cases import CATEGORIES, CaseFileError, load_cases, select_cases
from benchmarks.decisions.oracle import ORACLE_MODEL, run_with_oracle
from benchmarks.decisions.runner import CaseRun, run_on_fresh_service, summarise
from benchmarks.harness import write_json


def main() -> None:
    args = _arguments()
    try:
        cases = load_cases()
    except CaseFileError as error:
        sys.exit(f"a case file needs fixing: {error}")
    try:
        cases = select_cases(cases, args.cases, args.limit)
    except ValueError as error:
        sys.exit(f"--cases: {error}")
    print(f"{len(cases)} cases", flush=True)
    problems: list[str] = []
    if args.oracle:
        oracle_run = run_with_oracle(cases, job_timeout_s=args.job_timeout, progress=_progress)
        runs, problems = oracle_run.runs, oracle_run.problems
    else:
        runs = run_on_fresh_service(cases, _llm_env(args), args.job_timeout, _progress)
    summary = summarise(runs)
    print()
    print_tables(summary)
    for run in runs:
        if not run.passed:
            print(f"FAILED {run.case}: {run.reason}")
    for problem in problems:
        print(f"ORACLE {problem}")
    settings = {
        "llm": "oracle (scripted, answers the labels)" if args.oracle else args.llm_base_url,
        "model": ORACLE_MODEL if args.oracle else args.model,
        "cases": args.cases,
        "limit": args.limit,
    }
    results: dict[str, Any] = {
        "settings": settings,
        "summary": summary,
        "oracle_problems": problems,
        "cases": [asdict(run) for run in runs],
    }
    output = write_json("decisions", results)
    print(f"\nfigures in {output}")
    if args.oracle and (summary["failed_cases"] or problems):
        sys.exit(1)  # the labels and the plumbing disagree: the harness is broken


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--llm-base-url", help="OpenAI-compatible base URL, e.g. .../v1")
    parser.add_argument("--model", help="the model name sent to the endpoint")
    parser.add_argument(
        "--api-key-env", metavar="VAR", help="the environment variable holding the API key"
    )
    parser.add_argument(
        "--oracle", action="store_true", help="a scripted LLM answering every label exactly"
    )
    parser.add_argument(
        "--cases",
        default="*",
        help="comma-separated case ids, id patterns (update-*) or categories "
        f"({', '.join(CATEGORIES)}); default all",
    )
    parser.add_argument("--limit", type=int, default=None, help="run at most N cases")
    parser.add_argument(
        "--job-timeout",
        type=float,
        default=300.0,
        help="seconds to wait for one add, deferred ones (202) included",
    )
    args = parser.parse_args()
    if not args.oracle and not (args.llm_base_url and args.model):
        parser.error("give --llm-base-url and --model, or --oracle")
    if args.oracle and (args.llm_base_url or args.model or args.api_key_env):
        parser.error("--oracle is its own LLM: no --llm-base-url, --model or --api-key-env")
    return args


def _llm_env(args: argparse.Namespace) -> dict[str, str]:
    env = {"MEMORY_LLM_BASE_URL": args.llm_base_url, "MEMORY_LLM_MODEL": args.model}
    if args.api_key_env:
        key = os.environ.get(args.api_key_env)
        if not key:
            sys.exit(f"--api-key-env {args.api_key_env}: that variable is not set")
        env["MEMORY_LLM_API_KEY"] = key
    return env


def _progress(run: CaseRun) -> None:
    verdict = "pass" if run.passed else "FAIL"
    print(
        f"  {verdict} {run.case:<22} {run.latency_ms:8.0f} ms  {run.llm_calls} call(s)"
        f"  [{run.events}]",
        flush=True,
    )


def print_tables(summary: dict[str, Any]) -> None:
    rows = [(name, figures) for name, figures in summary["categories"].items()]
    rows.append(("overall", summary["overall"]))
    print(f"{'category':<16} | cases | passed | accuracy | exact events")
    print(f"{'-' * 16}-|-------|--------|----------|-------------")
    for name, figures in rows:
        print(
            f"{name:<16} | {figures['cases']:>5} | {figures['passed']:>6} | "
            f"{figures['accuracy']:>8.1%} | {figures['exact_events']:>12}"
        )
    adds = summary["overall"]["cases"]
    figures = [
        ("LLM calls per add", f"{summary['llm_calls_per_add']}"),
        ("adds answered without an LLM call", f"{summary['adds_without_llm_call']} of {adds}"),
        (
            "prompt / completion tokens per add",
            f"{summary['prompt_tokens_per_add']} / {summary['completion_tokens_per_add']}",
        ),
        (
            "add latency p50 / p95 (ms)",
            f"{summary['add_latency_p50_ms']} / {summary['add_latency_p95_ms']}",
        ),
        ("deferred adds (202, then the job)", str(summary["deferred_adds"])),
        ("adds that failed", str(summary["failed_adds"])),
        ("decisions the service rejected", str(summary["rejected_decisions"])),
    ]
    width = max(len(label) for label, _ in figures)
    print()
    for label, value in figures:
        print(f"{label:<{width}} | {value}")


if __name__ == "__main__":
    main()
