"""One facade over any OpenAI-compatible chat-completions endpoint, strict JSON in and out.

Retries are ours (the SDK's are switched off) so that every attempt is counted and a
schema-violating answer is retried like a timeout: timeouts, 429 (after its Retry-After),
5xx and invalid JSON are retried up to ``max_retries`` times with exponential backoff.

Cost is bounded: every request carries an output cap, never more than the add's token budget
has left, and no attempt starts once the budget is spent. An answer cut off at the cap
(``finish_reason: length``) is not retried: the same request would be cut off again.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit

import msgspec
import openai
import structlog

from service import metrics
from service.domain.ports import JsonSchema, LlmFailure, LlmUsage

log = structlog.get_logger(__name__)

T = TypeVar("T")

MAX_RETRY_AFTER_S = 30.0
MIN_ANSWER_TOKENS = 64  # below this room for an answer, a request is not worth its prompt
MAX_TOKEN_COUNT = 10_000_000  # more than any context: a reported count above it is garbage
CapParameter = Literal["max_completion_tokens", "max_tokens"]
# OpenAI deprecated max_tokens for max_completion_tokens (its reasoning models refuse the
# former); most other servers know only max_tokens, and some ignore what they do not know.
_OPENAI_HOST = "api.openai.com"
_AZURE_OPENAI_DOMAIN = ".openai.azure.com"


def cap_parameter_for(base_url: str, setting: str) -> CapParameter:
    """The output-cap parameter to send first: as set, or by the endpoint's host."""
    if setting in ("max_completion_tokens", "max_tokens"):
        return setting  # type: ignore[return-value]  # one of the two, just checked
    host = urlsplit(base_url).hostname or ""
    if host == _OPENAI_HOST or host.endswith(_AZURE_OPENAI_DOMAIN):
        return "max_completion_tokens"
    return "max_tokens"


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
        max_output_tokens: int,
        cap_parameter: str = "auto",
    ) -> None:
        self.model = model
        self._max_retries = max_retries
        self._timeout_s = timeout_s
        self._response_format = response_format
        self._max_output_tokens = max_output_tokens
        self._cap_parameter = cap_parameter_for(base_url, cap_parameter)
        self._cap_parameter_fixed = cap_parameter != "auto"
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
            left = usage.tokens_left
            if left is not None and left - estimated_tokens(system, user) < MIN_ANSWER_TOKENS:
                last = LlmFailure(
                    "token_budget",
                    f"the add's budget of {usage.token_budget} tokens "
                    "(MEMORY_LLM_TOKEN_BUDGET_PER_ADD) does not cover another request: "
                    f"{usage.tokens} spent, about {estimated_tokens(system, user)} in its prompt",
                    usage,
                )
                metrics.LLM_CALLS.labels(last.kind).inc()
                break
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
            if last.kind == "refused" or last.is_final:
                break
            log.warning("llm.attempt_failed", kind=last.kind, attempt=attempt + 1)
        assert last is not None  # noqa: S101  # the loop runs at least once
        raise last

    async def _ask(self, system: str, user: str, schema: JsonSchema, usage: LlmUsage) -> str:
        try:
            return await self._ask_once(system, user, schema, usage)
        except openai.BadRequestError as error:
            if self._cap_parameter_fixed or not _names(error, self._cap_parameter):
                raise _refused(error, usage) from None
            # The endpoint refused the cap's parameter: send the other one from now on.
            self._cap_parameter = (
                "max_tokens"
                if self._cap_parameter == "max_completion_tokens"
                else "max_completion_tokens"
            )
            log.warning("llm.cap_parameter_switched", parameter=self._cap_parameter)
        try:
            return await self._ask_once(system, user, schema, usage)
        except openai.BadRequestError as error:
            raise _refused(error, usage) from None

    async def _ask_once(self, system: str, user: str, schema: JsonSchema, usage: LlmUsage) -> str:
        started = time.perf_counter()
        usage.calls += 1
        prompt_estimate = estimated_tokens(system, user)
        left = usage.tokens_left
        cap = (
            self._max_output_tokens
            if left is None
            else max(1, min(self._max_output_tokens, left - prompt_estimate))
        )
        reported = False
        try:
            messages: Any = [
                {"role": "system", "content": system},
                {"role": "user", "content": user},
            ]
            response_format: Any = self._format(schema)
            cap_argument: Any = {self._cap_parameter: cap}
            # The SDK's timeout bounds each read, not the request: an answer trickling in a
            # byte at a time would hold a worker (or the breaker's probe) without end.
            async with asyncio.timeout(self._timeout_s):
                response = await self._client.chat.completions.create(
                    model=self.model,
                    messages=messages,
                    response_format=response_format,
                    temperature=0,
                    **cap_argument,
                )
            reported = _count_usage(response, usage)
        except (openai.APITimeoutError, TimeoutError):
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
        except openai.BadRequestError:
            raise  # _ask decides: a refused cap parameter is switched, anything else refused
        except openai.APIStatusError as error:
            raise _refused(error, usage) from None
        except (ValueError, TypeError, AttributeError):  # not a chat completion at all
            raise LlmFailure(
                "invalid_output", "the LLM endpoint's answer is not a chat completion", usage
            ) from None
        finally:
            elapsed_s = time.perf_counter() - started
            usage.latency_ms += elapsed_s * 1000
            metrics.LLM_LATENCY.observe(elapsed_s)
            if not reported:
                # Unreported (a timeout, an error, no usage): the endpoint may well have read
                # the prompt, so the budget is charged the estimate rather than nothing.
                usage.prompt_tokens += prompt_estimate
        return _content(response, cap, cap < self._max_output_tokens, usage)

    def _format(self, schema: JsonSchema) -> dict[str, Any]:
        if self._response_format == "json_object":
            return {"type": "json_object"}
        return {
            "type": "json_schema",
            "json_schema": {"name": schema.name, "schema": schema.schema, "strict": True},
        }


def estimated_tokens(*texts: str) -> int:
    """A prompt's tokens, estimated before sending: a UTF-8 byte in four, the usual figure
    for English (scripts of more bytes a character count more, as their tokens do)."""
    return sum(len(text.encode("utf-8", "surrogatepass")) for text in texts) // 4


def _count_usage(response: Any, usage: LlmUsage) -> bool:
    """Add the tokens the endpoint reported; False when it reported none believable."""
    reported = getattr(response, "usage", None)
    prompt = _token_count(getattr(reported, "prompt_tokens", None))
    completion = _token_count(getattr(reported, "completion_tokens", None))
    if prompt is None or completion is None:
        return False
    usage.prompt_tokens += prompt
    usage.completion_tokens += completion
    metrics.LLM_TOKENS.labels("prompt").inc(prompt)
    metrics.LLM_TOKENS.labels("completion").inc(completion)
    return True


def _token_count(value: object) -> int | None:
    # An endpoint's usage is data from outside: negative, fractional or absurd counts are none.
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < MAX_TOKEN_COUNT:
        return value
    return None


def _content(response: Any, cap: int, cap_from_budget: bool, usage: LlmUsage) -> str:
    choice = response.choices[0] if response.choices else None
    if choice is not None and choice.finish_reason == "length":
        if cap_from_budget:
            raise LlmFailure(
                "token_budget",
                f"the answer was cut off at the {cap} tokens the add's budget had left "
                "(MEMORY_LLM_TOKEN_BUDGET_PER_ADD)",
                usage,
            )
        raise LlmFailure(
            "truncated",
            f"the LLM answer reached the output cap of {cap} tokens before it was complete "
            "(MEMORY_LLM_MAX_OUTPUT_TOKENS)",
            usage,
        )
    content = choice.message.content if choice is not None else None
    if not content:
        raise LlmFailure("invalid_output", "the LLM answered with no content", usage)
    return str(content)


_REFUSAL_WORDS = ("unsupported", "not supported", "unrecognized", "unknown", "not allowed")


def _names(error: openai.BadRequestError, parameter: str) -> bool:
    """Whether a 400 refuses ``parameter`` itself: OpenAI names it in ``param``; others say
    so in the message. ("'max_tokens' is too large" is about its value: no switch.)"""
    if getattr(error, "param", None) == parameter:
        return True
    message = str(error.message).lower()
    return parameter in message and any(word in message for word in _REFUSAL_WORDS)


def _refused(error: openai.APIStatusError, usage: LlmUsage) -> LlmFailure:
    if error.status_code in (400, 413, 422):
        # This request's content (too long for the context, filtered...): another attempt of
        # it would fail the same way, and it says nothing about the endpoint's health.
        return LlmFailure(
            "bad_request",
            f"the LLM endpoint refused this request ({error.status_code})",
            usage,
        )
    # 401, 403, 404...: our configuration is wrong; retrying will not help until it is fixed.
    return LlmFailure(
        "refused", f"the LLM endpoint refused the request ({error.status_code})", usage
    )


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
