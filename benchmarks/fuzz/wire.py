"""Requests as planned by the strategies, and sending them: canaries, ids, counting.

A planned request may hold two placeholders, filled when it is sent: ``CANARY_SLOT`` becomes a
fresh ``CANARY-<hex>`` (also sent in the ``X-Canary`` header of every request), and
``MEMORY_ID_SLOT`` an id of a memory the fuzzer saw created (by the request's own tenant, by
the other one, or an id that never existed).
"""

from __future__ import annotations

import json
import random
import re
import sys
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import quote, urlencode

import httpx

CANARY_SLOT = "__CANARY__"
MEMORY_ID_SLOT = "__MEMORY_ID__"
IdSource = Literal["own", "other", "random"]
Header = tuple[str, str | bytes]
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
SHOWN_CHARS = 300
NOT_IMPLEMENTED = 501
PROGRESS_EVERY_S = 30.0
UNSENDABLE = -1  # the status recorded for a request the HTTP client would not send


@dataclass(frozen=True)
class Planned:
    """One request. ``body`` as text is encoded with ``encoding`` (surrogates kept as such);
    as bytes it is sent as it is. ``headers`` come on top of the tenant's key, unless
    ``auth`` is False (then they are the only ones)."""

    strategy: str  # e.g. "native/dates"; its first part is the dialect
    method: str
    path: str
    tenant: str
    params: tuple[tuple[str, str], ...] = ()
    body: str | bytes | None = None
    content_type: str | None = "application/json"
    headers: tuple[Header, ...] = ()
    auth: bool = True
    ids: IdSource = "own"
    encoding: str = "utf-8"

    @property
    def dialect(self) -> str:
        return self.strategy.split("/", 1)[0]


def json_text(value: Any) -> str:
    """JSON as a client would send it: non-ASCII and lone surrogates escaped, NaN allowed."""
    return json.dumps(value, ensure_ascii=True, allow_nan=True)


@dataclass
class Exchange:
    """A request as sent, and what came back (status 0: no answer)."""

    number: int
    strategy: str
    method: str
    path: str
    body: str
    status: int
    response: str
    request_id: str
    tenant: str
    id_source: IdSource = "own"
    clean_auth: bool = True  # authenticated by the tenant's key alone


def is_server_error(status: int) -> bool:
    """A 5xx, except 501: the documented answer to a Mem0 feature this service does not have."""
    return status >= 500 and status != NOT_IMPLEMENTED


def shorten(text: str, limit: int = SHOWN_CHARS) -> str:
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} chars)"


def path_template(path: str) -> str:
    return UUID.sub("{id}", path.split("?", 1)[0])


@dataclass
class Recorder:
    """Everything sent and answered, shared by every sender thread (and sent back by the
    process that runs schemathesis, to be merged)."""

    keys: dict[str, str]
    prefix: str = "fuzz"  # of request ids, which each process numbers on its own
    sent: Counter[str] = field(default_factory=Counter)  # by strategy
    statuses: Counter[int] = field(default_factory=Counter)
    outcomes: Counter[tuple[str, int]] = field(default_factory=Counter)  # (strategy, status)
    failures: list[Exchange] = field(default_factory=list)  # 5xx
    no_answer: list[Exchange] = field(default_factory=list)
    unsendable: list[Exchange] = field(default_factory=list)  # refused by the HTTP client
    breaches: list[Exchange] = field(default_factory=list)  # another tenant's memory read
    ids: dict[str, deque[str]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _count: int = 0

    def __post_init__(self) -> None:
        self.ids = {tenant: deque(maxlen=500) for tenant in self.keys}

    def __getstate__(self) -> dict[str, Any]:
        return {name: value for name, value in self.__dict__.items() if name != "_lock"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def merge(self, other: Recorder) -> None:
        with self._lock:
            self.sent.update(other.sent)
            self.statuses.update(other.statuses)
            self.outcomes.update(other.outcomes)
            self.failures += other.failures
            self.no_answer += other.no_answer
            self.unsendable += other.unsendable
            self.breaches += other.breaches

    @property
    def total(self) -> int:
        return sum(self.sent.values())

    def next_request(self) -> tuple[int, str, str]:
        """A number, a request id and a canary for the next request."""
        with self._lock:
            self._count += 1
            number = self._count
        return number, f"{self.prefix}-{number:06d}", f"CANARY-{uuid.uuid4().hex[:16]}"

    def memory_id(self, tenant: str, source: IdSource, rng: random.Random) -> str:
        if source == "random":
            return str(uuid.uuid4())
        owner = tenant if source == "own" else next(t for t in self.keys if t != tenant)
        with self._lock:
            known = list(self.ids[owner])
        return rng.choice(known) if known else str(uuid.uuid4())

    def record(self, exchange: Exchange, answer: Any) -> None:
        with self._lock:
            self.sent[exchange.strategy] += 1
            self.statuses[exchange.status] += 1
            self.outcomes[exchange.strategy, exchange.status] += 1
            if is_server_error(exchange.status):
                self.failures.append(exchange)
            elif exchange.status == 0:
                self.no_answer.append(exchange)
            elif exchange.status == UNSENDABLE:
                self.unsendable.append(exchange)
            elif 200 <= exchange.status < 300 and exchange.clean_auth:
                if exchange.id_source == "other" and exchange.method == "GET":
                    self.breaches.append(exchange)
                self.ids[exchange.tenant].extend(_memory_ids(answer))


def _memory_ids(answer: Any, depth: int = 0) -> Iterable[str]:
    """Ids of memories in an answer (``id`` of an object with text, or ``memory_id``)."""
    if depth > 4:
        return
    if isinstance(answer, dict):
        value = answer.get("id")
        if (
            isinstance(value, str)
            and UUID.fullmatch(value)
            and ("text" in answer or "memory" in answer)
        ):
            yield value
        for item in answer.values():
            yield from _memory_ids(item, depth + 1)
    elif isinstance(answer, list):
        for item in answer[:50]:
            yield from _memory_ids(item, depth + 1)


class Sender:
    """Sends planned requests over a few keep-alive connections, one per thread."""

    def __init__(self, base_url: str, recorder: Recorder, connections: int, seed: int) -> None:
        self.base_url = base_url
        self.recorder = recorder
        self.connections = connections
        self._local = threading.local()
        self._seed = seed
        self._started = self._reported = time.monotonic()

    def _client(self) -> httpx.Client:
        client: httpx.Client | None = getattr(self._local, "client", None)
        if client is None:
            client = httpx.Client(base_url=self.base_url, timeout=60)
            self._local.client = client
            self._local.rng = random.Random(self._seed + threading.get_ident())
        return client

    def send_chunks(self, chunks: Iterable[list[Planned]]) -> None:
        """Each chunk over all connections, the next once it is sent."""
        with ThreadPoolExecutor(self.connections, thread_name_prefix="fuzz") as pool:
            for chunk in chunks:
                list(pool.map(self.send, chunk))
                self._progress()

    def _progress(self) -> None:
        """A line on stderr now and then: long runs show they are moving."""
        now = time.monotonic()
        if now - self._reported >= PROGRESS_EVERY_S:
            self._reported = now
            done, elapsed = self.recorder.total, now - self._started
            print(
                f"fuzz: {done} requests from here in {elapsed:.0f} s ({done / elapsed:.0f}/s), "
                f"{len(self.recorder.failures)} 5xx so far",
                file=sys.stderr,
                flush=True,
            )

    def send(self, plan: Planned) -> None:
        client = self._client()
        rng: random.Random = self._local.rng
        number, request_id, canary = self.recorder.next_request()
        memory_id = self.recorder.memory_id(plan.tenant, plan.ids, rng)
        path = plan.path.replace(MEMORY_ID_SLOT, memory_id).replace(CANARY_SLOT, canary)
        body = _fill(plan.body, canary, memory_id, plan.encoding)
        params = [
            (name, value.replace(CANARY_SLOT, canary).replace(MEMORY_ID_SLOT, memory_id))
            for name, value in plan.params
        ]
        if params:  # encoded here: httpx would refuse lone surrogates
            path += "?" + urlencode(params, quote_via=quote, errors="surrogatepass")
        headers: list[Header] = [
            ("X-Request-ID", request_id),
            ("X-Canary", canary),
        ]
        if plan.auth:
            scheme = "Token" if plan.dialect == "mem0" else "Bearer"  # as each client sends it
            headers.append(("Authorization", f"{scheme} {self.recorder.keys[plan.tenant]}"))
        if plan.content_type is not None:
            headers.append(("Content-Type", plan.content_type))
        headers.extend(
            (name, value.replace(CANARY_SLOT, canary) if isinstance(value, str) else value)
            for name, value in plan.headers
        )
        shown = body.decode("utf-8", "replace") if body is not None else ""
        clean_auth = plan.auth and not any(
            name.lower() in ("authorization", "x-api-key") for name, _ in plan.headers
        )
        exchange = Exchange(
            number,
            plan.strategy,
            plan.method,
            path,
            shorten(shown),
            0,
            "",
            request_id,
            plan.tenant,
            plan.ids,
            clean_auth,
        )
        answer: Any = None
        try:
            try:
                response = client.request(plan.method, path, content=body, headers=_raw(headers))
            except httpx.RemoteProtocolError:
                # A kept-alive connection the server closed as it idled (while the next chunk
                # was drawn) fails its next request unread: once more, on a new connection.
                response = client.request(plan.method, path, content=body, headers=_raw(headers))
        except httpx.TransportError as error:  # sent, and no answer came back
            exchange.response = shorten(f"{type(error).__name__}: {error}")
        except (httpx.HTTPError, httpx.InvalidURL, UnicodeError, ValueError) as error:
            exchange.status = UNSENDABLE  # refused by the client itself (e.g. its URL)
            exchange.response = shorten(f"{type(error).__name__}: {error}")
        else:
            exchange.status = response.status_code
            exchange.response = shorten(response.text)
            if response.headers.get("content-type", "").startswith("application/json"):
                try:
                    answer = response.json()
                except ValueError:
                    answer = None
        self.recorder.record(exchange, answer)


def _raw(headers: list[Header]) -> list[tuple[bytes, bytes]]:
    """As bytes (latin-1, as HTTP has it), so that odd values go out as they are."""
    return [
        (name.encode(), value if isinstance(value, bytes) else value.encode("latin-1", "replace"))
        for name, value in headers
    ]


def _fill(body: str | bytes | None, canary: str, memory_id: str, encoding: str) -> bytes | None:
    if body is None:
        return None
    if isinstance(body, bytes):
        return body.replace(CANARY_SLOT.encode(), canary.encode()).replace(
            MEMORY_ID_SLOT.encode(), memory_id.encode()
        )
    filled = body.replace(CANARY_SLOT, canary).replace(MEMORY_ID_SLOT, memory_id)
    return filled.encode(encoding, "surrogatepass")
