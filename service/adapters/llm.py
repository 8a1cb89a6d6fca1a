"""One facade over any OpenAI-compatible chat-completions endpoint, strict JSON in and out.

Retries are ours (the SDK's are switched off) so that every attempt is counted and a
schema-violating answer is retried like a timeout: timeouts, 429 (after its Retry-After),
5xx and invalid JSON are retried up to ``max_retries`` times with exponential backoff.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Literal, TypeVar

import msgspec
import openai
import structlog

from service import metrics
from service.domain.ports import JsonSchema, LlmFailure, LlmUsage

log = structlog.get_logger(__name__)

T = TypeVar("T")

MAX_RETRY_AFTER_S = 30.0


class ChatJsonClient:
    def __init__(
        self,
        *,
        base_url: str,
        api_key: str | None,
        model: str,
        timeout_s: float,
        max_retries: int,
        response_format: Literal["json_schema", "json_object"],
    ) -> None:
        self.model = model
        self._max_retries = max_retries
        self._response_format = response_format
        self._client = openai.AsyncOpenAI(
            base_url=base_url,
            # Local servers (vLLM, Ollama) accept any key; the SDK insists on one.
            api_key=api_key or "not-needed",
            timeout=timeout_s,
            max_retries=0,
        )

    async def close(self) -> None:
        await self._client.close()

    async def complete(
        self, system: str, user: str, schema: JsonSchema, answer_type: type[T], usage: LlmUsage
    ) -> T:
        """Ask once (plus retries) and return the answer decoded strictly as ``answer_type``."""
        last: LlmFailure | None = None
        for attempt in range(self._max_retries + 1):
            if attempt:
                await asyncio.sleep(_backoff_s(attempt, last))
            try:
                content = await self._ask(system, user, schema, usage)
                answer = msgspec.json.decode(content, type=answer_type, strict=True)
            except (msgspec.ValidationError, msgspec.DecodeError) as error:
                last = LlmFailure(
                    "invalid_output", f"the LLM answer broke the schema: {error}", usage
                )
            except LlmFailure as failure:
                last = failure
            else:
                metrics.LLM_CALLS.labels("ok").inc()
                return answer
            metrics.LLM_CALLS.labels(last.kind).inc()
            if last.kind == "refused":
                break
            log.warning("llm.attempt_failed", kind=last.kind, attempt=attempt + 1)
        assert last is not None  # noqa: S101  # the loop runs at least once
        raise last

    async def _ask(self, system: str, user: str, schema: JsonSchema, usage: LlmUsage) -> str:
        started = time.perf_counter()
        usage.calls += 1
        try:
            messages: Any = [
                {"role": "system", "content": system},
                {"role": "user", "content": user},
            ]
            response_format: Any = self._format(schema)
            response = await self._client.chat.completions.create(
                model=self.model,
                messages=messages,
                response_format=response_format,
                temperature=0,
            )
        except openai.APITimeoutError:
            raise LlmFailure("timeout", "the LLM did not answer in time", usage) from None
        except openai.RateLimitError as error:
            raise LlmFailure(
                "rate_limited",
                "the LLM endpoint is rate limiting",
                usage,
                retry_after_s=_retry_after_s(error.response),
            ) from None
        except openai.InternalServerError as error:
            raise LlmFailure(
                "server_error", f"the LLM endpoint failed ({error.status_code})", usage
            ) from None
        except openai.APIConnectionError:
            raise LlmFailure("server_error", "the LLM endpoint is unreachable", usage) from None
        except openai.APIStatusError as error:
            # 4xx other than 429: our configuration is wrong; retrying will not help.
            raise LlmFailure(
                "refused", f"the LLM endpoint refused the request ({error.status_code})", usage
            ) from None
        finally:
            elapsed_s = time.perf_counter() - started
            usage.latency_ms += elapsed_s * 1000
            metrics.LLM_LATENCY.observe(elapsed_s)
        if response.usage is not None:
            usage.prompt_tokens += response.usage.prompt_tokens
            usage.completion_tokens += response.usage.completion_tokens
            metrics.LLM_TOKENS.labels("prompt").inc(response.usage.prompt_tokens)
            metrics.LLM_TOKENS.labels("completion").inc(response.usage.completion_tokens)
        content = response.choices[0].message.content if response.choices else None
        if not content:
            raise LlmFailure("invalid_output", "the LLM answered with no content", usage)
        return str(content)

    def _format(self, schema: JsonSchema) -> dict[str, Any]:
        if self._response_format == "json_object":
            return {"type": "json_object"}
        return {
            "type": "json_schema",
            "json_schema": {"name": schema.name, "schema": schema.schema, "strict": True},
        }


def _retry_after_s(response: Any) -> float | None:
    raw = response.headers.get("retry-after") if response is not None else None
    try:
        return min(float(raw), MAX_RETRY_AFTER_S) if raw is not None else None
    except ValueError:
        return None


def _backoff_s(attempt: int, last: LlmFailure | None) -> float:
    if last is not None and last.retry_after_s is not None:
        return last.retry_after_s
    return float(min(0.25 * 2 ** (attempt - 1), 8.0))
