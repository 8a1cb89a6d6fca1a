"""The live LLM loop: a real llama-server (tools/llama_server.py), a recording proxy in front of
it, and real `memory-service serve` processes on fresh embedded Postgres databases pointed at
the proxy. Opt-in (`make test-llm-live`): the first run builds llama-server for minutes.

Each service configuration runs once per session with its own proxy, so what a proxy recorded
was sent by that configuration only.
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from benchmarks.harness import running_process
from tests_live.recording_proxy import RecordingProxy
from tools.llama_server import LlamaServer, running_llama_server

# What every live service shares. The base model is slow on two cores and often rambles to the
# output cap, so one LLM request may take tens of seconds; one retry and two job attempts keep
# an add that fails from running for minutes.
COMMON_SETTINGS = {
    "MEMORY_LLM_MODEL": "gemma-3-270m-q4_k_m",
    "MEMORY_LLM_TIMEOUT_S": "120",
    "MEMORY_LLM_MAX_RETRIES": "1",
    "MEMORY_JOB_MAX_ATTEMPTS": "2",
}
JOB_WAIT_S = 600.0


@dataclass
class LiveService:
    """A running service, the proxy it calls its LLM through, and the settings it was given."""

    http: httpx.Client  # authenticated with the development key
    proxy: RecordingProxy
    settings: Mapping[str, str]

    def setting(self, name: str, default: str) -> str:
        return self.settings.get(name, default)


ServiceFactory = Callable[[Mapping[str, str]], LiveService]


@pytest.fixture(scope="session")
def llama(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    log_path = tmp_path_factory.mktemp("llama") / "llama-server.log"
    with running_llama_server(log_path) as server:
        props = server.props()
        print(
            f"\nllama-server {props.get('build_info', '?')} serving "
            f"{Path(str(props.get('model_path', '?'))).name}, "
            f"chat template: {'yes' if props.get('chat_template') else 'none'}"
        )
        yield server


@pytest.fixture(scope="session")
def start_service(
    llama: LlamaServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceFactory]:
    """Start (once per configuration) a service whose LLM is llama-server behind a new proxy."""
    models = tmp_path_factory.mktemp("models")  # one ONNX export for every service
    started: dict[frozenset[tuple[str, str]], LiveService] = {}
    with contextlib.ExitStack() as stack:

        def start(settings: Mapping[str, str]) -> LiveService:
            key = frozenset(settings.items())
            if key not in started:
                proxy = RecordingProxy(llama.url)
                stack.callback(proxy.close)
                stack.callback(print_spend, settings, proxy)  # runs before the proxy closes
                env = {
                    **COMMON_SETTINGS,
                    **settings,
                    "MEMORY_LLM_BASE_URL": proxy.base_url,
                    "MEMORY_MODEL_CACHE_DIR": str(models),
                }
                running = stack.enter_context(running_process(env))
                started[key] = LiveService(running.http, proxy, env)
            return started[key]

        yield start


def print_spend(settings: Mapping[str, str], proxy: RecordingProxy) -> None:
    """What one service configuration asked of the LLM over the session."""
    answered = [exchange for exchange in proxy.exchanges if exchange.response is not None]
    completions = [exchange.usage["completion_tokens"] for exchange in answered]
    reasons = Counter(exchange.finish_reason for exchange in answered)
    print(
        f"\n{dict(settings) or 'defaults'}: {len(proxy.exchanges)} LLM request(s), "
        f"{sum(exchange.usage['prompt_tokens'] for exchange in answered)} prompt and "
        f"{sum(completions)} completion tokens, completion tokens per answer "
        f"{min(completions, default=0)} to {max(completions, default=0)}, "
        f"finish reasons {dict(reasons)}"
    )


@pytest.fixture(scope="session")
def service(start_service: ServiceFactory) -> LiveService:
    """The service with the LLM settings' defaults (beyond COMMON_SETTINGS), but for a cap
    that keeps an answer the model does not end (about 20 tokens a second here) short."""
    return start_service({"MEMORY_LLM_MAX_OUTPUT_TOKENS": "256"})


def say(client: httpx.Client, user_id: str, *texts: str) -> httpx.Response:
    """A synchronous add with inference of ``texts`` as the user's messages."""
    return client.post(
        "/v1/memories",
        json={
            "messages": [{"role": "user", "content": text} for text in texts],
            "user_id": user_id,
        },
    )


def finished(client: httpx.Client, answer: httpx.Response) -> dict[str, Any]:
    """What an add came to: its result (201), or its job once done or failed (202)."""
    assert answer.status_code in (201, 202), answer.text
    body: dict[str, Any] = answer.json()
    if answer.status_code == 201:
        return body
    deadline = time.monotonic() + JOB_WAIT_S
    while body["status"] not in ("done", "failed"):
        assert time.monotonic() < deadline, f"job still {body['status']} after {JOB_WAIT_S:g} s"
        time.sleep(0.5)
        response = client.get(f"/v1/jobs/{body['id']}")
        assert response.status_code == 200, response.text
        body = response.json()
    return body


def memories_of(client: httpx.Client, user_id: str) -> list[dict[str, Any]]:
    """Every memory the service holds for ``user_id`` (the list endpoint, all pages)."""
    memories: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params: dict[str, str | int] = {"user_id": user_id, "limit": 100}
        if cursor is not None:
            params["cursor"] = cursor
        response = client.get("/v1/memories", params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        memories.extend(page["memories"])
        cursor = page["next_cursor"]
        if cursor is None:
            return memories
