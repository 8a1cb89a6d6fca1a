"""Generated requests to the Mem0 dialect (the paths of the Mem0 platform API, which end in
``/``), with the same hostile values as the native ones plus Mem0's own forms: filters with
``metadata`` groups and ``NOT`` lists, Unix-second dates, ``expiration_date``, pages, batch
bodies, entities, the LLM options (instructions, categories, timestamps) and the options that
answer 501."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from hypothesis import strategies as st

from benchmarks.fuzz import values as v
from benchmarks.fuzz.native import ID_SOURCES, TENANTS, messages, scope
from benchmarks.fuzz.wire import CANARY_SLOT, MEMORY_ID_SLOT, IdSource, Planned, json_text

ADD_PATHS = ["/v1/memories/", "/v3/memories/add/", "/mem0/v3/memories/add/"]
SEARCH_PATHS = ["/v1/memories/search/", "/v2/memories/search/", "/v3/memories/search/"]
LIST_PATHS = ["/v2/memories/", "/v3/memories/", "/mem0/v3/memories/"]
UNSUPPORTED_OPTIONS: dict[str, Any] = {
    "app_id": "app",
    "enable_graph": True,
    "immutable": True,
    "rerank": True,
    "fields": ["memory"],
    "reference_date": "2026-02-30",
    "show_expired": True,
    "keywords": "x",
}
BATCH_IDS: list[IdSource] = ["own", "own", "other", "random"]
OWN_OR_OTHER: list[IdSource] = ["own", "other"]
SDK_EXTRAS: dict[str, Any] = {
    "output_format": "v1.1",
    "version": "v2",
    "org_id": "o",
    "project_id": "p",
}


def _post(label: str, path: str, body: Any, tenant: str, **extra: Any) -> Planned:
    return Planned(label, "POST", path, tenant, body=json_text(body), **extra)


def _options(draw: st.DrawFn, body: dict[str, Any]) -> dict[str, Any]:
    """Now and then what the SDK adds on its own, an option answered 501, or an unknown field."""
    if v.chance(draw, 0.3):
        body.update(SDK_EXTRAS)
    if v.chance(draw, 0.1):
        name = draw(st.sampled_from(sorted(UNSUPPORTED_OPTIONS)))
        body[name] = UNSUPPORTED_OPTIONS[name]
    if v.chance(draw, 0.05):
        body[draw(st.text(min_size=1, max_size=6))] = draw(v.json_scalars())
    return body


@st.composite
def adds(draw: st.DrawFn) -> Planned:
    body: dict[str, Any] = {"messages": draw(messages())}
    if v.chance(draw, 0.7):
        body.update(draw(scope()))
    else:
        body["filters"] = {"user_id": draw(v.scope_ids())}
    if v.chance(draw, 0.5):
        body["infer"] = draw(st.booleans())
    if v.chance(draw, 0.15):
        body["async_mode"] = draw(st.booleans())
    if v.chance(draw, 0.3):
        body["metadata"] = draw(v.metadata())
    if v.chance(draw, 0.3):
        body["expiration_date"] = draw(v.dates())
    for turn in body["messages"]:
        if isinstance(turn, dict):
            turn.pop("timestamp", None)
    if v.chance(draw, 0.3):
        body.update(draw(llm_options()))
    body = _options(draw, body)
    return _post("mem0/add", draw(st.sampled_from(ADD_PATHS)), body, draw(TENANTS))


@st.composite
def llm_options(draw: st.DrawFn) -> dict[str, Any]:
    """Some of what an add may ask of the LLM, with hostile values now and then."""
    category = st.one_of(
        st.dictionaries(v.texts(), v.texts(), max_size=2), v.texts(), v.json_scalars()
    )
    values: dict[str, st.SearchStrategy[Any]] = {
        "custom_instructions": st.one_of(v.texts(), v.json_scalars()),
        "includes": v.texts(),
        "excludes": v.texts(),
        "custom_categories": st.one_of(st.lists(category, max_size=4), v.json_scalars()),
        "timestamp": st.one_of(
            st.integers(-(2**70), 2**70),
            st.sampled_from([0, 1_700_000_000, 1.5, 10**13, -(10**12), "1700000000", True]),
        ),
    }
    names = draw(st.lists(st.sampled_from(sorted(values)), min_size=1, max_size=3, unique=True))
    return {name: draw(values[name]) for name in names}


@st.composite
def searches(draw: st.DrawFn) -> Planned:
    body: dict[str, Any] = {"query": draw(v.texts())}
    if v.chance(draw, 0.5):
        body["filters"] = draw(v.filters())
    if v.chance(draw, 0.6):
        body.update(draw(scope()))
    if v.chance(draw, 0.2):
        body["metadata"] = draw(v.metadata())
    if v.chance(draw, 0.2):
        body["top_k"] = draw(st.sampled_from([0, 1, 100, 101, -1, 2**64, "5", None]))
    if v.chance(draw, 0.2):
        body["threshold"] = draw(st.sampled_from([-1.0, 0.3, 1.0, 1.5, float("nan"), "x", None]))
    body = _options(draw, body)
    return _post("mem0/search", draw(st.sampled_from(SEARCH_PATHS)), body, draw(TENANTS))


@st.composite
def dates(draw: st.DrawFn) -> Planned:
    """Dates where Mem0 takes them: filters (also Unix seconds), get_all's bounds, expiry."""
    tenant = draw(TENANTS)
    field = draw(st.sampled_from(["created_at", "updated_at"]))
    condition = draw(
        st.one_of(
            st.builds(lambda d: {field: d}, v.dates()),
            st.builds(
                lambda o, d: {field: {o: d}}, st.sampled_from(["gte", "lt", "eq"]), v.dates()
            ),
        )
    )
    kind = draw(st.sampled_from(["search", "list", "bounds", "add", "update"]))
    label = "mem0/dates"
    if kind == "search":
        query = f"{draw(st.sampled_from(v.DATED_QUERIES))} {CANARY_SLOT}"
        scoped = {"AND": [{"user_id": "alice"}, condition]}
        body: dict[str, Any] = {"query": query, "filters": scoped}
        return _post(label, draw(st.sampled_from(SEARCH_PATHS)), body, tenant)
    if kind == "list":
        body = {"filters": {"AND": [{"user_id": "alice"}, condition]}}
        return _post(label, draw(st.sampled_from(LIST_PATHS)), body, tenant)
    if kind == "bounds":
        body = {"filters": {"user_id": "alice"}, "start_date": draw(v.dates())}
        body["end_date"] = draw(v.dates())
        return _post(label, draw(st.sampled_from(LIST_PATHS)), body, tenant)
    if kind == "add":
        body = {
            "messages": [{"role": "user", "content": f"expiring {CANARY_SLOT}"}],
            "user_id": "alice",
            "expiration_date": draw(v.dates()),
            "infer": draw(st.booleans()),
        }
        return _post(label, draw(st.sampled_from(ADD_PATHS)), body, tenant)
    body = {"text": f"updated {CANARY_SLOT}", "expiration_date": draw(v.dates())}
    return Planned(label, "PUT", f"/v1/memories/{MEMORY_ID_SLOT}/", tenant, body=json_text(body))


@st.composite
def deep(draw: st.DrawFn) -> Planned:
    tenant = draw(TENANTS)
    nested = draw(v.deep_json())
    where = draw(st.sampled_from(["filters", "metadata", "body", "batch"]))
    label = "mem0/deep-json"
    if where == "filters":
        head = json_text({"query": f"deep {CANARY_SLOT}", "user_id": "alice"})
        path = draw(st.sampled_from(SEARCH_PATHS + LIST_PATHS))
        return Planned(label, "POST", path, tenant, body=f'{head[:-1]}, "filters": {nested}}}')
    if where == "metadata":
        head = json_text({"messages": [{"role": "user", "content": CANARY_SLOT}], "user_id": "a"})
        body = f'{head[:-1]}, "metadata": {nested}}}'
        return Planned(label, "POST", draw(st.sampled_from(ADD_PATHS)), tenant, body=body)
    if where == "body":
        path = draw(st.sampled_from(ADD_PATHS + SEARCH_PATHS + LIST_PATHS + ["/v1/feedback/"]))
        return Planned(label, "POST", path, tenant, body=nested)
    method = draw(st.sampled_from(["PUT", "DELETE"]))
    return Planned(label, method, "/v1/batch/", tenant, body=f'{{"memories": {nested}}}')


@st.composite
def batches(draw: st.DrawFn) -> Planned:
    """Batch update and delete bodies: empty, not an object, oversize, or plausible."""
    tenant = draw(TENANTS)
    method = draw(st.sampled_from(["PUT", "DELETE"]))
    item: dict[str, Any] = {"memory_id": MEMORY_ID_SLOT}
    if method == "PUT":
        item["text"] = draw(st.one_of(v.texts(), v.invisible_text()))
        if v.chance(draw, 0.3):
            item["metadata"] = draw(v.metadata())
    body: str | None = draw(
        st.sampled_from(
            [
                json_text({"memories": [item]}),
                json_text({"memories": [item] * 1001}),
                json_text({"memories": []}),
                json_text({"memories": [{"memory_id": "not-a-uuid", "text": CANARY_SLOT}]}),
                json_text({"memories": item}),
                json_text({"data": [item]}),
                json_text([item]),
                "",
                "null",
                '"x"',
                "1",
                "{}",
                None,
            ]
        )
    )
    ids = draw(st.sampled_from(BATCH_IDS))
    return Planned("mem0/batch", method, "/v1/batch/", tenant, body=body, ids=ids)


@st.composite
def by_id(draw: st.DrawFn) -> Planned:
    tenant = draw(TENANTS)
    ids = draw(st.sampled_from(ID_SOURCES))
    method, suffix = draw(
        st.sampled_from([("GET", "/"), ("GET", "/history/"), ("PUT", "/"), ("DELETE", "/")])
    )
    body = None
    if method == "PUT":
        update = draw(
            st.fixed_dictionaries(
                {},
                optional={
                    "text": st.one_of(v.texts(), v.invisible_text()),
                    "metadata": v.metadata(),
                    "expiration_date": st.one_of(v.dates(), st.none()),
                    "timestamp": st.integers(),
                },
            )
        )
        body = json_text(update or {"text": f"put {CANARY_SLOT}"})
    memory = draw(st.sampled_from([MEMORY_ID_SLOT, MEMORY_ID_SLOT, "not-a-uuid", "%2e%2e"]))
    path = f"/v1/memories/{memory}{suffix}"
    return Planned("mem0/ids", method, path, tenant, body=body, ids=ids)


@st.composite
def misc(draw: st.DrawFn) -> Planned:
    """Entities, deleting scopes, feedback, ping, and the routes that answer 501."""
    tenant = draw(TENANTS)
    kind = draw(st.sampled_from(["entities", "delete-entity", "delete-all", "feedback", "other"]))
    label = "mem0/misc"
    if kind == "entities":
        return Planned(label, "GET", "/v1/entities/", tenant, content_type=None)
    if kind == "delete-entity":
        entity = draw(st.sampled_from(["user", "agent", "run", "app", "", "x"]))
        name = draw(st.one_of(st.sampled_from(["carol", "nobody", "%00"]), v.unicode_junk()))
        name = quote(name.encode("utf-8", "surrogatepass"), safe="") or "_"
        version = draw(st.sampled_from(["v1", "v2"]))
        path = f"/{version}/entities/{entity}/{name}/"
        return Planned(label, "DELETE", path, tenant, content_type=None)
    if kind == "delete-all":
        params = tuple((k, str(value)) for k, value in draw(scope()).items())
        if v.chance(draw, 0.1):
            params = (*params, ("app_id", "x"))
        return Planned(label, "DELETE", "/v1/memories/", tenant, params=params, content_type=None)
    if kind == "feedback":
        body = {
            "memory_id": MEMORY_ID_SLOT,
            "feedback": draw(st.sampled_from(["POSITIVE", "NEGATIVE", "VERY_NEGATIVE", "x", None])),
            "feedback_reason": draw(v.texts()),
        }
        return _post(label, "/v1/feedback/", body, tenant, ids=draw(st.sampled_from(OWN_OR_OTHER)))
    method, path = draw(
        st.sampled_from(
            [
                ("GET", "/v1/ping/"),
                ("POST", "/v1/exports/"),
                ("POST", "/v1/summary/"),
                ("GET", "/v2/entities/user/alice/profile/"),
                ("PATCH", "/api/v1/orgs/o/projects/p/"),
                ("POST", "/api/v1/webhooks/x/"),
                ("GET", "/v9/unknown/"),
            ]
        )
    )
    return Planned(
        label, method, path, tenant, body=json_text({"user_id": "alice", "x": CANARY_SLOT})
    )


@st.composite
def auth(draw: st.DrawFn, keys: dict[str, str]) -> Planned:
    a = keys["fuzz-a"]
    headers = draw(
        st.one_of(
            v.auth_headers(keys),
            st.sampled_from(
                [
                    (("Authorization", f"Token {a}"), ("Authorization", f"Bearer {a}")),
                    (("Authorization", f"Token {keys['fuzz-b']}"), ("X-API-Key", a)),
                    (("Authorization", f"token {a}"),),
                    (("Authorization", f"Token {CANARY_SLOT}"),),
                ]
            ),
        )
    )
    body = json_text({"query": f"auth {CANARY_SLOT}", "filters": {"user_id": "alice"}})
    path = draw(st.sampled_from(["/v1/ping/", "/v2/memories/search/", "/v1/entities/"]))
    method = "GET" if path != "/v2/memories/search/" else "POST"
    return Planned("mem0/auth", method, path, "fuzz-a", body=body, headers=headers, auth=False)


def mem0_requests(keys: dict[str, str]) -> st.SearchStrategy[Planned]:
    return v.mix(
        adds(), adds(), searches(), searches(), dates(), deep(), batches(), by_id(), by_id(),
        misc(), auth(keys),
    )  # fmt: skip
