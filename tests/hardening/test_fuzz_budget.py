"""The fuzzer of `make fuzz` (benchmarks/fuzz) on a small budget, as CI runs it: a few hundred
hostile requests in both dialects (schemathesis over openapi.yaml, statefully and not, plus our
strategies: extreme dates, deep JSON, unicode, list-valued filters, wrong content types,
duplicate keys) against a real `memory-service serve` with debug logs. No request may answer
5xx, and nothing the service writes may hold an API key, the LLM key or a request's canary."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from benchmarks.fuzz.report import CANARY, scan

ROOT = Path(__file__).parents[2]
BUDGET = 400


def test_a_small_fuzzing_budget_finds_no_server_error_and_no_leak(tmp_path: Path) -> None:
    figures_file = tmp_path / "fuzz.json"
    command = [sys.executable, "-m", "benchmarks.fuzz", "--requests", str(BUDGET), "--seed", "15"]
    done = subprocess.run(
        [*command, "--json", str(figures_file)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    print(done.stdout[-20_000:], done.stderr[-5_000:])
    assert figures_file.exists(), done.stderr[-3000:]
    figures = json.loads(figures_file.read_text())

    assert figures["requests"] >= BUDGET
    assert set(figures["by_dialect"]) >= {"openapi", "native", "mem0"}
    assert figures["server_errors"] == 0, json.dumps(figures["failure_groups"], indent=1)[:6000]
    assert figures["canary_hits"] == {"api_key": 0, "llm_key": 0, "canary_text": 0}, figures["hits"]
    assert figures["isolation_breaches"] == 0
    assert figures["service_alive"]
    assert done.returncode == 0


def test_the_log_scan_finds_keys_and_canaries_however_they_are_written(tmp_path: Path) -> None:
    """The scan itself: a key, the LLM key and a canary inside JSON, a traceback and a repr."""
    log = tmp_path / "serve.stderr"
    log.write_text(
        '{"event": "request", "level": "info", "logger": "service.request"}\n'
        '{"event": "x", "level": "error", "logger": "a", "authorization": "Bearer msk_secret1"}\n'
        'Traceback: body=b\'{"text": "CANARY-0123456789abcdef"}\'\n'
        "settings=Settings(llm_api_key='sk-llm-secret')\n"
    )

    found = scan(
        [log, tmp_path / "missing"], {"msk_secret1": "api key", "sk-llm-secret": "LLM key"}
    )

    assert (found.lines, found.count("api key"), found.count("LLM key")) == (4, 1, 1)
    assert found.count("canary") == 1
    assert all("msk_secret1" not in hit.line for hit in found.hits)  # masked in the report
    assert CANARY.fullmatch("CANARY-0123456789abcdef")
