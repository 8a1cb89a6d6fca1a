"""After the run: search everything the service wrote for secrets and canaries, tie server
errors to the requests that caused them, and print the summary."""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.fuzz.wire import Exchange, Recorder, is_server_error, path_template, shorten

CANARY = re.compile(r"CANARY-[0-9a-f]{16}")
SHOWN_FAILURES = 8


@dataclass
class Hit:
    kind: str  # "api key", "LLM key" or "canary"
    source: str  # the file, e.g. serve.stderr
    where: str  # logger and event of the line
    line: str  # shortened, secrets masked


@dataclass
class LogScan:
    lines: int = 0
    hits: list[Hit] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)  # error lines by logger and event
    exceptions: dict[str, str] = field(default_factory=dict)  # request id -> the exception

    def count(self, kind: str) -> int:
        return sum(1 for hit in self.hits if hit.kind == kind)


def _where(record: dict[str, Any] | None) -> str:
    if record is None:
        return "(not JSON)"
    return f"{record.get('logger', '?')}: {str(record.get('event', '?'))[:60]}"


def _exception(record: dict[str, Any]) -> str | None:
    """The innermost exception of a structured traceback, at its deepest frame of ours (or
    the deepest one at all)."""
    found = record.get("exception")
    if isinstance(found, str):
        return found.strip().splitlines()[-1][:200]
    if not (isinstance(found, list) and found and isinstance(found[-1], dict)):
        return None
    last = found[-1]
    name = last.get("exc_type") or last.get("type") or record.get("error")
    value = last.get("exc_value") or last.get("value")
    frames = [f for f in last.get("frames", []) if isinstance(f, dict)]
    ours = [f for f in frames if "/service/" in str(f.get("filename") or f.get("file"))]
    at = ""
    if ours or frames:
        frame = (ours or frames)[-1]
        file = str(frame.get("filename") or frame.get("file") or "")
        file = file.rsplit("/service/" if ours else "site-packages/", maxsplit=1)[-1]
        at = f" at {file}:{frame.get('lineno') or frame.get('line')}"
    return f"{name}{f': {str(value)[:120]}' if value else ''}{at}"


def scan(paths: list[Path], secrets: dict[str, str]) -> LogScan:
    """``secrets``: text -> its kind ("api key", "LLM key"); canaries are found by pattern."""
    result = LogScan()
    masks = {text: f"<{kind}>" for text, kind in secrets.items()}
    for path in paths:
        if not path.exists():
            continue
        for raw in path.read_text(encoding="utf-8", errors="replace").splitlines():
            result.lines += 1
            try:
                parsed = json.loads(raw)
                record = parsed if isinstance(parsed, dict) else None
            except ValueError:
                record = None
            shown = raw
            for text, mask in masks.items():
                shown = shown.replace(text, mask)
            found = [(shown.find(masks[t]), kind) for t, kind in secrets.items() if t in raw]
            canary = CANARY.search(shown)
            if canary is not None:
                found.append((canary.start(), "canary"))
            for position, kind in found:
                excerpt = shown[max(0, position - 160) : position + 80]
                result.hits.append(Hit(kind, path.name, _where(record), f"…{excerpt}…"))
            if record is not None and str(record.get("level")) in (
                "error",
                "critical",
                "exception",
            ):
                request_id = record.get("request_id")
                exception = _exception(record)
                result.errors[f"{_where(record)}{f' -> {exception}' if exception else ''}"] += 1
                if isinstance(request_id, str) and exception:
                    result.exceptions[request_id] = exception
    return result


def failure_groups(failures: list[Exchange], logs: LogScan) -> list[tuple[str, int, Exchange]]:
    """5xx answers grouped by method, route and the exception the service logged."""
    groups: dict[str, list[Exchange]] = {}
    for exchange in failures:
        cause = logs.exceptions.get(exchange.request_id, f"status {exchange.status}")
        key = f"{exchange.method} {path_template(exchange.path)} -> {cause}"
        groups.setdefault(key, []).append(exchange)
    ranked = sorted(groups.items(), key=lambda item: -len(item[1]))
    return [(key, len(items), min(items, key=lambda e: len(e.body))) for key, items in ranked]


def summary(recorder: Recorder, logs: LogScan, seconds: float, alive: bool) -> dict[str, Any]:
    """The figures of the run, as printed and as written to --json."""
    dialects: Counter[str] = Counter()
    for strategy, count in recorder.sent.items():
        dialects[strategy.split("/", 1)[0]] += count
    server_errors = sum(c for status, c in recorder.statuses.items() if is_server_error(status))
    return {
        "requests": recorder.total,
        "seconds": round(seconds, 1),
        "by_dialect": dict(sorted(dialects.items())),
        "by_strategy": dict(sorted(recorder.sent.items())),
        "statuses": {str(k): v for k, v in sorted(recorder.statuses.items())},
        "statuses_by_strategy": {
            strategy: {
                str(status): n
                for (name, status), n in sorted(recorder.outcomes.items())
                if name == strategy
            }
            for strategy in sorted(recorder.sent)
        },
        "server_errors": server_errors,
        "no_answer": len(recorder.no_answer),
        "isolation_breaches": len(recorder.breaches),
        "canary_hits": {
            "api_key": logs.count("api key"),
            "llm_key": logs.count("LLM key"),
            "canary_text": logs.count("canary"),
        },
        "log_lines": logs.lines,
        "error_log_lines": dict(logs.errors.most_common()),
        "service_alive": alive,
        "failure_groups": [
            {"group": key, "count": count, "example": _example(example)}
            for key, count, example in failure_groups(recorder.failures, logs)
        ],
        "hits": [hit.__dict__ for hit in logs.hits[:50]],
    }


def _example(exchange: Exchange) -> dict[str, Any]:
    return {
        "strategy": exchange.strategy,
        "method": exchange.method,
        "path": exchange.path,
        "body": exchange.body,
        "status": exchange.status,
        "response": exchange.response,
        "request_id": exchange.request_id,
    }


def failed(figures: dict[str, Any]) -> bool:
    hits = figures["canary_hits"]
    return bool(
        figures["server_errors"]
        or any(hits.values())
        or figures["isolation_breaches"]
        or not figures["service_alive"]
    )


def print_summary(figures: dict[str, Any], recorder: Recorder) -> None:
    hits = figures["canary_hits"]
    rate = figures["requests"] / max(figures["seconds"], 0.001)
    rows = [
        ("requests sent", f"{figures['requests']} in {figures['seconds']:.0f} s ({rate:.0f}/s)"),
        *((f"  {name}", str(count)) for name, count in figures["by_dialect"].items()),
        *((f"    {name}", str(count)) for name, count in figures["by_strategy"].items()),
        ("status codes", ", ".join(f"{s}: {c}" for s, c in figures["statuses"].items())),
        ("5xx", f"{figures['server_errors']} ({len(figures['failure_groups'])} distinct)"),
        ("no answer (connection dropped)", str(figures["no_answer"])),
        ("another tenant's memory read", str(figures["isolation_breaches"])),
        (
            "log canary hits (lines)",
            f"API key {hits['api_key']} / LLM key {hits['llm_key']} / "
            f"canary text {hits['canary_text']}",
        ),
        (
            "service log lines / error lines",
            f"{figures['log_lines']} / {sum(figures['error_log_lines'].values())}",
        ),
        ("service alive at the end", "yes" if figures["service_alive"] else "NO"),
    ]
    width = max(len(label) for label, _ in rows)
    print(f"\n{'measure':<{width}} | value")
    print(f"{'-' * width}-|-------")
    for label, value in rows:
        print(f"{label:<{width}} | {value}")
    if recorder.failures:
        print(f"\nFirst 5xx answers (of {len(recorder.failures)}):")
        for exchange in sorted(recorder.failures, key=lambda e: e.number)[:SHOWN_FAILURES]:
            _print_exchange(exchange)
    _print_details(figures, recorder)


def _print_details(figures: dict[str, Any], recorder: Recorder) -> None:
    if figures["failure_groups"]:
        print("\nDistinct 5xx (method, route, exception logged), shortest body of each:")
        for group in figures["failure_groups"]:
            example = group["example"]
            print(f"  {group['count']:>5} x {group['group']}")
            path = shorten(example["path"], 200)
            print(f"          [{example['strategy']}] {example['method']} {path}")
            print(f"          body: {shorten(example['body'], 240)}")
    for label, found in (
        ("Connections dropped", recorder.no_answer),
        ("Another tenant's memory read", recorder.breaches),
        ("Not sent: the HTTP client refused them (status -1)", recorder.unsendable),
    ):
        if found:
            print(f"\n{label} (of {len(found)}):")
            for exchange in found[:SHOWN_FAILURES]:
                _print_exchange(exchange)
    if figures["hits"]:
        print("\nLog lines holding a secret or a canary (first of each kind and place):")
        seen: set[tuple[str, str, str]] = set()
        for hit in figures["hits"]:
            key = (hit["kind"], hit["source"], hit["where"])
            if key not in seen:
                seen.add(key)
                print(f"  [{hit['kind']}] {hit['source']} {hit['where']}\n      {hit['line']}")
    if figures["error_log_lines"]:
        print("\nError log lines of the service, by logger, event and exception:")
        for where, count in figures["error_log_lines"].items():
            print(f"  {count:>5} x {where}")


def _print_exchange(exchange: Exchange) -> None:
    path = shorten(exchange.path, 200)
    print(f"  #{exchange.number} [{exchange.strategy}] {exchange.method} {path}")
    print(f"      body: {shorten(exchange.body, 240)}")
    print(f"      -> {exchange.status} {shorten(exchange.response, 240)}")
