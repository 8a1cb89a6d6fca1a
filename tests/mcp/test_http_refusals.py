"""/mcp's HTTP refusals read as the REST API's: the same problems (application/problem+json)
for what HTTP, not the MCP protocol, gets wrong: size, media types, an unparseable body."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import httpx

from tests.conftest import LiveServer
from tests.mcp.scenario import TOOL_NAMES
from tests.mcp.test_http import ACCEPT, LIST_TOOLS, _bearer, _rpc


def test_refusals_read_as_the_rest_apis(
    live_server: LiveServer, api_key: str, client: httpx.Client
) -> None:
    url, headers = f"{live_server.base_url}/mcp", {**ACCEPT, **_bearer(api_key)}
    add = b'{"user_id": "w", "text": "nonfinite", "infer": false, "metadata": {"x": %s}}'
    rest = client.post(
        "/v1/memories", content=add % b"1e400", headers={"Content-Type": "application/json"}
    )
    refused = "The request body is not valid JSON: Number out of range"
    assert rest.json()["detail"].startswith(refused)  # REST adds where: "- at `$[...][...]`"

    for number in (b"1e400", b"NaN", b"-Infinity"):  # the SDK's parser would read all three
        call = b'{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": '
        call += b'"add_memory", "arguments": ' + add % number + b"}}"
        sent = {**headers, "Content-Type": "application/json"}
        answer = httpx.post(url, content=call, headers=sent)
        assert answer.status_code == 400, number
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["detail"].startswith("The request body is not valid JSON"), number

    unknown = uuid.uuid4()
    nothing = httpx.post(
        url, json=_rpc("update_memory", {"memory_id": str(unknown)}), headers=headers
    )
    assert nothing.json()["result"]["content"][0]["text"] == (
        f"memory {unknown}: give 'text' and/or 'metadata'"  # not the expires_at it cannot take
    )

    limit = live_server.settings.max_body_bytes
    as_json = {**headers, "Content-Type": "application/json"}
    too_big = httpx.post(url, content=b"x" * 2_000_000, headers=as_json)
    # Sent in chunks, a body declares no length: it is refused once it passes the limit.
    chunked_too_big = httpx.post(
        url, content=_chunks(b"x" * 65_536, limit // 65_536 + 2), headers=as_json
    )
    as_text = httpx.post(url, content=b"{}", headers={**headers, "Content-Type": "text/plain"})
    untyped = httpx.post(
        url, content=b'{"jsonrpc": "2.0", "id": 1, "method": "tools/list"}', headers=headers
    )
    for response, status in (
        (too_big, 413),
        (chunked_too_big, 413),
        (as_text, 415),
        (untyped, 415),
    ):
        assert response.status_code == status
        assert response.headers["content-type"] == "application/problem+json"
    for response in (too_big, chunked_too_big):
        assert response.json()["detail"] == (
            f"The request body is larger than {limit} bytes, the most this endpoint takes."
        )
    assert as_text.json()["detail"].startswith("Content-Type 'text/plain' is not accepted at /mcp")
    assert untyped.json()["detail"].startswith("/mcp needs a Content-Type header")

    # What the SDK would answer in plain text or as JSON-RPC errors: the API's problems.
    as_json_post = {**headers, "Content-Type": "application/json"}
    for content, content_type, accept, status, detail in (
        (b"{}", "application/vnd.api+json", None, 415, "Content-Type 'application/vnd.api+json'"),
        (b"{}", "application/json-seq", None, 415, "Content-Type 'application/json-seq'"),
        (b"{}", "application/json", "text/event-stream", 406, "/mcp answers application/json"),
        (b"{}", "application/json", "text/html", 406, "/mcp answers application/json"),
        (b"", "application/json", None, 400, "the body is empty"),
        (b'{"jsonrpc": ', "application/json", None, 400, "The request body is not valid JSON"),
        (b"\xff\xfe", "application/json", None, 400, "The request body is not valid JSON"),
        (b"[]", "application/json", None, 400, "one JSON-RPC message, a JSON object"),
        (b"42", "application/json", None, 400, "got a JSON number"),
        (b"[" * 100_000 + b"]" * 100_000, "application/json", None, 400, "more than 128 levels"),
        (b'{"a":' * 1000 + b"1" + b"}" * 1000, "application/json", None, 400, "more than 128"),
    ):
        sent = {**as_json_post, "Content-Type": content_type}
        if accept is not None:
            sent["Accept"] = accept
        refusal = httpx.post(url, content=content, headers=sent)
        assert refusal.status_code == status, (content, content_type, accept)
        assert refusal.headers["content-type"] == "application/problem+json"
        assert refusal.json()["detail"].startswith(detail) or detail in refusal.json()["detail"]

    # Two Content-Types cannot both be meant; an Accept weighing JSON 0 excludes it; several
    # Accept headers are one list.
    body = json.dumps(LIST_TOOLS).encode()
    auth = list(_bearer(api_key).items())
    json_type = [("Content-Type", "application/json")]
    twice = [("Content-Type", "text/plain"), *json_type, ("Accept", "application/json"), *auth]
    weighed_out = [*json_type, ("Accept", "application/json;q=0, text/html"), *auth]
    split_accept = [*json_type, ("Accept", "text/html"), ("Accept", "application/json"), *auth]
    for header_list, status in ((twice, 400), (weighed_out, 406), (split_accept, 200)):
        answered = httpx.post(url, content=body, headers=header_list)
        assert answered.status_code == status, (header_list, answered.text)
        if status != 200:
            assert answered.headers["content-type"] == "application/problem+json"

    # Media types are case-insensitive, and a request without Accept accepts anything.
    no_accept = {k: v for k, v in as_json_post.items() if k != "Accept"}
    for sent in ({**as_json_post, "Content-Type": "APPLICATION/JSON; charset=UTF-8"}, no_accept):
        listed = httpx.post(url, json=LIST_TOOLS, headers=sent)
        assert listed.status_code == 200, listed.text
        assert {tool["name"] for tool in listed.json()["result"]["tools"]} == TOOL_NAMES

    # A chunked body within the limit is read whole and answered.
    listed = httpx.post(url, content=_chunks(json.dumps(LIST_TOOLS).encode(), 1), headers=as_json)
    assert {tool["name"] for tool in listed.json()["result"]["tools"]} == TOOL_NAMES


def _chunks(chunk: bytes, count: int) -> Iterator[bytes]:
    """A body httpx sends with Transfer-Encoding: chunked (a generator has no length)."""
    for _ in range(count):
        yield chunk
