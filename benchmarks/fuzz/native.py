"""Generated requests to the native API (``/v1/...``, no trailing slash), one strategy per kind
of hostile input: dates, deep JSON, unicode, filters, content types, auth headers, ids, and
the rarer operations (export, import, jobs, whole-scope deletes)."""

from __future__ import annotations

import base64
import json
from typing import Any

from hypothesis import strategies as st

from benchmarks.fuzz import values as v
from benchmarks.fuzz.wire import CANARY_SLOT, MEMORY_ID_SLOT, IdSource, Planned, json_text

TENANTS = st.sampled_from(["fuzz-a", "fuzz-a", "fuzz-a", "fuzz-b"])
ID_SOURCES: list[IdSource] = ["own", "own", "own", "other", "random"]
OWN_OR_RANDOM: list[IdSource] = ["own", "random"]
SCOPE_FIELDS = ("user_id", "agent_id", "run_id")


@st.composite
def scope(draw: st.DrawFn) -> dict[str, Any]:
    """Usually a shared user; sometimes other ids, odd ids or none at all."""
    if v.chance(draw, 0.6):
        return {"user_id": draw(st.sampled_from(["alice", "bob", "carol"]))}
    fields = draw(st.lists(st.sampled_from(SCOPE_FIELDS), max_size=3, unique=True))
    return {field: draw(v.scope_ids()) for field in fields}


@st.composite
def messages(draw: st.DrawFn, dated: bool = False) -> list[Any]:
    roles = st.sampled_from(["user"] * 6 + ["assistant"] * 2 + ["system", "tool", ""])
    turns: list[Any] = []
    for _ in range(draw(st.integers(0, 4))):
        turn: dict[str, Any] = {"role": draw(roles), "content": draw(v.texts())}
        if dated or v.chance(draw, 0.2):
            turn["timestamp"] = draw(v.dates())
        if v.chance(draw, 0.1):
            turn["name"] = draw(v.unicode_junk())
        turns.append(turn)
    if v.chance(draw, 0.05):
        turns.append(draw(v.json_scalars()))
    return turns


@st.composite
def add_body(draw: st.DrawFn, dated: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = draw(scope())
    if v.chance(draw, 0.6):
        body["text"] = draw(v.texts())
    else:
        body["messages"] = draw(messages(dated))
    if v.chance(draw, 0.5):
        body["infer"] = draw(st.booleans())
    if v.chance(draw, 0.1):
        body["async"] = draw(st.booleans())
    if v.chance(draw, 0.3):
        body["metadata"] = draw(v.metadata())
    for field in ("created_at", "expires_at"):
        if (dated and v.chance(draw, 0.6)) or v.chance(draw, 0.05):
            body[field] = draw(v.dates())
    return body


def _post(strategy: str, path: str, body: Any, tenant: str) -> Planned:
    return Planned(strategy, "POST", path, tenant, body=json_text(body))


@st.composite
def dates(draw: st.DrawFn) -> Planned:
    tenant = draw(TENANTS)
    kind = draw(st.sampled_from(["add", "batch", "patch", "search", "list", "cursor"]))
    label = "native/dates"
    if kind == "add":
        return _post(label, "/v1/memories", draw(add_body(dated=True)), tenant)
    if kind == "batch":
        items = [draw(add_body(dated=True)) for _ in range(draw(st.integers(1, 3)))]
        for item in items:
            item.pop("messages", None)
            item.setdefault("text", f"dated {CANARY_SLOT}")
            item.pop("async", None)
        return _post(label, "/v1/memories/batch", {"items": items}, tenant)
    if kind == "patch":
        body = {"expires_at": draw(v.dates()), "text": draw(v.texts())}
        return Planned(
            label, "PATCH", f"/v1/memories/{MEMORY_ID_SLOT}", tenant, body=json_text(body)
        )
    if kind == "search":
        query = f"{draw(st.sampled_from(v.DATED_QUERIES))} {CANARY_SLOT}"
        body = {
            **draw(scope()),
            "query": query,
            "mode": draw(st.sampled_from(["hybrid", "vector", "keyword"])),
        }
        return _post(label, "/v1/search", body, tenant)
    if kind == "list":
        condition = {
            draw(st.sampled_from(["created_at", "updated_at"])): {
                draw(st.sampled_from(["gt", "lte", "eq", "ne"])): draw(v.dates())
            }
        }
        params = (("user_id", "alice"), ("filters", json.dumps(condition, allow_nan=True)))
        return Planned(label, "GET", "/v1/memories", tenant, params=params, content_type=None)
    cursor = {"t": draw(v.dates()), "id": draw(st.sampled_from([MEMORY_ID_SLOT, "x", ""]))}
    raw = base64.urlsafe_b64encode(json.dumps(cursor).encode()).decode().rstrip("=")
    params = (("user_id", "alice"), ("cursor", raw))
    return Planned(label, "GET", "/v1/memories", tenant, params=params, content_type=None)


@st.composite
def deep(draw: st.DrawFn) -> Planned:
    tenant = draw(TENANTS)
    nested = draw(v.deep_json())
    where = draw(
        st.sampled_from(["metadata", "filters", "body", "query-filters", "messages", "patch"])
    )
    label = "native/deep-json"
    if where == "query-filters":
        params = (("user_id", "alice"), ("filters", draw(v.deep_json(v.QUERY_DEPTH))))
        return Planned(label, "GET", "/v1/memories", tenant, params=params, content_type=None)
    if where == "body":
        path = draw(st.sampled_from(["/v1/memories", "/v1/search", "/v1/memories/batch"]))
        return Planned(label, "POST", path, tenant, body=nested)
    if where == "metadata":
        head = json_text({"text": f"deep {CANARY_SLOT}", "user_id": "alice", "infer": False})
        return Planned(
            label, "POST", "/v1/memories", tenant, body=f'{head[:-1]}, "metadata": {nested}}}'
        )
    if where == "filters":
        head = json_text({"query": f"deep {CANARY_SLOT}", "user_id": "alice"})
        return Planned(
            label, "POST", "/v1/search", tenant, body=f'{head[:-1]}, "filters": {nested}}}'
        )
    if where == "patch":
        body = f'{{"text": "deep {CANARY_SLOT}", "metadata": {nested}}}'
        return Planned(label, "PATCH", f"/v1/memories/{MEMORY_ID_SLOT}", tenant, body=body)
    turn = f'{{"role": "user", "content": "{CANARY_SLOT}", "name": {nested}}}'
    body = f'{{"user_id": "alice", "messages": [{turn}]}}'
    return Planned(label, "POST", "/v1/memories", tenant, body=body)


@st.composite
def unicode(draw: st.DrawFn) -> Planned:
    tenant = draw(TENANTS)
    kind = draw(st.sampled_from(["add", "invisible", "search", "patch", "scope", "list"]))
    label = "native/unicode"
    if kind == "add":
        return _post(label, "/v1/memories", draw(add_body()), tenant)
    if kind == "invisible":
        body: dict[str, Any] = {
            "text": draw(v.invisible_text()),
            "user_id": "alice",
            "metadata": {"note": CANARY_SLOT},
        }
        body["infer"] = draw(st.booleans())
        return _post(label, "/v1/memories", body, tenant)
    if kind == "search":
        body = {**draw(scope()), "query": draw(v.texts())}
        return _post(label, "/v1/search", body, tenant)
    if kind == "patch":
        body = {
            "text": draw(st.one_of(v.texts(), v.invisible_text())),
            "metadata": {"note": CANARY_SLOT},
        }
        return Planned(
            label, "PATCH", f"/v1/memories/{MEMORY_ID_SLOT}", tenant, body=json_text(body)
        )
    if kind == "scope":
        body = {
            "text": f"scoped {CANARY_SLOT}",
            "infer": False,
            **{f: draw(v.scope_ids()) for f in SCOPE_FIELDS},
        }
        return _post(label, "/v1/memories", body, tenant)
    user = draw(v.unicode_junk())
    return Planned(
        label, "GET", "/v1/memories", tenant, params=(("user_id", user),), content_type=None
    )


@st.composite
def filtered(draw: st.DrawFn) -> Planned:
    tenant = draw(TENANTS)
    condition = draw(v.filters())
    label = "native/filters"
    if draw(st.booleans()):
        body = {"query": f"what {CANARY_SLOT}", "filters": condition, **draw(scope())}
        if v.chance(draw, 0.2):
            body.pop("user_id", None)
        body["mode"] = draw(st.sampled_from(["hybrid", "vector", "keyword"]))
        return _post(label, "/v1/search", body, tenant)
    ids = draw(scope()) or {"user_id": "alice"}
    params = tuple(
        (k, str(value)) for k, value in (*ids.items(), ("filters", draw(v.filter_text())))
    )
    return Planned(label, "GET", "/v1/memories", tenant, params=params, content_type=None)


@st.composite
def content_types(draw: st.DrawFn) -> Planned:
    tenant = draw(TENANTS)
    path = draw(
        st.sampled_from(["/v1/memories", "/v1/search", "/v1/memories/batch", "/v1/memories/import"])
    )
    body = {"text": f"typed {CANARY_SLOT}", "query": f"typed {CANARY_SLOT}", "user_id": "alice"}
    label = "native/content-type"
    form = f"text=typed+{CANARY_SLOT}&user_id=alice"
    choice = draw(
        st.sampled_from(["wrong-type", "form", "utf-16", "invalid-utf8", "none", "empty"])
    )
    if choice == "wrong-type":
        return Planned(
            label,
            "POST",
            path,
            tenant,
            body=json_text(body),
            content_type=draw(st.sampled_from(v.WRONG_CONTENT_TYPES)),
        )
    if choice == "form":
        return Planned(
            label, "POST", path, tenant, body=form, content_type="application/x-www-form-urlencoded"
        )
    if choice == "utf-16":
        return Planned(
            label,
            "POST",
            path,
            tenant,
            body=json_text(body),
            encoding="utf-16",
            content_type="application/json; charset=utf-16",
        )
    if choice == "invalid-utf8":
        raw = b'{"text": "\xff\xfe\xc3\x28 ' + CANARY_SLOT.encode() + b'", "user_id": "alice"}'
        return Planned(label, "POST", path, tenant, body=raw)
    if choice == "none":
        return Planned(label, "POST", path, tenant, body=json_text(body), content_type=None)
    return Planned(label, "POST", path, tenant, body=b"")


@st.composite
def auth(draw: st.DrawFn, keys: dict[str, str]) -> Planned:
    method, path, body = draw(
        st.sampled_from(
            [
                (
                    "POST",
                    "/v1/memories",
                    json_text({"text": f"auth {CANARY_SLOT}", "user_id": "alice"}),
                ),
                (
                    "POST",
                    "/v1/search",
                    json_text({"query": f"auth {CANARY_SLOT}", "user_id": "alice"}),
                ),
                ("GET", f"/v1/memories/{MEMORY_ID_SLOT}", None),
                ("DELETE", f"/v1/memories/{MEMORY_ID_SLOT}", None),
            ]
        )
    )
    headers = draw(v.auth_headers(keys))
    return Planned("native/auth", method, path, "fuzz-a", body=body, headers=headers, auth=False)


@st.composite
def by_id(draw: st.DrawFn) -> Planned:
    tenant = draw(TENANTS)
    ids = draw(st.sampled_from(ID_SOURCES))
    method, suffix = draw(
        st.sampled_from([("GET", ""), ("GET", "/history"), ("PATCH", ""), ("DELETE", "")])
    )
    memory = draw(
        st.one_of(
            st.just(MEMORY_ID_SLOT),
            st.just(MEMORY_ID_SLOT),
            st.sampled_from(["not-a-uuid", "0", "%00", "00000000-0000-0000-0000-00000000000g"]),
        )
    )
    body = None
    if method == "PATCH":
        patch = draw(
            st.fixed_dictionaries(
                {}, optional={"text": v.texts(), "metadata": v.metadata(), "expires_at": v.dates()}
            )
        )
        body = json_text(patch if patch else {"text": f"patched {CANARY_SLOT}"})
    return Planned(
        "native/ids",
        method,
        f"/v1/memories/{memory}{suffix}",
        tenant,
        body=body,
        ids=ids,
        content_type="application/json" if body else None,
    )


IMPORT_HEADER = {
    "type": "header",
    "format": "memory-service.export/1",
    "embedding_model": "all-MiniLM-L6-v2",
    "dimensions": 384,
    "exported_at": "2026-01-01T00:00:00Z",
}
BAD_VECTORS: list[Any] = [
    [0.0] * 384,
    [1e38] * 384,
    [1.0] * 383,
    ["x"] * 384,
    [float("nan")] * 384,
    None,
    [],
    [1e-45] * 384,
]


@st.composite
def rare(draw: st.DrawFn) -> Planned:
    tenant = draw(TENANTS)
    kind = draw(
        st.sampled_from(["export", "import", "job", "delete-scope", "unknown-field", "limits"])
    )
    label = "native/misc"
    if kind == "export":
        params = tuple((k, str(value)) for k, value in draw(scope()).items())
        return Planned(
            label, "GET", "/v1/memories/export", tenant, params=params, content_type=None
        )
    if kind == "import":
        header = {
            **IMPORT_HEADER,
            **draw(
                st.fixed_dictionaries(
                    {}, optional={"dimensions": st.integers(-1, 10**6), "format": v.unicode_junk()}
                )
            ),
        }
        line = {
            "text": draw(v.texts()),
            "user_id": "alice",
            "embedding": draw(st.sampled_from(BAD_VECTORS)),
            "created_at": draw(v.dates()),
            "metadata": {},
        }
        body = "\n".join([json_text(header), json_text(line)])
        return Planned(
            label,
            "POST",
            "/v1/memories/import",
            tenant,
            body=body,
            content_type="application/x-ndjson",
        )
    if kind == "job":
        return Planned(
            label,
            "GET",
            f"/v1/jobs/{MEMORY_ID_SLOT}",
            tenant,
            content_type=None,
            ids=draw(st.sampled_from(OWN_OR_RANDOM)),
        )
    if kind == "delete-scope":
        params = tuple(
            (k, str(value))
            for k, value in draw(scope()).items()
            if draw(st.booleans()) or k != "user_id"
        )
        return Planned(label, "DELETE", "/v1/memories", tenant, params=params, content_type=None)
    if kind == "unknown-field":
        unknown: dict[str, Any] = {
            "text": f"unknown {CANARY_SLOT}",
            "user_id": "alice",
            draw(st.text(min_size=1, max_size=8)): 1,
        }
        params = (("user_id", "alice"), (draw(st.text(min_size=1, max_size=8)), CANARY_SLOT))
        body = json_text(unknown)
        return Planned(label, "POST", "/v1/memories", tenant, params=params, body=body)
    limits: dict[str, Any] = {
        "query": f"limits {CANARY_SLOT}",
        "user_id": "alice",
        "limit": draw(st.sampled_from([0, -1, 101, 2**31, 2**64, 1.5, "10", None])),
        "threshold": draw(
            st.sampled_from([-1.1, 1.1, 2**64, float("nan"), float("inf"), "0.5", None])
        ),
    }
    return _post(label, "/v1/search", limits, tenant)


def native_requests(keys: dict[str, str]) -> st.SearchStrategy[Planned]:
    return v.mix(
        dates(), deep(), unicode(), filtered(), filtered(), content_types(), auth(keys),
        by_id(), by_id(), rare(),
    )  # fmt: skip
