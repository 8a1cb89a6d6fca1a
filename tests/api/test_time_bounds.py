"""Every stored time lies between 1000-01-01 and 9000-01-01 (UTC) and leaves with a timezone,
in both dialects; one bad value never breaks a scope."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import asyncpg
import httpx
import pytest

from tests.conftest import LiveServer, add_text

RANGE = "between 1000-01-01T00:00:00Z (inclusive) and 9000-01-01T00:00:00Z (exclusive)"
NDJSON = {"content-type": "application/x-ndjson"}


def _refused(response: httpx.Response, *words: str) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    detail = response.json()["detail"]
    assert all(word in detail for word in words), detail


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/memories", {"text": "t", "created_at": "0001-01-01T00:00:00Z"}, "created_at"),
        # Year 1 at +05:00 lies before year 1 in UTC: no Python datetime holds it.
        ("/v1/memories", {"text": "t", "created_at": "0001-01-01T00:00:00+05:00"}, "created_at"),
        ("/v1/memories", {"text": "t", "created_at": "0999-12-31T23:59:59Z"}, "created_at"),
        (
            "/v1/memories",
            {"messages": [{"role": "user", "content": "t", "timestamp": "0500-06-01T00:00:00Z"}]},
            "message timestamp",
        ),
        ("/v1/memories", {"text": "t", "expires_at": "9999-12-31T23:59:59.999999Z"}, "expires_at"),
        ("/v1/memories", {"text": "t", "expires_at": "9000-01-01T00:00:00Z"}, "expires_at"),
        (
            "/v1/memories/batch",
            {"items": [{"text": "t", "user_id": "u", "created_at": "0001-01-01T00:00:00Z"}]},
            "created_at",
        ),
        (
            "/v1/memories/batch",
            {"items": [{"text": "t", "user_id": "u", "expires_at": "9999-12-31T00:00:00Z"}]},
            "expires_at",
        ),
    ],
)
def test_a_time_outside_the_range_is_refused_naming_the_field_and_the_range(
    client: httpx.Client, path: str, body: dict[str, Any], field: str
) -> None:
    if path == "/v1/memories":
        body = {**body, "user_id": "tess", "infer": False}

    _refused(client.post(path, json=body), field, RANGE)

    assert client.get("/v1/memories", params={"user_id": "tess"}).json()["memories"] == []


def test_the_bounds_themselves_are_kept_and_read_back_with_a_timezone(
    client: httpx.Client,
) -> None:
    oldest = add_text(client, "An old tale", user_id="tess", created_at="1000-01-01T00:00:00Z")
    lasting = add_text(
        client, "A lasting note", user_id="tess", expires_at="8999-12-31T23:59:59.999999Z"
    )
    memory_id = lasting["id"]

    assert oldest["created_at"] == "1000-01-01T00:00:00Z"
    assert lasting["expires_at"] == "8999-12-31T23:59:59.999999Z"
    _refused(
        client.patch(f"/v1/memories/{memory_id}", json={"expires_at": "9999-12-31T00:00:00Z"}),
        "expires_at",
        RANGE,
    )
    assert client.get(f"/v1/memories/{memory_id}").json()["expires_at"] == lasting["expires_at"]


def test_mem0_expiration_dates_that_are_impossible_or_out_of_range_answer_422(
    client: httpx.Client,
) -> None:
    def add(expiration_date: str) -> httpx.Response:
        return client.post(
            "/v1/memories/",
            json={
                "messages": [{"role": "user", "content": "Tess keeps bees"}],
                "user_id": "tess",
                "infer": False,
                "expiration_date": expiration_date,
            },
        )

    _refused(add("2026-02-30"), "expiration_date", "not a date")
    _refused(add("9999-12-31"), "expiration_date", RANGE)
    _refused(add("8999-12-31"), "expiration_date", RANGE)  # kept through it: up to 9000
    _refused(add("9999-12-31T23:59:59Z"), "expiration_date", RANGE)
    kept = add("8999-12-30")
    assert kept.status_code == 200, kept.text
    [memory] = client.get("/v1/memories", params={"user_id": "tess"}).json()["memories"]
    assert memory["expires_at"] == "8999-12-31T00:00:00Z"
    _refused(
        client.put(f"/v1/memories/{memory['id']}/", json={"expiration_date": "9999-12-31"}),
        "expiration_date",
        RANGE,
    )


@pytest.mark.parametrize(
    "filters",
    [
        {"created_at": {"gte": "0001-01-01T00:00:00Z"}},
        {"updated_at": {"lt": "9999-12-31T23:59:59.999999Z"}},
        {"OR": [{"user_id": "tess"}, {"created_at": "0500-01-01T00:00:00+00:00"}]},
    ],
)
def test_native_filters_on_times_outside_the_range_answer_422(
    client: httpx.Client, filters: dict[str, Any]
) -> None:
    field = "updated_at" if "updated_at" in json.dumps(filters) else "created_at"

    _refused(
        client.post("/v1/search", json={"query": "x", "user_id": "tess", "filters": filters}),
        field,
        RANGE,
    )
    _refused(
        client.get("/v1/memories", params={"user_id": "tess", "filters": json.dumps(filters)}),
        field,
        RANGE,
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"filters": {"user_id": "tess", "created_at": {"gte": 1e20}}}, "created_at"),
        ({"filters": {"user_id": "tess", "created_at": {"lte": -1e20}}}, "created_at"),
        ({"filters": {"user_id": "tess", "updated_at": {"gt": 10**30}}}, "updated_at"),
        ({"filters": {"user_id": "tess", "created_at": {"gte": "0001-01-01"}}}, "created_at"),
        ({"filters": {"user_id": "tess", "created_at": -40_000_000_000}}, "created_at"),
    ],
)
def test_mem0_time_filters_out_of_range_answer_422(
    client: httpx.Client, body: dict[str, Any], field: str
) -> None:
    _refused(client.post("/v3/memories/search/", json={"query": "x", **body}), field, RANGE)
    _refused(client.post("/v3/memories/", json=body), field, RANGE)


def test_mem0_start_and_end_dates_out_of_range_answer_422(client: httpx.Client) -> None:
    body = {"filters": {"user_id": "tess"}, "start_date": "0001-01-01"}

    _refused(client.post("/v3/memories/", json=body), "start_date", RANGE)


@pytest.mark.parametrize(
    "query",
    [
        "What happened on 9999-12-31?",
        "What happened on December 31, 9999?",
        "What did Tess do on 31 December, 9999 and 0001-01-01?",
        "What happened on 2026-02-30 or February 30, 2026?",
        "Anything in December 9999?",
    ],
)
def test_a_query_naming_an_impossible_or_out_of_range_date_matches_no_date(
    client: httpx.Client, query: str
) -> None:
    add_text(client, "Tess keeps bees", user_id="tess", created_at="2023-05-08T10:00:00Z")

    native = client.post("/v1/search", json={"query": query, "user_id": "tess"})
    mem0 = client.post(
        "/v3/memories/search/", json={"query": query, "filters": {"user_id": "tess"}}
    )

    assert native.status_code == 200, native.text
    assert [r["memory"]["text"] for r in native.json()["results"]] == ["Tess keeps bees"]
    assert mem0.status_code == 200, mem0.text
    assert [r["memory"] for r in mem0.json()["results"]] == ["Tess keeps bees"]


def _as_before_this_release(dsn: str, ancient_id: str, endless_id: str) -> None:
    """Gives two memories the times rows written before this release may hold; the API no
    longer lets such values in, so they are written to the database directly."""

    async def write() -> None:
        connection = await asyncpg.connect(dsn)
        try:
            await connection.execute(
                "UPDATE memories SET created_at = '-infinity', updated_at = '-infinity' "
                "WHERE id = $1::uuid",
                ancient_id,
            )
            await connection.execute(
                "UPDATE memories SET expires_at = 'infinity' WHERE id = $1::uuid", endless_id
            )
        finally:
            await connection.close()

    asyncio.run(write())


def test_rows_holding_infinity_from_before_the_bounds_never_break_their_scope(
    live_server: LiveServer, client: httpx.Client, other_client: httpx.Client
) -> None:
    """Rows written before this release may hold ±infinity (as asyncpg stores year 1 and the
    end of 9999). They are read as the range's bounds, and as no expiry."""
    ancient = add_text(client, "Uma planted an oak", user_id="uma")
    endless = add_text(client, "Uma likes oak trees", user_id="uma")
    add_text(client, "Uma visited the oak forest", user_id="uma")
    _as_before_this_release(live_server.dsn, ancient["id"], endless["id"])

    for mode in ("hybrid", "vector", "keyword"):
        body = {"query": "oak on 1 May, 2023", "user_id": "uma", "mode": mode}
        found = client.post("/v1/search", json=body)
        assert found.status_code == 200, found.text
        assert len(found.json()["results"]) == 3
    mem0 = client.post("/v3/memories/search/", json={"query": "oak", "filters": {"user_id": "uma"}})
    assert mem0.status_code == 200, mem0.text

    by_text = {
        m["text"]: m
        for m in client.get("/v1/memories", params={"user_id": "uma"}).json()["memories"]
    }
    assert by_text["Uma planted an oak"]["created_at"] == "1000-01-01T00:00:00Z"
    assert by_text["Uma planted an oak"]["updated_at"] == "1000-01-01T00:00:00Z"
    assert by_text["Uma likes oak trees"]["expires_at"] is None
    mem0_listed = client.post("/v3/memories/", json={"filters": {"user_id": "uma"}}).json()
    times = [m[key] for m in mem0_listed["results"] for key in ("created_at", "updated_at")]
    times += [m[key] for m in mem0.json()["results"] for key in ("created_at", "updated_at")]
    entities = client.get("/v1/entities/").json()["results"]
    times += [e[key] for e in entities for key in ("created_at", "updated_at")]
    assert times and all(t.endswith(("Z", "+00:00")) for t in times), times
    assert {e["created_at"] for e in entities} == {"1000-01-01T00:00:00Z"}
    # What the scope holds moves to another tenant as it reads.
    export = client.get("/v1/memories/export", params={"user_id": "uma"})
    imported = other_client.post("/v1/memories/import", content=export.content, headers=NDJSON)
    assert imported.status_code == 200, imported.text
    assert imported.json()["imported"] == 3


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"created_at": "0001-01-01T00:00:00Z"}, RANGE),
        ({"created_at": "2023-01-01T00:00:00"}, "timezone"),
        ({"expires_at": "2030-01-01T00:00:00"}, "timezone"),  # was compared with now: a 500
        ({"expires_at": "9999-12-31T23:59:59.999999+00:00"}, RANGE),
    ],
)
def test_an_import_with_a_time_outside_the_range_or_without_a_timezone_is_refused(
    client: httpx.Client, fields: dict[str, str], message: str
) -> None:
    add_text(client, "Vic reads", user_id="vic")
    header = client.get("/v1/memories/export", params={"user_id": "vic"}).text.splitlines()[0]
    line = json.dumps({"text": "Vic writes", "user_id": "vic", **fields})

    response = client.post("/v1/memories/import", content=f"{header}\n{line}", headers=NDJSON)

    field = next(iter(fields))
    _refused(response, "line 2", field, message)


@pytest.mark.parametrize(
    "time", ["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59.999999+00:00", "2023-01-01T00:00:00"]
)
def test_a_cursor_made_up_with_a_time_no_memory_has_is_refused(
    client: httpx.Client, time: str
) -> None:
    raw = json.dumps({"t": time, "id": "00000000-0000-0000-0000-000000000000"}).encode()
    cursor = base64.urlsafe_b64encode(raw).decode().rstrip("=")

    response = client.get("/v1/memories", params={"user_id": "tess", "cursor": cursor})

    _refused(response, "'cursor' is not a cursor this API returned")
