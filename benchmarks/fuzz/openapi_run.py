"""schemathesis over the committed openapi.yaml: stateless generation of every operation (data
that fits the schema and data that does not), then stateful scenarios along the document's
links (add -> get / update / delete / history, add -> job, list or search -> get).

Requests are sent one at a time (a scenario needs each answer before its next step); each
carries its own canary, appended to the texts and queries it holds.
"""

from __future__ import annotations

import random
import sys
import uuid
from pathlib import Path
from typing import Any

import requests
import schemathesis
import yaml
from hypothesis import HealthCheck, Phase, Verbosity, given, reject, settings
from hypothesis import seed as fixed_seed
from hypothesis.errors import Unsatisfiable
from schemathesis.core.result import Ok
from schemathesis.core.transport import Response
from schemathesis.generation import GenerationMode
from schemathesis.generation.case import Case

from benchmarks.fuzz.wire import UNSENDABLE, Exchange, Recorder, shorten

OPENAPI = Path(__file__).parents[2] / "openapi.yaml"
# Request bodies whose unknown fields the service refuses (400), which the document does not
# say: without this, most "valid" bodies schemathesis draws carry extra fields, are refused,
# and no scenario gets past its first add.
CLOSED_BODIES = (
    "AddMemoryRequest",
    "BatchAddRequest",
    "BatchItem",
    "ChatMessage",
    "SearchRequest",
    "UpdateMemoryRequest",
)
STEPS_PER_SCENARIO = 12
MAX_STATEFUL_RUNS = 50


@schemathesis.serializer("application/x-ndjson")
def _json_lines(context: object, value: object) -> bytes:
    """Imports take JSON Lines, documented as a string: send the generated text as it is."""
    return str(value).encode("utf-8", "surrogatepass")


def load_document() -> dict[str, Any]:
    """openapi.yaml as committed, with the request bodies closed to unknown fields."""
    document: dict[str, Any] = yaml.safe_load(OPENAPI.read_text())
    schemas = document["components"]["schemas"]
    for name in CLOSED_BODIES:
        schemas[name].setdefault("additionalProperties", False)
    # An add gives exactly one of text and messages, and a scope: the rules JSON Schema does
    # not hold in the document (422 otherwise), stated here so that scenarios can start.
    scope = {"user_id": {"type": "string", "minLength": 1, "maxLength": 255}}
    messages = {
        "type": "array",
        "minItems": 1,
        "items": {"$ref": "#/components/schemas/ChatMessage"},
    }
    schemas["AddMemoryRequest"]["oneOf"] = [
        {"required": ["text", "user_id"], "properties": {**scope, "messages": {"type": "null"}}},
        {
            "required": ["messages", "user_id"],
            "properties": {**scope, "messages": messages, "text": {"type": "null"}},
        },
    ]
    return document


class BudgetSpent(Exception):
    """This part of the run has sent its share of requests."""


def _settings(examples: int) -> settings:
    return settings(
        max_examples=examples,
        phases=[Phase.generate],  # no shrinking and no replays: every example is a new request
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        stateful_step_count=STEPS_PER_SCENARIO,
        verbosity=Verbosity.quiet,
    )


def _with_canary(body: Any, canary: str) -> Any:
    """The body with the canary added to every text it holds (in place where it can be)."""
    if isinstance(body, str):
        return f"{body}\n{canary}"
    if not isinstance(body, dict):
        return body
    for key in ("text", "query"):
        if isinstance(body.get(key), str):
            body[key] = f"{body[key]} {canary}"
    for key in ("messages", "items"):
        items = body.get(key)
        for item in items[:5] if isinstance(items, list) else []:
            for field in ("content", "text"):
                if isinstance(item, dict) and isinstance(item.get(field), str):
                    item[field] = f"{item[field]} {canary}"
    return body


class OpenApiFuzzer:
    def __init__(self, base_url: str, recorder: Recorder, seed: int) -> None:
        self.base_url = base_url
        self.recorder = recorder
        self.schema = schemathesis.openapi.from_dict(load_document())
        # The key is ours to send: a generated X-API-Key beside it is refused (two keys).
        self.schema.config.generation.update(with_security_parameters=False)
        self.session = requests.Session()
        self.rng = random.Random(seed)
        self.seed = seed
        self.sent = 0
        self.problems: list[str] = []  # what schemathesis itself could not do

    def send(self, case: Case[Any], label: str) -> Response | None:
        number, request_id, canary = self.recorder.next_request()
        case.body = _with_canary(case.body, canary)
        for name in list(case.headers or {}):
            if name.lower() in ("authorization", "x-api-key"):
                del case.headers[name]
            elif name.lower() == "idempotency-key" and self.rng.random() < 0.7:
                # Drawn keys repeat (the documented example above all): keep some replays.
                case.headers[name] = str(uuid.uuid4())
        tenant = self.rng.choice(["fuzz-a", "fuzz-a", "fuzz-a", "fuzz-b"])
        headers = {
            "Authorization": f"Bearer {self.recorder.keys[tenant]}",
            "X-Request-ID": request_id,
            "X-Canary": canary,
        }
        self.sent += 1
        exchange = Exchange(
            number, label, case.method, case.formatted_path, "", 0, "", request_id, tenant
        )
        try:
            response = case.call(
                base_url=self.base_url, session=self.session, headers=headers, timeout=60
            )
        except (requests.RequestException, UnicodeError, ValueError) as error:
            lost = isinstance(error, (requests.ConnectionError, requests.Timeout))
            exchange.status = 0 if lost else UNSENDABLE  # 0: sent, and no answer came
            exchange.response = shorten(f"{type(error).__name__}: {error}")
            self.recorder.record(exchange, None)
            return None
        sent = response.request
        exchange.path = str(sent.url).removeprefix(self.base_url)
        body = sent.body
        exchange.body = shorten(
            body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body or "")
        )
        exchange.status = response.status_code
        exchange.response = shorten(response.content.decode("utf-8", "replace"))
        answer = None
        if response.headers.get("content-type", [""])[0].startswith("application/json"):
            try:
                answer = response.json()
            except ValueError:
                answer = None
        self.recorder.record(exchange, answer)
        return response

    def stateless(self, budget: int) -> None:
        """Every operation, half its share with fitting data and half with unfitting data."""
        operations = [
            result.ok() for result in self.schema.get_all_operations() if isinstance(result, Ok)
        ]
        modes = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
        share = max(1, budget // (len(operations) * len(modes)))
        for operation in operations:
            for mode in modes:
                try:
                    self._generated(operation.as_strategy(generation_mode=mode), mode, share)
                except Unsatisfiable:
                    pass  # nothing to generate (e.g. no invalid request without parameters)
                except Exception as error:  # reported; the run goes on
                    problem = f"{operation.label} ({mode.value}): {type(error).__name__}: {error}"
                    self.problems.append(problem[:300])

    def _generated(self, strategy: Any, mode: GenerationMode, examples: int) -> None:
        label = f"openapi/stateless-{mode.value}"

        @_settings(examples)
        @fixed_seed(self.seed)
        @given(strategy)
        def run(case: Case[Any]) -> None:
            self.send(case, label)

        run()

    def stateful(self, budget: int) -> None:
        """Scenarios of up to 12 linked calls until ``budget`` requests were sent."""
        fuzzer = self
        limit = self.sent + budget

        class Machine(self.schema.as_state_machine()):  # type: ignore[misc]
            def call(self, case: Case[Any], **kwargs: Any) -> Response:
                if fuzzer.sent >= limit:
                    raise BudgetSpent
                response = fuzzer.send(case, "openapi/stateful")
                if response is None:
                    reject()
                return response

            def validate_response(
                self,
                response: Response,
                case: Case[Any],
                additional_checks: Any = None,
                **kwargs: Any,
            ) -> None:
                """Judged by status and logs here (tests/hardening checks the contract)."""

        # A run can end before the budget: hypothesis replays a scenario's start to vary it,
        # and a server whose data moved on answers differently (FlakyStrategyDefinition).
        # Then another run starts (hypothesis draws a new seed) until the budget is spent.
        for _ in range(MAX_STATEFUL_RUNS):
            try:
                Machine.run(settings=_settings(max(1, limit - fuzzer.sent)))
            except BudgetSpent:
                return
            except Exception as error:
                problem = f"stateful: {type(error).__name__}: {str(error).splitlines()[0]}"
                if problem[:300] not in self.problems:
                    self.problems.append(problem[:300])
            if fuzzer.sent >= limit:
                return

    def run(self, budget: int) -> None:
        self.stateless(budget * 3 // 5)
        self.stateful(max(0, budget - self.sent))
        for problem in self.problems:
            print(f"schemathesis: {problem}", file=sys.stderr)


def fuzz_openapi(base_url: str, keys: dict[str, str], budget: int, seed: int) -> Recorder:
    """Run in a process of its own (generating cases is most of schemathesis's time)."""
    recorder = Recorder(keys, prefix="fuzzs")
    OpenApiFuzzer(base_url, recorder, seed).run(budget)
    return recorder
